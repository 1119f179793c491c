"""Issue 3, must-show 3: exactly once with real workers, beat, Redis and PostgreSQL.

SMS go through the file backend: one JSON line per provider call, written by whichever worker process sent it, so
the number of lines is the number of messages that left the system. Each line's ``sid`` is the provider id the row
recorded, so lines and rows are matched one to one.
"""

import time
from datetime import timedelta

from celery import group
from django.db.models import Count
from django.utils import timezone

from notifications.models import Notification
from notifications.sweep import sweep_run
from notifications.tasks import send_notification, send_notifications, sweep
from reporting import services
from reporting.auditlog import chain_verify
from reporting.models import AuditEvent, Contact, ContactRole, Shift, Unit, UnitKind
from tests.fixtures.workers import wait_until


def towns(n: int, now) -> list[Unit]:
    """``n`` units, each with a duty officer and a shift leader on post (no roster gap)."""
    units = Unit.objects.bulk_create(
        [Unit(code=f"town-{i:03d}", name=f"测试镇{i:03d}", kind=UnitKind.TOWN) for i in range(n)]
    )
    contacts = Contact.objects.bulk_create(
        [
            Contact(
                unit=unit,
                name=f"{role}-{i:03d}",
                role=role,
                phone=f"+86171{i:04d}{r:04d}",
                email=f"{role}-{i:03d}@example.org",
            )
            for i, unit in enumerate(units)
            for r, role in enumerate((ContactRole.DUTY_OFFICER, ContactRole.SHIFT_LEADER))
        ]
    )
    Shift.objects.bulk_create(
        [
            Shift(
                unit=c.unit,
                contact=c,
                role=c.role,
                starts_at=now - timedelta(hours=1),
                ends_at=now + timedelta(hours=8),
            )
            for c in contacts
        ]
    )
    return units


def open_for(units, *, now, first_known_at):
    return services.incident_create(
        actor=None,
        now=now,
        title="全区暴雨内涝",
        domain="natural_disaster",
        occurred_at=first_known_at - timedelta(minutes=1),
        location="全区",
        summary="",
        units=[{"unit": u, "first_known_at": first_known_at} for u in units],
    )


def assert_each_sent_once(celery_procs, *, expected_sms: int):
    sms_rows = Notification.objects.filter(channel="sms")
    assert sms_rows.count() == expected_sms
    lines = celery_procs.sms_sent()
    sids = [line["sid"] for line in lines]
    assert len(lines) == expected_sms, "an SMS was sent twice or never"
    assert len(set(sids)) == len(sids)
    assert set(sids) == set(sms_rows.values_list("provider_id", flat=True))
    # And the message each line carried went to that row's number.
    by_sid = {line["sid"]: line["to"] for line in lines}
    assert all(by_sid[pid] == to for pid, to in sms_rows.values_list("provider_id", "to"))


