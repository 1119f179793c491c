"""Connects the chasing machinery to the domain's hooks (reporting never imports notifications)."""
