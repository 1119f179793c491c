"""Shared personas and organisation for every test (PostgreSQL via config.settings.test)."""

from datetime import UTC, datetime

import pytest
from django.utils import translation

from reporting.models import Contact, ContactRole, Role, Unit, UnitKind, User

pytest_plugins = ["tests.fixtures.workers", "tests.fixtures.delivery", "tests.fixtures.timeline"]

#: A fixed moment: 2026-11-28 09:00 Asia/Shanghai.
NOW = datetime(2026, 11, 28, 1, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _default_language():
    """Each test starts in the default language: a request's language (an English page, ``Accept-Language: en``)
    stays active in the thread after the response, and would otherwise leak into the next test."""
    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture
def units(db):
    """A small organisation: the duty room, two towns, a vertical department and the leadership offices."""
    rows = [
        ("duty-room", "区政府总值班室", UnitKind.DUTY_ROOM, False, []),
        ("qwb", "区委办公室", UnitKind.LEADERSHIP_OFFICE, False, []),
        ("qfb", "区政府办公室", UnitKind.LEADERSHIP_OFFICE, False, []),
        ("sijing", "泗泾镇", UnitKind.TOWN, False, []),
        ("chedun", "车墩镇", UnitKind.TOWN, False, []),
        ("police", "区公安分局", UnitKind.DEPARTMENT, True, ["social_security"]),
        ("emergency", "区应急局", UnitKind.DEPARTMENT, False, ["natural_disaster", "production_safety"]),
    ]
    return {
        code: Unit.objects.create(code=code, name=name, kind=kind, vertical=vertical, domains=domains)
        for code, name, kind, vertical, domains in rows
    }


def make_user(username: str, role: str, unit: Unit | None = None, **extra) -> User:
    return User.objects.create_user(username=username, password="pw-" + username, role=role, unit=unit, **extra)


@pytest.fixture
def sijing_officer(units):
    contact = Contact.objects.create(
        unit=units["sijing"],
        name="王某",
        phone="+8617000000001",
        email="sijing-officer@example.org",
        role=ContactRole.DUTY_OFFICER,
    )
    return make_user("sijing-officer", Role.UNIT_STAFF, units["sijing"], contact=contact)


@pytest.fixture
def outsider(units):
    """Unit staff of another unit (车墩镇): sees none of 泗泾镇's data."""
    return make_user("chedun-officer", Role.UNIT_STAFF, units["chedun"])


@pytest.fixture
def duty_room(units):
    return make_user("duty", Role.DUTY_ROOM)


@pytest.fixture
def leader(units):
    return make_user("leader", Role.DISTRICT_LEADER)


@pytest.fixture
def auditor(units):
    return make_user("auditor", Role.AUDITOR)


@pytest.fixture
def feed(units):
    return make_user("feed", Role.FEED)


@pytest.fixture
def admin_user(units):
    return User.objects.create_superuser(username="admin", password="pw-admin", email="admin@example.org")
