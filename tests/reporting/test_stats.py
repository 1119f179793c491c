"""Timeliness figures against hand-computed values for a small fixed data set (rates, median, p90, counts)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from freezegun import freeze_time

from reporting import obligation_services, services, stats
from reporting.findings_services import finding_review, finding_roster_gap_record
from reporting.models import Finding
from tests.reporting.test_findings import DAY, T0, VERBAL_DUE, WRITTEN_DUE, file, open_incident, recompute

PERIOD = {"since": T0 - timedelta(hours=1), "until": T0 + timedelta(days=1)}


@pytest.fixture
def data_set(units, sijing_officer, outsider, duty_room, auditor):
    """泗泾镇 (sijing), first known at T0 in the period:

    A: verbal +10 min, written +50 min              -> on time, on time; delays 0 / 0
    B: verbal due + 60 s, written due + 120 s        -> late, late;      delays 60 / 120
    C: written only, due + 300 s (discharges verbal) -> late, late;      delays 30*60+300=2100 / 300
    D: nothing filed                                 -> 漏报 after 24 h (no delay)
    E: an exercise, filed late                       -> left out
    F: marked not required                           -> left out
    G: first known before the period, filed late     -> left out of this period
    车墩镇 (chedun): H: both on time.
    Roster gaps (双人在岗缺口), dated by their own found_at:
      sijing at verbal due, chasing D                -> counted
      sijing at T0 + 5 min, chasing G                -> counted (G is of an earlier period; the gap is not)
      sijing two days on, chasing A                  -> left out (found after the period)
      sijing at verbal due, chasing E (exercise)     -> left out
      sijing at T0 + 2 min, chasing F before its mark -> counted (a roster fact; the mark erases nothing before it)
      sijing at verbal due, chasing B, dismissed     -> left out
      the duty room at verbal due, no obligation     -> counted for the duty room

    sijing: obligations 4, verbal_on_time 1, written_on_time 1, rates 0.25 / 0.25;
    verbal delays {0, 60, 2100} -> median 60, p90 = 60 + 0.8 * (2100 - 60) = 1692;
    written delays {0, 120, 300} -> median 120, p90 = 120 + 0.8 * (300 - 120) = 264;
    late: B, C -> 2 obligations; missed: D -> 1; roster gaps: 3.
    """
    a = open_incident(units, sijing_officer).obligations.get()
    file(a, "verbal", T0 + timedelta(minutes=10))
    file(a, "written", T0 + timedelta(minutes=50))
    b = open_incident(units, sijing_officer).obligations.get()
    file(b, "verbal", VERBAL_DUE + timedelta(seconds=60))
    file(b, "written", WRITTEN_DUE + timedelta(seconds=120))
    c = open_incident(units, sijing_officer).obligations.get()
    file(c, "written", WRITTEN_DUE + timedelta(seconds=300))
    d = open_incident(units, sijing_officer).obligations.get()
    e = open_incident(units, duty_room, exercise=True).obligations.get()
    file(e, "written", WRITTEN_DUE + timedelta(hours=3))
    f = open_incident(units, sijing_officer).obligations.get()
    with freeze_time(T0 + timedelta(minutes=5)):
        obligation_services.obligation_mark_not_required(
            obligation=f, reason="误加单位", actor=duty_room, now=T0 + timedelta(minutes=5)
        )
    g = open_incident(units, sijing_officer, known=T0 - timedelta(hours=2), at=T0).obligations.get()
    file(g, "written", T0 + timedelta(minutes=5))
    h = open_incident(units, outsider, unit="chedun").obligations.get()
    file(h, "verbal", T0 + timedelta(minutes=1))
    file(h, "written", T0 + timedelta(minutes=2))
    recompute(WRITTEN_DUE + 2 * DAY)

    def gap(obligation, at, unit="sijing", **extra):
        return finding_roster_gap_record(
            unit=units[unit], at=at, obligation=obligation, detail={"step": "verbal_overdue"}, **extra
        )

    gap(d, VERBAL_DUE)
    gap(g, T0 + timedelta(minutes=5))
    gap(a, T0 + 2 * DAY)
    gap(e, VERBAL_DUE)
    gap(f, T0 + timedelta(minutes=2))
    dismissed = gap(b, VERBAL_DUE)
    finding_review(finding=dismissed, decision="dismissed", reason="排班系统故障", actor=auditor, now=T0 + DAY)
    gap(None, VERBAL_DUE, unit="duty-room", incident=b.incident)


def rows_by_unit(rows):
    return {r["unit"]: r for r in rows}


def test_figures_match_the_hand_computed_ones(data_set, django_assert_num_queries):
    with django_assert_num_queries(1):
        rows = rows_by_unit(stats.timeliness_rows(**PERIOD))
    assert rows["sijing"] == {
        "unit": "sijing",
        "obligations": 4,
        "verbal_on_time": 1,
        "written_on_time": 1,
        "verbal_on_time_rate": 0.25,
        "written_on_time_rate": 0.25,
        "median_verbal_delay_seconds": 60,
        "p90_written_delay_seconds": 264,
        "late": 2,
        "missed": 1,
        "held_back": 0,
        "concealed": 0,
        "median_written_delay_seconds": 120,
        "p90_verbal_delay_seconds": 1692,
        "roster_gaps": 3,
    }
    assert rows["chedun"] == {
        "unit": "chedun",
        "obligations": 1,
        "verbal_on_time": 1,
        "written_on_time": 1,
        "verbal_on_time_rate": 1.0,
        "written_on_time_rate": 1.0,
        "median_verbal_delay_seconds": 0,
        "p90_written_delay_seconds": 0,
        "late": 0,
        "missed": 0,
        "held_back": 0,
        "concealed": 0,
        "median_written_delay_seconds": 0,
        "p90_verbal_delay_seconds": 0,
        "roster_gaps": 0,
    }
    assert rows["duty-room"]["roster_gaps"] == 1 and rows["duty-room"]["obligations"] == 0
    # Every active unit has a row; one with nothing in the period has zeros and null rates.
    assert rows["police"]["obligations"] == 0 and rows["police"]["verbal_on_time_rate"] is None
    assert rows["police"]["median_verbal_delay_seconds"] is None
    assert rows["police"]["median_written_delay_seconds"] is None and rows["police"]["p90_verbal_delay_seconds"] is None
    assert list(rows) == sorted(rows)
    assert all(tuple(r) == stats.FIELDS for r in rows.values())


@pytest.mark.parametrize(
    ("period", "unit"),
    [
        (PERIOD, None),
        (PERIOD, "sijing"),
        (PERIOD, "duty-room"),
        ({"since": None, "until": None}, None),
        ({"since": T0 + timedelta(minutes=1), "until": None}, None),  # G's gap is in, D's gap out
        ({"since": None, "until": T0 + timedelta(minutes=30)}, None),  # at VERBAL_DUE: out (until is exclusive)
        ({"since": T0 + DAY, "until": T0 + 3 * DAY}, "sijing"),  # no obligation, only the gap found two days on
    ],
)
def test_the_embedded_python_fallback_gives_the_same_figures(data_set, units, period, unit):
    unit = units[unit] if unit else None
    assert stats._rows_python(unit=unit, **period) == stats._rows_sql(unit=unit, **period)


def test_roster_gaps_are_dated_by_their_own_moment(data_set, units):
    def gaps(**period):
        return rows_by_unit(stats.timeliness_rows(**period))["sijing"]["roster_gaps"]

    # Every live gap of sijing: D's, F's, G's (chasing an obligation of an earlier period) and the one two days on.
    assert gaps() == 4
    # G was first known at T0 - 2 h: its late filing counts in that hour, its gap (found at T0 + 5 min) does not.
    g_hour = rows_by_unit(stats.timeliness_rows(since=T0 - timedelta(hours=2), until=T0 - timedelta(hours=1)))
    assert (g_hour["sijing"]["obligations"], g_hour["sijing"]["late"], g_hour["sijing"]["roster_gaps"]) == (1, 1, 0)
    assert gaps(since=T0, until=T0 + timedelta(minutes=10)) == 2  # F's and G's
    assert gaps(since=T0 + 2 * DAY, until=T0 + 2 * DAY + timedelta(seconds=1)) == 1
    # The same gaps the findings list shows for that unit, kind and period, less the dismissed one.
    listed = stats.findings_visible().filter(
        kind="roster_gap", unit=units["sijing"], found_at__gte=PERIOD["since"], found_at__lt=PERIOD["until"]
    )
    assert gaps(**PERIOD) == listed.exclude(review="dismissed").count() == listed.count() - 1
    assert Finding.objects.filter(kind="roster_gap").count() == 7


def test_unit_filter_and_open_period(data_set, units):
    rows = stats.timeliness_rows(unit=units["sijing"])
    assert [r["unit"] for r in rows] == ["sijing"]
    # With no bounds, G (first known before the period, written late) counts too: 5 obligations, 3 late.
    assert (rows[0]["obligations"], rows[0]["late"], rows[0]["written_on_time"]) == (5, 3, 1)


def test_a_late_filing_after_missed_counts_once_as_late(units, sijing_officer):
    obligation = open_incident(units, sijing_officer).obligations.get()
    recompute(WRITTEN_DUE + DAY + timedelta(seconds=1))
    assert (stats.timeliness_rows(unit=units["sijing"])[0]["missed"]) == 1
    file(obligation, "written", WRITTEN_DUE + DAY + timedelta(hours=1))
    recompute(WRITTEN_DUE + 2 * DAY)
    row = stats.timeliness_rows(unit=units["sijing"])[0]
    assert (row["obligations"], row["late"], row["missed"]) == (1, 1, 0)
    assert row["p90_written_delay_seconds"] == 24 * 3600 + 3600


def test_dismissed_findings_are_not_counted(data_set, units, auditor):
    missed = Finding.objects.get(kind="missed")
    finding_review(finding=missed, decision="dismissed", reason="系统故障, 已线下报送", actor=auditor, now=T0 + DAY)
    assert rows_by_unit(stats.timeliness_rows(**PERIOD))["sijing"]["missed"] == 0


@pytest.mark.parametrize(
    ("values", "fraction", "expected"),
    [([], 0.5, None), ([7], 0.9, 7), ([0, 60, 2100], 0.5, 60), ([0, 120, 300], 0.9, 264), ([1, 2, 3, 4], 0.5, 2.5)],
)
def test_percentile_cont_matches_postgresql(values, fraction, expected):
    assert stats.percentile_cont(values, fraction) == expected


# --- the duty room's relay (SPEC rule 13): one clock -------------------------------------------------------------


@pytest.mark.parametrize(("relayed_after", "on_time"), [(timedelta(minutes=10), True), (timedelta(minutes=20), False)])
def test_a_relay_done_by_phone_counts_as_done_on_both_clocks(units, sijing_officer, duty_room, relayed_after, on_time):
    with freeze_time(T0):
        incident = services.incident_create(
            actor=sijing_officer,
            now=T0,
            title="泗泾镇某厂房爆炸",
            domain="production_safety",
            occurred_at=T0 - timedelta(minutes=20),
            location="泗泾镇某路1号",
            summary="",
            deaths=10,  # grade II: the duty room relays to 区委办 and 区府办 within 15 minutes
            units=[{"unit": units["sijing"], "first_known_at": T0, "channel": "self"}],
        )
    relay = incident.obligations.get(kind="relay")
    file(relay, "verbal", T0 + relayed_after, duty_room)
    recompute(T0 + 3 * DAY)
    assert sorted(Finding.objects.filter(obligation=relay).values_list("key", flat=True)) == (
        [] if on_time else [f"late:o{relay.pk}:verbal"]
    )
    row = stats.timeliness_rows(unit=units["duty-room"])[0]
    figures = ("obligations", "verbal_on_time", "written_on_time", "late", "missed")
    expected = (1, int(on_time), int(on_time), int(not on_time), 0)
    assert tuple(row[f] for f in figures) == expected
    delay = 0 if on_time else 5 * 60
    assert (row["median_verbal_delay_seconds"], row["p90_written_delay_seconds"]) == (delay, delay)
    assert stats._rows_python(unit=units["duty-room"], since=None, until=None) == [row]
