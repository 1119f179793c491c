"""Duty roster writes (值班表): a unit's people and shifts, added, changed and removed through here.

Every change appends an audit event with what it changed, so a roster edited after the fact (a gap filled in
retroactively, a shift removed, a phone number changed) stays visible to auditors even though the row itself is
gone or different now.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Q

from reporting.auditlog import audited, event_append
from reporting.errors import ConflictError, DomainError
from reporting.finding_facts import iso
from reporting.models import Contact, ContactRole, Shift, Unit, UnitKind
from reporting.services import actor_name

#: A longer shift is a typing mistake (a year for a day) that would hide every gap behind it. Seven days covers a
#: leader on shift for a whole public holiday.
MAX_SHIFT = timedelta(days=7)
#: "Repeat" on the roster page: at most a month of shifts in one go, at most a week apart (three teams taking turns
#: repeat every 3 days; two every other day).
MAX_REPEAT_DAYS = 31
MAX_EVERY_DAYS = 7
#: The roster's calendar ends with the year 2100 (Asia/Shanghai), as the week pages do: a shift after it could be
#: neither shown nor removed there, and a month of repeats from the year 9999 would run off Python's calendar.
ROSTER_YEAR_MAX = 2100
#: The posts a unit's roster is made of (值班员, 值班长, 带班领导): whom the chasing looks for on a shift.
ROSTER_ROLES = (ContactRole.DUTY_OFFICER, ContactRole.SHIFT_LEADER, ContactRole.LEADER_ON_SHIFT)
#: What a unit's own staff may make of one of their people (district leaders and their portfolios are the duty
#: room's business); the duty room's own people are duty-room staff.
UNIT_ROLES = (*ROSTER_ROLES, ContactRole.UNIT_HEAD)
#: The fields ``contact_update`` changes (``portfolio`` and ``notify_on_grade`` are district leaders' and are set
#: by the duty room through the API).
CONTACT_FIELDS = ("name", "phone", "email", "role", "is_default", "active", "portfolio", "notify_on_grade")


def unit_roles(unit: Unit) -> list[ContactRole]:
    """The roles a unit's own staff may give its people: ``UNIT_ROLES``, and duty-room staff in the duty room."""
    return _in_duty_room(unit, UNIT_ROLES)


def shift_roles(unit: Unit) -> list[ContactRole]:
    """The posts a unit's shifts are offered for: ``ROSTER_ROLES``, and duty-room staff in the duty room (the
    escalation's "duty room" audience is whoever is on post there)."""
    return _in_duty_room(unit, ROSTER_ROLES)


def _in_duty_room(unit: Unit, roles: tuple[ContactRole, ...]) -> list[ContactRole]:
    return [ContactRole.DUTY_ROOM_STAFF, *roles] if unit.kind == UnitKind.DUTY_ROOM else list(roles)


