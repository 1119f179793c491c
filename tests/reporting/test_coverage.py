"""双人在岗 ahead of time: the stretches of a period with fewer than two people on post (reporting.coverage)."""

from datetime import UTC, datetime, timedelta

import pytest

from reporting.coverage import Gap, active_spans, coverage_gaps

#: 2026-11-28 08:00 Asia/Shanghai: a day's duty usually changes over here.
T0 = datetime(2026, 11, 28, 0, 0, tzinfo=UTC)
H = timedelta(hours=1)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


@pytest.mark.parametrize(
    ("shifts", "expected"),
    [
        pytest.param([], [(0, 24, 0)], id="no-roster-at-all"),
        pytest.param([(0, 24, "a"), (0, 24, "b")], [], id="two-all-day"),
        pytest.param([(0, 24, "a")], [(0, 24, 1)], id="one-all-day"),
        pytest.param([(0, 24, "a"), (0, 24, "a")], [(0, 24, 1)], id="one-person-two-roles-is-one-on-post"),
        pytest.param([(0, 12, "a"), (12, 24, "a"), (0, 24, "b")], [], id="handover-at-noon-leaves-no-gap"),
        pytest.param([(0, 12, "a"), (13, 24, "a"), (0, 24, "b")], [(12, 13, 1)], id="an-hour-missing"),
        pytest.param([(2, 20, "a"), (4, 24, "b")], [(0, 2, 0), (2, 4, 1), (20, 24, 1)], id="count-changes-split"),
        pytest.param([(-6, 30, "a"), (-1, 25, "b")], [], id="shifts-beyond-the-period-are-clipped"),
        pytest.param([(30, 40, "a"), (-10, -1, "b")], [(0, 24, 0)], id="shifts-outside-the-period-ignored"),
        pytest.param([(0, 24, "a"), (6, 6, "b")], [(0, 24, 1)], id="an-empty-shift-covers-nothing"),
    ],
)
def test_gaps_over_a_day(shifts, expected):
    gaps = coverage_gaps([(at(s), at(e), who) for s, e, who in shifts], start=at(0), end=at(24))
    assert [(g.starts_at, g.ends_at, g.on_post) for g in gaps] == [(at(s), at(e), n) for s, e, n in expected]


def test_a_shift_ending_exactly_when_the_next_starts_counts_once_at_the_boundary():
    # starts_at <= t < ends_at: at 12:00 "a" has left and "c" has arrived, so never three and never one.
    shifts = [(at(0), at(12), "a"), (at(12), at(24), "c"), (at(0), at(24), "b")]
    assert coverage_gaps(shifts, start=at(0), end=at(24)) == []


def test_one_minute_short_is_a_one_minute_gap():
    shifts = [(at(0), at(12) - timedelta(minutes=1), "a"), (at(12), at(24), "a"), (at(0), at(24), "b")]
    (gap,) = coverage_gaps(shifts, start=at(0), end=at(24))
    assert gap == Gap(at(12) - timedelta(minutes=1), at(12), 1) and gap.seconds == 60


def test_across_midnight_in_shanghai():
    # 20:00 to 08:00 local is 12:00 to 24:00 UTC; a second officer only until 23:59 local leaves 23:59-08:00.
    night_start, night_end = at(12), at(24)
    shifts = [(night_start, night_end, "a"), (night_start, at(16) - timedelta(minutes=1), "b")]
    gaps = coverage_gaps(shifts, start=night_start, end=night_end)
    assert gaps == [Gap(at(16) - timedelta(minutes=1), night_end, 1)]


def test_a_larger_minimum_is_honoured():
    shifts = [(at(0), at(24), "a"), (at(0), at(24), "b")]
    assert coverage_gaps(shifts, start=at(0), end=at(24), minimum=3) == [Gap(at(0), at(24), 2)]


def test_an_empty_period_has_no_gaps():
    assert coverage_gaps([], start=at(5), end=at(5)) == []
    assert coverage_gaps([], start=at(6), end=at(5)) == []


@pytest.mark.parametrize(
    ("active", "deactivated", "reactivated", "expected"),
    [
        pytest.param(True, None, None, [(0, 24)], id="always-active"),
        pytest.param(False, None, None, [], id="inactive-since-unknown-never-counts"),
        pytest.param(False, 6, None, [(0, 6)], id="counted-until-made-inactive"),
        pytest.param(False, -1, None, [], id="made-inactive-before-the-shift"),
        pytest.param(False, 30, None, [(0, 24)], id="made-inactive-after-the-shift"),
        pytest.param(True, 6, 10, [(0, 6), (10, 24)], id="inactive-for-a-while"),
        pytest.param(False, 12, 4, [(0, 12)], id="made-inactive-again-counted-until-the-last-time"),
    ],
)
def test_a_shift_counts_while_its_person_was_active(active, deactivated, reactivated, expected):
    got = active_spans(
        at(0),
        at(24),
        active=active,
        deactivated_at=None if deactivated is None else at(deactivated),
        reactivated_at=None if reactivated is None else at(reactivated),
    )
    assert got == [(at(s), at(e)) for s, e in expected]
