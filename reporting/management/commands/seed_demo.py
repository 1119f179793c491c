"""Demo data: Songjiang's 39 units, fictitious duty staff, shifts with two (three) on post at every moment, and on
an empty database three exercise (演练) incidents whose clocks are running, so the duty room's board is not empty."""

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

from reporting.config_services import reporting_policy_create, unit_create, unit_update, user_create, user_update
from reporting.management.operator import operator
from reporting.models import (
    Contact,
    ContactRole,
    Incident,
    Obligation,
    ObligationKind,
    ReportingPolicy,
    Role,
    Shift,
    Unit,
    User,
)
from reporting.report_services import report_create
from reporting.roster_services import contact_create, contact_update, shifts_create
from reporting.services import incident_create

DEMO_FILE = Path(__file__).resolve().parents[2] / "demo" / "songjiang-units.json"
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂"
SHIFT_ROLES = (ContactRole.DUTY_OFFICER, ContactRole.SHIFT_LEADER, ContactRole.LEADER_ON_SHIFT)
# Shifts hand over at 08:30 Shanghai time, the usual 24-hour duty rhythm.
HANDOVER = time(8, 30)


class Command(BaseCommand):
    help = (
        "Load Songjiang's demo units, fictitious duty staff and 7 days of shifts (idempotent); on a database with "
        "no incident yet, also open three exercise incidents with running clocks."
    )

    def add_arguments(self, parser):
        parser.add_argument("--file", default=str(DEMO_FILE))
        parser.add_argument("--days", type=int, default=7)
        parser.add_argument(
            "--no-incidents", action="store_true", help="do not open the demo exercise incidents (演练)"
        )

    def handle(self, *args, **options):
        # Units, staff and users commit first: the demo incidents go through the domain services afterwards, each in
        # its own transaction (report_create wants to be called outside an atomic block), as real input would.
        with transaction.atomic():
            self._organisation(options)
        if options["no_incidents"]:
            return
        if Incident.objects.exists():
            self.stdout.write("demo: the database already has incidents, no exercise incident added")
            return
        opened = open_demo_incidents(now=timezone.now())
        self.stdout.write(self.style.SUCCESS(f"demo: {len(opened)} exercise incidents"))

    def _organisation(self, options):
        """Through the audited services, as the API and the admin would (SPEC "Integrity and access"): each unit,
        person, shift, user and the default policy added appends its event, with ``manage.py seed_demo (<system
        user>)`` as the actor; a re-run records only what it changed."""
        data = json.loads(Path(options["file"]).read_text(encoding="utf-8"))
        now = timezone.now()
        actor = operator("seed_demo")
        if not ReportingPolicy.objects.filter(grade=None).exists():
            reporting_policy_create(
                policy=ReportingPolicy(grade=None, verbal_minutes=30, written_minutes=60), actor=actor, now=now
            )
        counter = iter(range(1, 100_000))
        for index, row in enumerate(data["units"]):
            fields = {
                "name": row["name"],
                "name_en": row.get("name_en", ""),
                "kind": row["kind"],
                "vertical": row.get("vertical", False),
                "domains": row.get("domains", []),
            }
            unit = Unit.objects.filter(code=row["code"]).first()
            if unit is None:
                unit = unit_create(unit=Unit(code=row["code"], **fields), actor=actor, now=now)
            else:
                unit = unit_update(unit=unit, changes=fields, actor=actor, now=now)
            self._staff(unit, index, counter, now, options["days"], actor)
        self._leaders(counter, now, actor)
        self._users(now, actor)
        counts = f"{Unit.objects.count()} units, {Contact.objects.count()} contacts, {Shift.objects.count()} shifts"
        self.stdout.write(self.style.SUCCESS(f"demo: {counts}"))

    def _person(self, unit, role, counter, now, actor, *, is_default=False, portfolio=(), notify=False):
        n = next(counter)
        fields = {
            "name": SURNAMES[n % len(SURNAMES)] + "某" + GIVEN[(n * 7) % len(GIVEN)],
            "email": f"{unit.code}-{n}@example.org",
            "role": role,
            "is_default": is_default,
            "portfolio": list(portfolio),
            "notify_on_grade": notify,
        }
        phone = f"+86170{n:08d}"
        contact = Contact.objects.filter(phone=phone).first()
        if contact is None:
            return contact_create(unit=unit, phone=phone, **fields, actor=actor, now=now)
        return contact_update(contact=contact, changes={"unit": unit, **fields}, actor=actor, now=now)

    def _staff(self, unit, index, counter, now, days, actor):
        role_for_unit = ContactRole.DUTY_ROOM_STAFF if unit.kind == "duty_room" else None
        teams = [
            [self._person(unit, role_for_unit or role, counter, now, actor) for role in SHIFT_ROLES]
            for _team in range(2)
        ]
        self._person(unit, ContactRole.UNIT_HEAD, counter, now, actor, is_default=True)
        self._person(unit, role_for_unit or ContactRole.DUTY_OFFICER, counter, now, actor, is_default=True)
        tz = ZoneInfo(settings.TIME_ZONE)
        today = now.astimezone(tz).date()
        # Idempotent: a (unit, role, start) slot that already exists is left alone, so a re-run on the same day
        # adds nothing and a re-run on a later day only extends the roster.
        existing = set(Shift.objects.filter(unit=unit).values_list("role", "starts_at"))
        for day in range(-1, days + 1):
            start = datetime.combine(today + timedelta(days=day), HANDOVER, tzinfo=tz)
            for contact, role in zip(teams[day % 2], SHIFT_ROLES, strict=True):
                if (role, start) in existing:
                    continue
                shifts_create(
                    unit=unit,
                    contact=contact,
                    role=role,
                    starts_at=start,
                    ends_at=start + timedelta(days=1),
                    actor=actor,
                    now=now,
                )

    def _leaders(self, counter, now, actor):
        office = Unit.objects.get(code="qfb")
        domains = ["natural_disaster", "production_safety", "public_health", "social_security", "city_operation"]
        for i, domain in enumerate(domains):
            self._person(office, ContactRole.DISTRICT_LEADER, counter, now, actor, portfolio=[domain], notify=i < 2)

    def _users(self, now, actor):
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
            user = User.objects.filter(username=username).first()
            if user is None:
                user = User(
                    username=username,
                    role=role,
                    unit=Unit.objects.get(code=unit_code) if unit_code else None,
                    is_staff=role in (Role.ADMIN, Role.DUTY_ROOM),
                    is_superuser=role == Role.ADMIN,
                )
                user.set_password(password)
                user = user_create(user=user, actor=actor, now=now)
                self.stdout.write(f"demo user {username} ({role}) password: {password}")
            if unit_code and user.contact_id is None:
                # The officer is one of the unit's duty officers: the filing form fills in their name and phone.
                officer = (
                    Contact.objects.filter(unit__code=unit_code, role=ContactRole.DUTY_OFFICER).order_by("id").first()
                )
                user_update(user=user, changes={"contact": officer}, actor=actor, now=now)


