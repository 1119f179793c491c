"""The auditors' 更正与无需报送 reads (reporting.audit_selectors): not-required marks (SPEC rule 11) and first-known
corrections (rule 4), per period and unit, exercises left out, in a constant number of queries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from freezegun import freeze_time

from reporting import audit_selectors, obligation_services
from tests.reporting.test_findings import T0, VERBAL_DUE, open_incident

#: The period of the figures in these tests: the obligations first known in [T0 - 1 h, T0 + 1 day).
PERIOD = {"since": T0 - timedelta(hours=1), "until": T0 + timedelta(days=1)}


def mark(obligation, at, actor, reason="误加单位"):
    with freeze_time(at):
        return obligation_services.obligation_mark_not_required(
            obligation=obligation, reason=reason, actor=actor, now=at
        )


def correct(obligation, to, at, actor, reason="核实后更正"):
    with freeze_time(at):
        return obligation_services.obligation_correct_first_known(
            obligation=obligation, first_known_at=to, actor=actor, now=at, reason=reason
        )


@pytest.fixture
def marks(units, sijing_officer, outsider, duty_room):
    """Obligations marked not required, first known at T0 unless said:

    early:    泗泾镇, marked 5 min after first known (before the verbal deadline)
    at_due:   泗泾镇, marked at the verbal due time itself (inclusive: not late)
    late:     车墩镇, marked 45 min after first known (verbal deadline passed)
    exercise: 泗泾镇, an exercise                          -> never listed
    earlier:  泗泾镇, first known two days before          -> in another period
    """
    rows = {
        "early": open_incident(units, sijing_officer).obligations.get(),
        "at_due": open_incident(units, sijing_officer).obligations.get(),
        "late": open_incident(units, outsider, unit="chedun").obligations.get(),
        "exercise": open_incident(units, duty_room, exercise=True).obligations.get(),
        "earlier": open_incident(units, sijing_officer, known=T0 - timedelta(days=2), at=T0).obligations.get(),
    }
    mark(rows["early"], T0 + timedelta(minutes=5), duty_room, reason="误加单位, 事发地不在本镇")
    mark(rows["at_due"], VERBAL_DUE, duty_room)
    mark(rows["late"], T0 + timedelta(minutes=45), duty_room, reason="已由区应急局统一报送")
    mark(rows["exercise"], T0 + timedelta(minutes=5), duty_room)
    mark(rows["earlier"], T0 + timedelta(minutes=5), duty_room)
    return rows


def test_marks_of_the_period_newest_first_with_who_why_and_the_late_flag(marks, duty_room):
    listed = list(audit_selectors.not_required_marks(**PERIOD))
    assert [o.pk for o in listed] == [marks["late"].pk, marks["at_due"].pk, marks["early"].pk]
    late, at_due, early = listed
    assert (late.unit.code, late.not_required_by, late.not_required_reason) == (
        "chedun",
        duty_room,
        "已由区应急局统一报送",
    )
    assert late.not_required_at == T0 + timedelta(minutes=45)
    # 标记时已超时: after the verbal deadline; at the deadline itself is still in time (SPEC rule 2, inclusive).
    assert (late.marked_after_verbal_due, at_due.marked_after_verbal_due, early.marked_after_verbal_due) == (
        True,
        False,
        False,
    )


def test_marks_by_unit_and_period(marks, units):
    assert [o.pk for o in audit_selectors.not_required_marks(unit=units["chedun"], **PERIOD)] == [marks["late"].pk]
    # The obligation first known two days before is listed in its own period, and with no bounds.
    earlier = {"since": T0 - timedelta(days=3), "until": T0 - timedelta(days=1)}
    assert [o.pk for o in audit_selectors.not_required_marks(**earlier)] == [marks["earlier"].pk]
    everything = {o.pk for o in audit_selectors.not_required_marks()}
    assert everything == {marks[k].pk for k in ("early", "at_due", "late", "earlier")}  # never the exercise


def test_marks_take_one_query_however_many(units, sijing_officer, duty_room, django_assert_num_queries):
    for _ in range(4):
        mark(open_incident(units, sijing_officer).obligations.get(), T0 + timedelta(minutes=5), duty_room)
    with django_assert_num_queries(1):
        rows = [
            (o.incident.number, o.unit.label, o.not_required_by.username)
            for o in audit_selectors.not_required_marks(**PERIOD)
        ]
    assert len(rows) == 4


@pytest.fixture
def corrections(units, sijing_officer, outsider, duty_room):
    """First-known corrections:

    later:    泗泾镇, T0 -> T0 + 15 min, made at T0 + 20 min (the clocks move later: more time for the unit)
    crossing: 车墩镇, T0 - 50 min -> T0 - 65 min, made at T0 (out of PERIOD into the hour before it)
    exercise: 泗泾镇, an exercise, T0 -> T0 + 5 min           -> never listed
    old:      泗泾镇, T0 - 2 days -> T0 - 2 days + 5 min       -> another period
    """
    rows = {
        "later": open_incident(units, sijing_officer).obligations.get(),
        "crossing": open_incident(units, outsider, unit="chedun", known=T0 - timedelta(minutes=50)).obligations.get(),
        "exercise": open_incident(units, duty_room, exercise=True).obligations.get(),
        "old": open_incident(units, sijing_officer, known=T0 - timedelta(days=2), at=T0).obligations.get(),
    }
    correct(
        rows["later"], T0 + timedelta(minutes=15), T0 + timedelta(minutes=20), duty_room, "电话记录显示九点一刻知悉"
    )
    correct(rows["crossing"], T0 - timedelta(minutes=65), T0, duty_room)
    correct(rows["exercise"], T0 + timedelta(minutes=5), T0 + timedelta(minutes=10), duty_room)
    correct(rows["old"], T0 - timedelta(days=2) + timedelta(minutes=5), T0, duty_room)
    return rows


def test_corrections_of_the_period_with_before_after_who_and_why(corrections, units):
    later, crossing = audit_selectors.first_known_corrections(**PERIOD)
    assert (later.obligation_id, later.unit, later.incident) == (
        corrections["later"].pk,
        units["sijing"],
        corrections["later"].incident,
    )
    assert (later.before, later.after, later.declared) == (T0, T0 + timedelta(minutes=15), T0 + timedelta(minutes=15))
    assert (later.actor, later.at, later.reason) == ("duty", T0 + timedelta(minutes=20), "电话记录显示九点一刻知悉")
    assert later.shift_minutes == 15
    assert crossing.obligation_id == corrections["crossing"].pk and crossing.shift_minutes == -15


def test_a_correction_shows_in_the_period_before_it_and_in_the_period_after_it(corrections, units):
    """ "Crossing" moved 车墩镇's obligation out of PERIOD's figures into the hour before: both periods list it."""
    hour_before = {"since": T0 - timedelta(hours=2), "until": T0 - timedelta(hours=1)}
    assert [c.obligation_id for c in audit_selectors.first_known_corrections(**hour_before)] == [
        corrections["crossing"].pk
    ]
    assert corrections["crossing"].pk in {c.obligation_id for c in audit_selectors.first_known_corrections(**PERIOD)}
    # A period neither time is in does not.
    after = {"since": T0 + timedelta(days=1), "until": T0 + timedelta(days=2)}
    assert audit_selectors.first_known_corrections(**after) == []


def test_corrections_by_unit_and_never_an_exercise(corrections, units):
    assert [c.obligation_id for c in audit_selectors.first_known_corrections(unit=units["chedun"], **PERIOD)] == [
        corrections["crossing"].pk
    ]
    listed = {c.obligation_id for c in audit_selectors.first_known_corrections()}
    assert listed == {corrections[k].pk for k in ("later", "crossing", "old")}
    assert audit_selectors.first_known_corrections(unit=units["police"]) == []


def test_a_correction_dates_by_its_first_known_times_not_when_it_was_made(corrections):
    # "old" was corrected at T0, inside PERIOD, but its first-known times are two days before.
    assert corrections["old"].pk not in {c.obligation_id for c in audit_selectors.first_known_corrections(**PERIOD)}
    two_days_before = {"since": T0 - timedelta(days=2), "until": T0 - timedelta(days=2) + timedelta(hours=1)}
    assert [c.obligation_id for c in audit_selectors.first_known_corrections(**two_days_before)] == [
        corrections["old"].pk
    ]


def test_corrections_take_a_constant_number_of_queries(units, sijing_officer, duty_room):
    def count(**filters):
        with CaptureQueriesContext(connection) as ctx:
            rows = [(c.unit.label, c.incident.number) for c in audit_selectors.first_known_corrections(**filters)]
        return len(rows), len(ctx.captured_queries)

    correct(open_incident(units, sijing_officer).obligations.get(), T0 + timedelta(minutes=1), T0, duty_room)
    few = count(**PERIOD), count(unit=units["sijing"], **PERIOD)
    for minutes in range(2, 7):
        obligation = open_incident(units, sijing_officer).obligations.get()
        correct(obligation, T0 + timedelta(minutes=minutes), T0 + timedelta(minutes=10), duty_room)
    many = count(**PERIOD), count(unit=units["sijing"], **PERIOD)
    assert [rows for rows, _ in few] == [1, 1] and [rows for rows, _ in many] == [6, 6]
    assert [queries for _, queries in many] == [queries for _, queries in few] == [2, 2]


def restore(obligation, at, actor, reason="单位派对了"):
    with freeze_time(at):
        return obligation_services.obligation_restore(obligation=obligation, reason=reason, actor=actor, now=at)


def test_restores_list_the_mark_undone_by_period_and_unit_never_an_exercise(marks, units, duty_room):
    """A restore clears the mark's own fields (the obligation counts again), so the mark leaves the list of marks
    and shows with its restore: who undid it, when and why, and who had marked it, when and why."""
    restore(marks["early"], T0 + timedelta(minutes=8), duty_room)
    restore(marks["late"], T0 + timedelta(minutes=50), duty_room, reason="确属本单位")
    restore(marks["exercise"], T0 + timedelta(minutes=8), duty_room)
    restore(marks["earlier"], T0 + timedelta(minutes=8), duty_room)
    assert [o.pk for o in audit_selectors.not_required_marks(**PERIOD)] == [marks["at_due"].pk]
    listed = audit_selectors.obligation_restores(**PERIOD)
    assert [r.obligation.pk for r in listed] == [marks["late"].pk, marks["early"].pk]
    late = listed[0]
    assert (late.actor, late.reason, late.at) == (duty_room.username, "确属本单位", T0 + timedelta(minutes=50))
    assert (late.marked_by, late.mark_reason, late.marked_at) == (
        duty_room.username,
        "已由区应急局统一报送",
        T0 + timedelta(minutes=45),
    )
    assert [r.obligation.pk for r in audit_selectors.obligation_restores(unit=units["chedun"], **PERIOD)] == [
        marks["late"].pk
    ]
    earlier = {"since": T0 - timedelta(days=3), "until": T0 - timedelta(days=1)}
    assert [r.obligation.pk for r in audit_selectors.obligation_restores(**earlier)] == [marks["earlier"].pk]


def test_restores_take_a_constant_number_of_queries(units, sijing_officer, duty_room):
    def count(**filters):
        with CaptureQueriesContext(connection) as ctx:
            listed = audit_selectors.obligation_restores(**filters)
            rows = [(r.obligation.unit.label, r.incident.number) for r in listed]
        return len(rows), len(ctx.captured_queries)

    def marked_and_restored():
        obligation = open_incident(units, sijing_officer).obligations.get()
        mark(obligation, T0 + timedelta(minutes=5), duty_room)
        restore(obligation, T0 + timedelta(minutes=6), duty_room)

    marked_and_restored()
    few = count(**PERIOD), count(unit=units["sijing"], **PERIOD)
    for _ in range(4):
        marked_and_restored()
    many = count(**PERIOD), count(unit=units["sijing"], **PERIOD)
    assert [rows for rows, _ in few] == [1, 1] and [rows for rows, _ in many] == [5, 5]
    assert [queries for _, queries in many] == [queries for _, queries in few] == [2, 2]
