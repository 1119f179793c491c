"""Timeliness figures per unit and period (及时率; API.md ``/stats/timeliness/``): selectors, read only.

Definitions (state them to auditors exactly like this):

- **Period.** An obligation belongs to the period when its first-known time is in ``[since, until)``; a finding
  belongs to the period of its obligation, or, when it has none (a signal never reported on), of its ``found_at``;
  a roster gap always to the period of its ``found_at`` (see ``roster_gaps``). Either bound may be omitted (open).
- **Left out.** Exercises (SPEC rule 10), everywhere. Obligations marked not required (rule 11) are left out of
  the obligation figures; their findings count: only those their data supported when they were marked exist
  (``reporting.findings``), so a mark made after a late filing or a 漏报 does not erase it.
- ``obligations``: the obligations of the unit in the period (report obligations and the duty room's relay ones).
- ``verbal_on_time`` / ``written_on_time``: obligations whose verbal / written deadline was discharged on time
  (a written report discharging the verbal deadline counts for both, SPEC rule 3). The duty room's relay is one
  clock kept as both (SPEC rule 13; any report discharges both at once), so it counts alike in both.
- ``*_on_time_rate``: on-time count / ``obligations``, rounded to 4 decimals; null when there are no obligations.
  Clocks still pending count as not on time.
- ``median_verbal_delay_seconds`` / ``p90_written_delay_seconds`` (and ``median_written_delay_seconds`` /
  ``p90_verbal_delay_seconds``, appended at the end of the row): over the obligations whose verbal / written
  deadline was discharged by a filed report (unreported ones are 漏报, not a delay); the delay is 0 when on time,
  else the whole seconds from due time to the time that counted, rounded up. Continuous percentiles with linear
  interpolation (PostgreSQL ``percentile_cont``), rounded to 0.1 s; null when no report was filed.
- ``late`` / ``missed``: obligations with a live 迟报 / 漏报 finding (each obligation once, however many deadlines),
  plus, for ``missed``, signals never reported on that have no obligation; ``held_back`` / ``concealed``: live
  findings. *Live*: not superseded (a 漏报 later discharged late counts once, as 迟报), not dismissed by an
  auditor, and not withdrawn (``withdrawn_at``: the data no longer supports it, whatever its review; see
  ``reporting.findings_services``).
- ``roster_gaps`` (appended at the end of the row): live roster-gap findings (双人在岗缺口) of the unit whose
  ``found_at`` is in the period. A gap is a fact about the unit's roster at one moment (``found_at``: when a
  notification needed its duty staff), not about the obligation being chased: it may have no obligation, and a
  duty room's gap is recorded against another unit's obligation. So it is dated by its own moment, as the
  findings list (``/findings/?kind=roster_gap&unit=&since=&until=``) filters it, and that list shows the same
  gaps (plus dismissed ones). Left out like any finding: exercises.

On PostgreSQL the whole table is one SQL statement (a constant number of queries however many rows); the embedded
SQLite mode computes the same figures in Python.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection

from reporting.models import DeadlineState, Finding, FindingKind, Obligation, ReviewState, Unit

#: The row of API.md, in order.
FIELDS = (
    "unit",
    "obligations",
    "verbal_on_time",
    "written_on_time",
    "verbal_on_time_rate",
    "written_on_time_rate",
    "median_verbal_delay_seconds",
    "p90_written_delay_seconds",
    "late",
    "missed",
    "held_back",
    "concealed",
    # Added after the API.md row: appended, so existing columns keep their names and positions.
    "median_written_delay_seconds",
    "p90_verbal_delay_seconds",
    "roster_gaps",
)
COUNTED_KINDS = (FindingKind.LATE, FindingKind.MISSED, FindingKind.HELD_BACK, FindingKind.CONCEALED)


@dataclass(frozen=True)
class Period:
    since: datetime | None = None
    until: datetime | None = None


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _seconds(value: float | None) -> float | int | None:
    if value is None:
        return None
    value = round(float(value), 1)
    return int(value) if value.is_integer() else value


def percentile_cont(values: list[float], fraction: float) -> float | None:
    """PostgreSQL's ``percentile_cont``: linear interpolation between the closest ranks (None when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low = math.floor(position)
    high = math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def timeliness_rows(*, since: datetime | None = None, until: datetime | None = None, unit: Unit | None = None):
    """One row per unit (API.md shape, ``FIELDS`` order), sorted by unit code: every active unit, plus inactive
    ones with figures in the period. ``unit`` limits it to that unit."""
    if connection.vendor == "postgresql":
        return _rows_sql(since=since, until=until, unit=unit)
    return _rows_python(since=since, until=until, unit=unit)


