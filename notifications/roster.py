"""Who is on duty (值班) for a unit at a moment, resolved from the duty roster when a notification is made.

SPEC: leader on shift (带班领导), shift leader (值班长) and duty officer (值班员) come from the unit's shifts covering
the moment. No shift covering it, or fewer than two people on post (双人在岗 not kept), falls back to the unit's
default contacts and records a roster-gap finding.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from reporting import findings_services
from reporting.coverage import MIN_ON_POST
from reporting.models import Contact, ContactRole, Finding, FindingKind, Shift, Unit, UnitKind
from reporting.roster_services import ROSTER_ROLES


@dataclass
class OnDuty:
    unit: Unit
    at: datetime
    by_role: dict[str, list[Contact]] = field(default_factory=dict)
    on_post: list[Contact] = field(default_factory=list)

    @property
    def gap(self) -> bool:
        return len(self.on_post) < MIN_ON_POST


def on_duty(*, unit: Unit, at: datetime) -> OnDuty:
    """The unit's shifts covering ``at`` (``starts_at <= at < ends_at``), grouped by shift role."""
    return on_duty_many(units=[unit], at=at)[unit.pk]


def on_duty_many(*, units: Iterable[Unit], at: datetime) -> dict[int, OnDuty]:
    """``on_duty`` for many units at the same moment, by unit id, in one query (the sweep resolves a whole batch)."""
    result = {unit.pk: OnDuty(unit=unit, at=at) for unit in units}
    shifts = (
        Shift.objects.filter(unit_id__in=list(result), starts_at__lte=at, ends_at__gt=at, contact__active=True)
        .select_related("contact")
        .order_by("unit_id", "contact_id", "id")
    )
    seen: set[tuple[int, int]] = set()
    for shift in shifts:
        duty = result[shift.unit_id]
        duty.by_role.setdefault(shift.role, [])
        if shift.contact not in duty.by_role[shift.role]:
            duty.by_role[shift.role].append(shift.contact)
        if (shift.unit_id, shift.contact_id) not in seen:
            seen.add((shift.unit_id, shift.contact_id))
            duty.on_post.append(shift.contact)
    return result


def default_contacts(unit: Unit) -> list[Contact]:
    return list(Contact.objects.filter(unit=unit, is_default=True, active=True).order_by("id"))


def duty_room_units() -> list[Unit]:
    return list(Unit.objects.filter(kind=UnitKind.DUTY_ROOM, active=True).order_by("id"))


@dataclass
class GapNeed:
    """A roster gap met by one step (and repeat) of an obligation or incident, not recorded yet (``gaps_record``)."""

    duty: OnDuty
    step: str
    repeat: int
    fallback: str = ""


def _record_gap(
    *,
    duty: OnDuty,
    incident,
    obligation,
    step: str,
    repeat: int,
    fallback: str = "",
    gaps: list[GapNeed] | None = None,
) -> None:
    need = GapNeed(duty=duty, step=step, repeat=repeat, fallback=fallback)
    if gaps is not None:
        gaps.append(need)  # the caller records the moment's needs together
    else:
        gaps_record([need], incident=incident, obligation=obligation)


def gaps_record(needs: Iterable[GapNeed], *, incident, obligation) -> None:
    """Record the roster gaps met by the steps of one moment: one finding per unit, however many of the moment's
    steps needed its duty staff (SPEC: a roster gap is the unit's, when a notification needed its duty staff; the
    steps due together go out as one message per person, ``sweep.merge_same_moment``). The finding's ``step`` and
    ``repeat`` are its first need's; the others are listed in ``also``. A need that already has its finding (a step
    that reached nobody, tried again) adds nothing."""
    by_unit: dict[int, list[GapNeed]] = {}
    for need in needs:
        by_unit.setdefault(need.duty.unit.pk, []).append(need)
    for unit_needs in by_unit.values():
        duty = unit_needs[0].duty
        seen = _gaps_recorded(unit=duty.unit, incident=incident, obligation=obligation)
        new: list[GapNeed] = []
        for need in unit_needs:
            if (need.step, need.repeat) not in seen:
                seen.add((need.step, need.repeat))
                new.append(need)
        if not new:
            continue
        first = new[0]
        detail: dict = {
            "step": first.step,
            "repeat": first.repeat,
            "reason": "no_shift" if not duty.on_post else "fewer_than_two",
            "on_post": len(duty.on_post),
            "on_post_contacts": [c.pk for c in duty.on_post],
        }
        if fallback := next((n.fallback for n in new if n.fallback), ""):
            detail["fallback"] = fallback
        if len(new) > 1:
            detail["also"] = [{"step": n.step, "repeat": n.repeat} for n in new[1:]]
        findings_services.finding_roster_gap_record(
            unit=duty.unit, at=duty.at, incident=incident, obligation=obligation, detail=detail
        )


