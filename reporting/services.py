"""Writes to the domain: incidents here, with what every service module shares; reports, obligations, signals and
findings each in their own ``*_services`` module.

Each service is one transaction, takes ``now`` from its caller, appends audit events, and tells the outside world
through ``reporting.hooks`` (receivers defer side effects to ``on_commit``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q

from reporting import deadlines, grading, hooks
from reporting.auditlog import audited, event_append
from reporting.errors import ConflictError, DomainError
from reporting.models import (
    Domain,
    Grade,
    Incident,
    Obligation,
    ObligationKind,
    Report,
    ReportingPolicy,
    Role,
    Signal,
    Unit,
    UnitKind,
)

#: The casualty and loss figures an incident carries and a report may raise. ``serious_injuries`` (重伤) are those of
#: ``injuries`` (受伤) seriously injured: grading counts them (SPEC rule 9), never more than ``injuries``.
FIGURES = ("deaths", "injuries", "serious_injuries", "missing", "direct_loss_yuan")


@dataclass(frozen=True)
class Minutes:
    verbal: int
    written: int
    relay: int


def actor_name(actor) -> str:
    return getattr(actor, "username", "") or "system"


def policy_minutes(*, grade: str | None) -> Minutes:
    """The reporting minutes for a grade: its own policy row, else the default row, else 30/60/15."""
    # ``grade IN (x, NULL)`` never matches the NULL default row in SQL: ask for it explicitly.
    rows = {p.grade: p for p in ReportingPolicy.objects.filter(Q(grade=grade) | Q(grade__isnull=True)).order_by("id")}
    policy = rows.get(grade) or rows.get(None)
    if policy is None:
        return Minutes(verbal=30, written=60, relay=15)
    return Minutes(verbal=policy.verbal_minutes, written=policy.written_minutes, relay=policy.relay_minutes)


def _domain_error(exc: deadlines.TimeError) -> DomainError:
    return DomainError({exc.field: [exc.message]})


def _check_figures(values: dict[str, Any], *, allow_none: bool) -> None:
    """Casualty and loss figures are whole numbers >= 0 (the database would refuse them with a 500 otherwise)."""
    errors = {}
    for field in (f for f in FIGURES if f in values):
        value = values[field]
        if value is None and allow_none:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            errors[field] = [f"必须是不小于0的整数 ({field} must be a whole number >= 0)"]
    if errors:
        raise DomainError(errors)


def serious_injuries_error(*, serious_injuries: int, injuries: int | None) -> str | None:
    """Why ``serious_injuries`` cannot go with ``injuries`` (the seriously injured are among the injured), or None.

    ``injuries`` None (a report that does not state it yet) allows no serious injuries either."""
    if not serious_injuries:
        return None
    if injuries is None:
        return (
            f"填写重伤人数({serious_injuries})时须同时填写受伤人数, 重伤者计入受伤人数 "
            f"(serious_injuries needs injuries: the seriously injured are counted among the injured)"
        )
    if serious_injuries > injuries:
        return (
            f"重伤人数({serious_injuries})不能多于受伤人数({injuries}), 重伤者计入受伤人数 "
            f"(serious_injuries must not exceed injuries: the seriously injured are counted among the injured)"
        )
    return None


def _check_serious_injuries(*, serious_injuries: int, injuries: int | None) -> None:
    message = serious_injuries_error(serious_injuries=serious_injuries, injuries=injuries)
    if message:
        raise DomainError({"serious_injuries": [message]})


def _check_grade(grade: str | None) -> None:
    if grade is not None and grade not in Grade.values:
        raise DomainError({"grade": [f"未知等级: {grade} (unknown grade; one of {', '.join(Grade.values)})"]})


def _rearm(obligation: Obligation) -> None:
    """Keep ``next_action_at`` no later than the next pending deadline after the clocks changed.

    The sweep is the source of truth (SPEC "Escalation"): a clock moved earlier (evidence, correction) must not
    be looked at only at its old time. An earlier ``next_action_at`` (a reminder before the deadline) is kept;
    with no deadline pending there is nothing left to chase. The chasing receivers of ``obligation_changed`` may
    refine it further in the same transaction.
    """
    nxt = deadlines.next_deadline(_clock(obligation))
    if nxt is None:
        obligation.next_action_at = None
    elif obligation.next_action_at is None or obligation.next_action_at > nxt:
        obligation.next_action_at = nxt


def _decide_by_report(obligation: Obligation, report, counted_at: datetime) -> bool:
    """Apply a filed verbal or written report to the obligation's clocks (``deadlines.apply_filing``), linking it
    as the report that decided each clock it discharges. Unsaved; True when a clock changed."""
    before = _clock(obligation)
    after = deadlines.apply_filing(before, kind=report.kind, counted_at=counted_at)
    if after == before:
        return False
    obligation.verbal_state, obligation.verbal_filed_at = after.verbal_state, after.verbal_filed_at
    obligation.written_state, obligation.written_filed_at = after.written_state, after.written_filed_at
    if before.verbal_state == deadlines.PENDING and after.verbal_state != deadlines.PENDING:
        obligation.verbal_report = report
    if before.written_state == deadlines.PENDING and after.written_state != deadlines.PENDING:
        obligation.written_report = report
    return True


def _clock(obligation: Obligation) -> deadlines.ClockState:
    return deadlines.ClockState(
        verbal_due_at=obligation.verbal_due_at,
        written_due_at=obligation.written_due_at,
        verbal_state=obligation.verbal_state,
        written_state=obligation.written_state,
        verbal_filed_at=obligation.verbal_filed_at,
        written_filed_at=obligation.written_filed_at,
        one_clock=obligation.kind == ObligationKind.RELAY,
    )


# --- incidents -----------------------------------------------------------------------------------------------


@audited
def incident_create(*, actor, now: datetime, units: list[dict[str, Any]], **fields: Any) -> Incident:
    """Open an incident with one obligation per responsible unit.

    ``units`` items: ``{"unit": Unit, "first_known_at": datetime, "channel": str}``. ``fields`` are the incident's
    own (title, domain, occurred_at, location, summary, figures, grade, exercise, sensitive).
    """
    if not units:
        raise DomainError({"units": ["至少指定一个责任单位 (at least one responsible unit)"]})
    if getattr(actor, "effective_role", None) == Role.UNIT_STAFF:
        # The duty room's decisions: an exercise is left out of every audit figure (SPEC rule 10), so a unit may not
        # take its own incident out of the audit; the grade and sensitivity are judged by the duty room (rule 9).
        refused = [name for name in ("exercise", "grade", "sensitive") if fields.get(name) not in (None, False)]
        if refused:
            raise DomainError(
                {
                    name: ["由总值班室决定, 报送单位不能设置 (the duty room decides this, not a reporting unit)"]
                    for name in refused
                }
            )
    if fields.get("domain") not in Domain.values:
        raise DomainError({"domain": [f"未知领域 (unknown domain; one of {', '.join(Domain.values)})"]})
    for field in FIGURES:
        if fields.get(field) is None:
            fields[field] = 0
    _check_figures(fields, allow_none=False)
    _check_serious_injuries(serious_injuries=fields["serious_injuries"], injuries=fields["injuries"])
    _check_grade(fields.get("grade"))
    seen = set()
    for item in units:
        if item["unit"].pk in seen:
            raise DomainError({"units": [f"单位重复: {item['unit'].code} (a unit appears twice)"]})
        seen.add(item["unit"].pk)
    try:
        deadlines.check_incident_times(
            occurred_at=fields.get("occurred_at"), first_known_at=[u.get("first_known_at") for u in units], now=now
        )
    except deadlines.TimeError as exc:
        raise _domain_error(exc) from exc
    computed = grading.compute_grade(**{f: fields[f] for f in FIGURES})
    requested = fields.pop("grade", None)
    try:
        grade = grading.effective_grade(requested=requested, computed=computed)
    except ValueError as exc:
        raise DomainError({"grade": [f"等级不能低于计算等级 {computed} (grade is lower than computed)"]}) from exc
    incident = Incident.objects.create(
        number=f"tmp-{uuid.uuid4().hex[:24]}",
        grade=grade,
        grade_computed=computed,
        created_by=actor if getattr(actor, "pk", None) else None,
        created_at=now,
        updated_at=now,
        **fields,
    )
    year = incident.occurred_at.astimezone(ZoneInfo(settings.TIME_ZONE)).year
    incident.number = f"SJ-{year}-{incident.pk:06d}"
    incident.save(update_fields=["number"])
    event_append(
        at=now,
        kind="incident_created",
        actor=actor_name(actor),
        incident=incident,
        obj=incident,
        detail={
            "number": incident.number,
            "grade": grade,
            "grade_computed": computed,
            "exercise": incident.exercise,
            **{f: getattr(incident, f) for f in FIGURES},
        },
    )
    for item in units:
        _obligation_open(
            incident=incident,
            unit=item["unit"],
            first_known_at=item["first_known_at"],
            channel=item.get("channel") or "self",
            actor=actor,
            now=now,
        )
    _relay_if_major(incident=incident, actor=actor, now=now)
    hooks.incident_changed.send(sender=Incident, incident=incident, now=now, created=True)
    return incident


def _obligation_open(
    *,
    incident: Incident,
    unit: Unit,
    first_known_at: datetime,
    channel: str,
    actor,
    now: datetime,
    kind: str = ObligationKind.REPORT,
    opened_by_signal: Signal | None = None,
) -> Obligation:
    minutes = policy_minutes(grade=incident.grade)
    if kind == ObligationKind.RELAY:
        # The relay runs from its anchor (``_relay_if_major``), not from knowledge: a signal delivered to the duty
        # room before the incident was major would otherwise open the relay already overdue.
        known = first_known_at
        due = deadlines.due_times(known, verbal_minutes=minutes.relay, written_minutes=minutes.relay)
        verbal_minutes = written_minutes = minutes.relay
    else:
        known = deadlines.earliest_evidence(first_known_at, _delivery_evidence(incident=incident, unit=unit))
        due = deadlines.due_times(known, verbal_minutes=minutes.verbal, written_minutes=minutes.written)
        verbal_minutes, written_minutes = minutes.verbal, minutes.written
    obligation = Obligation.objects.create(
        incident=incident,
        unit=unit,
        kind=kind,
        first_known_at=known,
        first_known_channel=channel,
        declared_first_known_at=first_known_at,
        opened_by_signal=opened_by_signal,
        verbal_minutes=verbal_minutes,
        written_minutes=written_minutes,
        verbal_due_at=due.verbal_due_at,
        written_due_at=due.written_due_at,
        next_action_at=due.verbal_due_at,
        created_at=now,
    )
    event_append(
        at=now,
        kind="obligation_created",
        actor=actor_name(actor),
        incident=incident,
        obj=obligation,
        detail={
            "unit": unit.code,
            "kind": kind,
            "first_known_at": known,
            "declared_first_known_at": first_known_at,
            "channel": channel,
            "verbal_due_at": due.verbal_due_at,
            "written_due_at": due.written_due_at,
        },
    )
    hooks.obligation_created.send(sender=Obligation, obligation=obligation, now=now)
    return obligation


def _delivery_signals(*, incident: Incident, unit: Unit):
    """The signals linked to ``incident`` and delivered to ``unit``: evidence of first knowledge (SPEC rule 5),
    earliest first.

    A delivery before the incident occurred cannot be knowledge of it (rule 6 keeps first_known_at >= occurred_at),
    so it is not evidence.
    """
    return Signal.objects.filter(
        incident=incident, delivered_to=unit, delivered_at__isnull=False, delivered_at__gte=incident.occurred_at
    ).order_by("delivered_at", "pk")


def _delivery_evidence(*, incident: Incident, unit: Unit) -> list[datetime]:
    """The delivery times of ``_delivery_signals``."""
    return list(_delivery_signals(incident=incident, unit=unit).values_list("delivered_at", flat=True))


@audited
def incident_add_unit(
    *, incident: Incident, unit: Unit, first_known_at: datetime, channel: str, actor, now: datetime
) -> Obligation:
    try:
        deadlines.check_incident_times(occurred_at=incident.occurred_at, first_known_at=[first_known_at], now=now)
    except deadlines.TimeError as exc:
        raise _domain_error(exc) from exc
    already = ConflictError({"unit": [f"该单位已是本事件的责任单位: {unit.code} (already responsible)"]})
    if Obligation.objects.filter(incident=incident, unit=unit, kind=ObligationKind.REPORT).exists():
        raise already
    try:
        # Another transaction may add the same unit between the check and the insert: the unique constraint
        # decides, and the loser gets the same conflict (the savepoint keeps this transaction usable).
        with transaction.atomic():
            return _obligation_open(
                incident=incident, unit=unit, first_known_at=first_known_at, channel=channel, actor=actor, now=now
            )
    except IntegrityError as exc:
        if "obligation_unique_per_unit" not in str(exc):
            raise
        raise already from exc


#: What ``incident_update`` may change. The exercise flag and the number are fixed at creation.
UPDATABLE = (*FIGURES, "grade", "title", "summary", "location", "domain", "sensitive", "occurred_at")


@audited
def incident_update(*, incident: Incident, actor, now: datetime, **changes: Any) -> Incident:
    """Change figures, grade, title, summary, location, domain, sensitivity or occurrence time.

    The grade is recomputed from the figures (SPEC rule 9); a human may set it higher, never lower than the computed
    one. Every change is one ``incident_changed`` audit event with before/after values.
    """
    unknown = sorted(set(changes) - set(UPDATABLE))
    if unknown:
        raise DomainError({f: ["该字段不可修改 (this field cannot be changed)"] for f in unknown})
    _check_figures({f: changes[f] for f in FIGURES if f in changes}, allow_none=False)
    _check_grade(changes.get("grade"))
    if "domain" in changes and changes["domain"] not in Domain.values:
        raise DomainError({"domain": ["未知领域 (unknown domain)"]})
    incident = Incident.objects.select_for_update(no_key=True).get(pk=incident.pk)
    if "occurred_at" in changes:
        known = list(incident.obligations.values_list("first_known_at", flat=True))
        try:
            deadlines.check_incident_times(occurred_at=changes["occurred_at"], first_known_at=known, now=now)
        except deadlines.TimeError as exc:
            raise _domain_error(exc) from exc
    # Checked against the figures as they will stand: a correction of ``injuries`` alone may not leave fewer
    # injured than seriously injured.
    _check_serious_injuries(
        serious_injuries=changes.get("serious_injuries", incident.serious_injuries),
        injuries=changes.get("injuries", incident.injuries),
    )
    before = {f: getattr(incident, f) for f in UPDATABLE}
    # ``"grade": null`` asks for the computed grade (as on creation): a human's earlier raise is dropped.
    reset = "grade" in changes and changes["grade"] is None
    requested = changes.pop("grade", None)
    for field, value in changes.items():
        setattr(incident, field, value)
    _regrade(incident=incident, requested=requested, keep_raise=not reset)
    incident.updated_at = now
    incident.save()
    after = {f: getattr(incident, f) for f in before}
    diff = {f: [before[f], after[f]] for f in before if before[f] != after[f]}
    if diff:
        event_append(
            at=now,
            kind="incident_changed",
            actor=actor_name(actor),
            incident=incident,
            obj=incident,
            detail={"changes": diff, "grade_computed": incident.grade_computed},
        )
        _relay_if_major(incident=incident, actor=actor, now=now)
        hooks.incident_changed.send(sender=Incident, incident=incident, now=now, created=False)
    return incident


def _regrade(*, incident: Incident, requested: str | None, keep_raise: bool = True) -> None:
    previous_computed = incident.grade_computed
    incident.grade_computed = grading.compute_grade(**{f: getattr(incident, f) for f in FIGURES})
    try:
        incident.grade = grading.effective_grade(
            requested=requested,
            computed=incident.grade_computed,
            current=incident.grade if keep_raise else None,
            current_computed=previous_computed,
        )
    except ValueError as exc:
        raise DomainError(
            {"grade": [f"等级不能低于计算等级 {incident.grade_computed} (grade is lower than computed)"]}
        ) from exc


def _relay_if_major(*, incident: Incident, actor, now: datetime) -> None:
    """SPEC rule 13: grade II and above gives the duty room a relay obligation to 区委办 and 区府办, one clock of
    the relay minutes (default 15).

    The clock runs from the later of the first report the duty room received on the incident and the moment the
    incident reached grade II or above, which is when this service sees it (``now``; see
    ``deadlines.relay_anchor``). That is our reading of rule 13's "from the first report it received": a first
    report of a then minor incident gave nothing to relay, so an incident that becomes major later gets its full
    relay time from then, never a relay born overdue.
    """
    if not grading.at_least(incident.grade, "II"):
        return
    if incident.obligations.filter(kind=ObligationKind.RELAY).exists():
        return
    duty_room = Unit.objects.filter(kind=UnitKind.DUTY_ROOM, active=True).order_by("id").first()
    if duty_room is None:
        return
    first_report = (
        Report.objects.filed().filter(incident=incident).order_by("counted_at").values_list("counted_at", flat=True)
    ).first()
    _obligation_open(
        incident=incident,
        unit=duty_room,
        first_known_at=deadlines.relay_anchor(first_report_at=first_report, major_at=now),
        channel="duty_room",
        actor=actor,
        now=now,
        kind=ObligationKind.RELAY,
    )
