"""Chasing personas: 泗泾镇's duty roster, its head, the district duty room on post, and district leaders."""

from datetime import timedelta

import pytest

from reporting import services
from reporting.models import Contact, ContactRole, Shift
from tests.conftest import NOW

#: Every test here runs on a clock starting at NOW (09:00 Asia/Shanghai).
T0 = NOW


def person(unit, name, role, n, **extra):
    return Contact.objects.create(
        unit=unit, name=name, role=role, phone=f"+86170000{n:05d}", email=f"p{n}@example.org", **extra
    )


def on_shift(contact, role, *, start=T0 - timedelta(hours=1), hours=24):
    return Shift.objects.create(
        unit=contact.unit, contact=contact, role=role, starts_at=start, ends_at=start + timedelta(hours=hours)
    )


@pytest.fixture
def roster(units):
    """泗泾镇: officer, shift leader and leader on shift on post; its head; the duty room with two on post."""
    sj, room = units["sijing"], units["duty-room"]
    people = {
        "officer": person(sj, "张值班员", ContactRole.DUTY_OFFICER, 1),
        "shift_leader": person(sj, "李值班长", ContactRole.SHIFT_LEADER, 2),
        "leader": person(sj, "赵带班", ContactRole.LEADER_ON_SHIFT, 3),
        "head": person(sj, "孙镇长", ContactRole.UNIT_HEAD, 4),
        "sj_default": person(sj, "泗泾默认", ContactRole.DUTY_OFFICER, 5, is_default=True),
        "room_officer": person(room, "钱总值班员", ContactRole.DUTY_ROOM_STAFF, 6),
        "room_leader": person(room, "周总值班长", ContactRole.DUTY_ROOM_STAFF, 7),
        "room_default": person(room, "总值班室默认", ContactRole.DUTY_ROOM_STAFF, 8, is_default=True),
    }
    on_shift(people["officer"], ContactRole.DUTY_OFFICER)
    on_shift(people["shift_leader"], ContactRole.SHIFT_LEADER)
    on_shift(people["leader"], ContactRole.LEADER_ON_SHIFT)
    on_shift(people["room_officer"], ContactRole.DUTY_OFFICER)
    on_shift(people["room_leader"], ContactRole.SHIFT_LEADER)
    return people


def open_incident(units, *, unit="sijing", now=T0, first_known_at=None, **fields):
    base = dict(
        title="泗泾镇某厂房火灾",
        domain="production_safety",
        occurred_at=now - timedelta(minutes=5),
        location="泗泾镇某路1号",
        summary="",
    )
    base.update(fields)
    return services.incident_create(
        actor=None,
        now=now,
        units=[{"unit": units[unit], "first_known_at": first_known_at or now, "channel": "self"}],
        **base,
    )


def report_fields(**over):
    base = dict(
        occurred_at=T0 - timedelta(minutes=5),
        location="泗泾镇某路1号",
        account="厂房起火",
        deaths=0,
        injuries=0,
        missing=0,
        measures="消防到场",
        contact_name="张值班员",
        contact_phone="+8617000000001",
    )
    base.update(over)
    return base
