"""The escalation ladder (催报) as pure functions over plain values: no ORM, no settings, no clock.

A *plan* is a list of plain dicts, one per step, frozen onto each obligation when it is created
(``Obligation.escalation_plan``) so later policy edits never change a running case::

    {"key": "verbal_overdue", "anchor": "verbal_due", "offset_minutes": 0,
     "audience": ["duty_officer", "shift_leader", "leader_on_shift"], "channels": ["sms", "email"],
     "board_alarm": False, "repeat_every_minutes": 15, "repeat_max": 4, "repeat_channels": ["sms"]}

Timing contract (SPEC "Escalation" and rule 2, the inclusive deadline):

- A step's nominal time is ``anchor + offset`` (``Notification.scheduled_for`` and the lag are measured from it).
- A *reminder* (negative offset) fires once ``now >= time`` and only while its deadline has not passed
  (``now <= due``); a reminder that was never sent before its deadline passed is dropped, the overdue step goes
  instead.
- A step at or after its deadline (offset >= 0, and its repeats) fires only once ``now > time`` — strictly after,
  exactly like ``reporting.deadlines.passed_deadlines``. A report filed at exactly ``due_at`` is on time, and a sweep
  landing exactly on ``due_at`` sends nothing; the earliest moment it may fire is ``time + EPSILON``, which is what
  ``next_action_at`` is set to.
- Every step stops the moment its deadline is discharged (filed or not required): it is no longer due, and it is no
  longer a candidate for ``next_action_at``.
- Repeats: repeat ``n`` (1..``repeat_max``) of a step is at ``time + n * repeat_every``; it goes to the step's
  audience on ``repeat_channels``. After an outage only the latest due repeat is sent (catch-up sends one message,
  not four); a step not sent yet is sent alone, without its due repeats (``due_steps``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

VERBAL_DUE = "verbal_due"
WRITTEN_DUE = "written_due"

PENDING = "pending"

#: A step at or after a deadline fires strictly after its time; this is the first instant the sweep looks.
#: One microsecond is PostgreSQL's timestamp resolution, so the step fires as early as it possibly may.
EPSILON = timedelta(microseconds=1)

#: Which deadline (``"verbal"``/``"written"``) each anchor belongs to.
DEADLINE_OF_ANCHOR = {VERBAL_DUE: "verbal", WRITTEN_DUE: "written"}

ROSTER = ["duty_officer", "shift_leader"]
OVERDUE_AUDIENCE = ["duty_officer", "shift_leader", "leader_on_shift"]
ESCALATE_AUDIENCE = ["duty_room", "unit_head"]


def _step(key, anchor, offset, audience, channels, *, board_alarm=False, repeat_every=0, repeat_max=0):
    return {
        "key": key,
        "anchor": anchor,
        "offset_minutes": offset,
        "audience": list(audience),
        "channels": list(channels),
        "board_alarm": board_alarm,
        "repeat_every_minutes": repeat_every,
        "repeat_max": repeat_max,
        "repeat_channels": ["sms"] if repeat_max else [],
    }


#: SPEC "Escalation (chasing)", the default ladder. The data migration writes it as the active policy.
DEFAULT_LADDER: list[dict] = [
    _step("verbal_reminder", VERBAL_DUE, -10, ROSTER, ["sms"]),
    _step("verbal_overdue", VERBAL_DUE, 0, OVERDUE_AUDIENCE, ["sms", "email"], repeat_every=15, repeat_max=4),
    _step("verbal_escalate", VERBAL_DUE, 5, ESCALATE_AUDIENCE, ["sms", "email"], board_alarm=True),
    _step("written_reminder", WRITTEN_DUE, -10, ROSTER, ["sms"]),
    _step("written_overdue", WRITTEN_DUE, 0, OVERDUE_AUDIENCE, ["sms", "email"], repeat_every=15, repeat_max=4),
    _step("written_escalate", WRITTEN_DUE, 5, ESCALATE_AUDIENCE, ["sms", "email"], board_alarm=True),
]


@dataclass(frozen=True)
class Clock:
    """The two deadlines of one obligation as plain values (states: pending, on_time, late, not_required)."""

    verbal_due_at: datetime
    written_due_at: datetime
    verbal_state: str = PENDING
    written_state: str = PENDING

    def due_of(self, anchor: str) -> datetime:
        return self.verbal_due_at if anchor == VERBAL_DUE else self.written_due_at

    def pending(self, anchor: str) -> bool:
        return (self.verbal_state if anchor == VERBAL_DUE else self.written_state) == PENDING


@dataclass(frozen=True)
class PlannedStep:
    """One send moment of a plan: a step, or one repeat of it."""

    key: str
    repeat: int
    at: datetime  # nominal time: anchor + offset (+ n * repeat interval)
    fires_after: datetime  # the first instant it may fire (at, or at + EPSILON for strict steps)
    deadline: str  # "verbal" or "written"
    deadline_due_at: datetime
    audience: tuple[str, ...]
    channels: tuple[str, ...]
    board_alarm: bool
    is_reminder: bool

    @property
    def is_repeat(self) -> bool:
        return self.repeat > 0


def relay_plan(plan: list[dict]) -> list[dict]:
    """A relay obligation (SPEC rule 13) has one 15-minute clock (both due times equal): only the verbal-anchored
    steps are kept, so each moment sends one message, not two."""
    return [dict(step) for step in plan if step["anchor"] == VERBAL_DUE]


def expand(plan: Iterable[dict], clock: Clock) -> list[PlannedStep]:
    """Every send moment of ``plan`` for ``clock``, ordered by time, whatever the deadlines' states."""
    moments = []
    for step in plan:
        anchor = step["anchor"]
        due = clock.due_of(anchor)
        base = due + timedelta(minutes=int(step["offset_minutes"]))
        reminder = int(step["offset_minutes"]) < 0
        common = {
            "key": step["key"],
            "deadline": DEADLINE_OF_ANCHOR[anchor],
            "deadline_due_at": due,
            "audience": tuple(step.get("audience") or ()),
            "board_alarm": bool(step.get("board_alarm")),
            "is_reminder": reminder,
        }
        moments.append(
            PlannedStep(
                repeat=0,
                at=base,
                fires_after=base if reminder else base + EPSILON,
                channels=tuple(step.get("channels") or ()),
                **common,
            )
        )
        every = int(step.get("repeat_every_minutes") or 0)
        if every <= 0:
            continue
        for n in range(1, int(step.get("repeat_max") or 0) + 1):
            at = base + timedelta(minutes=every * n)
            moments.append(
                PlannedStep(
                    repeat=n,
                    at=at,
                    fires_after=at if reminder else at + EPSILON,
                    channels=tuple(step.get("repeat_channels") or ("sms",)),
                    **common,
                )
            )
    moments.sort(key=lambda m: (m.at, m.key, m.repeat))
    return moments