def shift_errors(
    *,
    unit: Unit,
    contact: Contact,
    starts_at: datetime,
    ends_at: datetime,
    role: str | None = None,
    days: int = 1,
    every: int = 1,
    exclude: int | None = None,
) -> dict[str, list[str]]:
    """Why these shifts may not go on the roster, by field; empty when they may (the admin's form shows these).
    ``role``, when given, must be one of the unit's posts (``shift_roles``): a unit head or a district leader "on
    shift" would count as one of the two on post while no step of the chasing asks for them; and the person must
    not be on that post already then (``exclude``: the shift being changed)."""
    errors: dict[str, list[str]] = {}
    if role is not None and role not in shift_roles(unit):
        errors["role"] = ["不是该单位值班表的岗位 (not a post on this unit's roster)"]
    if ends_at <= starts_at:
        errors["ends_at"] = ["结束时间必须晚于开始时间 (ends_at must be after starts_at)"]
    elif ends_at - starts_at > MAX_SHIFT:
        errors["ends_at"] = ["一个班次不能超过 7 天 (a shift lasts at most 7 days)"]
    if contact.unit_id != unit.pk:
        errors["contact"] = ["该人员不属于此单位 (the contact belongs to another unit)"]
    elif not contact.active:
        errors["contact"] = ["该人员已停用, 不能排班 (the contact is inactive)"]
    if not 1 <= days <= MAX_REPEAT_DAYS:
        errors["days"] = [f"班次数须在 1 到 {MAX_REPEAT_DAYS} 之间 (1 to {MAX_REPEAT_DAYS} shifts)"]
    if not 1 <= every <= MAX_EVERY_DAYS:
        errors["every"] = [f"间隔天数须在 1 到 {MAX_EVERY_DAYS} 之间 (every 1 to {MAX_EVERY_DAYS} days)"]
    if "every" not in errors and days > 1 and ends_at - starts_at > timedelta(days=every):
        errors["every"] = ["班次长于间隔天数, 重复的班次会重叠 (repeated shifts would overlap)"]
    calendar_end = datetime(ROSTER_YEAR_MAX + 1, 1, 1, tzinfo=ZoneInfo(settings.TIME_ZONE))
    too_late = f"班次须在 {ROSTER_YEAR_MAX} 年底前结束 (shifts must end by the end of {ROSTER_YEAR_MAX})"
    if "ends_at" not in errors and ends_at > calendar_end:
        errors["ends_at"] = [too_late]
    elif not errors.keys() & {"ends_at", "days", "every"}:
        if ends_at > calendar_end - timedelta(days=(days - 1) * every):
            errors["days"] = [too_late]  # the first shift fits, a repeat does not
    if not errors and role is not None:
        spans = [(starts_at + timedelta(days=n * every), ends_at + timedelta(days=n * every)) for n in range(days)]
        if _overlapping(unit=unit, contact=contact, role=role, spans=spans, exclude=exclude):
            errors["starts_at"] = ["此人在这段时间已排在同一岗位 (already on this post at that time)"]
    return errors


def _overlapping(
    *, unit: Unit, contact: Contact, role: str, spans: list[tuple[datetime, datetime]], exclude: int | None
) -> bool:
    """Whether ``contact`` already has a shift on ``role`` of ``unit`` overlapping one of these. The same person
    twice on one post (a form sent twice, a week entered again) stays on post when one of the two is removed, and
    is still chased; a second post at the same time is another matter (one person, two roles)."""
    overlap = Q()
    for starts_at, ends_at in spans:
        overlap |= Q(starts_at__lt=ends_at, ends_at__gt=starts_at)
    return Shift.objects.filter(overlap, unit=unit, contact=contact, role=role).exclude(pk=exclude).exists()


def contact_move_errors(contact: Contact, *, now: datetime) -> dict[str, list[str]]:
    """Why ``contact`` may not move to another unit now (shifts not ended), by field; empty when they may."""
    if Shift.objects.filter(contact=contact, ends_at__gt=now).exists():
        # The shifts stay on the old unit's roster: it would count a person of another unit as on post.
        return {"unit": ["此人还有未结束的班次, 请先删除这些班次再调动单位 (has shifts that have not ended)"]}
    return {}


def _detail(shift: Shift) -> dict:
    return {
        "unit": shift.unit.code,
        "contact": shift.contact_id,
        "name": shift.contact.name,
        "role": shift.role,
        "starts_at": shift.starts_at,
        "ends_at": shift.ends_at,
    }


