"""Issue 2, must-show 3: the sweep, run by a real Celery worker over the real Redis broker, picks up an obligation
whose due time has passed and records the transition exactly once — also when two sweeps run at the same moment."""

import time
from datetime import timedelta

from celery import group
from django.utils import timezone

from notifications.models import SweepHeartbeat
from notifications.tasks import sweep
from reporting import services
from reporting.models import AuditEvent, DeadlineBreach, Obligation
from tests.fixtures.workers import wait_until


def test_worker_sweep_records_a_passed_deadline_exactly_once_with_two_concurrent_sweeps(units, celery_procs):
    now = timezone.now()
    # Verbal due 12 s from now (beyond the wake-sweep look-ahead, so no ETA sweep is armed for it): the worker's
    # sweeps, not the test, must notice it passing.
    incident = services.incident_create(
        actor=None,
        now=now,
        title="泗泾镇某路段塌陷",
        domain="city_operation",
        occurred_at=now - timedelta(minutes=40),
        location="泗泾镇某路",
        summary="",
        units=[{"unit": units["sijing"], "first_known_at": now - timedelta(minutes=30) + timedelta(seconds=12)}],
    )
    obligation = incident.obligations.get()
    celery_procs.worker("w1", concurrency=4)
    celery_procs.worker("w2", concurrency=4)
    assert not DeadlineBreach.objects.exists()

    # Two sweeps at the same moment, on two workers, right after the deadline passed (beat not running yet).
    time.sleep(max(0.0, (obligation.verbal_due_at - timezone.now()).total_seconds()) + 0.2)
    group(sweep.s(), sweep.s()).apply_async()
    breach = wait_until(lambda: DeadlineBreach.objects.filter(obligation=obligation).first(), timeout=30)
    # Then beat keeps sweeping every second: nothing more may be written for that deadline.
    celery_procs.beat()
    first_beat = SweepHeartbeat.objects.get(name="sweep").beat_at
    wait_until(lambda: SweepHeartbeat.objects.get(name="sweep").beat_at > first_beat + timedelta(seconds=2), timeout=30)

    assert breach.deadline == "verbal"
    assert breach.due_at == obligation.verbal_due_at
    assert breach.recorded_at > obligation.verbal_due_at  # strictly after: the deadline is inclusive
    assert DeadlineBreach.objects.filter(obligation=obligation).count() == 1
    events = AuditEvent.objects.filter(kind="deadline_passed", object_id=str(obligation.pk))
    assert events.count() == 1
    assert events.get().detail["deadline"] == "verbal"
    # The worker moved the obligation on to its next step (escalation at verbal due + 5 min).
    obligation = Obligation.objects.get(pk=obligation.pk)
    assert obligation.next_action_at == obligation.verbal_due_at + timedelta(minutes=5, microseconds=1)


def test_eta_wake_sweep_fires_a_step_within_a_second_of_its_time(units, celery_procs):
    """Beat sweeps only every 5 s here; the wake sweep it schedules fires the overdue step right after the due
    time (the lag SPEC targets), and the row is still written once."""
    from notifications.models import Notification
    from reporting.models import ContactRole
    from tests.notifications.conftest import on_shift, person

    now = timezone.now()
    for n, role in enumerate((ContactRole.DUTY_OFFICER, ContactRole.SHIFT_LEADER), start=1):
        on_shift(person(units["sijing"], f"值班{n}", role, n), role, start=now - timedelta(hours=1))
    env = {"SWEEP_INTERVAL_SECONDS": "5"}
    celery_procs.worker("w1", concurrency=4, extra_env=env)
    celery_procs.beat(extra_env=env)
    # Verbal due 7 s from now: at least one beat tick sees it within its 2-interval look-ahead first.
    now = timezone.now()
    incident = services.incident_create(
        actor=None,
        now=now,
        title="泗泾镇某路段塌陷",
        domain="city_operation",
        occurred_at=now - timedelta(minutes=40),
        location="泗泾镇某路",
        summary="",
        units=[{"unit": units["sijing"], "first_known_at": now - timedelta(minutes=30) + timedelta(seconds=7)}],
    )
    obligation = incident.obligations.get()
    rows = wait_until(
        lambda: list(Notification.objects.filter(obligation=obligation, step="verbal_overdue")), timeout=30
    )
    assert len(rows) == 4  # 2 people x (sms, email)
    lag = max((r.created_at - obligation.verbal_due_at).total_seconds() for r in rows)
    assert 0 < lag < 1.0
    wait_until(lambda: not Notification.objects.filter(obligation=obligation, status="pending").exists(), timeout=30)
    assert len(celery_procs.sms_sent()) == Notification.objects.filter(channel="sms").count()


def test_slot_rounds_up_to_200_ms():
    from datetime import UTC, datetime

    from notifications.wakeups import slot_of

    assert slot_of(datetime(2026, 11, 28, 1, 0, 0, 1, tzinfo=UTC)) == datetime(
        2026, 11, 28, 1, 0, 0, 200000, tzinfo=UTC
    )
    assert slot_of(datetime(2026, 11, 28, 1, 0, 0, 200000, tzinfo=UTC)) == datetime(
        2026, 11, 28, 1, 0, 0, 200000, tzinfo=UTC
    )
    assert slot_of(datetime(2026, 11, 28, 1, 0, 0, 200001, tzinfo=UTC)) == datetime(
        2026, 11, 28, 1, 0, 0, 400000, tzinfo=UTC
    )


def test_obligation_created_overdue_is_chased_at_once_without_waiting_for_beat(units, celery_procs):
    """No beat at all: the wake sweep enqueued when the obligation is committed does the work."""
    from notifications.models import Notification
    from reporting.models import ContactRole
    from tests.notifications.conftest import on_shift, person

    now = timezone.now()
    for n, role in enumerate((ContactRole.DUTY_OFFICER, ContactRole.SHIFT_LEADER), start=1):
        on_shift(person(units["sijing"], f"值班{n}", role, n), role, start=now - timedelta(hours=1))
    celery_procs.worker("w1", concurrency=2)
    now = timezone.now()
    incident = services.incident_create(
        actor=None,
        now=now,
        title="泗泾镇某路段塌陷",
        domain="city_operation",
        occurred_at=now - timedelta(minutes=40),
        location="泗泾镇某路",
        summary="",
        units=[{"unit": units["sijing"], "first_known_at": now - timedelta(minutes=31)}],
    )
    obligation = incident.obligations.get()
    rows = wait_until(
        lambda: list(Notification.objects.filter(obligation=obligation, step="verbal_overdue")), timeout=20
    )
    assert len(rows) == 4
    assert max((r.created_at - now).total_seconds() for r in rows) < 2.0
    assert DeadlineBreach.objects.filter(obligation=obligation, deadline="verbal").count() == 1
    assert not SweepHeartbeat.objects.filter(beat_at__lt=now).exists()
