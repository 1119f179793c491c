"""Writes to signals (信息线索 from 110/119/120, 12345 and other feeds): ingest idempotently, link to an incident;
a signal delivered to a unit is evidence of when it first knew (SPEC rule 5).

Like ``reporting.services``: one transaction each, ``now`` from the caller, audit events, ``reporting.hooks``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction

from reporting import deadlines, hooks, obligation_services
from reporting.auditlog import audited, event_append
from reporting.errors import ConflictError, DomainError
from reporting.finding_facts import missed_signal_key
from reporting.models import (
    AuditEvent,
    DeadlineState,
    Finding,
    Incident,
    Obligation,
    ObligationKind,
    Report,
    Signal,
)
from reporting.services import (
    _clock,
    _delivery_signals,
    _domain_error,
    _obligation_open,
    _rearm,
    actor_name,
    incident_create,
)

#: The longest reason for unlinking a signal, as for the duty room's other reasons (``NotRequiredInput``).
UNLINK_REASON_MAX_LENGTH = 2000


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
    received, delivered = fields.get("received_at"), fields.get("delivered_at")
    if received is not None and delivered is not None and delivered < received:
        # A delivery is first-known evidence (SPEC rule 5): one before the feed itself received the signal cannot be.
        raise DomainError({"delivered_at": ["派送时间不能早于接报时间 (delivered_at is before received_at)"]})
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
    # A 漏报 found while the signal was linked to nothing (``findings.unlinked_signal_findings``) now belongs to this
    # incident; during an exercise it leaves every list and figure (SPEC rule 10), as a roster gap in one does. The
    # incident's recompute (``signal_linked``) judges it from now on: withdrawn when the unit did report in time.
    Finding.objects.filter(signal=signal, incident__isnull=True).update(incident=incident, exercise=incident.exercise)
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
    hooks.signal_linked.send(sender=Signal, instance=signal, now=now)
    return signal


@audited
def signal_unlink(*, signal: Signal, reason: str, actor, now: datetime) -> Signal:
    """The duty room undoes a wrong link, with a reason: the signal waits again (``signal_link`` may link it to the
    right incident), and what its delivery did as evidence (SPEC rule 5) is undone as far as the rules allow.

    For the obligation of the unit the signal was delivered to (outcome in the ``signal_unlinked`` event):

    - ``first_known_corrected``: its first-known time came from this signal; it moves to the earliest *remaining*
      evidence (the declared time, other linked signals), recorded as a first-known correction (event
      ``first_known_corrected``, on the auditors' corrections list) and re-planned by its receivers. Lateness of
      reports already filed stays as judged at filing (rule 4): a late one never turns on time.
    - ``not_required``: it existed only because of this link (opened by the signal's delivery, no other evidence,
      nothing filed): marked not required with the reason (rule 11), never deleted, so auditors still see it.
    - ``kept_reports_filed``: the same, but the unit has filed a report on it: kept as it is.
    - ``unchanged``: the signal was not the earliest evidence; ``no_obligation`` / ``not_evidence``: nothing to undo.

    The incident's findings are then recomputed (``hooks.signal_unlinked``): those that rested on the signal are
    withdrawn. The signal's own 漏报 goes back to the signals linked to nothing, as ``signal_link`` took it from there.
    """
    reason = (reason or "").strip()
    if not reason:
        raise DomainError({"reason": ["必须说明原因 (a reason is required)"]})
    if len(reason) > UNLINK_REASON_MAX_LENGTH:
        raise DomainError(
            {"reason": [f"原因不能超过 {UNLINK_REASON_MAX_LENGTH} 字 (at most {UNLINK_REASON_MAX_LENGTH} characters)"]}
        )
    signal = (
        Signal.objects.select_for_update(no_key=True, of=("self",))
        .select_related("incident", "delivered_to")
        .get(pk=signal.pk)
    )
    incident = signal.incident
    if incident is None:
        raise ConflictError({"incident": ["该线索未关联事件, 无需取消关联 (this signal is not linked to an incident)"]})
    signal.incident = None
    signal.save(update_fields=["incident"])
    Finding.objects.filter(key=missed_signal_key(signal.pk), incident=incident).update(
        incident=None, obligation=None, exercise=False
    )
    undo = _evidence_undo(signal=signal, incident=incident)
    event_append(
        at=now,
        kind="signal_unlinked",
        actor=actor_name(actor),
        incident=incident,
        obj=signal,
        detail={
            "source": signal.source,
            "external_id": signal.external_id,
            "reason": reason,
            "unit": signal.delivered_to.code if signal.delivered_to else None,
            "obligation": undo.obligation.pk if undo.obligation else None,
            "outcome": undo.outcome,
            "first_known_before": undo.obligation.first_known_at if undo.obligation else None,
            "first_known_after": undo.known,
        },
    )
    because = f"取消关联线索 {signal.get_source_display()} {signal.external_id}: {reason}"
    if undo.outcome == "first_known_corrected":
        obligation_services.obligation_correct_first_known(
            obligation=undo.obligation,
            first_known_at=undo.declared,
            actor=actor,
            now=now,
            reason=because,
            channel=undo.channel,
            opened_by_signal=undo.rests_on,
        )
    elif undo.outcome == "not_required":
        obligation_services.obligation_mark_not_required(
            obligation=undo.obligation, reason=because, actor=actor, now=now
        )
    elif undo.obligation is not None and undo.obligation.opened_by_signal_id == signal.pk and undo.rests_on:
        # Same time from another signal: the obligation rests on that one now.
        Obligation.objects.filter(pk=undo.obligation.pk).update(opened_by_signal=undo.rests_on)
    hooks.signal_unlinked.send(sender=Signal, instance=signal, incident=incident, now=now)
    return signal


@audited
def signal_move(*, signal: Signal, incident: Incident, reason: str, actor, now: datetime) -> Signal:
    """Unlink (``signal_unlink``, with the reason) and link to ``incident`` in one transaction: both or neither."""
    if Signal.objects.filter(pk=signal.pk, incident=incident).exists():
        raise ConflictError({"incident": ["该线索已关联到此事件 (the signal is already linked to this incident)"]})
    signal_unlink(signal=signal, reason=reason, actor=actor, now=now)
    return signal_link(signal=signal, incident=incident, actor=actor, now=now)


@dataclass(frozen=True)
class _Undo:
    """What unlinking a signal does to its unit's obligation (see ``signal_unlink``)."""

    outcome: str
    obligation: Obligation | None = None
    #: The first-known time after, and the time to declare for it (the correction's ``first_known_at``).
    known: datetime | None = None
    declared: datetime | None = None
    #: The remaining signal the obligation rests on when no one declared a time; how the unit knew then.
    rests_on: Signal | None = None
    channel: str | None = None


def _evidence_undo(*, signal: Signal, incident: Incident) -> _Undo:
    """Decide, with the signal already unlinked, what its delivery's evidence leaves behind (locks the obligation)."""
    if signal.delivered_to is None or signal.delivered_at is None:
        return _Undo("not_evidence")
    obligation = (
        Obligation.objects.select_for_update(no_key=True, of=("self",))
        .select_related("unit")
        .filter(incident=incident, unit=signal.delivered_to, kind=ObligationKind.REPORT)
        .first()
    )
    if obligation is None:
        return _Undo("no_obligation")
    first = _delivery_signals(incident=incident, unit=obligation.unit).first()
    # An obligation opened by a signal has no declared time of its own: its "declared" time is a delivery.
    declared = obligation.declared_first_known_at if obligation.opened_by_signal_id is None else None
    if declared is None and first is None:
        if Report.objects.filter(obligation=obligation, filed_at__isnull=False).exists():
            return _Undo("kept_reports_filed", obligation)
        if DeadlineState.PENDING not in (obligation.verbal_state, obligation.written_state):
            return _Undo("unchanged", obligation)  # already marked not required
        return _Undo("not_required", obligation)
    known = deadlines.earliest_evidence(declared, [first.delivered_at] if first else [])
    if declared is not None and known == declared:
        rests_on, channel = None, _declared_channel(obligation)
    else:
        rests_on, channel = (first if declared is None else None), first.source
    if known == obligation.first_known_at:
        return _Undo("unchanged", obligation, known=known, rests_on=rests_on)
    return _Undo(
        "first_known_corrected",
        obligation,
        known=known,
        declared=declared if declared is not None else known,
        rests_on=rests_on,
        channel=channel,
    )


def _declared_channel(obligation: Obligation) -> str:
    """How the unit said it knew when its obligation was opened (evidence since may have replaced it)."""
    detail = (
        AuditEvent.objects.filter(kind="obligation_created", object_type="obligation", object_id=str(obligation.pk))
        .values_list("detail", flat=True)
        .first()
    )
    return (detail or {}).get("channel") or obligation.first_known_channel


def _apply_signal_evidence(*, signal: Signal, actor, now: datetime) -> None:
    def locked() -> Obligation | None:
        return (
            Obligation.objects.select_for_update(no_key=True)
            .filter(incident=signal.incident, unit=signal.delivered_to, kind=ObligationKind.REPORT)
            .first()
        )

    obligation = locked()
    if obligation is None:
        if signal.delivered_at < signal.incident.occurred_at:
            return
        try:
            # The duty room may be adding this very unit at the same moment: the unique constraint decides, and
            # the evidence then applies to the obligation the other transaction created (savepoint: this one goes on).
            with transaction.atomic():
                _obligation_open(
                    incident=signal.incident,
                    unit=signal.delivered_to,
                    first_known_at=signal.delivered_at,
                    channel=signal.source,
                    actor=actor,
                    now=now,
                    opened_by_signal=signal,
                )
            return
        except IntegrityError as exc:
            if "obligation_unique_per_unit" not in str(exc):
                raise
        obligation = locked()
    if signal.delivered_at >= obligation.first_known_at or signal.delivered_at < signal.incident.occurred_at:
        return
    old = obligation.first_known_at
    due = deadlines.corrected_due_times(
        _clock(obligation),
        signal.delivered_at,
        verbal_minutes=obligation.verbal_minutes,
        written_minutes=obligation.written_minutes,
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


@audited
def incident_create_from_signal(*, signal: Signal, actor, now: datetime, units: list[dict[str, Any]], **fields: Any):
    """The duty room opens an incident from a signal (API.md: "opening one is the duty room's choice") and links the
    signal to it, in one transaction: either both happen or neither. The signal's delivery is then evidence for the
    unit it was delivered to (SPEC rule 5), which gets an obligation if the duty room did not name it."""
    if Signal.objects.filter(pk=signal.pk, incident__isnull=False).exists():
        raise ConflictError({"signal": ["该线索已关联事件 (this signal is already linked to an incident)"]})
    incident = incident_create(actor=actor, now=now, units=units, **fields)
    signal_link(signal=signal, incident=incident, actor=actor, now=now)
    return incident
