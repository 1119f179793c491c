"""Writes to the domain. Each service is one transaction, takes ``now`` from its caller, appends audit events,
and tells the outside world through ``reporting.hooks`` (receivers defer side effects to ``on_commit``)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.db.models import Max, Q

from reporting import deadlines, elements, grading, hooks
from reporting.auditlog import audited, event_append
from reporting.errors import ConflictError, DomainError, MissingElementsError
from reporting.models import (
    DeadlineBreach,
    DeadlineState,
    Domain,
    Grade,
    Incident,
    Obligation,
    ObligationKind,
    RefusedReport,
    Report,
    ReportingPolicy,
    ReportKind,
    Role,
    Signal,
    Unit,
    UnitKind,
)

FIGURES = ("deaths", "injuries", "missing", "direct_loss_yuan")


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


def _clock(obligation: Obligation) -> deadlines.ClockState:
    return deadlines.ClockState(
        verbal_due_at=obligation.verbal_due_at,
        written_due_at=obligation.written_due_at,
        verbal_state=obligation.verbal_state,
        written_state=obligation.written_state,
        verbal_filed_at=obligation.verbal_filed_at,
        written_filed_at=obligation.written_filed_at,
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
    if fields.get("domain") not in Domain.values:
        raise DomainError({"domain": [f"未知领域 (unknown domain; one of {', '.join(Domain.values)})"]})
    for field in FIGURES:
        if fields.get(field) is None:
            fields[field] = 0
    _check_figures(fields, allow_none=False)
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
) -> Obligation:
    minutes = policy_minutes(grade=incident.grade)
    evidence = _delivery_evidence(incident=incident, unit=unit)
    known = deadlines.earliest_evidence(first_known_at, evidence)
    if kind == ObligationKind.RELAY:
        due = deadlines.due_times(known, verbal_minutes=minutes.relay, written_minutes=minutes.relay)
        verbal_minutes = written_minutes = minutes.relay
    else:
        due = deadlines.due_times(known, verbal_minutes=minutes.verbal, written_minutes=minutes.written)
        verbal_minutes, written_minutes = minutes.verbal, minutes.written
    obligation = Obligation.objects.create(
        incident=incident,
        unit=unit,
        kind=kind,
        first_known_at=known,
        first_known_channel=channel,
        declared_first_known_at=first_known_at,
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


def _delivery_evidence(*, incident: Incident, unit: Unit) -> list[datetime]:
    """Signal deliveries to ``unit`` about ``incident``: evidence of first knowledge (SPEC rule 5).

    A delivery before the incident occurred cannot be knowledge of it (rule 6 keeps first_known_at >= occurred_at),
    so it is not evidence.
    """
    return list(
        Signal.objects.filter(
            incident=incident, delivered_to=unit, delivered_at__isnull=False, delivered_at__gte=incident.occurred_at
        ).values_list("delivered_at", flat=True)
    )


@audited
def incident_add_unit(
    *, incident: Incident, unit: Unit, first_known_at: datetime, channel: str, actor, now: datetime
) -> Obligation:
    try:
        deadlines.check_incident_times(occurred_at=incident.occurred_at, first_known_at=[first_known_at], now=now)
    except deadlines.TimeError as exc:
        raise _domain_error(exc) from exc
    if Obligation.objects.filter(incident=incident, unit=unit, kind=ObligationKind.REPORT).exists():
        raise ConflictError({"unit": [f"该单位已是本事件的责任单位: {unit.code} (already responsible)"]})
    return _obligation_open(
        incident=incident, unit=unit, first_known_at=first_known_at, channel=channel, actor=actor, now=now
    )


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
    before = {f: getattr(incident, f) for f in UPDATABLE}
    requested = changes.pop("grade", None)
    for field, value in changes.items():
        setattr(incident, field, value)
    _regrade(incident=incident, requested=requested)
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


def _regrade(*, incident: Incident, requested: str | None) -> None:
    incident.grade_computed = grading.compute_grade(**{f: getattr(incident, f) for f in FIGURES})
    try:
        incident.grade = grading.effective_grade(
            requested=requested, computed=incident.grade_computed, current=incident.grade
        )
    except ValueError as exc:
        raise DomainError(
            {"grade": [f"等级不能低于计算等级 {incident.grade_computed} (grade is lower than computed)"]}
        ) from exc


def _relay_if_major(*, incident: Incident, actor, now: datetime) -> None:
    """SPEC rule 13: grade II and above gives the duty room a relay obligation to 区委办 and 区府办."""
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
        first_known_at=first_report or now,
        channel="duty_room",
        actor=actor,
        now=now,
        kind=ObligationKind.RELAY,
    )


# --- reports -------------------------------------------------------------------------------------------------

REPORT_FIELDS = (
    "occurred_at",
    "location",
    "account",
    "deaths",
    "injuries",
    "missing",
    "direct_loss_yuan",
    "measures",
    "contact_name",
    "contact_phone",
)


def report_create(
    *,
    obligation: Obligation,
    kind: str,
    actor,
    now: datetime,
    draft: bool = False,
    call_received_at: datetime | None = None,
    references: Report | None = None,
    **fields: Any,
) -> Report:
    """Save a draft, or file a report (SPEC rules 2, 3, 7, 8). Filing judges it against its due time.

    An incomplete report raises ``MissingElementsError`` naming each missing element, after the attempt is kept as
    a ``RefusedReport`` in its own transaction. Call it outside any ``transaction.atomic()`` block (as the API and
    web views do): an outer block that the error leaves would roll the kept attempt back with it.
    """
    fields = {k: v for k, v in fields.items() if k in REPORT_FIELDS}
    _check_report_input(kind=kind, actor=actor, now=now, call_received_at=call_received_at, fields=fields)
    if references is not None and references.incident_id != obligation.incident_id:
        raise DomainError({"references": ["更正的报告必须属于同一事件 (must be a report of the same incident)"]})
    if references is not None and references.filed_at is None:
        raise DomainError({"references": ["只能更正已报送的报告 (only a filed report can be corrected)"]})
    if not draft:
        _refuse_if_incomplete(obligation=obligation, kind=kind, values=fields, actor=actor, now=now)

    @audited
    def save() -> Report:
        report = Report(
            incident=obligation.incident,
            unit=obligation.unit,
            obligation=obligation,
            kind=kind,
            call_received_at=call_received_at,
            references=references,
            created_by=actor if getattr(actor, "pk", None) else None,
            created_at=now,
            **fields,
        )
        if draft:
            report.sequence = 0
            report.save()
            _draft_saved(report=report, obligation=obligation, actor=actor, now=now)
            return report
        return _file(report=report, actor=actor, now=now)

    return save()


def _check_report_input(
    *, kind: str, actor, now: datetime, call_received_at: datetime | None, fields: dict[str, Any]
) -> None:
    """What a report (draft or filed) must satisfy whatever else it says: a known kind, whole figures >= 0, no
    time in the future, a call time only on a verbal report logged by the duty room."""
    if kind not in ReportKind.values:
        raise DomainError({"kind": [f"未知报告类型 (unknown kind; one of {', '.join(ReportKind.values)})"]})
    _check_figures(fields, allow_none=True)
    if call_received_at is not None and kind != ReportKind.VERBAL:
        raise DomainError({"call_received_at": ["仅口头报可填写来电时间 (only for verbal reports)"]})
    if call_received_at is not None and getattr(actor, "effective_role", None) not in (Role.DUTY_ROOM, Role.ADMIN):
        raise DomainError({"call_received_at": ["仅总值班室登记口头报时可填写 (duty room only)"]})
    try:
        if fields.get("occurred_at") is not None:
            deadlines.check_past("occurred_at", fields["occurred_at"], now=now)
        deadlines.counted_time(filed_at=now, call_received_at=call_received_at)
    except deadlines.TimeError as exc:
        raise _domain_error(exc) from exc


@audited
def report_draft_update(
    *, report: Report, kind: str, actor, now: datetime, call_received_at: datetime | None = None, **fields: Any
) -> Report:
    """Replace a draft's kind and elements (the web filing form edits one draft); its save time stays the first one,
    so the audit rule "a draft saved before the deadline but filed after it" still sees when it was first saved.

    The checks of ``report_create`` apply. Raises ``ConflictError`` when the draft was filed meanwhile.
    """
    fields = {k: v for k, v in fields.items() if k in REPORT_FIELDS}
    _check_report_input(kind=kind, actor=actor, now=now, call_received_at=call_received_at, fields=fields)
    report = (
        Report.objects.select_for_update(no_key=True).select_related("obligation__unit", "incident").get(pk=report.pk)
    )
    if report.filed_at is not None:
        raise ConflictError("该报告已报送 (this report is already filed)")
    report.kind = kind
    report.call_received_at = call_received_at
    for name in REPORT_FIELDS:
        value = fields.get(name)
        # Text elements are blank, never NULL, when the user left them empty.
        setattr(report, name, "" if value is None and not Report._meta.get_field(name).null else value)
    report.save()
    _draft_saved(report=report, obligation=report.obligation, actor=actor, now=now, updated=True)
    return report


def _draft_saved(*, report: Report, obligation: Obligation, actor, now: datetime, updated: bool = False) -> None:
    detail = {"unit": obligation.unit.code, "kind": report.kind}
    if updated:
        detail["updated"] = True
    event_append(
        at=now,
        kind="report_draft_saved",
        actor=actor_name(actor),
        incident=obligation.incident,
        obj=report,
        detail=detail,
    )


def report_file(*, report: Report, actor, now: datetime) -> Report:
    """File a saved draft; only filing counts, judged at ``now`` (SPEC rule 7). The draft's call time is re-checked
    against the filing time. Refuses a report already filed (409) and an incomplete one (400, attempt kept)."""
    report = Report.objects.select_related("obligation").get(pk=report.pk)
    if report.filed_at is not None:
        raise ConflictError("该报告已报送 (this report is already filed)")
    values = {f: getattr(report, f) for f in REPORT_FIELDS}
    _refuse_if_incomplete(obligation=report.obligation, kind=report.kind, values=values, actor=actor, now=now)

    @audited
    def file() -> Report:
        locked = Report.objects.select_for_update(no_key=True).get(pk=report.pk)
        if locked.filed_at is not None:
            raise ConflictError("该报告已报送 (this report is already filed)")
        return _file(report=locked, actor=actor, now=now)

    return file()


def _refuse_if_incomplete(*, obligation: Obligation, kind: str, values: dict[str, Any], actor, now: datetime) -> None:
    """SPEC rule 8: refuse a report missing required elements, naming each; the attempt itself is kept
    (in its own transaction, committed before the refusal) so nothing the user sent is lost."""
    missing = elements.missing_elements(kind, values)
    if not missing:
        return
    _record_refusal(obligation=obligation, kind=kind, missing=missing, values=values, actor=actor, now=now)
    raise MissingElementsError({f: [elements.missing_message(f)] for f in missing})


def _file(*, report: Report, actor, now: datetime) -> Report:
    obligation = Obligation.objects.select_for_update(no_key=True).get(pk=report.obligation_id)
    # The incident and unit as the caller loaded them (the API loads them with the obligation): a unit's code does
    # not change, and the incident's figures are re-read under its lock before anything is raised.
    obligation.incident, obligation.unit = report.obligation.incident, report.obligation.unit
    values = {f: getattr(report, f) for f in REPORT_FIELDS}
    try:
        counted = deadlines.counted_time(filed_at=now, call_received_at=report.call_received_at)
    except deadlines.TimeError as exc:
        raise _domain_error(exc) from exc
    report.filed_at = now
    report.counted_at = counted
    report.filed_by = actor if getattr(actor, "pk", None) else None
    if report.kind == ReportKind.FOLLOW_UP:
        last = Report.objects.filed().filter(obligation=obligation, kind=report.kind).aggregate(m=Max("sequence"))
        report.sequence = (last["m"] or 0) + 1
    else:
        report.sequence = Report.objects.filed().filter(obligation=obligation, kind=report.kind).count() + 1
    if report.kind in (ReportKind.VERBAL, ReportKind.WRITTEN):
        report.due_at = obligation.verbal_due_at if report.kind == ReportKind.VERBAL else obligation.written_due_at
        judged = deadlines.lateness(counted, report.due_at)
        report.on_time, report.delay_seconds = judged.on_time, judged.delay_seconds
    if report.pk is None:
        report.save()
    else:
        Report.objects.filter(pk=report.pk).update(
            filed_at=report.filed_at,
            counted_at=report.counted_at,
            filed_by=report.filed_by,
            sequence=report.sequence,
            due_at=report.due_at,
            on_time=report.on_time,
            delay_seconds=report.delay_seconds,
        )
    before = _clock(obligation)
    after = deadlines.apply_filing(before, kind=report.kind, counted_at=counted)
    if after != before:
        obligation.verbal_state, obligation.verbal_filed_at = after.verbal_state, after.verbal_filed_at
        obligation.written_state, obligation.written_filed_at = after.written_state, after.written_filed_at
        if before.verbal_state == DeadlineState.PENDING and after.verbal_state != DeadlineState.PENDING:
            obligation.verbal_report = report
        if before.written_state == DeadlineState.PENDING and after.written_state != DeadlineState.PENDING:
            obligation.written_report = report
        _rearm(obligation)
        obligation.save(
            update_fields=[
                "verbal_state",
                "verbal_filed_at",
                "written_state",
                "written_filed_at",
                "verbal_report",
                "written_report",
                "next_action_at",
            ]
        )
    event_append(
        at=now,
        kind="report_filed",
        actor=actor_name(actor),
        incident=obligation.incident,
        obj=report,
        detail={
            "unit": obligation.unit.code,
            "kind": report.kind,
            "sequence": report.sequence,
            "counted_at": counted,
            "due_at": report.due_at,
            "on_time": report.on_time,
            "delay_seconds": report.delay_seconds,
            "call_received_at": report.call_received_at,
            "figures": {f: values[f] for f in ("deaths", "injuries", "missing")},
        },
    )
    _apply_report_figures(report=report, incident=obligation.incident, actor=actor, now=now)
    hooks.report_filed.send(sender=Report, report=report, now=now)
    if after != before:
        hooks.obligation_changed.send(sender=Obligation, obligation=obligation, now=now)
    return report


@transaction.atomic
def _record_refusal(
    *, obligation: Obligation, kind: str, missing: list[str], values: dict[str, Any], actor, now: datetime
) -> None:
    payload = json.loads(json.dumps(values, cls=DjangoJSONEncoder))
    refused = RefusedReport.objects.create(
        obligation_id=obligation.pk,
        kind=kind,
        attempted_at=now,
        missing_elements=missing,
        payload=payload,
        attempted_by=actor if getattr(actor, "pk", None) else None,
    )
    event_append(
        at=now,
        kind="report_refused",
        actor=actor_name(actor),
        incident=obligation.incident,
        obj=refused,
        detail={"unit": obligation.unit.code, "kind": kind, "missing": missing},
    )


def _raised_figures(report: Report, incident: Incident) -> dict[str, int]:
    return {
        f: getattr(report, f)
        for f in FIGURES
        if getattr(report, f) is not None and getattr(report, f) > getattr(incident, f)
    }


def _apply_report_figures(*, report: Report, incident: Incident, actor, now: datetime) -> None:
    """A report that raises the casualty figures raises the incident's figures (and grade) with it.

    ``incident`` is as the caller read it. A report that raises nothing over it takes no lock: the outcome is that
    of this filing ordered before whatever changed the incident since (a higher figure from another report, the
    duty room's correction). Otherwise the row is locked and read again, and raised from there."""
    if not _raised_figures(report, incident):
        return
    incident = Incident.objects.select_for_update(no_key=True).get(pk=report.incident_id)
    raised = _raised_figures(report, incident)
    if raised:
        incident_update(incident=incident, actor=actor, now=now, **raised)


# --- obligations ---------------------------------------------------------------------------------------------


@audited
def obligation_correct_first_known(
    *, obligation: Obligation, first_known_at: datetime, actor, now: datetime, reason: str = ""
) -> Obligation:
    """Correct the first-known time (SPEC rule 4). Clocks already decided keep their lateness; pending ones move."""
    obligation = Obligation.objects.select_for_update(no_key=True).select_related("incident").get(pk=obligation.pk)
    try:
        deadlines.check_incident_times(
            occurred_at=obligation.incident.occurred_at, first_known_at=[first_known_at], now=now
        )
    except deadlines.TimeError as exc:
        raise _domain_error(exc) from exc
    old = {
        "first_known_at": obligation.first_known_at,
        "verbal_due_at": obligation.verbal_due_at,
        "written_due_at": obligation.written_due_at,
    }
    known = deadlines.earliest_evidence(
        first_known_at, _delivery_evidence(incident=obligation.incident, unit=obligation.unit)
    )
    due = deadlines.due_times(
        known, verbal_minutes=obligation.verbal_minutes, written_minutes=obligation.written_minutes
    )
    obligation.first_known_at = known
    obligation.declared_first_known_at = first_known_at
    obligation.verbal_due_at, obligation.written_due_at = due.verbal_due_at, due.written_due_at
    _rearm(obligation)
    obligation.save()
    event_append(
        at=now,
        kind="first_known_corrected",
        actor=actor_name(actor),
        incident=obligation.incident,
        obj=obligation,
        detail={
            "before": old,
            "after": {
                "first_known_at": known,
                "verbal_due_at": due.verbal_due_at,
                "written_due_at": due.written_due_at,
            },
            "declared": first_known_at,
            "reason": reason,
            "verbal_state": obligation.verbal_state,
            "written_state": obligation.written_state,
        },
    )
    hooks.obligation_changed.send(sender=Obligation, obligation=obligation, now=now)
    return obligation


@audited
def obligation_mark_not_required(*, obligation: Obligation, reason: str, actor, now: datetime) -> Obligation:
    """SPEC rule 11: stays visible to auditors with the reason; only pending clocks become not required."""
    if not reason or not reason.strip():
        raise DomainError({"reason": ["必须说明原因 (a reason is required)"]})
    obligation = Obligation.objects.select_for_update(no_key=True).get(pk=obligation.pk)
    if obligation.verbal_state != DeadlineState.PENDING and obligation.written_state != DeadlineState.PENDING:
        raise ConflictError("该义务已完成报送 (both reports are already filed)")
    if obligation.verbal_state == DeadlineState.PENDING:
        obligation.verbal_state = DeadlineState.NOT_REQUIRED
    if obligation.written_state == DeadlineState.PENDING:
        obligation.written_state = DeadlineState.NOT_REQUIRED
    obligation.not_required_reason = reason.strip()
    obligation.not_required_by = actor if getattr(actor, "pk", None) else None
    obligation.not_required_at = now
    obligation.next_action_at = None
    obligation.save()
    event_append(
        at=now,
        kind="obligation_not_required",
        actor=actor_name(actor),
        incident=obligation.incident,
        obj=obligation,
        detail={"unit": obligation.unit.code, "reason": obligation.not_required_reason},
    )
    hooks.obligation_changed.send(sender=Obligation, obligation=obligation, now=now)
    return obligation


@audited
def obligation_record_city_report(*, obligation: Obligation, reported_at: datetime, actor, now: datetime) -> Obligation:
    """SPEC rule 12: a vertical unit records when it reported to its city-level department."""
    try:
        deadlines.check_past("reported_at", reported_at, now=now)
    except deadlines.TimeError as exc:
        raise _domain_error(exc) from exc
    obligation = Obligation.objects.select_for_update(no_key=True).select_related("unit").get(pk=obligation.pk)
    if not obligation.unit.vertical:
        raise DomainError({"non_field_errors": ["仅垂直管理(拉条)单位可登记向市级报告时间 (vertical units only)"]})
    obligation.city_reported_at = reported_at
    obligation.save(update_fields=["city_reported_at"])
    event_append(
        at=now,
        kind="city_report_recorded",
        actor=actor_name(actor),
        incident=obligation.incident,
        obj=obligation,
        detail={"unit": obligation.unit.code, "reported_at": reported_at},
    )
    hooks.obligation_changed.send(sender=Obligation, obligation=obligation, now=now)
    return obligation


def obligation_record_breaches(*, obligation: Obligation, now: datetime) -> list[DeadlineBreach]:
    """The sweep's transition: each deadline that has passed with nothing filed is written once, dated to the
    deadline. The caller holds the obligation's row lock; the unique constraint makes a racing duplicate a no-op."""
    created = []
    for deadline, due_at in deadlines.passed_deadlines(_clock(obligation), now=now):
        try:
            with transaction.atomic():
                breach = DeadlineBreach.objects.create(
                    obligation=obligation, deadline=deadline, due_at=due_at, recorded_at=now
                )
        except IntegrityError:
            continue
        event_append(
            at=now,
            kind="deadline_passed",
            actor="system",
            incident=obligation.incident,
            obj=obligation,
            detail={"unit": obligation.unit.code, "deadline": deadline, "due_at": due_at},
        )
        created.append(breach)
    return created


# --- signals -------------------------------------------------------------------------------------------------


@audited
def signal_ingest(*, actor, now: datetime, source: str, external_id: str, **fields: Any) -> tuple[Signal, bool]:
    """Idempotent on (source, external_id): a repeat returns the stored signal and ``False``.

    A signal delivered to a unit and linked to an incident is first-known evidence (SPEC rule 5): the unit's
    obligation starts from the earliest evidence, and a unit without one gets one.
    """
    existing = Signal.objects.filter(source=source, external_id=external_id).first()
    if existing is not None:
        return existing, False
    for field in ("received_at", "delivered_at"):
        if fields.get(field) is not None:
            try:
                deadlines.check_past(field, fields[field], now=now)
            except deadlines.TimeError as exc:
                raise _domain_error(exc) from exc
    try:
        with transaction.atomic():
            signal = Signal.objects.create(source=source, external_id=external_id, created_at=now, **fields)
    except IntegrityError:
        return Signal.objects.get(source=source, external_id=external_id), False
    event_append(
        at=now,
        kind="signal_received",
        actor=actor_name(actor),
        incident=signal.incident,
        obj=signal,
        detail={
            "source": source,
            "external_id": external_id,
            "delivered_to": signal.delivered_to.code if signal.delivered_to else None,
            "delivered_at": signal.delivered_at,
            "deaths": signal.deaths,
            "injuries": signal.injuries,
        },
    )
    if signal.incident is not None and signal.delivered_to is not None and signal.delivered_at is not None:
        _apply_signal_evidence(signal=signal, actor=actor, now=now)
    return signal, True


@audited
def signal_link(*, signal: Signal, incident: Incident, actor, now: datetime) -> Signal:
    """The duty room links a signal to an incident; its delivery becomes evidence for that unit."""
    signal = Signal.objects.select_for_update(no_key=True).get(pk=signal.pk)
    if signal.incident_id is not None and signal.incident_id != incident.pk:
        raise ConflictError({"incident": ["该线索已关联其他事件 (already linked to another incident)"]})
    signal.incident = incident
    signal.save(update_fields=["incident"])
    event_append(
        at=now,
        kind="signal_linked",
        actor=actor_name(actor),
        incident=incident,
        obj=signal,
        detail={"source": signal.source, "external_id": signal.external_id},
    )
    if signal.delivered_to is not None and signal.delivered_at is not None:
        _apply_signal_evidence(signal=signal, actor=actor, now=now)
    return signal


def _apply_signal_evidence(*, signal: Signal, actor, now: datetime) -> None:
    obligation = (
        Obligation.objects.select_for_update(no_key=True)
        .filter(incident=signal.incident, unit=signal.delivered_to, kind=ObligationKind.REPORT)
        .first()
    )
    if obligation is None:
        if signal.delivered_at < signal.incident.occurred_at:
            return
        _obligation_open(
            incident=signal.incident,
            unit=signal.delivered_to,
            first_known_at=signal.delivered_at,
            channel=signal.source,
            actor=actor,
            now=now,
        )
        return
    if signal.delivered_at >= obligation.first_known_at or signal.delivered_at < signal.incident.occurred_at:
        return
    old = obligation.first_known_at
    due = deadlines.due_times(
        signal.delivered_at, verbal_minutes=obligation.verbal_minutes, written_minutes=obligation.written_minutes
    )
    obligation.first_known_at = signal.delivered_at
    obligation.first_known_channel = signal.source
    obligation.verbal_due_at, obligation.written_due_at = due.verbal_due_at, due.written_due_at
    _rearm(obligation)
    obligation.save()
    event_append(
        at=now,
        kind="first_known_evidence",
        actor=actor_name(actor),
        incident=obligation.incident,
        obj=obligation,
        detail={
            "unit": obligation.unit.code,
            "before": old,
            "after": signal.delivered_at,
            "signal": signal.pk,
            "source": signal.source,
        },
    )
    hooks.obligation_changed.send(sender=Obligation, obligation=obligation, now=now)
