"""Duty roster coverage (双人在岗): the stretches of a period with fewer than two people on post.

SPEC: 24-hour duty, two people on post. The sweep finds a gap only when a notification needs the unit's duty staff
and records it as a finding after the fact; this module finds the gaps *ahead*, from the shifts alone, so a unit
(and the duty room) can fill them before an incident needs them.

Pure: plain values in, plain values out; no ORM, no clock.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from datetime import datetime

#: Two people on post at every moment (SPEC, 双人在岗).
MIN_ON_POST = 2


@dataclass(frozen=True)
class Gap:
    """``[starts_at, ends_at)`` with only ``on_post`` distinct people on post (0: no shift at all)."""

    starts_at: datetime
    ends_at: datetime
    on_post: int

    @property
    def seconds(self) -> float:
        return (self.ends_at - self.starts_at).total_seconds()


def coverage_gaps(
    shifts: Iterable[tuple[datetime, datetime, Hashable]],
    *,
    start: datetime,
    end: datetime,
    minimum: int = MIN_ON_POST,
) -> list[Gap]:
    """The gaps in ``[start, end)``, in time order, given ``(starts_at, ends_at, person)`` shifts.

    A shift covers ``starts_at <= t < ends_at``, as when a notification resolves who is on duty. One person on two
    overlapping shifts (two roles) is one person on post. Neighbouring stretches with the same count are merged; a
    stretch where the count changes (no one, then one) is two gaps. All datetimes must be aware.
    """
    if end <= start:
        return []
    # Boundaries where the set of people on post can change, clipped to the period.
    spans = [(max(s, start), min(e, end), who) for s, e, who in shifts if s < end and e > start and e > s]
    cuts = sorted({start, end, *(s for s, _, _ in spans), *(e for _, e, _ in spans)})
    gaps: list[Gap] = []
    for left, right in zip(cuts, cuts[1:], strict=False):
        on_post = len({who for s, e, who in spans if s <= left and e > left})
        if on_post >= minimum:
            continue
        last = gaps[-1] if gaps else None
        if last is not None and last.ends_at == left and last.on_post == on_post:
            gaps[-1] = Gap(last.starts_at, right, on_post)
        else:
            gaps.append(Gap(left, right, on_post))
    return gaps


def active_spans(
    starts_at: datetime,
    ends_at: datetime,
    *,
    active: bool,
    deactivated_at: datetime | None,
    reactivated_at: datetime | None,
) -> list[tuple[datetime, datetime]]:
    """The parts of a shift ``[starts_at, ends_at)`` its person counts on post, given whether they are active now,
    when they were last made inactive and when last made active again (``Contact``).

    Active now: all of it, but for ``[deactivated_at, reactivated_at)`` when they were inactive for a while.
    Inactive now: the part before ``deactivated_at`` (made inactive then: the past stays as the chasing saw it);
    none when it is unknown (made inactive before it was kept, or never active)."""
    if not active:
        if deactivated_at is None:
            return []
        return [(starts_at, min(ends_at, deactivated_at))] if min(ends_at, deactivated_at) > starts_at else []
    parts = [(starts_at, ends_at)]
    if deactivated_at is not None and reactivated_at is not None and reactivated_at > deactivated_at:
        parts = [(starts_at, min(ends_at, deactivated_at)), (max(starts_at, reactivated_at), ends_at)]
    return [(s, e) for s, e in parts if e > s]


def domains_without_leader(domains: Iterable[str], leaders: Iterable[tuple[bool, Iterable[str]]]) -> list[str]:
    """The ``domains`` (in their order) no active district leader's portfolio covers; ``leaders`` are
    ``(active, portfolio)`` pairs. A death there has no leader in charge to tell (SPEC "Escalation")."""
    covered = {domain for active, portfolio in leaders if active for domain in portfolio}
    return [domain for domain in domains if domain not in covered]