_SQL = """
WITH obl AS (
    SELECT o.unit_id,
           o.verbal_state = 'on_time' AS verbal_ok,
           o.written_state = 'on_time' AS written_ok,
           CASE WHEN o.verbal_filed_at IS NULL THEN NULL
                WHEN o.verbal_state = 'on_time' THEN 0
                ELSE GREATEST(1, CEIL(EXTRACT(EPOCH FROM (o.verbal_filed_at - o.verbal_due_at))))::int4
           END AS verbal_delay,
           CASE WHEN o.written_filed_at IS NULL THEN NULL
                WHEN o.written_state = 'on_time' THEN 0
                ELSE GREATEST(1, CEIL(EXTRACT(EPOCH FROM (o.written_filed_at - o.written_due_at))))::int4
           END AS written_delay
      FROM reporting_obligation o
     WHERE o.not_required_at IS NULL
       -- Exercises are few: an anti-join against them is cheaper than joining every incident.
       AND NOT EXISTS (SELECT 1 FROM reporting_incident i WHERE i.id = o.incident_id AND i.exercise)
       AND (%(since)s::timestamptz IS NULL OR o.first_known_at >= %(since)s)
       AND (%(until)s::timestamptz IS NULL OR o.first_known_at < %(until)s)
       AND (%(unit)s::bigint IS NULL OR o.unit_id = %(unit)s)
), ostats AS (
    SELECT unit_id,
           COUNT(*) AS obligations,
           COUNT(*) FILTER (WHERE verbal_ok) AS verbal_on_time,
           COUNT(*) FILTER (WHERE written_ok) AS written_on_time,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY verbal_delay) AS median_verbal,
           percentile_cont(0.9) WITHIN GROUP (ORDER BY written_delay) AS p90_written,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY written_delay) AS median_written,
           percentile_cont(0.9) WITHIN GROUP (ORDER BY verbal_delay) AS p90_verbal
      FROM obl
  GROUP BY unit_id
), fstats AS (
    -- Findings are never produced for exercises (reporting.findings), and a roster gap during one carries
    -- exercise = true: no join to the incidents is needed here.
    SELECT f.unit_id,
           COUNT(DISTINCT f.obligation_id) FILTER (WHERE f.kind = 'late') AS late,
           COUNT(DISTINCT COALESCE(f.obligation_id, -f.id)) FILTER (WHERE f.kind = 'missed') AS missed,
           COUNT(*) FILTER (WHERE f.kind = 'held_back') AS held_back,
           COUNT(*) FILTER (WHERE f.kind = 'concealed') AS concealed,
           COUNT(*) FILTER (WHERE f.kind = 'roster_gap') AS roster_gaps
      FROM reporting_finding f
 LEFT JOIN reporting_obligation o ON o.id = f.obligation_id
     -- The moment that dates the finding: a roster gap its own, any other its obligation's first-known time.
     CROSS JOIN LATERAL (SELECT CASE WHEN f.kind = 'roster_gap' THEN f.found_at
                                     ELSE COALESCE(o.first_known_at, f.found_at) END AS at) p
     WHERE f.kind IN ('late', 'missed', 'held_back', 'concealed', 'roster_gap')
       AND f.superseded_by_id IS NULL
       AND f.review <> 'dismissed'
       AND f.withdrawn_at IS NULL
       AND NOT f.exercise
       AND (%(since)s::timestamptz IS NULL OR p.at >= %(since)s)
       AND (%(until)s::timestamptz IS NULL OR p.at < %(until)s)
       AND (%(unit)s::bigint IS NULL OR f.unit_id = %(unit)s)
  GROUP BY f.unit_id
)
SELECT u.code,
       COALESCE(s.obligations, 0), COALESCE(s.verbal_on_time, 0), COALESCE(s.written_on_time, 0),
       s.median_verbal, s.p90_written,
       COALESCE(fs.late, 0), COALESCE(fs.missed, 0), COALESCE(fs.held_back, 0), COALESCE(fs.concealed, 0),
       s.median_written, s.p90_verbal, COALESCE(fs.roster_gaps, 0)
  FROM reporting_unit u
  LEFT JOIN ostats s ON s.unit_id = u.id
  LEFT JOIN fstats fs ON fs.unit_id = u.id
 WHERE (%(unit)s::bigint IS NULL OR u.id = %(unit)s)
   AND (u.active OR s.unit_id IS NOT NULL OR fs.unit_id IS NOT NULL)
 ORDER BY u.code
"""


def _row(
    code,
    obligations,
    verbal_on_time,
    written_on_time,
    median_verbal,
    p90_written,
    late,
    missed,
    held_back,
    concealed,
    median_written,
    p90_verbal,
    roster_gaps,
):
    return {
        "unit": code,
        "obligations": int(obligations),
        "verbal_on_time": int(verbal_on_time),
        "written_on_time": int(written_on_time),
        "verbal_on_time_rate": _rate(verbal_on_time, obligations),
        "written_on_time_rate": _rate(written_on_time, obligations),
        "median_verbal_delay_seconds": _seconds(median_verbal),
        "p90_written_delay_seconds": _seconds(p90_written),
        "late": int(late),
        "missed": int(missed),
        "held_back": int(held_back),
        "concealed": int(concealed),
        "median_written_delay_seconds": _seconds(median_written),
        "p90_verbal_delay_seconds": _seconds(p90_verbal),
        "roster_gaps": int(roster_gaps),
    }


