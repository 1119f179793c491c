"""Timeliness figures against hand-computed values for a small fixed data set (rates, median, p90, counts)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from freezegun import freeze_time

from reporting import obligation_services, stats
from tests.reporting.test_findings import DAY, T0, VERBAL_DUE, WRITTEN_DUE, file, open_incident, recompute

PERIOD = {"since": T0 - timedelta(hours=1), "until": T0 + timedelta(days=1)}


@pytest.fixture
def data_set(units, sijing_officer, outsider, duty_room):
    """泗泾镇 (sijing), first known at T0 in the period:

    A: verbal +10 min, written +50 min              -> on time, on time; delays 0 / 0
    B: verbal due + 60 s, written due + 120 s        -> late, late;      delays 60 / 120
    C: written only, due + 300 s (discharges verbal) -> late, late;      delays 30*60+300=2100 / 300
    D: nothing filed                                 -> 漏报 after 24 h (no delay)
    E: an exercise, filed late                       -> left out
    F: marked not required                           -> left out
    G: first known before the period, filed late     -> left out of this period
    车墩镇 (chedun): H: both on time.

    sijing: obligations 4, verbal_on_time 1, written_on_time 1, rates 0.25 / 0.25;
    verbal delays {0, 60, 2100} -> median 60; written delays {0, 120, 300} -> p90 = 120 + 0.8 * (300 - 120) = 264;
    late: B, C -> 2 obligations; missed: D -> 1.
    """
    a = open_incident(units, sijing_officer).obligations.get()
    file(a, "verbal", T0 + timedelta(minutes=10))
    file(a, "written", T0 + timedelta(minutes=50))
    b = open_incident(units, sijing_officer).obligations.get()
    file(b, "verbal", VERBAL_DUE + timedelta(seconds=60))
    file(b, "written", WRITTEN_DUE + timedelta(seconds=120))
    c = open_incident(units, sijing_officer).obligations.get()
    file(c, "written", WRITTEN_DUE + timedelta(seconds=300))
    open_incident(units, sijing_officer)
    e = open_incident(units, sijing_officer, exercise=True).obligations.get()
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
    }
    # Every active unit has a row; one with nothing in the period has zeros and null rates.
    assert rows["police"]["obligations"] == 0 and rows["police"]["verbal_on_time_rate"] is None
    assert rows["police"]["median_verbal_delay_seconds"] is None
    assert list(rows) == sorted(rows)
    assert all(tuple(r) == stats.FIELDS for r in rows.values())


def test_the_embedded_python_fallback_gives_the_same_figures(data_set):
    assert stats._rows_python(unit=None, **PERIOD) == stats._rows_sql(unit=None, **PERIOD)


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
    from reporting.findings_services import finding_review
    from reporting.models import Finding

    missed = Finding.objects.get(kind="missed")
    finding_review(finding=missed, decision="dismissed", reason="系统故障, 已线下报送", actor=auditor, now=T0 + DAY)
    assert rows_by_unit(stats.timeliness_rows(**PERIOD))["sijing"]["missed"] == 0


@pytest.mark.parametrize(
    ("values", "fraction", "expected"),
    [([], 0.5, None), ([7], 0.9, 7), ([0, 60, 2100], 0.5, 60), ([0, 120, 300], 0.9, 264), ([1, 2, 3, 4], 0.5, 2.5)],
)
def test_percentile_cont_matches_postgresql(values, fraction, expected):
    assert stats.percentile_cont(values, fraction) == expected
