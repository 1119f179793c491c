"""Writes to signals (信息线索 from 110/119/120, 12345 and other feeds): ingest idempotently, link to an incident;
a signal delivered to a unit is evidence of when it first knew (SPEC rule 5).

Like ``reporting.services``: one transaction each, ``now`` from the caller, audit events, ``reporting.hooks``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction

from reporting import deadlines, hooks
from reporting.auditlog import audited, event_append
from reporting.errors import ConflictError, DomainError
from reporting.models import Finding, Incident, Obligation, ObligationKind, Signal
from reporting.services import _clock, _domain_error, _obligation_open, _rearm, actor_name, incident_create


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
