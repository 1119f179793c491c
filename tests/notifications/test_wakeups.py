"""Wake sweeps: which slots the look-ahead schedules (the database rounds the moments on PostgreSQL)."""

from datetime import UTC, datetime, timedelta

import pytest

from notifications import wakeups
from notifications.wakeups import slot_of, wakeup_slots
from reporting.models import Obligation
from tests.notifications.conftest import open_incident

# On a slot boundary, so the expected slots can be written down exactly.
AT = datetime(2026, 11, 28, 1, 0, 0, tzinfo=UTC)
MS = timedelta(milliseconds=1)


@pytest.fixture
def due_at(units):
    """Obligations whose next action is at each of the given moments."""

    def make(*moments: datetime) -> None:
        for moment in moments:
            obligation = open_incident(units, now=AT - timedelta(minutes=1)).obligations.get()
            Obligation.objects.filter(pk=obligation.pk).update(next_action_at=moment)

    return make


def test_each_moment_is_rounded_up_to_its_slot_and_each_slot_comes_once(due_at):
    due_at(
        AT,  # not after now: the sweep running now takes it
        AT + 1 * MS,
        AT + 199 * MS,  # the same slot as the one above
        AT + 200 * MS,  # on a boundary: its own slot, not the next
        AT + 201 * MS,
        AT + timedelta(seconds=10),  # the window's last moment
        AT + timedelta(seconds=10) + MS,  # beyond the window
    )
    assert wakeup_slots(now=AT, horizon=timedelta(seconds=10)) == [
        AT + 200 * MS,
        AT + 400 * MS,
        AT + timedelta(seconds=10),
    ]


def test_the_slots_match_slot_of_and_stop_at_max_wakeups(due_at, monkeypatch):
    moments = [AT + timedelta(milliseconds=37 * n + 3) for n in range(1, 40)]
    due_at(*moments)
    expected = sorted({slot_of(m) for m in moments})
    assert wakeup_slots(now=AT, horizon=timedelta(seconds=10)) == expected
    monkeypatch.setattr(wakeups, "MAX_WAKEUPS", 3)
    assert wakeup_slots(now=AT, horizon=timedelta(seconds=10)) == expected[:3]
