"""Writes of audit findings (SPEC "Audit findings"): the idempotent recompute, the roster-gap record, reviews.

The rules themselves are pure (``reporting.findings``); this module loads plain facts, asks the rules, and stores
what they return by ``key`` (unique), so the same data always gives the same findings:

- a candidate whose key is new is created; one whose evidence changed (detail, links, superseding) is updated;
- the review fields (``review``, ``reviewed_by``, ``reviewed_at``, ``reason``) are only ever written by
  :func:`finding_review` — a confirmed 瞒报 exists only through an auditor's decision;
- findings are never deleted: a computed finding the data no longer supports is *withdrawn* (``withdrawn_at``,
  audit event ``finding_withdrawn``) and stays on record for the auditors with its evidence and its review as they
  were; it counts in no figure. When the data supports it again it is *reinstated* (``withdrawn_at`` cleared, event
  ``finding_reinstated``). Roster gaps are facts recorded when a notification needed the duty staff
  (:func:`finding_roster_gap_record`), not derived from the data again: never withdrawn.

What a recompute may withdraw is exactly what it judged (see :func:`findings_recompute`): a finding is withdrawn
only by a run that considered all the data that could produce its key. A finding about an obligation (every key
but a signal's) is judged with the obligation's incident; a signal's 漏报 (``missed:s<id>``) with the incident the
signal is linked to now, or, when it is linked to none, by the pass over unlinked signals. A run whose ``now`` is
earlier than a finding's ``found_at`` does not judge that finding (a recompute scheduled by an older event must not
withdraw a 漏报 that fell due after it).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q

from reporting import findings as rules
from reporting.auditlog import event_append, events_deferred
from reporting.errors import DomainError
from reporting.finding_facts import (
    SIGNAL_KEY_PREFIX,
    Candidate,
    IncidentFacts,
    ObligationFact,
    RefusedFact,
    ReportFact,
    SignalFact,
    iso,
    roster_gap_key,
)
from reporting.models import (
    Finding,
    FindingKind,
    Incident,
    Obligation,
    RefusedReport,
    Report,
    ReviewState,
    Signal,
    Unit,
)
from reporting.text import CONTROL_MESSAGE, has_control_characters

logger = logging.getLogger(__name__)

#: Fields a recompute may write; the review fields are absent on purpose.
COMPUTED_FIELDS = (
    "kind",
    "unit_id",
    "incident_id",
    "obligation_id",
    "report_id",
    "signal_id",
    "suspected",
    "detail",
    "found_at",
)


@dataclass
class RecomputeResult:
    incidents: int = 0
    created: int = 0
    updated: int = 0
    withdrawn: int = 0
    reinstated: int = 0

    def __iadd__(self, other: RecomputeResult) -> RecomputeResult:
        self.incidents += other.incidents
        self.created += other.created
        self.updated += other.updated
        self.withdrawn += other.withdrawn
        self.reinstated += other.reinstated
        return self


def missed_after() -> timedelta:
    """The 漏报 horizon after the written due time (setting ``MISSED_AFTER_HOURS``, default 24)."""
    return timedelta(hours=float(getattr(settings, "MISSED_AFTER_HOURS", 24)))


# --- loading facts -----------------------------------------------------------------------------------------------


def incident_facts_load(*, incident_ids: list[int]) -> list[IncidentFacts]:
    """Plain facts of the given incidents, in five queries whatever their number."""
    incidents = {
        pk: (exercise, occurred_at)
        for pk, exercise, occurred_at in Incident.objects.filter(pk__in=incident_ids).values_list(
            "pk", "exercise", "occurred_at"
        )
    }
    obligations: dict[int, list[ObligationFact]] = {}
    for row in Obligation.objects.filter(incident_id__in=incidents).values(
        "id",
        "unit_id",
        "unit__vertical",
        "incident_id",
        "kind",
        "first_known_at",
        "declared_first_known_at",
        "verbal_due_at",
        "written_due_at",
        "verbal_state",
        "written_state",
        "verbal_filed_at",
        "written_filed_at",
        "verbal_report_id",
        "written_report_id",
        "created_at",
        "not_required_at",
        "city_reported_at",
    ):
        obligations.setdefault(row["incident_id"], []).append(
            ObligationFact(
                id=row["id"],
                unit_id=row["unit_id"],
                incident_id=row["incident_id"],
                first_known_at=row["first_known_at"],
                declared_first_known_at=row["declared_first_known_at"],
                verbal_due_at=row["verbal_due_at"],
                written_due_at=row["written_due_at"],
                verbal_state=row["verbal_state"],
                written_state=row["written_state"],
                verbal_filed_at=row["verbal_filed_at"],
                written_filed_at=row["written_filed_at"],
                verbal_report_id=row["verbal_report_id"],
                written_report_id=row["written_report_id"],
                created_at=row["created_at"],
                not_required_at=row["not_required_at"],
                unit_vertical=row["unit__vertical"],
                city_reported_at=row["city_reported_at"],
                kind=row["kind"],
            )
        )
    reports: dict[int, list[ReportFact]] = {}
    for row in (
        Report.objects.filed()
        .filter(incident_id__in=incidents)
        .values(
            "id",
            "incident_id",
            "obligation_id",
            "unit_id",
            "kind",
            "created_at",
            "filed_at",
            "counted_at",
            "due_at",
            "delay_seconds",
            "deaths",
            "injuries",
            "serious_injuries",
            "missing",
            "direct_loss_yuan",
        )
    ):
        incident_id = row.pop("incident_id")
        reports.setdefault(incident_id, []).append(ReportFact(**row))
    refused: dict[int, list[RefusedFact]] = {}
    for row in RefusedReport.objects.filter(obligation__incident_id__in=incidents).values(
        "id", "obligation_id", "obligation__incident_id", "kind", "attempted_at"
    ):
        refused.setdefault(row["obligation__incident_id"], []).append(
            RefusedFact(
                id=row["id"], obligation_id=row["obligation_id"], kind=row["kind"], attempted_at=row["attempted_at"]
            )
        )
    signals: dict[int, list[SignalFact]] = {}
    for row in Signal.objects.filter(incident_id__in=incidents).values(
        "id", "source", "received_at", "delivered_to_id", "delivered_at", "deaths", "injuries", "incident_id"
    ):
        signals.setdefault(row["incident_id"], []).append(_signal_fact(row))
    return [
        IncidentFacts(
            id=pk,
            exercise=exercise,
            occurred_at=occurred_at,
            obligations=tuple(obligations.get(pk, ())),
            reports=tuple(reports.get(pk, ())),
            refused=tuple(refused.get(pk, ())),
            signals=tuple(signals.get(pk, ())),
        )
        for pk, (exercise, occurred_at) in sorted(incidents.items())
    ]


def _signal_fact(row: dict[str, Any]) -> SignalFact:
    return SignalFact(
        id=row["id"],
        source=row["source"],
        received_at=row["received_at"],
        unit_id=row["delivered_to_id"],
        delivered_at=row["delivered_at"],
        deaths=row["deaths"],
        injuries=row["injuries"],
        incident_id=row["incident_id"],
    )


# --- storing candidates ------------------------------------------------------------------------------------------


def findings_store(*, candidates: list[Candidate], now: datetime) -> RecomputeResult:
    """Create or update findings by key (never touching reviews), then point superseded ones at their successor.
    A withdrawn finding whose key is a candidate again is reinstated (event ``finding_reinstated``).

    Safe against a concurrent recompute: a key inserted meanwhile is skipped by the unique constraint and read back.
    """
    result = RecomputeResult()
    if not candidates:
        return result
    keys = [c.key for c in candidates] + [c.superseded_by_key for c in candidates if c.superseded_by_key]
    existing = {f.key: f for f in Finding.objects.filter(key__in=keys)}
    new = [
        Finding(
            key=c.key,
            kind=c.kind,
            unit_id=c.unit_id,
            incident_id=c.incident_id,
            obligation_id=c.obligation_id,
            report_id=c.report_id,
            signal_id=c.signal_id,
            suspected=c.suspected,
            detail=c.detail,
            found_at=c.found_at,
        )
        for c in candidates
        if c.key not in existing
    ]
    if new:
        Finding.objects.bulk_create(new, batch_size=1000, ignore_conflicts=True)
        result.created = len(new)
        existing = {f.key: f for f in Finding.objects.filter(key__in=keys)}
    changed, reinstated = [], []
    for c in candidates:
        finding = existing.get(c.key)
        if finding is None:
            continue
        dirty = False
        if finding.withdrawn_at is not None:
            finding.withdrawn_at = None
            reinstated.append(finding)
            dirty = True
        for name in COMPUTED_FIELDS:
            value = getattr(c, name)
            if getattr(finding, name) != value:
                setattr(finding, name, value)
                dirty = True
        successor = existing.get(c.superseded_by_key) if c.superseded_by_key else None
        successor_id = successor.pk if successor is not None else None
        if finding.superseded_by_id != successor_id:
            finding.superseded_by_id = successor_id
            dirty = True
        if dirty:
            changed.append(finding)
    if reinstated:
        # Exactly once, as a withdrawal (see findings_withdraw): only the rows still withdrawn under their lock.
        still = set(
            Finding.objects.select_for_update(no_key=True)
            .filter(pk__in=[f.pk for f in reinstated], withdrawn_at__isnull=False)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        reinstated = [f for f in reinstated if f.pk in still]
    if changed:
        Finding.objects.bulk_update(changed, [*COMPUTED_FIELDS, "superseded_by_id", "withdrawn_at"], batch_size=1000)
        result.updated = len({f.key for f in changed} - {f.key for f in new})
    _withdrawal_events(reinstated, reinstated=True, now=now)
    result.reinstated = len(reinstated)
    return result


def findings_judged(*, scope: Q, now: datetime) -> list[tuple[int, str]]:
    """The live computed findings in ``scope`` a run at ``now`` may withdraw: roster gaps, exercises and findings
    found after ``now`` are never touched.

    Signals are linked while a run reads, so the order of the two reads matters: an incident's findings are read
    *before* its facts, the unlinked signals' *after* theirs. A signal linked in between is then at worst a candidate
    that is not judged, never judged without being considered. The duty room may also unlink one
    (``signal_services.signal_unlink``, rare and by hand): unlinked in between, its 漏报 may be withdrawn by the
    incident's run, and is reinstated by the next run that judges it (the signals linked to nothing, or the incident
    it is linked to next).

    Returns (id, key) pairs: a full recompute judges every finding, and only the few withdrawn are read in full.
    """
    return list(
        Finding.objects.filter(scope, withdrawn_at__isnull=True, exercise=False, found_at__lte=now)
        .exclude(kind=FindingKind.ROSTER_GAP)
        .order_by()
        .values_list("id", "key")
    )


def findings_withdraw(*, judged: list[tuple[int, str]], supported: set[str], now: datetime) -> int:
    """Withdraw the ``judged`` findings (:func:`findings_judged`, for what the run considered in full) whose key is
    not ``supported`` (not among the run's candidates): ``withdrawn_at = now`` and one ``finding_withdrawn`` event
    each. Reviews are left as they are. Returns how many were withdrawn."""
    stale = [pk for pk, key in judged if key not in supported]
    if not stale:
        return 0
    # Exactly once when two recomputes of one incident overlap (an event's and the beat's): the second waits for
    # the first's row locks, then finds the rows withdrawn already.
    rows = list(
        Finding.objects.select_for_update(no_key=True)
        .filter(pk__in=stale, withdrawn_at__isnull=True)
        .order_by("pk")
        .only("id", "kind", "unit_id", "incident_id", "detail", "review")
    )
    Finding.objects.filter(pk__in=[f.pk for f in rows]).update(withdrawn_at=now)
    _withdrawal_events(rows, reinstated=False, now=now)
    return len(rows)


def _withdrawal_events(findings: list[Finding], *, reinstated: bool, now: datetime) -> None:
    """``finding_withdrawn`` / ``finding_reinstated``: the system's doing, not an auditor's; the review is kept."""
    if not findings:
        return
    codes = dict(Unit.objects.filter(pk__in={f.unit_id for f in findings}).values_list("pk", "code"))
    for finding in findings:
        event_append(
            at=now,
            kind="finding_reinstated" if reinstated else "finding_withdrawn",
            actor="system",
            incident=Incident(pk=finding.incident_id) if finding.incident_id else None,
            obj=finding,
            detail={
                "finding": finding.pk,
                "kind": finding.kind,
                "unit": codes.get(finding.unit_id),
                "rule": (finding.detail or {}).get("rule") or (finding.detail or {}).get("deadline"),
                "review": finding.review,
            },
        )


def _incidents_scope(incident_ids: list[int]) -> Q:
    """The computed findings a recompute of these incidents judges in full: those about their obligations, and the
    漏报 of the signals linked to them now (wherever the finding was found). An exercise's are out of every list
    and figure already (``exercise``; :func:`findings_judged` leaves them).

    A finding about an obligation carries the obligation's incident (the rules set it; obligations never move), so
    both parts are read through the finding's own indexes (incident, signal)."""
    about_signal = Q(key__startswith=SIGNAL_KEY_PREFIX)
    signal_ids = list(Signal.objects.filter(incident_id__in=incident_ids).values_list("pk", flat=True))
    return (~about_signal & Q(incident_id__in=incident_ids)) | (about_signal & Q(signal_id__in=signal_ids))


def _unlinked_signals_scope(delivered_since: datetime | None) -> Q:
    """The 漏报 the pass over unlinked signals judges in full: of signals linked to no incident now, delivered at or
    after ``delivered_since`` when given (the beat's window)."""
    scope = Q(key__startswith=SIGNAL_KEY_PREFIX, signal__incident__isnull=True)
    if delivered_since is not None:
        scope &= Q(signal__delivered_at__gte=delivered_since)
    return scope


# --- recompute ---------------------------------------------------------------------------------------------------


def findings_recompute(
    *, now: datetime, since: datetime | None = None, incident_ids: Iterable[int] | None = None, batch_size: int = 500
) -> RecomputeResult:
    """The periodic, idempotent recompute: running it twice over the same data changes nothing.

    ``incident_ids`` limits it to those incidents; ``since`` to incidents where something happened at or after it
    (the beat task's window): an obligation first known, a report filed, or a 漏报 falling due — a deadline or a
    signal's delivery whose 漏报 horizon (``MISSED_AFTER_HOURS``) ends at or after ``since``, so a horizon longer
    than the window still gets its 漏报; neither means every incident. Signals never linked to an incident are
    judged in the same run (unless ``incident_ids`` is given). Exercises yield no findings.

    Each incident recomputed is judged in full, so its findings that are no longer candidates are withdrawn (and
    candidates withdrawn earlier reinstated); findings of incidents outside the selection are not touched. The pass
    over unlinked signals likewise judges the 漏报 of unlinked signals delivered in its window only.
    """
    result = RecomputeResult()
    horizon = missed_after()
    if incident_ids is not None:
        ids = sorted(set(incident_ids))
    else:
        qs = Incident.objects.filter(exercise=False)
        if since is not None:
            qs = qs.filter(
                Q(obligations__first_known_at__gte=since)
                | Q(obligations__written_filed_at__gte=since)
                | Q(reports__filed_at__gte=since)
                # The time-driven findings: a 漏报 appears when its horizon passes, with no event to trigger it.
                | Q(obligations__verbal_due_at__gte=since - horizon)
                | Q(obligations__written_due_at__gte=since - horizon)
                | Q(signals__delivered_at__gte=since - horizon)
            )
        ids = list(qs.order_by("pk").values_list("pk", flat=True).distinct())
    for start in range(0, len(ids), batch_size):
        batch = ids[start : start + batch_size]
        with transaction.atomic(), events_deferred():
            judged = findings_judged(scope=_incidents_scope(batch), now=now)  # before the facts (see there)
            candidates = []
            for facts in incident_facts_load(incident_ids=batch):
                candidates += rules.incident_findings(facts, now=now, missed_after=horizon)
            result += findings_store(candidates=candidates, now=now)
            result.withdrawn += findings_withdraw(judged=judged, supported={c.key for c in candidates}, now=now)
            result.incidents += len(batch)
    if incident_ids is None:
        signals = Signal.objects.filter(
            incident__isnull=True, delivered_to__isnull=False, delivered_at__lt=now - horizon
        )
        delivered_since = since - horizon if since is not None else None
        if delivered_since is not None:
            signals = signals.filter(delivered_at__gte=delivered_since)
        with transaction.atomic(), events_deferred():
            facts = [
                _signal_fact(row)
                for row in signals.values(
                    "id",
                    "source",
                    "received_at",
                    "delivered_to_id",
                    "delivered_at",
                    "deaths",
                    "injuries",
                    "incident_id",
                )
            ]
            # Read after the facts: a signal linked meanwhile is then a candidate at worst, never wrongly withdrawn.
            judged = findings_judged(scope=_unlinked_signals_scope(delivered_since), now=now)
            candidates = rules.unlinked_signal_findings(facts, now=now, missed_after=horizon)
            result += findings_store(candidates=candidates, now=now)
            result.withdrawn += findings_withdraw(judged=judged, supported={c.key for c in candidates}, now=now)
    return result


def findings_recompute_incident(*, incident_id: int, now: datetime) -> RecomputeResult:
    """Recompute one incident as an event happens (a report filed, a clock changed; see ``reporting.receivers``).

    Runs in its own transaction (or a savepoint of the caller's): a failure here is logged and rolled back alone,
    never failing the change that triggered it (the periodic recompute catches up).
    """
    try:
        with transaction.atomic():
            return findings_recompute(now=now, incident_ids=[incident_id])
    except Exception:  # the periodic recompute is the safety net; a filing must never fail because of an audit
        logger.exception("findings recompute failed for incident %s", incident_id)
        return RecomputeResult()


# --- roster gaps -------------------------------------------------------------------------------------------------


def finding_roster_gap_record(*, unit, at: datetime, incident=None, obligation=None, detail: dict[str, Any]):
    """Record a roster gap (双人在岗 not kept) when a notification needed the unit's duty staff.

    Idempotent per (unit, obligation or incident, step, moment); returns the Finding. ``detail`` should name the
    ``step`` and why (``{"step": "verbal_overdue", "reason": "no_shift"|"fewer_than_two", "on_post": 1}``).
    A gap during an exercise is stored with ``exercise=True`` and never shown in the lists or figures.
    """
    if incident is None and obligation is not None:
        incident = obligation.incident
    key = roster_gap_key(
        unit_id=unit.pk,
        at=at,
        obligation_id=getattr(obligation, "pk", None),
        incident_id=getattr(incident, "pk", None),
        step=str((detail or {}).get("step", "")),
    )
    defaults = dict(
        kind=FindingKind.ROSTER_GAP,
        unit=unit,
        incident=incident,
        obligation=obligation,
        detail=_json_safe(detail or {}),
        exercise=bool(getattr(incident, "exercise", False)),
        found_at=at,
    )
    try:
        with transaction.atomic():
            finding, _ = Finding.objects.get_or_create(key=key, defaults=defaults)
    except IntegrityError:
        finding = Finding.objects.get(key=key)
    return finding


def _json_safe(detail: dict[str, Any]) -> dict[str, Any]:
    return {k: (iso(v) if isinstance(v, datetime) else v) for k, v in detail.items()}


# --- review ------------------------------------------------------------------------------------------------------


#: A review reason's length limit (the API's, for the pages and the admin too).
REVIEW_REASON_MAX = 2000


def review_errors(*, decision, reason) -> dict[str, list[str]]:
    """What is wrong with a review decision (by field); empty when it may be recorded."""
    errors: dict[str, list[str]] = {}
    if decision not in (ReviewState.CONFIRMED, ReviewState.DISMISSED):
        errors["decision"] = ["审核结论须为 confirmed 或 dismissed (decision must be confirmed or dismissed)"]
    if not isinstance(reason, str) or not reason.strip():
        errors["reason"] = ["必须填写审核理由 (a reason is required)"]
    elif len(reason) > REVIEW_REASON_MAX:
        errors["reason"] = [f"审核理由不能超过{REVIEW_REASON_MAX}字 (at most {REVIEW_REASON_MAX} characters)"]
    elif has_control_characters(reason):
        errors["reason"] = [CONTROL_MESSAGE]
    return errors


@transaction.atomic
def finding_review(*, finding: Finding, decision: str, reason: str, actor, now: datetime) -> Finding:
    """An auditor confirms or dismisses a finding, with a required reason. The decision, who and when are
    appended to the audit chain; a later decision replaces the current one and both stay in the chain."""
    errors = review_errors(decision=decision, reason=reason)
    if errors:
        raise DomainError(errors)
    finding = Finding.objects.select_for_update(no_key=True).get(pk=finding.pk)
    previous = finding.review
    finding.review = decision
    finding.reason = reason.strip()
    finding.reviewed_by = actor
    finding.reviewed_at = now
    finding.save(update_fields=["review", "reason", "reviewed_by", "reviewed_at"])
    event_append(
        at=now,
        kind="finding_reviewed",
        actor=getattr(actor, "username", "") or "system",
        incident=finding.incident,
        obj=finding,
        detail={
            "finding": finding.pk,
            "kind": finding.kind,
            "unit": finding.unit.code,
            "decision": decision,
            "previous": previous,
            "reason": finding.reason,
        },
    )
    return finding
