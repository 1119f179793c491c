"""Celery tasks: thin; read the clock once, call one service."""

from celery import shared_task
from celery.utils.time import get_exponential_backoff_interval
from django.utils import timezone

from notifications import batch, delivery, roster_reminders
from notifications.sweep import sweep_run
from notifications.wakeups import wakeups_schedule


@shared_task(name="notifications.tasks.sweep", ignore_result=True)
def sweep() -> int:
    """The deadline checker (beat, and ETA wake sweeps): one tick, then wake sweeps for the moments just ahead."""
    now = timezone.now()
    claimed = sweep_run(now=now)
    wakeups_schedule(now=now)
    return claimed


# acks_late: notification_send is idempotent (the row's status and fencing token guard it), so a worker killed
# mid-send re-delivers the task instead of losing it. The sweep now enqueues send_notifications; this one-row task
# stays for messages queued before that change.
@shared_task(
    name="notifications.tasks.send_notification",
    bind=True,
    ignore_result=True,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(delivery.TransientError,),
    retry_backoff=2,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=6,
)
def send_notification(self, notification_id: int) -> str:
    return delivery.notification_send(notification_id=notification_id, token=self.request.id or "", now=timezone.now())


# The batch task: the sweep's chunks of new rows. Same idempotence and acks_late as above; only the rows that hit a
# transient error are retried (same task id, so the same fencing token), with the same backoff as send_notification.
@shared_task(
    name="notifications.tasks.send_notifications",
    bind=True,
    ignore_result=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=6,
)
def send_notifications(self, notification_ids: list[int]) -> None:
    token, now = self.request.id or "", timezone.now()
    retry = batch.notifications_send(notification_ids=notification_ids, token=token, now=now).retry
    if retry:
        countdown = get_exponential_backoff_interval(2, self.request.retries, 60, full_jitter=True)
        raise self.retry(args=(retry,), countdown=countdown, exc=delivery.TransientError(f"retry {retry}"))


@shared_task(name="notifications.tasks.roster_reminders", ignore_result=True)
def send_roster_reminders() -> int:
    """The daily 值班表 reminder (beat, every half hour; it acts once a day per unit)."""
    return roster_reminders.reminders_run(now=timezone.now())
