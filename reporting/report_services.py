"""Writes to reports: save or edit a draft, file a report (judged against its due time), keep a refused one.

Like ``reporting.services``: one transaction each, ``now`` from the caller, audit events, ``reporting.hooks``."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Max

from reporting import deadlines, elements, hooks
from reporting.auditlog import audited, event_append
from reporting.errors import ConflictError, DomainError, MissingElementsError
from reporting.models import Incident, Obligation, RefusedReport, Report, ReportKind, Role
from reporting.services import (
    FIGURES,
    _check_figures,
    _check_serious_injuries,
    _decide_by_report,
    _domain_error,
    _rearm,
    actor_name,
    incident_update,
)

REPORT_FIELDS = (
    "occurred_at",
    "location",
    "account",
    "deaths",
    "injuries",
    "serious_injuries",
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
    fields = _report_fields(fields)
    _check_report_input(kind=kind, actor=actor, now=now, call_received_at=call_received_at, fields=fields)
    _check_references(references, incident_id=obligation.incident_id)
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


def _check_references(references: Report | None, *, incident_id: int) -> None:
    """SPEC rule 7: a correction references a filed report of the same incident."""
    if references is not None and references.incident_id != incident_id:
        raise DomainError({"references": ["更正的报告必须属于同一事件 (must be a report of the same incident)"]})
    if references is not None and references.filed_at is None:
        raise DomainError({"references": ["只能更正已报送的报告 (only a filed report can be corrected)"]})


def _report_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """The report's own elements. ``serious_injuries`` is not a required element: not stated (absent, None) is 0.
    Text not stated (None) is empty text, as a draft stores it: the columns hold no NULL, and both mean missing."""
    fields = {k: v for k, v in fields.items() if k in REPORT_FIELDS}
    if fields.get("serious_injuries") is None:
        fields["serious_injuries"] = 0
    for name, value in fields.items():
        if value is None and not Report._meta.get_field(name).null:
            fields[name] = ""
    return fields


def _check_report_input(
    *, kind: str, actor, now: datetime, call_received_at: datetime | None, fields: dict[str, Any]
) -> None:
    """What a report (draft or filed) must satisfy whatever else it says: a known kind, whole figures >= 0, no more
    seriously injured than injured, no time in the future, a call time only on a verbal report logged by the duty
    room."""
    if kind not in ReportKind.values:
        raise DomainError({"kind": [f"未知报告类型 (unknown kind; one of {', '.join(ReportKind.values)})"]})
    _check_figures(fields, allow_none=True)
    _check_serious_injuries(serious_injuries=fields["serious_injuries"], injuries=fields.get("injuries"))
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
    *,
    report: Report,
    kind: str,
    actor,
    now: datetime,
    call_received_at: datetime | None = None,
    references: Report | None = None,
    **fields: Any,
) -> Report:
    """Replace a draft's kind, elements and the report it corrects (the web filing form edits one draft); its save
    time stays the first one, so the audit rule "a draft saved before the deadline but filed after it" still sees
    when it was first saved.

    The checks of ``report_create`` apply. Raises ``ConflictError`` when the draft was filed meanwhile.
    """
    fields = _report_fields(fields)
    _check_report_input(kind=kind, actor=actor, now=now, call_received_at=call_received_at, fields=fields)
    report = (
        Report.objects.select_for_update(no_key=True).select_related("obligation__unit", "incident").get(pk=report.pk)
    )
    if report.filed_at is not None:
        raise ConflictError("该报告已报送 (this report is already filed)")
    _check_references(references, incident_id=report.incident_id)
    report.kind = kind
    report.call_received_at = call_received_at
    report.references = references
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
    decided = _decide_by_report(obligation, report, counted)
    if decided:
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
            # SPEC rule 7: a correction names the report it corrects (that report itself is never changed).
            "references": report.references_id,
            "figures": {f: values[f] for f in ("deaths", "injuries", "serious_injuries", "missing")},
        },
    )
    _apply_report_figures(report=report, incident=obligation.incident, actor=actor, now=now)
    hooks.report_filed.send(sender=Report, report=report, now=now)
    if decided:
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
