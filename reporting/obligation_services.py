"""Writes to obligations: correct the first-known time, mark not required, record the city report, record
passed deadlines (the sweep).

Like ``reporting.services``: one transaction each, ``now`` from the caller, audit events, ``reporting.hooks``."""

from __future__ import annotations

from datetime import datetime

from reporting import deadlines, hooks
from reporting.auditlog import audited, event_append
from reporting.errors import ConflictError, DomainError
from reporting.models import DeadlineBreach, DeadlineState, Obligation, ObligationKind, Report, ReportKind, Signal
from reporting.services import _clock, _decide_by_report, _delivery_evidence, _domain_error, _rearm, actor_name

#: The reports that decide a clock (``deadlines.apply_filing``); follow-up and final reports change none.
FILING_KINDS = (ReportKind.VERBAL, ReportKind.WRITTEN)


@audited
def obligation_correct_first_known(
    *,
    obligation: Obligation,
    first_known_at: datetime,
    actor,
    now: datetime,
    reason: str = "",
    channel: str | None = None,
    opened_by_signal: Signal | None = None,
) -> Obligation:
    """Correct the first-known time (SPEC rule 4). Clocks already decided keep their due time and lateness; pending
    ones move (``deadlines.corrected_due_times``).

    ``first_known_at`` becomes the declared time, so the obligation no longer rests on a signal alone unless
    ``opened_by_signal`` says which (``signal_services.signal_unlink``, when the time given is that signal's
    delivery). ``channel``, when given, is how the unit knew at the corrected time."""
    obligation = Obligation.objects.select_for_update(no_key=True).select_related("incident").get(pk=obligation.pk)
    if obligation.kind == ObligationKind.RELAY:
        # SPEC rule 13: the relay's clock runs from the first report received or the grade rise
        # (``deadlines.relay_anchor``), not from anyone's knowledge; there is nothing to correct.
        raise DomainError(
            {
                "first_known_at": [
                    "转报时限从首报或升级时起算, 没有知悉时间可更正 "
                    "(a relay's clock runs from the first report or the grade rise: no first-known time to correct)"
                ]
            }
        )
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
    due = deadlines.corrected_due_times(
        _clock(obligation), known, verbal_minutes=obligation.verbal_minutes, written_minutes=obligation.written_minutes
    )
    obligation.first_known_at = known
    obligation.declared_first_known_at = first_known_at
    obligation.opened_by_signal = opened_by_signal
    if channel is not None:
        obligation.first_known_channel = channel
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
def obligation_restore(*, obligation: Obligation, reason: str, actor, now: datetime) -> Obligation:
    """Undo a not-required mark made by mistake (撤销无需报送): the clocks the mark stopped are pending again with
    their original due times, never moved, so a due time passed meanwhile is overdue at once and the chasing resumes
    (``next_action_at`` re-armed; ``notifications.escalation.due_steps`` sends the current step, not every step
    missed). A verbal or written report filed while marked counts as of its counted time, as if filed on the live
    clock (``deadlines.apply_filing``). The mark itself stays in the audit log: the ``obligation_restored`` event
    carries its reason, who made it and when, which the auditors' 更正与无需报送 section lists."""
    if not reason or not reason.strip():
        raise DomainError({"reason": ["必须说明原因 (a reason is required)"]})
    obligation = (
        Obligation.objects.select_for_update(no_key=True, of=("self",))
        .select_related("incident", "unit", "not_required_by")
        .get(pk=obligation.pk)
    )
    if obligation.not_required_at is None:
        raise ConflictError("该义务未被标记为无需报送 (this obligation is not marked not required)")
    mark = {
        "mark_reason": obligation.not_required_reason,
        "marked_by": obligation.not_required_by.username if obligation.not_required_by_id else "",
        "marked_at": obligation.not_required_at,
    }
    if obligation.verbal_state == DeadlineState.NOT_REQUIRED:
        obligation.verbal_state = DeadlineState.PENDING
    if obligation.written_state == DeadlineState.NOT_REQUIRED:
        obligation.written_state = DeadlineState.PENDING
    filed = Report.objects.filed().filter(obligation=obligation, kind__in=FILING_KINDS)
    for report in filed.order_by("counted_at", "id"):
        _decide_by_report(obligation, report, report.counted_at)
    obligation.not_required_reason = ""
    obligation.not_required_by = None
    obligation.not_required_at = None
    _rearm(obligation)
    obligation.save()
    event_append(
        at=now,
        kind="obligation_restored",
        actor=actor_name(actor),
        incident=obligation.incident,
        obj=obligation,
        detail={
            "unit": obligation.unit.code,
            "reason": reason.strip(),
            **mark,
            "verbal_state": obligation.verbal_state,
            "written_state": obligation.written_state,
        },
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


def obligations_record_breaches(*, obligations: list[Obligation], now: datetime) -> list[DeadlineBreach]:
    """The sweep's transition for a batch: each deadline that has passed with nothing filed is written once, dated
    to the deadline, with its ``deadline_passed`` audit event.

    The caller holds the obligations' row locks (only the sweep writes breaches, and only under them), so the
    breaches already written are read in one query and the new ones inserted in one statement: an overdue obligation
    is swept again and again until its report comes. The unique constraint still makes a duplicate a no-op."""
    passed = [
        (obligation, deadline, due_at)
        for obligation in obligations
        for deadline, due_at in deadlines.passed_deadlines(_clock(obligation), now=now)
    ]
    if not passed:
        return []
    written = set(
        DeadlineBreach.objects.filter(obligation__in={o.pk for o, _, _ in passed}).values_list(
            "obligation_id", "deadline"
        )
    )
    created = [
        DeadlineBreach(obligation=obligation, deadline=deadline, due_at=due_at, recorded_at=now)
        for obligation, deadline, due_at in passed
        if (obligation.pk, deadline) not in written
    ]
    DeadlineBreach.objects.bulk_create(created, ignore_conflicts=True)
    for breach in created:
        event_append(
            at=now,
            kind="deadline_passed",
            actor="system",
            incident=breach.obligation.incident,
            obj=breach.obligation,
            detail={"unit": breach.obligation.unit.code, "deadline": breach.deadline, "due_at": breach.due_at},
        )
    return created
