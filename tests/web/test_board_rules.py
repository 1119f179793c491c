"""The board's pure rules with fixed times: countdown, overdue minutes, the alarm step, the watchdog."""

from datetime import timedelta
from types import SimpleNamespace

import pytest

from reporting.web.board import alarm_steps, board_row, heartbeat_state
from reporting.web.filing import kinds_for
from tests.conftest import NOW

KNOWN = NOW - timedelta(minutes=10)


def obligation(*, verbal_state="pending", written_state="pending", plan=None, known=KNOWN):
    """A stand-in with just what board_row reads (no database: the rules are pure)."""
    incident = SimpleNamespace(pk=7, number="SJ-2026-000007", title="火灾", exercise=False, grade="IV")
    unit = SimpleNamespace(name="泗泾镇", label="泗泾镇", code="sijing")
    return SimpleNamespace(
        pk=3,
        incident=incident,
        unit=unit,
        kind="report",
        first_known_at=known,
        verbal_due_at=known + timedelta(minutes=30),
        written_due_at=known + timedelta(minutes=60),
        verbal_state=verbal_state,
        written_state=written_state,
        escalation_plan=plan or [],
    )


@pytest.mark.parametrize(
    ("now", "overdue", "overdue_minutes", "minutes_left", "alarm"),
    [
        (NOW, False, None, 20, False),
        (KNOWN + timedelta(minutes=29, seconds=1), False, None, 1, False),
        # Inclusive deadline (SPEC rule 2): at exactly the due time nothing is overdue yet.
        (KNOWN + timedelta(minutes=30), False, None, 0, False),
        (KNOWN + timedelta(minutes=30, seconds=1), True, 0, None, False),
        # The escalate step is verbal due + 5 min; the alarm starts strictly after it.
        (KNOWN + timedelta(minutes=35), True, 5, None, False),
        (KNOWN + timedelta(minutes=35, seconds=1), True, 5, None, True),
        (KNOWN + timedelta(minutes=95), True, 65, None, True),
    ],
)
def test_board_row_countdown_overdue_and_alarm(now, overdue, overdue_minutes, minutes_left, alarm):
    row = board_row(obligation(), now=now)
    assert (row["overdue"], row["overdue_minutes"], row["minutes_left"], row["alarm"]) == (
        overdue,
        overdue_minutes,
        minutes_left,
        alarm,
    )


def test_board_row_times_are_beijing_time():
    row = board_row(obligation(), now=NOW)
    # NOW is 09:00 in Shanghai; first known 08:50, verbal due 09:20, written due 09:50.
    assert (row["first_known_at"], row["verbal_due_at"], row["written_due_at"]) == (
        "2026-11-28 08:50",
        "2026-11-28 09:20",
        "2026-11-28 09:50",
    )


def test_verbal_filed_leaves_the_written_clock():
    ob = obligation(verbal_state="on_time")
    row = board_row(ob, now=KNOWN + timedelta(minutes=40))
    assert (row["overdue"], row["minutes_left"], row["alarm"]) == (False, 20, False)
    row = board_row(ob, now=KNOWN + timedelta(minutes=65, seconds=1))
    assert (row["overdue"], row["overdue_minutes"], row["alarm"]) == (True, 5, True)


def test_alarm_follows_the_frozen_plan():
    plan = [
        {"key": "verbal_escalate", "anchor": "verbal_due", "offset_minutes": 10, "board_alarm": True},
        {"key": "verbal_overdue", "anchor": "verbal_due", "offset_minutes": 0, "board_alarm": False},
    ]
    assert alarm_steps(plan) == [("verbal_due", 10)]
    ob = obligation(plan=plan)
    assert board_row(ob, now=KNOWN + timedelta(minutes=36))["alarm"] is False
    assert board_row(ob, now=KNOWN + timedelta(minutes=40, seconds=1))["alarm"] is True


def test_alarm_defaults_to_the_spec_ladder_without_a_plan():
    assert alarm_steps([]) == [("verbal_due", 5), ("written_due", 5)]
    assert alarm_steps([{"anchor": "verbal_due", "offset_minutes": "x", "board_alarm": True}]) == [
        ("verbal_due", 5),
        ("written_due", 5),
    ]


@pytest.mark.parametrize(
    ("age", "stale"),
    [(None, True), (0, False), (120, False), (120.5, True), (600, True)],
)
def test_heartbeat_is_stale_after_two_minutes(age, stale):
    beat = None if age is None else NOW - timedelta(seconds=age)
    assert heartbeat_state(beat, now=NOW).stale is stale


@pytest.mark.parametrize(
    ("verbal", "written", "kinds"),
    [
        ("pending", "pending", ["written", "verbal"]),
        ("on_time", "pending", ["written", "follow_up", "final"]),
        ("late", "on_time", ["follow_up", "final"]),
        ("not_required", "not_required", ["follow_up", "final"]),
    ],
)
def test_report_kinds_offered(verbal, written, kinds):
    assert kinds_for(obligation(verbal_state=verbal, written_state=written)) == kinds