def _live(moment: PlannedStep, clock: Clock, *, now: datetime) -> bool:
    """Still worth sending at ``now``: its deadline is pending, and a reminder's deadline has not passed."""
    anchor = VERBAL_DUE if moment.deadline == "verbal" else WRITTEN_DUE
    if not clock.pending(anchor):
        return False
    return not (moment.is_reminder and now > moment.deadline_due_at)


def due_steps(
    plan: Iterable[dict], clock: Clock, *, now: datetime, fired: Iterable[tuple[str, int]] = ()
) -> list[PlannedStep]:
    """The moments to send at ``now``: reached, still live, and not already ``fired`` ((key, repeat) pairs).

    Of several due repeats of one step only the latest is returned, and none at or below a repeat already fired.
    A step whose own message is due and not yet fired supersedes its due repeats: a clock that becomes overdue
    long after its due time (a not-required mark undone, an obligation opened late) gets the step's message once,
    not the message and a repeat in the same breath; the next repeat follows at its normal time.
    """
    fired = set(fired)
    result: dict[tuple[str, bool], PlannedStep] = {}
    for moment in expand(plan, clock):
        if now < moment.fires_after or not _live(moment, clock, now=now):
            continue
        if (moment.key, moment.repeat) in fired:
            continue
        if moment.is_repeat:
            highest_fired = max((r for k, r in fired if k == moment.key), default=0)
            if moment.repeat <= highest_fired:
                continue
        slot = (moment.key, moment.is_repeat)
        if slot not in result or moment.repeat > result[slot].repeat:
            result[slot] = moment
    for key, is_repeat in list(result):
        if is_repeat and (key, False) in result:
            del result[(key, True)]
    return sorted(result.values(), key=lambda m: (m.at, m.key, m.repeat))


def next_action_at(
    plan: Iterable[dict], clock: Clock, *, now: datetime, fired: Iterable[tuple[str, int]] | None = None
) -> datetime | None:
    """When the sweep must next look at this obligation: ``now`` when a moment is already due and not ``fired``
    (an obligation created, or corrected, after some of its moments); else the earliest future moment still live,
    or the instant after a pending deadline (so the breach is recorded even with an empty plan). None when nothing
    is left. With ``fired=None`` only future moments count (the sweep passes None right after acting)."""
    if fired is not None and due_steps(plan, clock, now=now, fired=fired):
        return now
    candidates = [m.fires_after for m in expand(plan, clock) if m.fires_after > now and _live(m, clock, now=now)]
    for anchor in (VERBAL_DUE, WRITTEN_DUE):
        if clock.pending(anchor) and clock.due_of(anchor) + EPSILON > now:
            candidates.append(clock.due_of(anchor) + EPSILON)
    return min(candidates) if candidates else None


def preview(plan: Iterable[dict], clock: Clock, *, now: datetime, fired: Iterable[tuple[str, int]] = ()) -> list[dict]:
    """An obligation's planned steps with times, for the admin and the board: each moment and its status
    (``sent``, ``due``, ``planned``, ``stopped``)."""
    fired = set(fired)
    rows = []
    for moment in expand(plan, clock):
        if (moment.key, moment.repeat) in fired:
            status = "sent"
        elif not _live(moment, clock, now=now):
            status = "stopped"
        elif now >= moment.fires_after:
            status = "due"
        else:
            status = "planned"
        rows.append(
            {
                "step": moment.key,
                "repeat": moment.repeat,
                "at": moment.at,
                "audience": list(moment.audience),
                "channels": list(moment.channels),
                "board_alarm": moment.board_alarm,
                "status": status,
            }
        )
    return rows
