"""The escalation ladder as pure functions: exact times, the inclusive deadline, discharge, repeats, catch-up."""

from datetime import UTC, datetime, timedelta

import pytest

from notifications import escalation as esc

#: First known 09:00 Asia/Shanghai (01:00 UTC): verbal due 09:30, written due 10:00.
T0 = datetime(2026, 11, 28, 1, 0, tzinfo=UTC)
CLOCK = esc.Clock(verbal_due_at=T0 + timedelta(minutes=30), written_due_at=T0 + timedelta(minutes=60))
PLAN = esc.DEFAULT_LADDER
S = timedelta(seconds=1)
US = timedelta(microseconds=1)


def at(minutes: float, extra: timedelta = timedelta(0)) -> datetime:
    return T0 + timedelta(minutes=minutes) + extra


def keys(moments):
    return [(m.key, m.repeat) for m in moments]


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (at(19, 59 * S), []),
        (at(20), [("verbal_reminder", 0)]),
        # Inclusive deadline: exactly at due nothing is overdue; one microsecond later it is.
        (at(30), [("verbal_reminder", 0)]),
        (at(30, US), [("verbal_overdue", 0)]),
        (at(30, S), [("verbal_overdue", 0)]),
        (at(35), [("verbal_overdue", 0)]),
        (at(35, S), [("verbal_overdue", 0), ("verbal_escalate", 0)]),
        # Caught up late (an obligation opened or restored after its due time): the step's own message, not also
        # its repeats already due; they resume at their next time.
        (at(45, S), [("verbal_overdue", 0), ("verbal_escalate", 0)]),
        (at(60, S), [("verbal_overdue", 0), ("verbal_escalate", 0), ("written_overdue", 0)]),
    ],
)
def test_due_steps_with_nothing_fired(now, expected):
    assert keys(esc.due_steps(PLAN, CLOCK, now=now)) == expected


def test_reminder_dropped_once_its_deadline_passed():
    """A reminder never sent before its deadline is pointless afterwards: the overdue step goes instead."""
    assert ("written_reminder", 0) not in keys(esc.due_steps(PLAN, CLOCK, now=at(60, S)))
    assert ("written_reminder", 0) in keys(esc.due_steps(PLAN, CLOCK, now=at(60)))
    assert keys(esc.due_steps(PLAN, CLOCK, now=at(31), fired=[("verbal_overdue", 0)])) == []


@pytest.mark.parametrize(
    ("now", "fired", "expected"),
    [
        (at(45, S), [("verbal_overdue", 0), ("verbal_escalate", 0)], [("verbal_overdue", 1)]),
        (at(45, S), [("verbal_overdue", 0), ("verbal_escalate", 0), ("verbal_overdue", 1)], []),
        # Catch-up after an outage: only the latest due repeat, never an older one.
        (at(90, S), [("verbal_overdue", 0), ("verbal_escalate", 0), ("verbal_overdue", 1)], [("verbal_overdue", 4)]),
        (at(100), [("verbal_overdue", 0), ("verbal_escalate", 0), ("verbal_overdue", 4)], []),
    ],
)
def test_repeats(now, fired, expected):
    got = [k for k in keys(esc.due_steps(PLAN, CLOCK, now=now, fired=fired)) if k[0].startswith("verbal")]
    assert got == expected


def test_at_most_four_repeats_every_15_minutes():
    moments = [m for m in esc.expand(PLAN, CLOCK) if m.key == "verbal_overdue"]
    assert [(m.repeat, m.at) for m in moments] == [(n, at(30 + 15 * n)) for n in range(5)]
    assert {m.channels for m in moments if m.repeat} == {("sms",)}
    assert moments[0].channels == ("sms", "email")


