"""The reporting clock as pure functions: no ORM, no settings, no clock of their own.

Rules from the district's implementation opinions (2022): report to the district general duty room verbally
within 30 minutes and in writing within 1 hour of first knowing of an incident (快报事实、慎报原因).
Everything that depends on the time takes ``now`` as a keyword argument; only views, tasks and commands read
the clock. Every datetime here is timezone-aware; naive datetimes are refused at the edges.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

PENDING = "pending"
ON_TIME = "on_time"
LATE = "late"
NOT_REQUIRED = "not_required"

#: A client clock may run this far ahead of the server's (SPEC rule 6).
CLOCK_SKEW = timedelta(minutes=2)
#: A phoned-in verbal report may be back-dated to the call by at most this much (SPEC rule 2).
MAX_CALL_BACKDATE = timedelta(minutes=30)
#: A declared first-known time later than the evidence by more than this is suspected 压报 (SPEC rule 5).
HELD_BACK_TOLERANCE = timedelta(minutes=5)


#: How a duty officer calls each time field, so that every refusal names the field it is about.
FIELD_LABELS = {
    "occurred_at": "发生时间 (occurred_at)",
    "first_known_at": "首次知悉时间 (first_known_at)",
    "call_received_at": "来电时间 (call_received_at)",
    "reported_at": "向市级部门报告时间 (reported_at)",
    "received_at": "接收时间 (received_at)",
    "delivered_at": "派送时间 (delivered_at)",
}


class TimeError(ValueError):
    """A time a user gave is not acceptable; ``field`` names it, ``message`` says why (Chinese first).

    ``message`` always starts with the field's label, e.g.
    ``发生时间 (occurred_at): 时间不能晚于当前时间 (this time is in the future)``.
    """

    def __init__(self, field: str, reason: str):
        self.field = field
        self.reason = reason
        self.message = f"{FIELD_LABELS.get(field, field)}: {reason}"
        super().__init__(self.message)


@dataclass(frozen=True)
class Due:
    verbal_due_at: datetime
    written_due_at: datetime


@dataclass(frozen=True)
class Lateness:
    on_time: bool
    delay_seconds: int


@dataclass(frozen=True)
class ClockState:
    """The two clocks of one obligation, as plain values.

    ``one_clock``: the obligation has a single deadline stored as both clocks with the same due time (the duty
    room's relay to 区委办 and 区府办, SPEC rule 13: relayed once, by phone or in writing). Both clocks are then
    decided together and always hold the same state, time and report.
    """

    verbal_due_at: datetime
    written_due_at: datetime
    verbal_state: str = PENDING
    written_state: str = PENDING
    verbal_filed_at: datetime | None = None
    written_filed_at: datetime | None = None
    one_clock: bool = False


def due_times(first_known_at: datetime, *, verbal_minutes: int, written_minutes: int) -> Due:
    """Both due times from the first-known time (SPEC rule 1). Plain UTC arithmetic: midnight and the date
    change in Asia/Shanghai do not matter, 23:50 + 30 min is 00:20 the next day."""
    _require_aware("first_known_at", first_known_at)
    return Due(
        verbal_due_at=first_known_at + timedelta(minutes=verbal_minutes),
        written_due_at=first_known_at + timedelta(minutes=written_minutes),
    )


def relay_anchor(*, first_report_at: datetime | None, major_at: datetime) -> datetime:
    """When the duty room's relay clock to 区委办 and 区府办 starts (SPEC rule 13): the later of the first report the
    duty room received on the incident and the moment the incident reached grade II or above (``major_at``).

    Our reading of rule 13's "from the first report it received": that report must show something major to relay.
    A first report of a minor incident that grows to grade II later starts nothing; counting from it would open the
    relay already overdue (and a 迟报 for a time when there was nothing to relay). With no report yet (an incident
    opened at grade II), the clock starts at ``major_at``.
    """
    _require_aware("major_at", major_at)
    if first_report_at is None:
        return major_at
    _require_aware("first_report_at", first_report_at)
    return max(first_report_at, major_at)


def corrected_due_times(
    clock: ClockState, first_known_at: datetime, *, verbal_minutes: int, written_minutes: int
) -> Due:
    """The due times after the first-known time changed (a correction, or earlier evidence; SPEC rules 4 and 5).

    A pending deadline moves with the first-known time. A decided one (filed, or not required) keeps the due time
    it was judged against: lateness is frozen at filing, both the verdict and the delay auditors see. A correction
    never turns a late filing into an on-time one, nor shortens its delay. (Knowing earlier than declared is
    caught as suspected 压报 instead, rule 5.) So the written deadline may come before a decided verbal one.
    """
    due = due_times(first_known_at, verbal_minutes=verbal_minutes, written_minutes=written_minutes)
    return Due(
        verbal_due_at=due.verbal_due_at if clock.verbal_state == PENDING else clock.verbal_due_at,
        written_due_at=due.written_due_at if clock.written_state == PENDING else clock.written_due_at,
    )


def lateness(counted_at: datetime, due_at: datetime) -> Lateness:
    """Inclusive deadline (SPEC rule 2): ``counted_at <= due_at`` is on time.

    A late report's delay is rounded up to whole seconds, so any lateness is at least 1 s.
    """
    if counted_at <= due_at:
        return Lateness(on_time=True, delay_seconds=0)
    return Lateness(on_time=False, delay_seconds=math.ceil((counted_at - due_at).total_seconds()))


def earliest_evidence(declared_at: datetime | None, evidence: Iterable[datetime]) -> datetime:
    """The clock runs from the earliest evidence of knowledge (SPEC rule 5): the declared time or any delivery."""
    times = [t for t in evidence if t is not None]
    if declared_at is not None:
        times.append(declared_at)
    if not times:
        raise TimeError("first_known_at", "首次知悉时间必填 (first_known_at is required)")
    return min(times)


def declared_later_than_evidence(declared_at: datetime | None, evidence_at: datetime | None) -> timedelta | None:
    """How far a declared first-known time is later than the evidence, when that is a suspected 压报 (> 5 min)."""
    if declared_at is None or evidence_at is None:
        return None
    gap = declared_at - evidence_at
    return gap if gap > HELD_BACK_TOLERANCE else None


def check_incident_times(*, occurred_at: datetime, first_known_at: Iterable[datetime], now: datetime) -> None:
    """SPEC rule 6: aware, not in the future (beyond clock skew), first-known never before occurrence."""
    check_past("occurred_at", occurred_at, now=now)
    for known in first_known_at:
        check_past("first_known_at", known, now=now)
        if known < occurred_at:
            raise TimeError("first_known_at", "首次知悉时间不能早于事件发生时间 (first_known_at is before occurred_at)")


def check_past(field: str, value: datetime | None, *, now: datetime) -> None:
    """A user-given time: present, timezone-aware, and not later than ``now`` beyond the allowed clock skew."""
    if value is None:
        raise TimeError(field, "时间必填 (this time is required)")
    _require_aware(field, value)
    if value > now + CLOCK_SKEW:
        raise TimeError(field, "时间不能晚于当前时间 (this time is in the future)")


def counted_time(*, filed_at: datetime, call_received_at: datetime | None) -> datetime:
    """The time that counts for a report (SPEC rule 2): the phone call's time for a logged verbal report.

    The call may be at most 30 minutes before logging and never in the future.
    """
    if call_received_at is None:
        return filed_at
    _require_aware("call_received_at", call_received_at)
    if call_received_at > filed_at:
        raise TimeError("call_received_at", "来电时间不能晚于登记时间 (call_received_at is in the future)")
    if filed_at - call_received_at > MAX_CALL_BACKDATE:
        raise TimeError("call_received_at", "来电时间最多早于登记时间30分钟 (at most 30 minutes before logging)")
    return call_received_at


def apply_filing(clock: ClockState, *, kind: str, counted_at: datetime) -> ClockState:
    """The clocks after a verbal or written report counted at ``counted_at``.

    A written report also discharges a still-pending verbal obligation (SPEC rule 3), judged against the verbal
    due time. A deadline already decided (filed or not required) is never changed: lateness is frozen at filing.
    Follow-up and final reports change no clock.

    A ``one_clock`` obligation (the relay) is discharged by any verbal or written report: both clocks take the same
    verdict and time, judged against the one due time. Its clock is pending while its verbal clock is (the written
    one only mirrors it), so a relay already done is never decided a second time.
    """
    verbal_state, verbal_filed_at = clock.verbal_state, clock.verbal_filed_at
    written_state, written_filed_at = clock.written_state, clock.written_filed_at
    if clock.one_clock:
        if kind in ("verbal", "written") and verbal_state == PENDING:
            verbal_state = written_state = ON_TIME if lateness(counted_at, clock.verbal_due_at).on_time else LATE
            verbal_filed_at = written_filed_at = counted_at
        return replace(
            clock,
            verbal_state=verbal_state,
            written_state=written_state,
            verbal_filed_at=verbal_filed_at,
            written_filed_at=written_filed_at,
        )
    if kind in ("verbal", "written") and verbal_state == PENDING:
        verbal_state = ON_TIME if lateness(counted_at, clock.verbal_due_at).on_time else LATE
        verbal_filed_at = counted_at
    if kind == "written" and written_state == PENDING:
        written_state = ON_TIME if lateness(counted_at, clock.written_due_at).on_time else LATE
        written_filed_at = counted_at
    return replace(
        clock,
        verbal_state=verbal_state,
        written_state=written_state,
        verbal_filed_at=verbal_filed_at,
        written_filed_at=written_filed_at,
    )


def passed_deadlines(clock: ClockState, *, now: datetime) -> list[tuple[str, datetime]]:
    """The deadlines (``"verbal"``/``"written"``, due time) that have passed with nothing filed.

    Inclusive: at exactly the due time a deadline has not yet passed. A ``one_clock`` obligation (the relay) has one
    deadline, named ``"verbal"`` as its chasing names it (verbal steps only): it passes once, not twice.
    """
    passed = []
    if clock.verbal_state == PENDING and now > clock.verbal_due_at:
        passed.append(("verbal", clock.verbal_due_at))
    if clock.one_clock:
        return passed
    if clock.written_state == PENDING and now > clock.written_due_at:
        passed.append(("written", clock.written_due_at))
    return passed


def is_overdue(clock: ClockState, *, now: datetime) -> bool:
    return bool(passed_deadlines(clock, now=now))


def next_deadline(clock: ClockState) -> datetime | None:
    """The next due time still pending, or None when both clocks are decided."""
    pending = []
    if clock.verbal_state == PENDING:
        pending.append(clock.verbal_due_at)
    if clock.written_state == PENDING:
        pending.append(clock.written_due_at)
    return min(pending) if pending else None


def _require_aware(field: str, value: datetime) -> None:
    if not isinstance(value, datetime):
        raise TimeError(field, "不是有效的时间 (not a datetime)")
    if value.tzinfo is None or value.utcoffset() is None:
        raise TimeError(field, "时间必须带时区偏移, 如 2026-11-28T09:15:00+08:00 (a time needs a UTC offset)")
