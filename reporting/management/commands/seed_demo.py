"""Demo data: Songjiang's 39 units, fictitious duty staff, and shifts with two (three) on post at every moment."""

import json
import os
import secrets
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from reporting.models import Contact, ContactRole, ReportingPolicy, Role, Shift, Unit, User

DEMO_FILE = Path(__file__).resolve().parents[2] / "demo" / "songjiang-units.json"
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂"
SHIFT_ROLES = (ContactRole.DUTY_OFFICER, ContactRole.SHIFT_LEADER, ContactRole.LEADER_ON_SHIFT)
# Shifts hand over at 08:30 Shanghai time, the usual 24-hour duty rhythm.
HANDOVER = time(8, 30)


class Command(BaseCommand):
    help = "Load Songjiang's demo units, fictitious duty staff and 7 days of shifts (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--file", default=str(DEMO_FILE))
        parser.add_argument("--days", type=int, default=7)

    @transaction.atomic
    def handle(self, *args, **options):
        data = json.loads(Path(options["file"]).read_text(encoding="utf-8"))
        now = timezone.now()
        ReportingPolicy.objects.get_or_create(grade=None, defaults={"verbal_minutes": 30, "written_minutes": 60})
        counter = iter(range(1, 100_000))
        for index, row in enumerate(data["units"]):
            unit, _ = Unit.objects.update_or_create(
                code=row["code"],
                defaults={
                    "name": row["name"],
                    "name_en": row.get("name_en", ""),
                    "kind": row["kind"],
                    "vertical": row.get("vertical", False),
                    "domains": row.get("domains", []),
                },
            )
            self._staff(unit, index, counter, now, options["days"])
        self._leaders(counter)
        self._users()
        counts = f"{Unit.objects.count()} units, {Contact.objects.count()} contacts, {Shift.objects.count()} shifts"
        self.stdout.write(self.style.SUCCESS(f"demo: {counts}"))

    def _person(self, unit, role, counter, *, is_default=False, portfolio=(), notify=False):
        n = next(counter)
        name = SURNAMES[n % len(SURNAMES)] + "某" + GIVEN[(n * 7) % len(GIVEN)]
        contact, _ = Contact.objects.update_or_create(
            phone=f"+86170{n:08d}",
            defaults={
                "unit": unit,
                "name": name,
                "email": f"{unit.code}-{n}@example.org",
                "role": role,
                "is_default": is_default,
                "portfolio": list(portfolio),
                "notify_on_grade": notify,
            },
        )
        return contact

    def _staff(self, unit, index, counter, now, days):
        role_for_unit = ContactRole.DUTY_ROOM_STAFF if unit.kind == "duty_room" else None
        teams = [[self._person(unit, role_for_unit or role, counter) for role in SHIFT_ROLES] for _team in range(2)]
        self._person(unit, ContactRole.UNIT_HEAD, counter, is_default=True)
        self._person(unit, role_for_unit or ContactRole.DUTY_OFFICER, counter, is_default=True)
        tz = ZoneInfo(settings.TIME_ZONE)
        today = now.astimezone(tz).date()
        # Idempotent: a (unit, role, start) slot that already exists is left alone, so a re-run on the same day
        # adds nothing and a re-run on a later day only extends the roster.
        existing = set(Shift.objects.filter(unit=unit).values_list("role", "starts_at"))
        shifts = []
        for day in range(-1, days + 1):
            start = datetime.combine(today + timedelta(days=day), HANDOVER, tzinfo=tz)
            for contact, role in zip(teams[day % 2], SHIFT_ROLES, strict=True):
                if (role, start) in existing:
                    continue
                shifts.append(
                    Shift(unit=unit, contact=contact, role=role, starts_at=start, ends_at=start + timedelta(days=1))
                )
        Shift.objects.bulk_create(shifts)

    def _leaders(self, counter):
        office = Unit.objects.get(code="qfb")
        domains = ["natural_disaster", "production_safety", "public_health", "social_security", "city_operation"]
        for i, domain in enumerate(domains):
            self._person(office, ContactRole.DISTRICT_LEADER, counter, portfolio=[domain], notify=i < 2)

    def _users(self):
        password = os.environ.get("DEMO_PASSWORD") or secrets.token_urlsafe(9)
        people = [
            ("admin", Role.ADMIN, None),
            ("duty", Role.DUTY_ROOM, None),
            ("auditor", Role.AUDITOR, None),
            ("leader", Role.DISTRICT_LEADER, None),
            ("feed", Role.FEED, None),
            ("sijing-officer", Role.UNIT_STAFF, "sijing"),
        ]
        for username, role, unit_code in people:
            user, created = User.objects.get_or_create(
                username=username,
                defaults={
                    "role": role,
                    "unit": Unit.objects.get(code=unit_code) if unit_code else None,
                    "is_staff": role in (Role.ADMIN, Role.DUTY_ROOM),
                    "is_superuser": role == Role.ADMIN,
                },
            )
            if created:
                user.set_password(password)
                user.save()
                self.stdout.write(f"demo user {username} ({role}) password: {password}")
