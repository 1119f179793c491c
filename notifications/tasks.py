"""Celery tasks: thin; read the clock once, call one service."""

from celery import shared_task
from django.utils import timezone

from notifications import delivery
from notifications.sweep import sweep_run


@shared_task(name="notifications.tasks.sweep", ignore_result=True)
def sweep() -> int:
    return sweep_run(now=timezone.now())


@shared_task(name="notifications.tasks.send_notification", bind=True, ignore_result=True)
def send_notification(self, notification_id: int) -> str:
    return delivery.notification_send(notification_id=notification_id, token=self.request.id or "", now=timezone.now())