# --- demo incidents ---------------------------------------------------------------------------------------------

#: The units the demo incidents name (codes from ``reporting/demo/songjiang-units.json``).
DEMO_INCIDENT_UNITS = ("sijing", "emergency", "jiuting", "sjedz", "construction")


def open_demo_incidents(*, now: datetime) -> list[Incident]:
    """Three exercise incidents (演练: every clock and message runs, no audit figure counts them, SPEC rule 10),
    timed back from ``now`` so the board is live when it opens. Through the domain services only, so the audit
    events, findings hooks and chasing happen as for real input; a report filed "earlier" is filed at that time.

    1. 泗泾镇 warehouse fire, first known 12 min ago: 泗泾镇's verbal report filed on time 6 min ago, its written
       report due in 48 min; 区应急局 (told 10 min ago) has filed nothing yet, verbal due in 20 min.
    2. 九亭镇 road collapse, first known 40 min ago, nothing filed: the verbal report is 10 min overdue and past
       the escalation step (due + 5 min), so the board alarms and the first sweep chases and escalates it.
    3. 经开区 construction-site fall, 1 death, first known 125 min ago: every verbal and written report filed on
       time (the verbal ones phoned in and logged by the duty room); the death rule notified the production-safety
       leader and the grade IV rule the leaders on the notification list.
    """
    units = {u.code: u for u in Unit.objects.filter(code__in=DEMO_INCIDENT_UNITS)}
    if len(units) < len(DEMO_INCIDENT_UNITS):
        return []  # a --file without these units: no demo incidents rather than half of them
    duty = User.objects.get(username="duty")
    officer = User.objects.get(username="sijing-officer")

    def ago(minutes: int) -> datetime:
        return now - timedelta(minutes=minutes)

    fire = incident_create(
        actor=duty,
        now=ago(10),
        title="泗泾镇某物流园仓库火灾",
        domain="production_safety",
        occurred_at=ago(14),
        location="泗泾镇九干路某物流园3号仓库",
        summary="仓库内堆放的纸箱起火，消防已到场处置，人员已疏散，伤亡情况正在核实。",
        exercise=True,
        units=[
            {"unit": units["sijing"], "first_known_at": ago(12), "channel": "self"},
            {"unit": units["emergency"], "first_known_at": ago(10), "channel": "other_unit"},
        ],
    )
    _demo_report(
        fire,
        units["sijing"],
        "verbal",
        actor=officer,
        at=ago(6),
        account="物流园仓库起火，明火已基本控制，现场人员已全部疏散，暂未发现人员伤亡。",
    )

    collapse = incident_create(
        actor=duty,
        now=ago(38),
        title="九亭镇沪松公路路面塌陷",
        domain="city_operation",
        occurred_at=ago(45),
        location="九亭镇沪松公路涞亭路口东侧",
        summary="市民通过12345热线反映路面塌陷约4平方米，东向车道中断，疑似地下管线渗漏。",
        exercise=True,
        units=[{"unit": units["jiuting"], "first_known_at": ago(40), "channel": "12345"}],
    )

    fall = incident_create(
        actor=duty,
        now=ago(118),
        title="松江经开区某工地高处坠落事故",
        domain="production_safety",
        occurred_at=ago(130),
        location="松江经开区某在建厂房工地",
        summary="一名施工人员在脚手架作业时坠落，经120送医抢救无效死亡。",
        deaths=1,
        exercise=True,
        units=[
            {"unit": units["sjedz"], "first_known_at": ago(125), "channel": "self"},
            {"unit": units["construction"], "first_known_at": ago(118), "channel": "other_unit"},
        ],
    )
    account = "在建厂房工地一名施工人员高处坠落，经送医抢救无效死亡，现场已停工。"
    _demo_report(fall, units["sjedz"], "verbal", actor=duty, at=ago(110), call_received_at=ago(112), account=account)
    _demo_report(
        fall, units["construction"], "verbal", actor=duty, at=ago(105), call_received_at=ago(106), account=account
    )
    _demo_report(fall, units["sjedz"], "written", actor=duty, at=ago(80), account=account)
    _demo_report(fall, units["construction"], "written", actor=duty, at=ago(70), account=account)
    return [fire, collapse, fall]


def _demo_report(incident: Incident, unit: Unit, kind: str, *, actor, at: datetime, account: str, **extra):
    """File one complete demo report of ``unit`` on ``incident`` at ``at``, with the incident's own figures."""
    obligation = Obligation.objects.select_related("incident", "unit").get(
        incident=incident, unit=unit, kind=ObligationKind.REPORT
    )
    contact = unit.contacts.filter(role=ContactRole.DUTY_OFFICER).order_by("id").first()
    return report_create(
        obligation=obligation,
        kind=kind,
        actor=actor,
        now=at,
        occurred_at=incident.occurred_at,
        location=incident.location,
        account=account,
        deaths=incident.deaths,
        injuries=incident.injuries,
        serious_injuries=incident.serious_injuries,
        missing=incident.missing,
        measures="已启动应急预案，相关部门到场处置，现场已设置警戒。",
        contact_name=contact.name if contact else "",
        contact_phone=contact.phone if contact else "",
        **extra,
    )