@audited
def shifts_create(
    *,
    unit: Unit,
    contact: Contact,
    role: str,
    starts_at: datetime,
    ends_at: datetime,
    days: int = 1,
    every: int = 1,
    actor,
    now: datetime,
) -> list[Shift]:
    """Put ``contact`` on ``unit``'s roster from ``starts_at`` to ``ends_at``: ``days`` shifts of those hours, one
    every ``every`` days (1: daily; 2: every other day, two teams taking turns). All or nothing: a refusal writes
    no shift."""
    errors = shift_errors(
        unit=unit, contact=contact, role=role, starts_at=starts_at, ends_at=ends_at, days=days, every=every
    )
    if errors:
        raise DomainError(errors)
    shifts = Shift.objects.bulk_create(
        Shift(
            unit=unit,
            contact=contact,
            role=role,
            starts_at=starts_at + timedelta(days=n * every),
            ends_at=ends_at + timedelta(days=n * every),
        )
        for n in range(days)
    )
    for shift in shifts:
        event_append(at=now, kind="shift_added", actor=actor_name(actor), obj=shift, detail=_detail(shift))
    return shifts


@audited
def shifts_import(*, unit: Unit, shifts: list[dict], actor, now: datetime) -> list[Shift]:
    """Put many shifts on ``unit``'s roster at once (a roster uploaded from a spreadsheet): each ``{contact, role,
    starts_at, ends_at}`` through ``shifts_create``, so with its rules and its audit event; all or nothing (the
    first refusal raises its ``DomainError`` and nothing is written). Imports into one unit run one at a time
    (the unit's row is locked): the same file sent twice at once waits for the first, then overlaps it and is
    refused, instead of both passing the overlap check before either is written."""
    Unit.objects.select_for_update().filter(pk=unit.pk).first()
    created: list[Shift] = []
    for shift in shifts:
        created += shifts_create(unit=unit, **shift, actor=actor, now=now)
    return created


#: What ``shift_update`` may change (the Django admin edits a shift; the API and the pages add and remove them).
SHIFT_FIELDS = ("unit", "contact", "role", "starts_at", "ends_at")


@audited
def shift_update(*, shift: Shift, changes: dict, actor, now: datetime) -> Shift:
    """Change a shift in place (the Django admin). The roster's log records it as the roster sees it: the shift as
    it was taken off (``shift_removed``) and as it is now put on (``shift_added``), so an edit that moves a shift
    into the past shows as added after the fact, like any other. Same rules as ``shifts_create``."""
    unknown = set(changes) - set(SHIFT_FIELDS)
    if unknown:
        raise ValueError(f"not shift fields: {sorted(unknown)}")
    shift = Shift.objects.select_for_update().select_related("unit", "contact").get(pk=shift.pk)
    changed = {f: v for f, v in changes.items() if getattr(shift, f) != v}
    if not changed:
        return shift
    before = _detail(shift)
    for field, value in changed.items():
        setattr(shift, field, value)
    errors = shift_errors(
        unit=shift.unit,
        contact=shift.contact,
        role=shift.role,
        starts_at=shift.starts_at,
        ends_at=shift.ends_at,
        exclude=shift.pk,
    )
    if errors:
        raise DomainError(errors)
    shift.save(update_fields=list(changed))
    event_append(at=now, kind="shift_removed", actor=actor_name(actor), obj=shift, detail=before)
    event_append(at=now, kind="shift_added", actor=actor_name(actor), obj=shift, detail=_detail(shift))
    return shift


@audited
def shift_delete(*, shift: Shift, actor, now: datetime) -> None:
    """Take a shift off the roster; the audit event keeps what it was."""
    shift = Shift.objects.select_related("unit", "contact").get(pk=shift.pk)
    detail = _detail(shift)
    event_append(at=now, kind="shift_removed", actor=actor_name(actor), obj=shift, detail=detail)
    shift.delete()


@audited
def shift_end(*, shift: Shift, actor, now: datetime) -> Shift:
    """Take someone off post now: a shift under way ends at ``now`` (``shift_ended``, with the end it had). Its
    hours so far stay on the roster: the chasing already counted this person on post then, and the coverage of the
    past must go on showing what it saw. A shift not under way at ``now`` is refused (``shift_delete`` removes one
    not yet started)."""
    shift = Shift.objects.select_for_update().select_related("unit", "contact").get(pk=shift.pk)
    if not shift.starts_at < now < shift.ends_at:
        raise ConflictError({"ends_at": ["班次不在进行中 (the shift is not under way)"]})
    planned = shift.ends_at
    shift.ends_at = now
    shift.save(update_fields=["ends_at"])
    detail = {**_detail(shift), "planned_ends_at": planned}
    event_append(at=now, kind="shift_ended", actor=actor_name(actor), obj=shift, detail=detail)
    return shift


