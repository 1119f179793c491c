"""Reads for the auditors' 更正与无需报送 section: obligations marked not required (SPEC rule 11: "stays visible to
auditors with that reason") and first-known corrections (rule 4: "the correction itself is recorded and shown to
auditors"). Exercises are left out (rule 10). Each selector is a constant number of queries however many rows.

Period, as in the timeliness figures (``reporting.stats``): an obligation belongs to the period of its first-known
time, ``[since, until)``, either bound open.

- A not-required mark is listed in the period of its obligation's first-known time: exactly the obligations that
  period's figures leave out.
- A restore (a mark undone, 撤销无需报送) is listed like a mark, in the period of its obligation's first-known time,
  with the mark it undid: the mark's own fields are cleared by the restore, so this is where auditors see both.
- A correction is listed in the period of the first-known time before it *and* in that of the time after it: it can
  move an obligation out of one period's figures into another's, and the auditors of both must see it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import BooleanField, CharField, ExpressionWrapper, F, Q, QuerySet
from django.db.models.functions import Cast
from django.utils.dateparse import parse_datetime

from reporting.deadlines import CLOCK_SKEW
from reporting.models import AuditEvent, Incident, Obligation, Unit

#: The audit event ``reporting.obligation_services.obligation_correct_first_known`` appends.
CORRECTION_EVENT = "first_known_corrected"
#: The audit event ``reporting.obligation_services.obligation_restore`` appends (撤销无需报送).
RESTORE_EVENT = "obligation_restored"


def _in_period(at: datetime, since: datetime | None, until: datetime | None) -> bool:
    return (since is None or at >= since) and (until is None or at < until)


def not_required_marks(
    *, since: datetime | None = None, until: datetime | None = None, unit: Unit | None = None
) -> QuerySet[Obligation]:
    """Obligations marked not required whose first-known time is in the period (of ``unit`` when given), most
    recently marked first, with their incident, unit and who marked them; exercises left out. One query.

    Each carries ``marked_after_verbal_due``: the mark came after the verbal deadline had passed (标记时已超时;
    the deadline is inclusive, SPEC rule 2, so a mark at the due time itself is not late)."""
    qs = (
        Obligation.objects.filter(not_required_at__isnull=False, incident__exercise=False)
        .select_related("incident", "unit", "not_required_by")
        .annotate(
            marked_after_verbal_due=ExpressionWrapper(
                Q(not_required_at__gt=F("verbal_due_at")), output_field=BooleanField()
            )
        )
        .order_by("-not_required_at", "-id")
    )
    return _first_known_in(qs, since=since, until=until, unit=unit)


def _first_known_in(
    qs: QuerySet[Obligation], *, since: datetime | None, until: datetime | None, unit: Unit | None
) -> QuerySet[Obligation]:
    """The obligations of ``qs`` first known in the period, of ``unit`` when given."""
    if unit is not None:
        qs = qs.filter(unit=unit)
    if since is not None:
        qs = qs.filter(first_known_at__gte=since)
    if until is not None:
        qs = qs.filter(first_known_at__lt=until)
    return qs


@dataclass(frozen=True)
class Correction:
    """One first-known correction as the audit event recorded it (times aware, UTC)."""

    event_id: int
    at: datetime
    actor: str
    incident: Incident
    obligation_id: int
    unit: Unit
    before: datetime | None
    after: datetime | None
    #: The time the corrector gave; ``after`` is earlier when delivery evidence was earlier (SPEC rule 5).
    declared: datetime | None
    reason: str

    @property
    def shift_minutes(self) -> int | None:
        """How far the correction moved the first-known time, in whole minutes (positive: later, giving the unit
        more time; negative: earlier), rounded toward zero; None when a time is unknown."""
        if self.before is None or self.after is None:
            return None
        return int((self.after - self.before).total_seconds() / 60)


def _time(detail: dict, *path: str) -> datetime | None:
    value = detail
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return parse_datetime(value) if isinstance(value, str) else None


def first_known_corrections(
    *, since: datetime | None = None, until: datetime | None = None, unit: Unit | None = None
) -> list[Correction]:
    """First-known corrections (audit events ``first_known_corrected``) whose first-known time before or after is in
    the period, of ``unit``'s obligations when given, newest first; exercises left out. At most two queries.

    The times before and after live in the event's detail (JSON), so the period is checked here, not in SQL. The
    events read are bounded by the period's start all the same: every first-known time was refused when later than
    the moment it was set plus ``CLOCK_SKEW`` (SPEC rule 6), and it was set at or before the correction, so a
    correction with a time at or after ``since`` was itself made at or after ``since - CLOCK_SKEW``.
    """
    events = AuditEvent.objects.filter(
        kind=CORRECTION_EVENT, object_type="obligation", incident__isnull=False, incident__exercise=False
    ).select_related("incident")
    if since is not None:
        events = events.filter(at__gte=since - CLOCK_SKEW)
    if unit is not None:
        # ``object_id`` is text: compare it with the unit's obligation ids as text.
        ids = Obligation.objects.filter(unit=unit).annotate(text_id=Cast("pk", CharField())).values("text_id")
        events = events.filter(object_id__in=ids)
    picked = []
    for event in events.order_by("-at", "-id"):
        detail = event.detail if isinstance(event.detail, dict) else {}
        before, after = _time(detail, "before", "first_known_at"), _time(detail, "after", "first_known_at")
        # An event without the times (never written so) would still be shown, dated by itself.
        if any(_in_period(at, since, until) for at in [t for t in (before, after) if t is not None] or [event.at]):
            picked.append((event, before, after, detail))
    obligations = Obligation.objects.select_related("unit").in_bulk([int(e.object_id) for e, *_ in picked])
    corrections = []
    for event, before, after, detail in picked:
        obligation = obligations.get(int(event.object_id))
        if obligation is None:  # obligations are never deleted (PROTECT); a foreign event is simply not shown
            continue
        corrections.append(
            Correction(
                event_id=event.pk,
                at=event.at,
                actor=event.actor,
                incident=event.incident,
                obligation_id=obligation.pk,
                unit=obligation.unit,
                before=before,
                after=after,
                declared=_time(detail, "declared"),
                reason=str(detail.get("reason") or ""),
            )
        )
    return corrections


@dataclass(frozen=True)
class Restore:
    """One not-required mark undone (撤销无需报送), as the audit event recorded it: the restore and the mark."""

    event_id: int
    at: datetime
    actor: str
    reason: str
    incident: Incident
    obligation: Obligation
    mark_reason: str
    marked_by: str
    marked_at: datetime | None


def obligation_restores(
    *, since: datetime | None = None, until: datetime | None = None, unit: Unit | None = None
) -> list[Restore]:
    """Not-required marks undone (audit events ``obligation_restored``) of obligations whose first-known time is in
    the period (of ``unit`` when given), newest first; exercises left out. Two queries.

    A restore moves no first-known time, so the period is that of the obligation as it is now, in SQL."""
    obligations = _first_known_in(
        Obligation.objects.filter(incident__exercise=False), since=since, until=until, unit=unit
    )
    # ``object_id`` is text: compare it with the obligation ids as text.
    ids = obligations.annotate(text_id=Cast("pk", CharField())).values("text_id")
    events = list(
        AuditEvent.objects.filter(
            kind=RESTORE_EVENT, object_type="obligation", incident__isnull=False, object_id__in=ids
        )
        .select_related("incident")
        .order_by("-at", "-id")
    )
    found = Obligation.objects.select_related("unit").in_bulk([int(e.object_id) for e in events])
    restores = []
    for event in events:
        detail = event.detail if isinstance(event.detail, dict) else {}
        obligation = found.get(int(event.object_id))
        if obligation is None:
            continue
        restores.append(
            Restore(
                event_id=event.pk,
                at=event.at,
                actor=event.actor,
                reason=str(detail.get("reason") or ""),
                incident=event.incident,
                obligation=obligation,
                mark_reason=str(detail.get("mark_reason") or ""),
                marked_by=str(detail.get("marked_by") or ""),
                marked_at=_time(detail, "marked_at"),
            )
        )
    return restores