def test_200_due_obligations_two_workers_two_concurrent_sweeps(units, celery_procs):
    now = timezone.now()
    town_units = towns(200, now)
    # Verbal due 12 s from now: the reminder is due at once, the overdue step strictly after the due time.
    incident = open_for(town_units, now=now, first_known_at=now - timedelta(minutes=30) + timedelta(seconds=12))
    verbal_due = incident.obligations.first().verbal_due_at
    assert incident.obligations.count() == 200
    celery_procs.worker("w1", concurrency=4)
    celery_procs.worker("w2", concurrency=4)

    group(sweep.s(), sweep.s()).apply_async()  # the reminders: two sweeps at the same moment
    wait_until(lambda: Notification.objects.filter(step="verbal_reminder").count() == 400, timeout=60)
    time.sleep(max(0.0, (verbal_due - timezone.now()).total_seconds()) + 0.3)
    group(sweep.s(), sweep.s()).apply_async()  # the overdue step: again two at once
    celery_procs.beat()  # and beat keeps sweeping every second on top
    wait_until(lambda: Notification.objects.filter(step="verbal_overdue").count() == 800, timeout=60)
    wait_until(lambda: not Notification.objects.filter(status="pending").exists(), timeout=90, message="every row sent")
    time.sleep(3)  # a few more beat sweeps and re-drives: nothing may be sent again

    assert Notification.objects.count() == 200 * (2 + 4)
    dupes = (
        Notification.objects.values("obligation", "step", "repeat", "recipient", "channel")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    assert not dupes.exists()
    assert set(Notification.objects.values_list("status", flat=True)) == {"sent"}
    assert set(Notification.objects.values_list("attempts", flat=True)) == {1}
    assert_each_sent_once(celery_procs, expected_sms=200 * 2 + 200 * 2)


def test_worker_killed_mid_sending_recovers_every_notification_none_twice(units, celery_procs):
    now = timezone.now()
    town_units = towns(100, now)
    # Verbal due in 9 minutes: only its reminder (due a minute ago; 2 SMS per unit) is due now.
    open_for(town_units, now=now, first_known_at=now - timedelta(minutes=21))
    slow = celery_procs.worker("slow", concurrency=4, extra_env={"SMS_RATE_PER_SECOND": "20"})
    celery_procs.beat()
    wait_until(lambda: Notification.objects.filter(step="verbal_reminder").count() == 200, timeout=60)
    wait_until(lambda: len(celery_procs.sms_sent()) >= 40, timeout=60, message="the first SMS")

    slow.kill()  # SIGKILL to the worker and its pool children, mid-sending
    sent_at_crash = len(celery_procs.sms_sent())
    assert 40 <= sent_at_crash < 200
    assert Notification.objects.filter(status="pending").exists()

    celery_procs.worker("restarted", concurrency=4)
    wait_until(
        lambda: not Notification.objects.filter(status="pending").exists(), timeout=120, message="every row sent"
    )
    time.sleep(3)
    assert set(Notification.objects.values_list("status", flat=True)) == {"sent"}
    assert_each_sent_once(celery_procs, expected_sms=200)


def test_overlapping_batch_tasks_and_one_row_tasks_on_two_workers_send_each_row_once(units, celery_procs):
    """The same rows handed out several times at once: overlapping chunks of the batch task in different orders and
    the one-row task (as queued before a deploy), across two workers of 4 processes each."""
    now = timezone.now()
    open_for(towns(50, now), now=now, first_known_at=now - timedelta(minutes=21))  # reminders due: 2 SMS each
    sweep_run(now=timezone.now())  # writes the 100 rows; their own send tasks wait in Redis for the workers
    ids = sorted(Notification.objects.values_list("pk", flat=True))
    assert len(ids) == 100
    for start in range(0, 100, 10):
        send_notifications.delay(ids[start : start + 30])  # every row in up to three chunks
    send_notifications.delay(list(reversed(ids)))
    for pk in ids[::3]:
        send_notification.delay(pk)
    celery_procs.worker("w1", concurrency=4)
    celery_procs.worker("w2", concurrency=4)
    wait_until(lambda: not Notification.objects.filter(status="pending").exists(), timeout=90, message="every row sent")
    time.sleep(3)  # the late duplicates drain: nothing may be sent again

    assert set(Notification.objects.values_list("status", "attempts")) == {("sent", 1)}
    assert_each_sent_once(celery_procs, expected_sms=100)
    sent_events = AuditEvent.objects.filter(kind="notification_sent").values_list("object_id", flat=True)
    assert sorted(map(int, sent_events)) == ids
    assert chain_verify() is None


def test_worker_killed_inside_a_batch_after_the_provider_accepted_recovers_without_sending_twice(
    units, celery_procs, tmp_path
):
    """A worker process dies (SIGKILL, from inside a send thread) right after the provider accepted a message of its
    chunk and before anything was recorded. The task is re-delivered, finds its rows claimed, waits out the claim;
    the sweep re-drives them and the new holder asks the provider first: the message that left is recorded, not
    sent again, and the rest of the chunk is sent once."""
    now = timezone.now()
    open_for(towns(30, now), now=now, first_known_at=now - timedelta(minutes=21))  # 60 reminder SMS due now
    marker = tmp_path / "crashed"
    crash = {
        "TEST_SMS_BACKEND": "tests.fixtures.crash_sms.SmsBackend",
        "SMS_CRASH_AFTER": "25",
        "SMS_CRASH_MARKER": str(marker),
    }
    celery_procs.worker("w1", concurrency=2, extra_env=crash)
    celery_procs.beat()
    wait_until(marker.exists, timeout=60, message="the crash")
    wait_until(
        lambda: (
            Notification.objects.filter(step="verbal_reminder").count() == 60
            and not Notification.objects.filter(status="pending").exists()
        ),
        timeout=120,
        message="every row sent",
    )
    time.sleep(3)

    assert set(Notification.objects.values_list("status", flat=True)) == {"sent"}
    assert_each_sent_once(celery_procs, expected_sms=60)
    recovered = [e.detail for e in AuditEvent.objects.filter(kind="notification_sent") if e.detail.get("recovered")]
    assert recovered, "the message sent just before the crash was found by lookup, not sent again"
    assert AuditEvent.objects.filter(kind="notification_sent").count() == 60
    assert chain_verify() is None