@audited
def contact_create(
    *,
    unit: Unit,
    name: str,
    role: str,
    phone: str = "",
    email: str = "",
    is_default: bool = False,
    active: bool = True,
    portfolio: list[str] | None = None,
    notify_on_grade: bool = False,
    actor,
    now: datetime,
) -> Contact:
    """One more person of ``unit`` (to put on its roster, or to fall back to as a default contact)."""
    contact = Contact.objects.create(
        unit=unit,
        name=name,
        phone=phone,
        email=email,
        role=role,
        is_default=is_default,
        active=active,
        portfolio=portfolio or [],
        notify_on_grade=notify_on_grade,
    )
    event_append(
        at=now,
        kind="contact_added",
        actor=actor_name(actor),
        obj=contact,
        detail={"unit": unit.code, **{f: getattr(contact, f) for f in CONTACT_FIELDS}},
    )
    return contact


@audited
def contact_update(*, contact: Contact, changes: dict, actor, now: datetime) -> Contact:
    """Change some of ``CONTACT_FIELDS`` (and, through the API, ``unit``); the event records each changed field as
    ``[before, after]`` (a unit by its code). A person moves to another unit only once their shifts have ended
    (``ConflictError``, 409): a shift belongs to its unit's roster. A person made inactive drops off the roster at
    once: the chasing skips them from then on. When is kept (``deactivated_at``; ``reactivated_at`` when made active
    again) and recorded with the change: the coverage still counts their shifts on post before it."""
    unknown = set(changes) - {*CONTACT_FIELDS, "unit"}
    if unknown:
        raise ValueError(f"not contact fields: {sorted(unknown)}")
    contact = Contact.objects.select_for_update().select_related("unit").get(pk=contact.pk)
    changed = {f: (getattr(contact, f), v) for f, v in changes.items() if getattr(contact, f) != v}
    if not changed:
        return contact
    if "unit" in changed and (errors := contact_move_errors(contact, now=now)):
        raise ConflictError(errors)
    for field, (_before, after) in changed.items():
        setattr(contact, field, after)
    saved = list(changed)
    when: dict[str, str | None] = {}
    if "active" in changed:
        moment = "reactivated_at" if contact.active else "deactivated_at"
        setattr(contact, moment, now)
        saved.append(moment)
        when[moment] = iso(now)
    contact.save(update_fields=saved)
    recorded = {f: [getattr(v, "code", v) for v in pair] for f, pair in changed.items()}
    event_append(
        at=now,
        kind="contact_changed",
        actor=actor_name(actor),
        obj=contact,
        detail={"unit": contact.unit.code, "name": contact.name, "changed": recorded, **when},
    )
    return contact


@audited
def contact_delete(*, contact: Contact, actor, now: datetime) -> None:
    """Remove a person entered by mistake. One whom a notification names is protected (``ProtectedError``: the
    API answers 409); make them inactive instead. Their shifts go with them, each recorded."""
    contact = Contact.objects.select_related("unit").get(pk=contact.pk)
    detail = {"unit": contact.unit.code, **{f: getattr(contact, f) for f in CONTACT_FIELDS}}
    for shift in Shift.objects.filter(contact=contact).select_related("unit", "contact"):
        event_append(at=now, kind="shift_removed", actor=actor_name(actor), obj=shift, detail=_detail(shift))
    event_append(at=now, kind="contact_removed", actor=actor_name(actor), obj=contact, detail=detail)
    contact.delete()
