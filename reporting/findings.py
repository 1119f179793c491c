"""Audit findings as pure rules (SPEC "Audit findings"): plain values in, finding candidates out.

No ORM, no settings, no clock: ``now`` and the 漏报 horizon are keyword arguments. Every candidate carries a
deterministic ``key`` derived only from the evidence, so computing twice over the same data gives the same keys
(the ``Finding.key`` unique constraint makes the recompute idempotent).

Rules, per (incident, responsible unit) obligation:

- 迟报 ``late``: a deadline (verbal or written) discharged after its due time. A written report that discharges a
  still-pending verbal deadline late makes the verbal deadline late too (SPEC rule 3). Detail:
  ``{"deadline": "written", "delay_seconds": 420, ...}``.
- 漏报 ``missed``: (a) the written report is still missing ``missed_after`` after the written due time (a written
  report filed later than that leaves the missed finding in the history, superseded by the late one); (b) a signal
  delivered to a unit that filed no report on it within ``missed_after`` of the delivery; (c) a deadline that passed
  while only refused (incomplete) report attempts existed.
- 压报 ``held_back`` (suspected): the declared first-known time is later than the earliest signal delivered to that
  unit for that incident by more than 5 minutes (exactly 5:00 is not); a draft saved at or before a deadline and
  counted after it; a vertical unit's city-level report earlier than its district verbal report (or with no district
  verbal report at all).
- 瞒报/谎报 ``concealed`` (suspected): a later report of the same unit raises deaths (or the grade its figures imply)
  above an earlier report of that unit although, when the earlier report was filed, evidence (a 110/120 signal's
  figures, another unit's report) already showed more. Only an auditor's review can confirm it.

The duty room's relay to 区委办 and 区府办 (SPEC rule 13) is one clock, discharged by any report: it is judged
on that one deadline (kept as its verbal clock, ``ObligationFact.deadlines``), so a late relay is one 迟报 and an
unrelayed one one 漏报, never a second finding on a "written" deadline it does not have.

Left out entirely: exercises (SPEC rule 10) — no candidate is produced for them. An obligation marked not required
(SPEC rule 11) keeps the findings its data supported when it was marked (a late filing, a 漏报 past its horizon, a
signal never reported on as of the mark); nothing after the mark counts against it.

The facts these rules read, the candidates they return and the finding keys are in ``reporting.finding_facts``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from reporting import grading
from reporting.deadlines import LATE, PENDING, declared_later_than_evidence
from reporting.finding_facts import (
    CASUALTY_SOURCES,
    CONCEALED,
    HELD_BACK,
    LATE_KIND,
    MISSED,
    Candidate,
    IncidentFacts,
    ObligationFact,
    RefusedFact,
    ReportFact,
    SignalFact,
    delay_seconds,
    iso,
    late_key,
    missed_key,
    missed_refused_key,
    missed_signal_key,
)

# --- rules -------------------------------------------------------------------------------------------------------


def incident_findings(facts: IncidentFacts, *, now: datetime, missed_after: timedelta) -> list[Candidate]:
    """Every finding the data of one incident supports at ``now``, sorted by key. Exercises give none."""
    if facts.exercise:
        return []
    reports_by_obligation: dict[int, list[ReportFact]] = {}
    for report in facts.reports:
        reports_by_obligation.setdefault(report.obligation_id, []).append(report)
    refused_by_obligation: dict[int, list[RefusedFact]] = {}
    for refused in facts.refused:
        refused_by_obligation.setdefault(refused.obligation_id, []).append(refused)
    delivered = [
        s
        for s in facts.signals
        if s.unit_id is not None
        and s.delivered_at is not None
        and (facts.occurred_at is None or s.delivered_at >= facts.occurred_at)
    ]

    out: list[Candidate] = []
    for obligation in facts.obligations:
        at = now
        own_reports = {r.id: r for r in reports_by_obligation.get(obligation.id, [])}
        if obligation.not_required_at is not None:
            # SPEC rule 11: the mark ends the duty from then on; it does not erase what was already found. The
            # findings are those its data supported when it was marked (a late filing, a 漏报 past its horizon).
            at = min(now, obligation.not_required_at)
            own_reports = {i: r for i, r in own_reports.items() if r.counted_at <= at}
            obligation = obligation.as_marked()
        # The relay's clock runs from its anchor, not from knowledge (SPEC rule 13, ``deadlines.relay_anchor``): a
        # signal delivered to the duty room is no evidence against it.
        evidence = sorted(
            (s for s in delivered if s.unit_id == obligation.unit_id and obligation.kind == "report"),
            key=lambda s: (s.delivered_at, s.id),
        )
        out += late_findings(obligation, own_reports)
        out += missed_findings(
            obligation,
            refused_by_obligation.get(obligation.id, []),
            first_signal=evidence[0] if evidence else None,
            now=at,
            missed_after=missed_after,
        )
        out += held_back_findings(obligation, own_reports, first_signal=evidence[0] if evidence else None)
        out += concealed_findings(
            obligation,
            sorted(own_reports.values(), key=lambda r: (r.counted_at, r.id)),
            others=[r for r in facts.reports if r.unit_id != obligation.unit_id],
            signals=facts.signals,
        )
    out += signal_missed_findings(facts, delivered, now=now, missed_after=missed_after)
    return sorted(out, key=lambda c: c.key)


def late_findings(obligation: ObligationFact, reports: dict[int, ReportFact]) -> list[Candidate]:
    """迟报: one per deadline discharged late, with the delay frozen at filing (SPEC rule 4)."""
    out = []
    for deadline in obligation.deadlines:
        if obligation.state(deadline) != LATE:
            continue
        filed_at = obligation.filed_at(deadline)
        report = reports.get(obligation.report_id(deadline) or -1)
        if report is not None and report.kind == deadline and report.delay_seconds is not None:
            delay = report.delay_seconds
        else:
            # A written report that discharged the verbal deadline: judged against the verbal due time.
            delay = max(1, delay_seconds(filed_at, obligation.due_at(deadline))) if filed_at else 1
        detail = {
            "deadline": deadline,
            "delay_seconds": delay,
            "due_at": iso(obligation.due_at(deadline)),
            "counted_at": iso(filed_at),
        }
        if report is not None and report.kind != deadline:
            detail["discharged_by"] = report.kind
        out.append(
            Candidate(
                key=late_key(obligation.id, deadline),
                kind=LATE_KIND,
                unit_id=obligation.unit_id,
                incident_id=obligation.incident_id,
                obligation_id=obligation.id,
                report_id=obligation.report_id(deadline),
                found_at=filed_at or obligation.due_at(deadline),
                detail=detail,
            )
        )
    return out


def missed_findings(
    obligation: ObligationFact,
    refused: list[RefusedFact],
    *,
    first_signal: SignalFact | None,
    now: datetime,
    missed_after: timedelta,
) -> list[Candidate]:
    """漏报 of an obligation: written report still missing after the horizon; a deadline passed with only refusals.

    A deadline discharged later (late) keeps its 漏报 in the history, superseded by the 迟报 of that deadline.
    """
    out = []
    last = obligation.last_deadline
    horizon = obligation.due_at(last) + missed_after
    last_filed = obligation.filed_at(last)
    if obligation.state(last) in (PENDING, LATE) and (
        (last_filed is None and now > horizon) or (last_filed is not None and last_filed > horizon)
    ):
        out.append(
            Candidate(
                key=missed_key(obligation.id),
                kind=MISSED,
                unit_id=obligation.unit_id,
                incident_id=obligation.incident_id,
                obligation_id=obligation.id,
                signal_id=first_signal.id if first_signal else None,
                found_at=horizon,
                detail={
                    "rule": "no_report",
                    "deadline": last,
                    "due_at": iso(obligation.due_at(last)),
                    "missed_after_seconds": int(missed_after.total_seconds()),
                },
                superseded_by_key=late_key(obligation.id, last) if last_filed is not None else None,
            )
        )
    for deadline in obligation.deadlines:
        due = obligation.due_at(deadline)
        # A written attempt would also have discharged the verbal deadline (SPEC rule 3).
        kinds = ("verbal", "written") if deadline == "verbal" else ("written",)
        attempts = sorted(r.id for r in refused if r.kind in kinds and r.attempted_at <= due)
        if not attempts or obligation.state(deadline) not in (PENDING, LATE):
            continue
        filed = obligation.filed_at(deadline)
        if filed is None and not now > due:
            continue
        out.append(
            Candidate(
                key=missed_refused_key(obligation.id, deadline),
                kind=MISSED,
                unit_id=obligation.unit_id,
                incident_id=obligation.incident_id,
                obligation_id=obligation.id,
                found_at=due,
                detail={"rule": "refused_only", "deadline": deadline, "due_at": iso(due), "refused": attempts},
                superseded_by_key=late_key(obligation.id, deadline) if filed is not None else None,
            )
        )
    return out


def held_back_findings(
    obligation: ObligationFact, reports: dict[int, ReportFact], *, first_signal: SignalFact | None
) -> list[Candidate]:
    """压报 (suspected): declared first-known later than evidence; a draft held past its deadline; city first."""
    out = []
    base: dict[str, Any] = dict(
        kind=HELD_BACK,
        unit_id=obligation.unit_id,
        incident_id=obligation.incident_id,
        obligation_id=obligation.id,
        suspected=True,
    )
    if first_signal is not None and first_signal.delivered_at is not None:
        gap = declared_later_than_evidence(obligation.declared_first_known_at, first_signal.delivered_at)
        if gap is not None:
            out.append(
                Candidate(
                    key=f"held_back:o{obligation.id}:declared",
                    signal_id=first_signal.id,
                    found_at=max(obligation.created_at, first_signal.delivered_at),
                    detail={
                        "rule": "declared_after_evidence",
                        "declared_first_known_at": iso(obligation.declared_first_known_at),
                        "evidence_at": iso(first_signal.delivered_at),
                        "evidence_source": first_signal.source,
                        "gap_seconds": math.ceil(gap.total_seconds()),
                    },
                    **base,
                )
            )
    for deadline in obligation.deadlines:
        report = reports.get(obligation.report_id(deadline) or -1)
        due = obligation.due_at(deadline)
        if report is None or not report.was_draft:
            continue
        if report.created_at <= due < report.counted_at:
            out.append(
                Candidate(
                    key=f"held_back:o{obligation.id}:draft:{deadline}",
                    report_id=report.id,
                    found_at=report.filed_at,
                    detail={
                        "rule": "draft_filed_after_deadline",
                        "deadline": deadline,
                        "draft_saved_at": iso(report.created_at),
                        "due_at": iso(due),
                        "counted_at": iso(report.counted_at),
                    },
                    **base,
                )
            )
    city = obligation.city_reported_at
    if obligation.unit_vertical and city is not None:
        verbal = obligation.verbal_filed_at
        if verbal is None or city < verbal:
            out.append(
                Candidate(
                    key=f"held_back:o{obligation.id}:city",
                    report_id=obligation.verbal_report_id,
                    found_at=city,
                    detail={
                        "rule": "city_before_district",
                        "city_reported_at": iso(city),
                        "verbal_filed_at": iso(verbal),
                    },
                    **base,
                )
            )
    return out


def concealed_findings(
    obligation: ObligationFact,
    own: list[ReportFact],
    *,
    others: Iterable[ReportFact],
    signals: Iterable[SignalFact],
) -> list[Candidate]:
    """瞒报/谎报 (suspected): at most one per obligation, naming the earliest understated report.

    A report R1 is understated when a later report of the same unit raises deaths (or the implied grade) above R1
    while, at the time that counted for R1 (its filing, or the phone call of a logged verbal report), a 110/120
    signal or another unit's report already showed more.
    """
    others = list(others)
    casualty_signals = [s for s in signals if s.source in CASUALTY_SOURCES]
    stated = [r for r in own if r.deaths is not None]
    for i, first in enumerate(stated):
        raising = next(
            (
                r
                for r in stated[i + 1 :]
                if r.deaths > first.deaths or grading.is_lower(first.grade, r.grade)  # type: ignore[operator]
            ),
            None,
        )
        if raising is None:
            continue
        # Judged when the unit stated its figures: a phoned verbal report at the call (SPEC rule 2), not at its
        # logging; another unit's report likewise from the time that counted for it.
        ev_signals = [s for s in casualty_signals if s.received_at <= first.counted_at]
        ev_reports = [r for r in others if r.counted_at <= first.counted_at and r.deaths is not None]
        evidence = _strongest_evidence(first, raising, ev_signals, ev_reports)
        if evidence is None:
            continue
        return [
            Candidate(
                key=f"concealed:o{obligation.id}",
                kind=CONCEALED,
                unit_id=obligation.unit_id,
                incident_id=obligation.incident_id,
                obligation_id=obligation.id,
                report_id=first.id,
                signal_id=evidence["id"] if evidence["kind"] == "signal" else None,
                suspected=True,
                found_at=raising.filed_at,
                detail={
                    "rule": "raised_after_evidence",
                    "stated_deaths": first.deaths,
                    "stated_grade": first.grade,
                    "later_report": raising.id,
                    "later_deaths": raising.deaths,
                    "later_grade": raising.grade,
                    "evidence": evidence,
                },
            )
        ]
    return []


def _strongest_evidence(
    first: ReportFact, raising: ReportFact, signals: list[SignalFact], reports: list[ReportFact]
) -> dict[str, Any] | None:
    """The evidence item that showed more than ``first`` on a measure ``raising`` later raised, or None.

    Deaths first (the most deaths, earliest on ties), then the implied grade.
    """
    items: list[tuple[int, str, datetime, int, dict[str, Any]]] = []
    for s in signals:
        items.append((s.deaths, s.grade, s.received_at, s.id, {"kind": "signal", "id": s.id, "source": s.source}))
    for r in reports:
        items.append((r.deaths or 0, r.grade, r.counted_at, r.id, {"kind": "report", "id": r.id, "unit": r.unit_id}))
    stated_deaths = first.deaths or 0
    if (raising.deaths or 0) > stated_deaths:
        by_deaths = [it for it in items if it[0] > stated_deaths]
        if by_deaths:
            best = sorted(by_deaths, key=lambda it: (-it[0], it[2], it[3]))[0]
            return {**best[4], "deaths": best[0], "grade": best[1]}
    if grading.is_lower(first.grade, raising.grade):
        by_grade = [it for it in items if grading.is_lower(first.grade, it[1])]
        if by_grade:
            best = sorted(by_grade, key=lambda it: (-grading.rank(it[1]), it[2], it[3]))[0]
            return {**best[4], "deaths": best[0], "grade": best[1]}
    return None


def signal_missed_findings(
    facts: IncidentFacts, delivered: list[SignalFact], *, now: datetime, missed_after: timedelta
) -> list[Candidate]:
    """漏报 on a signal: delivered to a unit that filed no report on the incident within the horizon.

    When the unit has an obligation, that obligation's own 漏报 (or the 迟报 that discharged it) supersedes the
    signal's, so one failure is counted once.
    """
    out = []
    obligations = {o.unit_id: o for o in facts.obligations if o.kind == "report"}
    for signal in delivered:
        if signal.delivered_at is None or signal.unit_id is None:
            continue  # not a delivery: no evidence (``incident_findings`` passes deliveries only)
        horizon = signal.delivered_at + missed_after
        obligation = obligations.get(signal.unit_id)
        at = now
        if obligation is not None and obligation.not_required_at is not None:
            at = min(now, obligation.not_required_at)  # as of the mark (see incident_findings)
            obligation = obligation.as_marked()
        if not at > horizon:
            continue
        reported = [r for r in facts.reports if r.unit_id == signal.unit_id and r.counted_at <= horizon]
        if reported:
            continue
        superseded_by = None
        if obligation is not None:
            if obligation.written_state == LATE:
                superseded_by = late_key(obligation.id, "written")
            elif obligation.written_state == PENDING and at > obligation.written_due_at + missed_after:
                superseded_by = missed_key(obligation.id)
        out.append(
            _signal_candidate(
                signal, incident_id=facts.id, obligation=obligation, superseded_by=superseded_by, horizon=horizon
            )
        )
    return out


def unlinked_signal_findings(
    signals: Iterable[SignalFact], *, now: datetime, missed_after: timedelta
) -> list[Candidate]:
    """漏报 on signals delivered to a unit and never linked to any incident within the horizon."""
    return sorted(
        (
            _signal_candidate(
                s, incident_id=None, obligation=None, superseded_by=None, horizon=s.delivered_at + missed_after
            )
            for s in signals
            if s.incident_id is None
            and s.unit_id is not None
            and s.delivered_at is not None
            and now > s.delivered_at + missed_after
        ),
        key=lambda c: c.key,
    )


def _signal_candidate(
    signal: SignalFact,
    *,
    incident_id: int | None,
    obligation: ObligationFact | None,
    superseded_by: str | None,
    horizon: datetime,
) -> Candidate:
    assert signal.unit_id is not None and signal.delivered_at is not None
    return Candidate(
        key=missed_signal_key(signal.id),
        kind=MISSED,
        unit_id=signal.unit_id,
        incident_id=incident_id,
        obligation_id=obligation.id if obligation else None,
        signal_id=signal.id,
        found_at=horizon,
        detail={
            "rule": "signal_not_reported",
            "source": signal.source,
            "delivered_at": iso(signal.delivered_at),
            "missed_after_seconds": int((horizon - signal.delivered_at).total_seconds()),
        },
        superseded_by_key=superseded_by,
    )
