"""The reporting clock as pure functions (reporting/deadlines.py): table-driven, fixed aware times, exact values."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from reporting import deadlines
from reporting.deadlines import LATE, NOT_REQUIRED, ON_TIME, PENDING, ClockState, TimeError

SH = ZoneInfo("Asia/Shanghai")
#: 2026-11-28 09:00 Asia/Shanghai.
NOW = datetime(2026, 11, 28, 1, 0, tzinfo=UTC)
#: First known 09:00 Shanghai: verbal due 09:30, written due 10:00.
KNOWN = datetime(2026, 11, 28, 9, 0, tzinfo=SH)
VERBAL_DUE = datetime(2026, 11, 28, 9, 30, tzinfo=SH)
WRITTEN_DUE = datetime(2026, 11, 28, 10, 0, tzinfo=SH)


def clock(**over) -> ClockState:
    return ClockState(verbal_due_at=VERBAL_DUE, written_due_at=WRITTEN_DUE, **over)


# --- due times -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first_known_at", "verbal", "written", "verbal_due", "written_due"),
    [
        (KNOWN, 30, 60, VERBAL_DUE, WRITTEN_DUE),
        # Across midnight Asia/Shanghai: 23:45 -> verbal 00:15 and written 00:45 on the next day.
        (
            datetime(2026, 11, 28, 23, 45, tzinfo=SH),
            30,
            60,
            datetime(2026, 11, 29, 0, 15, tzinfo=SH),
            datetime(2026, 11, 29, 0, 45, tzinfo=SH),
        ),
        # Across the end of the year in Shanghai (which is still 2026 in UTC).
        (
            datetime(2026, 12, 31, 23, 59, 30, tzinfo=SH),
            30,
            60,
            datetime(2027, 1, 1, 0, 29, 30, tzinfo=SH),
            datetime(2027, 1, 1, 0, 59, 30, tzinfo=SH),
        ),
        # A per-grade policy (e.g. 15/30 for grade I) is just other minutes.
        (KNOWN, 15, 30, datetime(2026, 11, 28, 9, 15, tzinfo=SH), VERBAL_DUE),
        # A time given in UTC is the same instant.
        (datetime(2026, 11, 28, 1, 0, tzinfo=UTC), 30, 60, VERBAL_DUE, WRITTEN_DUE),
    ],
)
def test_due_times(first_known_at, verbal, written, verbal_due, written_due):
    due = deadlines.due_times(first_known_at, verbal_minutes=verbal, written_minutes=written)
    assert due.verbal_due_at == verbal_due
    assert due.written_due_at == written_due


def test_due_times_across_midnight_shows_next_day_in_shanghai():
    due = deadlines.due_times(datetime(2026, 11, 28, 23, 45, tzinfo=SH), verbal_minutes=30, written_minutes=60)
    assert due.verbal_due_at.astimezone(SH).strftime("%Y-%m-%d %H:%M") == "2026-11-29 00:15"
    assert due.written_due_at.astimezone(SH).strftime("%Y-%m-%d %H:%M") == "2026-11-29 00:45"


def test_due_times_refuse_a_naive_time():
    with pytest.raises(TimeError) as exc:
        deadlines.due_times(datetime(2026, 11, 28, 9, 0), verbal_minutes=30, written_minutes=60)
    assert exc.value.field == "first_known_at"


# --- lateness (inclusive deadline) -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("counted_at", "on_time", "delay_seconds"),
    [
        (VERBAL_DUE - timedelta(seconds=1), True, 0),
        (VERBAL_DUE, True, 0),  # exactly at the due time is on time
        (VERBAL_DUE + timedelta(microseconds=1), False, 1),  # any lateness is at least one second
        (VERBAL_DUE + timedelta(seconds=1), False, 1),
        (VERBAL_DUE + timedelta(seconds=1, microseconds=1), False, 2),
        (VERBAL_DUE + timedelta(minutes=30), False, 1800),
    ],
)
def test_lateness_is_inclusive(counted_at, on_time, delay_seconds):
    assert deadlines.lateness(counted_at, VERBAL_DUE) == deadlines.Lateness(on_time, delay_seconds)


@pytest.mark.parametrize(
    ("elapsed", "on_time", "delay_seconds"),
    [
        (timedelta(minutes=30), True, 0),  # 30:00 after first known
        (timedelta(minutes=30, seconds=1), False, 1),  # 30:01
        (timedelta(minutes=60), True, 0),
        (timedelta(minutes=60, seconds=1), False, 1),
    ],
)
def test_thirty_minutes_and_one_second(elapsed, on_time, delay_seconds):
    due = deadlines.due_times(KNOWN, verbal_minutes=30, written_minutes=60)
    target = due.verbal_due_at if elapsed <= timedelta(minutes=30, seconds=1) else due.written_due_at
    judged = deadlines.lateness(KNOWN + elapsed, target)
    assert (judged.on_time, judged.delay_seconds) == (on_time, delay_seconds)


# --- filing: written discharges pending verbal, lateness frozen ------------------------------------------------


@pytest.mark.parametrize(
    ("before", "kind", "counted_at", "verbal_state", "written_state"),
    [
        (clock(), "verbal", VERBAL_DUE, ON_TIME, PENDING),
        (clock(), "verbal", VERBAL_DUE + timedelta(seconds=1), LATE, PENDING),
        # A written report discharges a still-pending verbal obligation, judged against the verbal due time.
        (clock(), "written", VERBAL_DUE, ON_TIME, ON_TIME),
        (clock(), "written", VERBAL_DUE + timedelta(seconds=1), LATE, ON_TIME),
        (clock(), "written", WRITTEN_DUE + timedelta(seconds=1), LATE, LATE),
        # A verbal already decided is never re-judged by the written report.
        (clock(verbal_state=LATE, verbal_filed_at=VERBAL_DUE + timedelta(minutes=1)), "written", KNOWN, LATE, ON_TIME),
        (clock(verbal_state=NOT_REQUIRED, written_state=NOT_REQUIRED), "written", KNOWN, NOT_REQUIRED, NOT_REQUIRED),
        # Follow-up and final reports change no clock.
        (clock(), "follow_up", KNOWN, PENDING, PENDING),
        (clock(), "final", KNOWN, PENDING, PENDING),
    ],
)
def test_apply_filing(before, kind, counted_at, verbal_state, written_state):
    after = deadlines.apply_filing(before, kind=kind, counted_at=counted_at)
    assert (after.verbal_state, after.written_state) == (verbal_state, written_state)
    assert (after.verbal_due_at, after.written_due_at) == (VERBAL_DUE, WRITTEN_DUE)


def test_written_filing_records_its_time_on_both_clocks():
    after = deadlines.apply_filing(clock(), kind="written", counted_at=VERBAL_DUE - timedelta(minutes=5))
    assert after.verbal_filed_at == VERBAL_DUE - timedelta(minutes=5)
    assert after.written_filed_at == VERBAL_DUE - timedelta(minutes=5)


# --- the duty room's relay: one clock (SPEC rule 13) ------------------------------------------------------------

#: A relay's one 15-minute clock, kept as both clocks with the same due time.
RELAY_DUE = datetime(2026, 11, 28, 9, 15, tzinfo=SH)


def relay(**over) -> ClockState:
    return ClockState(verbal_due_at=RELAY_DUE, written_due_at=RELAY_DUE, one_clock=True, **over)


@pytest.mark.parametrize(
    ("kind", "counted_at", "state"),
    [
        ("verbal", RELAY_DUE, ON_TIME),  # relayed by phone at exactly the due time: on time, and done
        ("verbal", RELAY_DUE + timedelta(seconds=1), LATE),
        ("written", RELAY_DUE, ON_TIME),
        ("written", RELAY_DUE + timedelta(minutes=1), LATE),
    ],
)
def test_any_report_discharges_both_clocks_of_a_relay(kind, counted_at, state):
    after = deadlines.apply_filing(relay(), kind=kind, counted_at=counted_at)
    assert (after.verbal_state, after.written_state) == (state, state)
    assert after.verbal_filed_at == after.written_filed_at == counted_at
    assert deadlines.next_deadline(after) is None
    assert deadlines.passed_deadlines(after, now=RELAY_DUE + timedelta(days=2)) == []


@pytest.mark.parametrize("kind", ["verbal", "written", "follow_up", "final"])
def test_a_relay_already_done_is_never_decided_again(kind):
    done = relay(verbal_state=ON_TIME, written_state=ON_TIME, verbal_filed_at=KNOWN, written_filed_at=KNOWN)
    assert deadlines.apply_filing(done, kind=kind, counted_at=RELAY_DUE + timedelta(hours=1)) == done


@pytest.mark.parametrize("kind", ["follow_up", "final"])
def test_follow_up_and_final_reports_do_not_discharge_a_relay(kind):
    assert deadlines.apply_filing(relay(), kind=kind, counted_at=KNOWN) == relay()


def test_a_verbal_report_still_leaves_the_written_clock_of_a_report_obligation_pending():
    after = deadlines.apply_filing(clock(), kind="verbal", counted_at=KNOWN)
    assert (after.verbal_state, after.written_state) == (ON_TIME, PENDING)


@pytest.mark.parametrize(
    ("now", "passed"),
    [
        (RELAY_DUE, []),
        # One deadline passes once, named as its chasing names it; not a second "written" one.
        (RELAY_DUE + timedelta(seconds=1), [("verbal", RELAY_DUE)]),
        (RELAY_DUE + timedelta(days=1), [("verbal", RELAY_DUE)]),
    ],
)
def test_a_relay_deadline_passes_once(now, passed):
    assert deadlines.passed_deadlines(relay(), now=now) == passed
    assert deadlines.is_overdue(relay(), now=now) is bool(passed)


@pytest.mark.parametrize(
    ("first_report_at", "major_at", "anchor"),
    [
        # Opened at grade II with no report yet: from the moment it is major.
        (None, KNOWN, KNOWN),
        # A report of a then minor incident, grade II 40 minutes later: from the rise, not from the report.
        (KNOWN, KNOWN + timedelta(minutes=40), KNOWN + timedelta(minutes=40)),
        # Never earlier than the first report received (a caller's ``now`` before it).
        (KNOWN + timedelta(minutes=5), KNOWN, KNOWN + timedelta(minutes=5)),
        (KNOWN, KNOWN, KNOWN),
    ],
)
def test_relay_anchor_is_the_later_of_first_report_and_grade_rise(first_report_at, major_at, anchor):
    assert deadlines.relay_anchor(first_report_at=first_report_at, major_at=major_at) == anchor


def test_relay_anchor_refuses_a_naive_time():
    with pytest.raises(TimeError):
        deadlines.relay_anchor(first_report_at=None, major_at=datetime(2026, 11, 28, 9, 0))  # noqa: DTZ001


@pytest.mark.parametrize(
    ("state", "now", "passed"),
    [
        (clock(), VERBAL_DUE, []),  # at exactly the due time a deadline has not passed
        (clock(), VERBAL_DUE + timedelta(seconds=1), [("verbal", VERBAL_DUE)]),
        (clock(), WRITTEN_DUE + timedelta(seconds=1), [("verbal", VERBAL_DUE), ("written", WRITTEN_DUE)]),
        (clock(verbal_state=ON_TIME), WRITTEN_DUE + timedelta(seconds=1), [("written", WRITTEN_DUE)]),
        (clock(verbal_state=NOT_REQUIRED, written_state=NOT_REQUIRED), WRITTEN_DUE + timedelta(hours=1), []),
    ],
)
def test_passed_deadlines(state, now, passed):
    assert deadlines.passed_deadlines(state, now=now) == passed
    assert deadlines.is_overdue(state, now=now) is bool(passed)


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (clock(), VERBAL_DUE),
        (clock(verbal_state=LATE), WRITTEN_DUE),
        (clock(verbal_state=ON_TIME, written_state=LATE), None),
        (clock(verbal_state=NOT_REQUIRED, written_state=NOT_REQUIRED), None),
    ],
)
def test_next_deadline(state, expected):
    assert deadlines.next_deadline(state) == expected


# --- first-known evidence ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("declared", "evidence", "expected"),
    [
        (KNOWN, [], KNOWN),
        (KNOWN, [KNOWN + timedelta(minutes=3)], KNOWN),
        # A signal delivered earlier than the declared time: the clock runs from the delivery.
        (KNOWN, [KNOWN - timedelta(minutes=12), KNOWN - timedelta(minutes=2)], KNOWN - timedelta(minutes=12)),
        (None, [KNOWN + timedelta(minutes=1), KNOWN], KNOWN),
        (KNOWN, [None], KNOWN),
    ],
)
def test_earliest_evidence(declared, evidence, expected):
    assert deadlines.earliest_evidence(declared, evidence) == expected


def test_earliest_evidence_needs_something():
    with pytest.raises(TimeError) as exc:
        deadlines.earliest_evidence(None, [])
    assert exc.value.field == "first_known_at"


@pytest.mark.parametrize(
    ("declared", "evidence", "expected"),
    [
        (KNOWN, KNOWN, None),
        (KNOWN + timedelta(minutes=5), KNOWN, None),  # exactly 5 minutes is tolerated
        (KNOWN + timedelta(minutes=5, seconds=1), KNOWN, timedelta(minutes=5, seconds=1)),
        (KNOWN - timedelta(minutes=30), KNOWN, None),
        (None, KNOWN, None),
        (KNOWN, None, None),
    ],
)
def test_declared_later_than_evidence(declared, evidence, expected):
    assert deadlines.declared_later_than_evidence(declared, evidence) == expected


# --- times users give (SPEC rule 6) ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("occurred_at", "first_known", "field"),
    [
        (datetime(2026, 11, 28, 8, 0), [NOW], "occurred_at"),  # naive
        (NOW - timedelta(hours=1), [datetime(2026, 11, 28, 8, 30)], "first_known_at"),  # naive
        (NOW + timedelta(minutes=2, seconds=1), [NOW], "occurred_at"),  # future beyond the skew
        (NOW - timedelta(hours=1), [NOW + timedelta(minutes=2, seconds=1)], "first_known_at"),
        (NOW - timedelta(hours=1), [NOW - timedelta(hours=1, seconds=1)], "first_known_at"),  # before occurrence
        (None, [NOW], "occurred_at"),
        (NOW - timedelta(hours=1), [None], "first_known_at"),
        ("2026-11-28T09:00:00+08:00", [NOW], "occurred_at"),  # not a datetime
    ],
)
def test_check_incident_times_refuses(occurred_at, first_known, field):
    with pytest.raises(TimeError) as exc:
        deadlines.check_incident_times(occurred_at=occurred_at, first_known_at=first_known, now=NOW)
    assert exc.value.field == field
    assert field in str(exc.value)


@pytest.mark.parametrize(
    ("occurred_at", "first_known"),
    [
        (NOW - timedelta(hours=1), [NOW - timedelta(hours=1)]),  # known at the moment it occurred
        (NOW + timedelta(minutes=2), [NOW + timedelta(minutes=2)]),  # within the 2-minute skew
        (NOW.astimezone(SH) - timedelta(minutes=10), [NOW]),
    ],
)
def test_check_incident_times_accepts(occurred_at, first_known):
    assert deadlines.check_incident_times(occurred_at=occurred_at, first_known_at=first_known, now=NOW) is None


def test_naive_time_message_asks_for_an_offset():
    with pytest.raises(TimeError) as exc:
        deadlines.check_past("occurred_at", datetime(2026, 11, 28, 9, 0), now=NOW)
    assert "时区" in exc.value.message


# --- call_received_at (SPEC rule 2) ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call_received_at", "expected"),
    [
        (None, NOW),
        (NOW, NOW),
        (NOW - timedelta(minutes=30), NOW - timedelta(minutes=30)),  # at most 30 minutes before: inclusive
        (NOW - timedelta(minutes=7), NOW - timedelta(minutes=7)),
    ],
)
def test_counted_time(call_received_at, expected):
    assert deadlines.counted_time(filed_at=NOW, call_received_at=call_received_at) == expected


@pytest.mark.parametrize(
    "call_received_at",
    [
        NOW - timedelta(minutes=30, seconds=1),
        NOW + timedelta(seconds=1),  # never in the future
        datetime(2026, 11, 28, 8, 50),  # naive
    ],
)
def test_counted_time_refuses(call_received_at):
    with pytest.raises(TimeError) as exc:
        deadlines.counted_time(filed_at=NOW, call_received_at=call_received_at)
    assert exc.value.field == "call_received_at"


def test_call_received_at_can_make_a_logged_verbal_report_on_time():
    """The duty room logs at 09:32 a call that came in at 09:29: it counts at 09:29, on time."""
    counted = deadlines.counted_time(
        filed_at=VERBAL_DUE + timedelta(minutes=2), call_received_at=VERBAL_DUE - timedelta(minutes=1)
    )
    assert deadlines.lateness(counted, VERBAL_DUE) == deadlines.Lateness(True, 0)


# --- a corrected first-known time moves pending clocks only (SPEC rules 4, 5) ------------------------------------


@pytest.mark.parametrize(
    ("verbal_state", "written_state", "verbal_moves", "written_moves"),
    [
        (PENDING, PENDING, True, True),
        (ON_TIME, PENDING, False, True),
        (LATE, PENDING, False, True),
        (LATE, LATE, False, False),
        (ON_TIME, ON_TIME, False, False),
        (NOT_REQUIRED, NOT_REQUIRED, False, False),
    ],
)
@pytest.mark.parametrize("shift", [timedelta(minutes=-45), timedelta(minutes=20)], ids=["earlier", "later"])
def test_corrected_due_times_move_only_pending_clocks(verbal_state, written_state, verbal_moves, written_moves, shift):
    before = clock(verbal_state=verbal_state, written_state=written_state)
    due = deadlines.corrected_due_times(before, KNOWN + shift, verbal_minutes=30, written_minutes=60)
    assert due.verbal_due_at == (VERBAL_DUE + shift if verbal_moves else VERBAL_DUE)
    assert due.written_due_at == (WRITTEN_DUE + shift if written_moves else WRITTEN_DUE)


def test_corrected_due_times_across_midnight_in_shanghai():
    before = clock()
    known = datetime(2026, 11, 28, 23, 50, tzinfo=SH)
    due = deadlines.corrected_due_times(before, known, verbal_minutes=30, written_minutes=60)
    assert due.verbal_due_at == datetime(2026, 11, 29, 0, 20, tzinfo=SH)
    assert due.written_due_at == datetime(2026, 11, 29, 0, 50, tzinfo=SH)