def _rows_sql(*, since, until, unit) -> list[dict[str, Any]]:
    params = {"since": since, "until": until, "unit": unit.pk if unit is not None else None}
    with connection.cursor() as cursor:
        cursor.execute(_SQL, params)
        return [_row(*r) for r in cursor.fetchall()]


def _delay(state: str, filed_at: datetime | None, due_at: datetime) -> int | None:
    if filed_at is None:
        return None
    if state == DeadlineState.ON_TIME:
        return 0
    return max(1, math.ceil((filed_at - due_at).total_seconds()))


def _rows_python(*, since, until, unit) -> list[dict[str, Any]]:
    """The embedded SQLite mode: same figures, computed in Python (a constant number of queries too)."""
    obligations = Obligation.objects.filter(incident__exercise=False, not_required_at__isnull=True)
    findings = Finding.objects.filter(
        kind__in=(*COUNTED_KINDS, FindingKind.ROSTER_GAP),
        superseded_by__isnull=True,
        withdrawn_at__isnull=True,
        exercise=False,
    ).exclude(review=ReviewState.DISMISSED)
    if unit is not None:
        obligations = obligations.filter(unit=unit)
        findings = findings.filter(unit=unit)
    if since is not None:
        obligations = obligations.filter(first_known_at__gte=since)
    if until is not None:
        obligations = obligations.filter(first_known_at__lt=until)
    per_unit: dict[int, dict[str, Any]] = defaultdict(lambda: {"n": 0, "v": 0, "w": 0, "vd": [], "wd": []})
    for o in obligations.values(
        "unit_id",
        "verbal_state",
        "written_state",
        "verbal_filed_at",
        "written_filed_at",
        "verbal_due_at",
        "written_due_at",
    ):
        acc = per_unit[o["unit_id"]]
        acc["n"] += 1
        acc["v"] += o["verbal_state"] == DeadlineState.ON_TIME
        acc["w"] += o["written_state"] == DeadlineState.ON_TIME
        vd = _delay(o["verbal_state"], o["verbal_filed_at"], o["verbal_due_at"])
        wd = _delay(o["written_state"], o["written_filed_at"], o["written_due_at"])
        if vd is not None:
            acc["vd"].append(vd)
        if wd is not None:
            acc["wd"].append(wd)
    counts: dict[int, dict[str, set]] = defaultdict(lambda: defaultdict(set))
    for f in findings.values(
        "id",
        "unit_id",
        "kind",
        "obligation_id",
        "found_at",
        "obligation__first_known_at",
        "incident__exercise",
    ):
        if f["incident__exercise"]:
            continue
        if f["kind"] == FindingKind.ROSTER_GAP:
            at = f["found_at"]
        else:
            at = f["obligation__first_known_at"] or f["found_at"]
        if (since is not None and at < since) or (until is not None and at >= until):
            continue
        if f["kind"] in (FindingKind.LATE, FindingKind.MISSED) and f["obligation_id"]:
            counts[f["unit_id"]][f["kind"]].add(("o", f["obligation_id"]))
        else:
            counts[f["unit_id"]][f["kind"]].add(("f", f["id"]))
    units = Unit.objects.order_by("code")
    if unit is not None:
        units = units.filter(pk=unit.pk)
    rows = []
    for u in units:
        if not (u.active or u.pk in per_unit or u.pk in counts):
            continue
        acc = per_unit.get(u.pk, {"n": 0, "v": 0, "w": 0, "vd": [], "wd": []})
        c = counts.get(u.pk, {})
        rows.append(
            _row(
                u.code,
                acc["n"],
                acc["v"],
                acc["w"],
                percentile_cont(acc["vd"], 0.5),
                percentile_cont(acc["wd"], 0.9),
                *(len(c.get(k, ())) for k in COUNTED_KINDS),
                percentile_cont(acc["wd"], 0.5),
                percentile_cont(acc["vd"], 0.9),
                len(c.get(FindingKind.ROSTER_GAP, ())),
            )
        )
    return rows


def findings_visible():
    """Findings shown to auditors, newest first, exercises left out.

    Findings are never produced for exercises (``reporting.findings``); a roster gap during one, and a signal's 漏报
    found before the signal was linked to one (``signal_services.signal_link``), are stored with ``exercise=True``.
    So no join to the incidents is needed. A not-required obligation's findings are shown: they are what its data
    supported when it was marked (SPEC rule 11 keeps it visible to auditors).
    """
    return Finding.objects.filter(exercise=False).select_related("unit").order_by("-found_at", "-id")
