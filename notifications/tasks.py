"""Celery tasks: thin; read the clock once, call one service."""

from celery import shared_task
from django.utils import timezone

from notifications.sweep import sweep_run


@shared_task(name="notifications.tasks.sweep", ignore_result=True)
def sweep() -> int:
    return sweep_run(now=timezone.now())