@pytest.mark.parametrize(
    ("clock", "now", "expected"),
    [
        (CLOCK, at(0), at(20)),
        (CLOCK, at(20), at(30, US)),
        (CLOCK, at(30), at(30, US)),
        (CLOCK, at(30, US), at(35, US)),
        (CLOCK, at(35, US), at(45, US)),
        (CLOCK, at(45, US), at(50)),
        (CLOCK, at(50), at(60, US)),
        (CLOCK, at(105, US), at(120, US)),
        (CLOCK, at(120, US), None),
        # Verbal filed: only the written ladder remains.
        (esc.Clock(CLOCK.verbal_due_at, CLOCK.written_due_at, "on_time", "pending"), at(25), at(50)),
        # Both discharged: nothing left, at once.
        (esc.Clock(CLOCK.verbal_due_at, CLOCK.written_due_at, "late", "on_time"), at(45), None),
        (esc.Clock(CLOCK.verbal_due_at, CLOCK.written_due_at, "not_required", "not_required"), at(0), None),
    ],
)
def test_next_action_at(clock, now, expected):
    assert esc.next_action_at(PLAN, clock, now=now) == expected


def test_discharged_deadline_stops_its_steps_at_once():
    verbal_done = esc.Clock(CLOCK.verbal_due_at, CLOCK.written_due_at, "late", "pending")
    assert keys(esc.due_steps(PLAN, verbal_done, now=at(46))) == []
    assert keys(esc.due_steps(PLAN, verbal_done, now=at(61))) == [("written_overdue", 0)]


def test_empty_plan_still_wakes_for_the_deadline():
    """With no steps the sweep must still record the breach one instant after the due time."""
    assert esc.next_action_at([], CLOCK, now=at(0)) == at(30, US)
    assert esc.due_steps([], CLOCK, now=at(31)) == []


def test_across_midnight_asia_shanghai():
    """First known 23:50 Shanghai (15:50 UTC): reminder 00:10, overdue strictly after 00:20 the next day."""
    known = datetime(2026, 11, 28, 15, 50, tzinfo=UTC)
    clock = esc.Clock(verbal_due_at=known + timedelta(minutes=30), written_due_at=known + timedelta(minutes=60))
    assert esc.next_action_at(PLAN, clock, now=known) == datetime(2026, 11, 28, 16, 10, tzinfo=UTC)
    assert keys(esc.due_steps(PLAN, clock, now=datetime(2026, 11, 28, 16, 20, tzinfo=UTC))) == [("verbal_reminder", 0)]
    overdue = esc.due_steps(
        PLAN, clock, now=datetime(2026, 11, 28, 16, 20, 1, tzinfo=UTC), fired=[("verbal_reminder", 0)]
    )
    assert [(m.key, m.at) for m in overdue] == [("verbal_overdue", datetime(2026, 11, 28, 16, 20, tzinfo=UTC))]


def test_relay_plan_keeps_one_ladder():
    assert [s["key"] for s in esc.relay_plan(PLAN)] == ["verbal_reminder", "verbal_overdue", "verbal_escalate"]


def test_preview_lists_every_moment_with_status():
    rows = esc.preview(PLAN, CLOCK, now=at(31), fired=[("verbal_reminder", 0)])
    assert len(rows) == 6 + 8
    assert rows[0] == {
        "step": "verbal_reminder",
        "repeat": 0,
        "at": at(20),
        "audience": ["duty_officer", "shift_leader"],
        "channels": ["sms"],
        "board_alarm": False,
        "status": "sent",
    }
    assert [(r["step"], r["repeat"], r["status"]) for r in rows[1:3]] == [
        ("verbal_overdue", 0, "due"),
        ("verbal_escalate", 0, "planned"),
    ]
    stopped = esc.preview(PLAN, esc.Clock(CLOCK.verbal_due_at, CLOCK.written_due_at, "on_time", "pending"), now=at(31))
    assert {r["status"] for r in stopped if r["step"].startswith("verbal")} == {"stopped"}


def test_next_action_is_now_when_created_after_a_moment():
    """An obligation known late (verbal already overdue when created) is looked at at once, not at the next step."""
    assert esc.next_action_at(PLAN, CLOCK, now=at(32), fired=()) == at(32)
    assert esc.next_action_at(PLAN, CLOCK, now=at(32), fired=[("verbal_overdue", 0)]) == at(35, US)
    assert esc.next_action_at(PLAN, CLOCK, now=at(32)) == at(35, US)
