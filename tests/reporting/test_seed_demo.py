"""``manage.py seed_demo``: 39 units, two or more on post at every moment of the next 7 days, idempotent."""

import json
from datetime import datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.utils import timezone
from freezegun import freeze_time

from reporting.management.commands.seed_demo import DEMO_FILE
from reporting.models import Contact, ContactRole, ReportingPolicy, Role, Shift, Unit, User

SH = ZoneInfo("Asia/Shanghai")

pytestmark = pytest.mark.django_db


def seed(at, monkeypatch, password="demo-pass-1"):
    monkeypatch.setenv("DEMO_PASSWORD", password)
    out = StringIO()
    with freeze_time(at):
        call_command("seed_demo", stdout=out)
    return out.getvalue()


def on_post_gaps(start, end):
    """(unit code, moment) pairs in [start, end] with fewer than two people on post.

    The number on post only changes at a shift's start or end, so checking ``start`` and every shift edge inside
    the window covers every moment of it.
    """
    shifts = {}
    for unit_id, starts_at, ends_at in Shift.objects.values_list("unit_id", "starts_at", "ends_at"):
        shifts.setdefault(unit_id, []).append((starts_at, ends_at))
    gaps = []
    for unit in Unit.objects.all():
        spans = shifts.get(unit.pk, [])
        moments = {start} | {edge for span in spans for edge in span if start <= edge <= end}
        for t in sorted(moments):
            if sum(1 for s, e in spans if s <= t < e) < 2:
                gaps.append((unit.code, t))
    return gaps


@pytest.mark.parametrize(
    "at",
    [
        datetime(2026, 11, 28, 9, 0, tzinfo=SH),
        datetime(2026, 11, 28, 8, 29, 59, tzinfo=SH),  # one second before the daily handover
        datetime(2026, 11, 28, 23, 59, tzinfo=SH),  # just before midnight Shanghai
    ],
)
def test_seed_loads_39_units_with_two_on_post_for_seven_days(monkeypatch, at):
    out = seed(at, monkeypatch)
    data = json.loads(DEMO_FILE.read_text(encoding="utf-8"))
    assert Unit.objects.count() == 39 == len(data["units"])
    assert set(Unit.objects.values_list("code", flat=True)) == {u["code"] for u in data["units"]}
    assert Unit.objects.get(code="duty-room").kind == "duty_room"
    assert on_post_gaps(at, at + timedelta(days=7)) == []
    assert "demo: 39 units" in out
    # Every unit has default contacts for the roster-gap fallback and a unit head.
    for unit in Unit.objects.all():
        assert unit.contacts.filter(is_default=True).count() >= 1
        assert unit.contacts.filter(role=ContactRole.UNIT_HEAD).exists()
    # District leaders with a portfolio for each domain.
    leaders = Contact.objects.filter(role=ContactRole.DISTRICT_LEADER)
    assert sorted(d for c in leaders for d in c.portfolio) == sorted(
        ["natural_disaster", "production_safety", "public_health", "social_security", "city_operation"]
    )
    assert ReportingPolicy.objects.get(grade__isnull=True).verbal_minutes == 30


def test_every_shift_has_the_three_duty_roles(monkeypatch):
    at = datetime(2026, 11, 28, 9, 0, tzinfo=SH)
    seed(at, monkeypatch)
    sijing = Unit.objects.get(code="sijing")
    on_post = Shift.objects.filter(unit=sijing, starts_at__lte=at, ends_at__gt=at)
    assert sorted(on_post.values_list("role", flat=True)) == sorted(
        [ContactRole.DUTY_OFFICER, ContactRole.SHIFT_LEADER, ContactRole.LEADER_ON_SHIFT]
    )
    assert all(s.contact.unit_id == sijing.pk for s in on_post)


def test_seed_is_idempotent(monkeypatch):
    at = datetime(2026, 11, 28, 9, 0, tzinfo=SH)
    seed(at, monkeypatch)
    counts = (Unit.objects.count(), Contact.objects.count(), Shift.objects.count(), User.objects.count())
    admin_password = User.objects.get(username="admin").password
    out = seed(at + timedelta(hours=3), monkeypatch, password="another-password")
    assert (Unit.objects.count(), Contact.objects.count(), Shift.objects.count(), User.objects.count()) == counts
    assert User.objects.get(username="admin").password == admin_password
    assert "password" not in out  # no user was created the second time
    assert ReportingPolicy.objects.count() == 1


def test_seed_on_a_later_day_extends_the_roster(monkeypatch):
    at = datetime(2026, 11, 28, 9, 0, tzinfo=SH)
    seed(at, monkeypatch)
    shifts = Shift.objects.count()
    later = at + timedelta(days=2)
    seed(later, monkeypatch)
    assert Shift.objects.count() == shifts + 39 * 3 * 2
    assert on_post_gaps(later, later + timedelta(days=7)) == []


def test_demo_users_have_their_roles(monkeypatch):
    seed(datetime(2026, 11, 28, 9, 0, tzinfo=SH), monkeypatch)
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.check_password("demo-pass-1")
    assert User.objects.get(username="duty").role == Role.DUTY_ROOM
    officer = User.objects.get(username="sijing-officer")
    assert (officer.role, officer.unit.code) == (Role.UNIT_STAFF, "sijing")


def test_seed_uses_the_real_clock_when_not_frozen(monkeypatch):
    monkeypatch.setenv("DEMO_PASSWORD", "demo-pass-1")
    call_command("seed_demo", stdout=StringIO())
    now = timezone.now()
    assert on_post_gaps(now, now + timedelta(days=7)) == []


def test_the_gap_check_sees_a_roster_with_one_on_post(monkeypatch):
    at = datetime(2026, 11, 28, 9, 0, tzinfo=SH)
    seed(at, monkeypatch)
    sijing = Unit.objects.get(code="sijing")
    current = Shift.objects.filter(unit=sijing, starts_at__lte=at, ends_at__gt=at)
    handover = current.first().ends_at
    current.exclude(role=ContactRole.DUTY_OFFICER).delete()
    assert on_post_gaps(at, at + timedelta(days=7)) == [("sijing", at)]
    assert on_post_gaps(handover, handover + timedelta(days=1)) == []
