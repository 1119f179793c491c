"""The board's pure rules with fixed times: countdown, overdue minutes, the alarm step, the watchdog."""

from datetime import timedelta
from types import SimpleNamespace

import pytest

from reporting.web.board import alarm_steps, board_order, board_row, heartbeat_state
from reporting.web.filing import kinds_for
from tests.conftest import NOW

KNOWN = NOW - timedelta(minutes=10)


def obligation(
    *, verbal_state="pending", written_state="pending", plan=None, known=KNOWN, pk=3, kind="report", exercise=False
):
    """A stand-in with just what board_row reads (no database: the rules are pure)."""
    incident = SimpleNamespace(pk=7, number="SJ-2026-000007", title="火灾", exercise=exercise, grade="IV")
    unit = SimpleNamespace(name="泗泾镇", label="泗泾镇", code="sijing")
    return SimpleNamespace(
        pk=pk,
        incident=incident,
        unit=unit,
        kind=kind,
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


def test_board_order_puts_alarms_then_the_duty_rooms_relays_first_and_real_incidents_before_exercises():
    """A major event's relay (15 minutes, the duty room's own) is not left under a page of minor overdue units, and
    a drill never pushes a real emergency down the board; otherwise alarms, overdue (longest first), next due."""
    at = KNOWN + timedelta(minutes=50)  # verbal due 20 minutes ago, written due in 10
    rows = {
        "exercise alarm": obligation(pk=1, exercise=True),
        "real alarm": obligation(pk=2),
        "relay, time left": obligation(pk=3, kind="relay", known=at - timedelta(minutes=5)),
        "overdue 3 min": obligation(pk=4, known=KNOWN + timedelta(minutes=17)),
        "exercise overdue 4 min": obligation(pk=5, known=KNOWN + timedelta(minutes=16), exercise=True),
        "overdue 1 min": obligation(pk=6, known=KNOWN + timedelta(minutes=19)),
        "due in 25 min": obligation(pk=7, known=at - timedelta(minutes=5)),
        "exercise due in 5 min": obligation(pk=8, known=at - timedelta(minutes=25), exercise=True),
        "due in 5 min": obligation(pk=9, known=at - timedelta(minutes=25)),
    }
    built = {name: board_row(o, now=at) for name, o in rows.items()}
    ordered = sorted(built, key=lambda name: board_order(built[name]))
    assert ordered == [
        "real alarm",
        "exercise alarm",
        "relay, time left",
        "overdue 3 min",
        "overdue 1 min",
        "exercise overdue 4 min",
        "due in 5 min",
        "due in 25 min",
        "exercise due in 5 min",
    ]
    # The wall screen keeps the first two tiers (alarms, relays) on screen and pages the rest under them.
    assert [name for name in ordered if built[name]["pinned"]] == ordered[:3]


def test_board_order_keeps_still_as_the_minutes_tick():
    """Two rows overdue 40 seconds apart: ordered by the whole minutes they swapped places as each minute ticked
    over (a tie went to the lower id), changing the poll's answer every few seconds at 300 rows. Longest overdue
    first, to the second, whatever the minutes read."""
    later = obligation(pk=1, known=KNOWN + timedelta(seconds=50))  # overdue since KNOWN + 30:50
    earlier = obligation(pk=2, known=KNOWN + timedelta(seconds=10))  # overdue since KNOWN + 30:10
    for at in (KNOWN + timedelta(minutes=31, seconds=20), KNOWN + timedelta(minutes=31, seconds=55)):
        rows = sorted((board_row(o, now=at) for o in (later, earlier)), key=board_order)
        assert [r["id"] for r in rows] == [2, 1], at
