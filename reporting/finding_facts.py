"""The plain values the audit rules (``reporting.findings``) read and produce: facts about one incident, finding
candidates, and the deterministic keys that make a recompute idempotent. No ORM, no settings, no clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from reporting import grading
from reporting.deadlines import NOT_REQUIRED, PENDING

LATE_KIND = "late"
MISSED = "missed"
HELD_BACK = "held_back"
CONCEALED = "concealed"
ROSTER_GAP = "roster_gap"

#: Signals whose casualty figures are evidence against an understated report (SPEC: "a 120 signal's figures").
CASUALTY_SOURCES = frozenset({"110", "120"})
DEADLINES = ("verbal", "written")


@dataclass(frozen=True)
class ObligationFact:
    id: int
    unit_id: int
    incident_id: int
    first_known_at: datetime
    declared_first_known_at: datetime | None
    verbal_due_at: datetime
    written_due_at: datetime
    verbal_state: str
    written_state: str
    verbal_filed_at: datetime | None
    written_filed_at: datetime | None
    verbal_report_id: int | None
    written_report_id: int | None
    created_at: datetime
    not_required_at: datetime | None = None  # SPEC rule 11: when the duty room marked it not required
    unit_vertical: bool = False
    city_reported_at: datetime | None = None
    kind: str = "report"

    @property
    def not_required(self) -> bool:
        return self.not_required_at is not None

    def as_marked(self) -> ObligationFact:
        """The obligation as it stood when it was marked not required: the clocks the mark closed were pending."""
        return replace(
            self,
            verbal_state=PENDING if self.verbal_state == NOT_REQUIRED else self.verbal_state,
            written_state=PENDING if self.written_state == NOT_REQUIRED else self.written_state,
            not_required_at=None,
        )

    @property
    def deadlines(self) -> tuple[str, ...]:
        """The deadlines findings judge. The duty room's relay (SPEC rule 13) is one clock, kept as its verbal one
        (its written clock only mirrors it, as its chasing has verbal steps only): judged once, never twice."""
        return ("verbal",) if self.kind == "relay" else DEADLINES

    @property
    def last_deadline(self) -> str:
        """The deadline whose miss is a 漏报 (the written report; the relay's one clock)."""
        return self.deadlines[-1]

    def due_at(self, deadline: str) -> datetime:
        return self.verbal_due_at if deadline == "verbal" else self.written_due_at

    def state(self, deadline: str) -> str:
        return self.verbal_state if deadline == "verbal" else self.written_state

    def filed_at(self, deadline: str) -> datetime | None:
        return self.verbal_filed_at if deadline == "verbal" else self.written_filed_at

    def report_id(self, deadline: str) -> int | None:
        return self.verbal_report_id if deadline == "verbal" else self.written_report_id


@dataclass(frozen=True)
class ReportFact:
    """A filed report (drafts that were never filed do not count and are not passed in)."""

    id: int
    obligation_id: int
    unit_id: int
    kind: str
    created_at: datetime
    filed_at: datetime
    counted_at: datetime
    due_at: datetime | None = None
    delay_seconds: int | None = None
    deaths: int | None = None
    injuries: int | None = None
    serious_injuries: int = 0
    missing: int | None = None
    direct_loss_yuan: int | None = None

    @property
    def was_draft(self) -> bool:
        """A report filed directly is created and filed at the same moment; a draft was saved earlier."""
        return self.created_at < self.filed_at

    @property
    def grade(self) -> str:
        return grading.compute_grade(
            deaths=self.deaths or 0,
            injuries=self.injuries or 0,
            serious_injuries=self.serious_injuries or 0,
            direct_loss_yuan=self.direct_loss_yuan or 0,
            missing=self.missing or 0,
        )


@dataclass(frozen=True)
class RefusedFact:
    id: int
    obligation_id: int
    kind: str
    attempted_at: datetime


@dataclass(frozen=True)
class SignalFact:
    id: int
    source: str
    received_at: datetime
    unit_id: int | None = None
    delivered_at: datetime | None = None
    deaths: int = 0
    injuries: int = 0
    incident_id: int | None = None

    @property
    def grade(self) -> str:
        """The grade a feed's figures show. Feeds count the injured, not the seriously injured: their injuries make
        it a casualty (IV), never a higher grade on their own (SPEC rule 9 grades by serious injuries)."""
        return grading.compute_grade(deaths=self.deaths, injuries=self.injuries, serious_injuries=0, direct_loss_yuan=0)


@dataclass(frozen=True)
class IncidentFacts:
    """Everything the rules need about one incident."""

    id: int
    exercise: bool
    obligations: tuple[ObligationFact, ...] = ()
    #: A delivery before the incident occurred cannot be knowledge of it (SPEC rule 6), so it is no evidence.
    occurred_at: datetime | None = None
    reports: tuple[ReportFact, ...] = ()
    refused: tuple[RefusedFact, ...] = ()
    signals: tuple[SignalFact, ...] = ()


@dataclass(frozen=True)
class Candidate:
    """A finding the data supports. ``superseded_by_key`` names the finding that replaces it in the figures
    (a 漏报 later discharged late), while both stay in the history."""

    key: str
    kind: str
    unit_id: int
    found_at: datetime
    incident_id: int | None = None
    obligation_id: int | None = None
    report_id: int | None = None
    signal_id: int | None = None
    suspected: bool = False
    detail: dict[str, Any] = field(default_factory=dict)
    superseded_by_key: str | None = None


def iso(value: datetime | None) -> str | None:
    """UTC with ``Z``, to the second or better: how details store times (JSON, stable across recomputes)."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def delay_seconds(counted_at: datetime, due_at: datetime) -> int:
    """Whole seconds late, rounded up (any lateness is at least 1 s); 0 when on time (inclusive deadline)."""
    if counted_at <= due_at:
        return 0
    return math.ceil((counted_at - due_at).total_seconds())


# --- keys --------------------------------------------------------------------------------------------------------


def late_key(obligation_id: int, deadline: str) -> str:
    return f"late:o{obligation_id}:{deadline}"


def missed_key(obligation_id: int) -> str:
    return f"missed:o{obligation_id}:no_report"


def missed_refused_key(obligation_id: int, deadline: str) -> str:
    return f"missed:o{obligation_id}:refused:{deadline}"


#: The keys of findings about one signal (its 漏报): judged with the signal's current incident, or, unlinked, alone.
#: Every other computed key names its obligation and is judged with the obligation's incident.
SIGNAL_KEY_PREFIX = "missed:s"


def missed_signal_key(signal_id: int) -> str:
    return f"{SIGNAL_KEY_PREFIX}{signal_id}"


def roster_gap_key(*, unit_id: int, at: datetime, obligation_id: int | None, incident_id: int | None, step: str) -> str:
    """One roster gap per (unit, obligation or incident, step, moment)."""
    scope = f"o{obligation_id}" if obligation_id else (f"i{incident_id}" if incident_id else "-")
    return f"roster_gap:u{unit_id}:{scope}:{step or '-'}:{iso(at)}"
