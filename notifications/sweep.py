"""The deadline checker: claims obligations whose next action is due and acts on them.

The database is the source of truth: ``next_action_at`` (partial index ``obligation_next_action_idx``) says
when each obligation must next be looked at. Claims use ``SELECT … FOR UPDATE SKIP LOCKED`` so two sweeps
running at once split the work instead of doing it twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import connection, transaction

from notifications.models import SweepHeartbeat
from reporting import deadlines
from reporting.models import Obligation
from reporting.services import _clock, obligation_record_breaches

BATCH = 500


def _claim(now: datetime):
    qs = Obligation.objects.due_before(now).order_by("next_action_at").select_related("incident", "unit")
    if connection.vendor == "postgresql":
        return qs.select_for_update(skip_locked=True, of=("self",))[:BATCH]
    return qs.select_for_update()[:BATCH]


def sweep_run(*, now: datetime) -> int:
    """One tick: act on every due obligation, in batches; returns how many were claimed."""
    claimed = 0
    while True:
        with transaction.atomic():
            batch = list(_claim(now))
            for obligation in batch:
                obligation_record_breaches(obligation=obligation, now=now)
                obligation.next_action_at = _next_action(obligation, now=now)
                obligation.save(update_fields=["next_action_at"])
        claimed += len(batch)
        if len(batch) < BATCH:
            break
    heartbeat_record(now=now, claimed=claimed)
    return claimed


def _next_action(obligation: Obligation, *, now: datetime) -> datetime | None:
    """The next pending due time not yet passed. A deadline passes one instant after its due time (inclusive),
    so a sweep landing exactly on it looks again a second later."""
    clock = _clock(obligation)
    upcoming = [
        due
        for state, due in ((clock.verbal_state, clock.verbal_due_at), (clock.written_state, clock.written_due_at))
        if state == deadlines.PENDING and due >= now
    ]
    if not upcoming:
        return None
    nxt = min(upcoming)
    return nxt if nxt > now else now + timedelta(seconds=1)


def heartbeat_record(*, now: datetime, claimed: int = 0) -> None:
    SweepHeartbeat.objects.update_or_create(name="sweep", defaults={"beat_at": now, "claimed": claimed})
