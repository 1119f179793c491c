"""Celery tasks of the domain: thin; read the clock once, call one service."""