def _gaps_recorded(*, unit: Unit, incident, obligation) -> set[tuple[str, int]]:
    """The needs (an obligation's or incident's step and repeat) that already have their roster gap at ``unit``: a
    step that reached nobody is tried again at the obligation's next moments (it sent nothing, so it has not
    fired), and each try finds the same gap. One finding per unit and need, not one per try (the finding's key has
    the moment); a finding holds every need of its moment (``also``)."""
    if obligation is None and incident is None:
        return set()
    found = Finding.objects.filter(kind=FindingKind.ROSTER_GAP, unit=unit)
    if obligation is not None:
        found = found.filter(obligation=obligation)
    else:
        found = found.filter(incident=incident, obligation__isnull=True)
    needs: set[tuple[str, int]] = set()
    for detail in found.values_list("detail", flat=True):
        for need in [detail, *detail.get("also", [])]:
            needs.add((need.get("step", ""), need.get("repeat", 0)))
    return needs


def _reachable(contacts: Iterable[Contact]) -> bool:
    return any(c.phone or c.email for c in contacts)


def audience_resolve(
    *,
    unit: Unit,
    audience: Iterable[str],
    at: datetime,
    incident=None,
    obligation=None,
    step: str = "",
    repeat: int = 0,
    duties: dict[int, OnDuty] | None = None,
    gaps: list[GapNeed] | None = None,
) -> list[Contact]:
    """The contacts a step's audience means for ``unit`` at ``at``, each once, ordered by id.

    Roster roles come from the unit's shifts; ``duty_room`` is everyone on post in the district duty room;
    ``unit_head`` is the unit's head. A roster gap adds the unit's (or duty room's) default contacts and is recorded.
    A gap that leaves nobody of the unit to reach (no one on post for the roles, no default contact with a phone or
    an email) brings in the duty room on post, as ``duty_room`` would, and the finding says so (``fallback``): the
    unit's duty staff are needed now, and only the duty room can phone the unit.
    ``duties``: the rosters already read at ``at`` (``on_duty_many``), by unit id; a unit not in it is read and added.
    ``gaps``: the gaps met are added to it for the caller to record with the other steps of the moment
    (``gaps_record``), instead of being recorded here.
    """
    audience = list(audience)
    contacts: dict[int, Contact] = {}
    duties = {} if duties is None else duties

    def duty_of(u: Unit) -> OnDuty:
        if u.pk not in duties:
            duties[u.pk] = on_duty(unit=u, at=at)
        return duties[u.pk]

    def add(items: Iterable[Contact]) -> None:
        for contact in items:
            contacts.setdefault(contact.pk, contact)

    def add_duty_room() -> None:
        for room in duty_room_units():
            duty = duty_of(room)
            add(duty.on_post)
            if duty.gap:
                add(default_contacts(room))
                _record_gap(duty=duty, incident=incident, obligation=obligation, step=step, repeat=repeat, gaps=gaps)

    roles = [a for a in audience if a in ROSTER_ROLES]
    if roles:
        duty = duty_of(unit)
        staff = [c for role in roles for c in duty.by_role.get(role, [])]
        if duty.gap:
            staff += default_contacts(unit)
        add(staff)
        fallback = duty.gap and not _reachable(staff) and unit.kind != UnitKind.DUTY_ROOM
        if duty.gap:
            _record_gap(
                duty=duty,
                incident=incident,
                obligation=obligation,
                step=step,
                repeat=repeat,
                fallback="duty_room" if fallback else "",
                gaps=gaps,
            )
        if fallback:
            add_duty_room()
    if ContactRole.UNIT_HEAD in audience:
        add(Contact.objects.filter(unit=unit, role=ContactRole.UNIT_HEAD, active=True).order_by("id"))
    if "duty_room" in audience:
        add_duty_room()
    return [contacts[pk] for pk in sorted(contacts)]


def duty_room_on_post(
    *, at: datetime, incident=None, step: str = "", repeat: int = 0, gaps: list[GapNeed] | None = None
) -> list[Contact]:
    """What the ``duty_room`` audience means at ``at``: everyone on post in the district duty room, each once, ordered
    by id; a roster gap adds the duty room's default contacts and is recorded (or added to ``gaps``, for the caller to
    record with the other needs of the moment, ``gaps_record``). District leaders kept with the duty room's people
    (the leaders page files them there) are never among them."""
    contacts: dict[int, Contact] = {}
    for room in duty_room_units():
        duty = on_duty(unit=room, at=at)
        people = list(duty.on_post)
        if duty.gap:
            people += default_contacts(room)
            _record_gap(duty=duty, incident=incident, obligation=None, step=step, repeat=repeat, gaps=gaps)
        for contact in people:
            if contact.role != ContactRole.DISTRICT_LEADER:
                contacts.setdefault(contact.pk, contact)
    return [contacts[pk] for pk in sorted(contacts)]


def district_leaders(*, domain: str | None = None, notify_on_grade: bool = False) -> list[Contact]:
    """District leaders (区领导): those whose portfolio covers ``domain``, or those on the grade notification list."""
    leaders = Contact.objects.filter(role=ContactRole.DISTRICT_LEADER, active=True).order_by("id")
    if notify_on_grade:
        return list(leaders.filter(notify_on_grade=True))
    return [c for c in leaders if domain in (c.portfolio or [])]
