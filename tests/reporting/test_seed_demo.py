"""``manage.py seed_demo``: 39 units, two or more on post at every moment of the next 7 days, idempotent; on an
empty database three exercise incidents whose clocks are live at seed time."""

import json
from datetime import datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.utils import timezone
from freezegun import freeze_time

from notifications import messages
from notifications.models import Notification
from notifications.roster import district_leaders
from notifications.sweep import sweep_run
from reporting import services
from reporting.findings_services import findings_recompute
from reporting.management.commands.seed_demo import DEMO_FILE
from reporting.models import (
    AuditEvent,
    Contact,
    ContactRole,
    DeadlineBreach,
    Finding,
    Incident,
    Obligation,
    Report,
    ReportingPolicy,
    Role,
    Shift,
    Unit,
    User,
)
from reporting.stats import timeliness_rows
from reporting.web.board import board_row, board_rows

SH = ZoneInfo("Asia/Shanghai")

pytestmark = pytest.mark.django_db


def seed(at, monkeypatch, *args, password="demo-pass-1"):
    monkeypatch.setenv("DEMO_PASSWORD", password)
    out = StringIO()
    with freeze_time(at):
        call_command("seed_demo", *args, stdout=out)
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
    # One of 泗泾镇's duty officers, so the filing form fills in the contact person and phone.
    assert (officer.contact.unit.code, officer.contact.role) == ("sijing", ContactRole.DUTY_OFFICER)
    assert officer.contact.phone.startswith("+86")


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


# --- the demo incidents -------------------------------------------------------------------------------------------

AT = datetime(2026, 11, 28, 9, 0, tzinfo=SH)
MIN = timedelta(minutes=1)


def obligation(title_part, unit_code):
    return Obligation.objects.select_related("incident", "unit").get(
        incident__title__contains=title_part, unit__code=unit_code
    )


def demo_counts():
    return (
        Incident.objects.count(),
        Obligation.objects.count(),
        Report.objects.count(),
        Notification.objects.count(),
        AuditEvent.objects.count(),
    )


def test_seed_opens_three_exercise_incidents(monkeypatch):
    out = seed(AT, monkeypatch)
    assert "demo: 3 exercise incidents" in out
    incidents = Incident.objects.order_by("pk")
    assert [(i.title, i.domain) for i in incidents] == [
        ("泗泾镇某物流园仓库火灾", "production_safety"),
        ("九亭镇沪松公路路面塌陷", "city_operation"),
        ("松江经开区某工地高处坠落事故", "production_safety"),
    ]
    assert all(i.exercise for i in incidents)
    # Opened through the services: one incident_created event each, marked as an exercise, by the demo duty user.
    created = AuditEvent.objects.filter(kind="incident_created")
    assert created.count() == 3
    assert all(e.detail["exercise"] is True and e.actor == "duty" for e in created)
    assert sorted(Obligation.objects.values_list("unit__code", flat=True)) == sorted(
        ["sijing", "emergency", "jiuting", "sjedz", "construction"]
    )


def test_demo_clocks_at_seed_time(monkeypatch):
    seed(AT, monkeypatch)

    # 1. 泗泾镇 fire: 泗泾镇's verbal report on time (filed 6 min ago by its officer), written due in 48 min;
    #    区应急局, told 10 min ago, has 20 min left for its verbal report.
    sijing = obligation("仓库火灾", "sijing")
    assert sijing.first_known_at == AT - 12 * MIN
    assert (sijing.verbal_state, sijing.written_state) == ("on_time", "pending")
    verbal = sijing.verbal_report
    assert (verbal.kind, verbal.on_time, verbal.filed_at) == ("verbal", True, AT - 6 * MIN)
    assert verbal.filed_by.username == "sijing-officer"
    assert sijing.written_due_at == AT + 48 * MIN
    emergency = obligation("仓库火灾", "emergency")
    assert (emergency.verbal_state, emergency.written_state) == ("pending", "pending")
    row = board_row(emergency, now=AT)
    assert (row["overdue"], row["minutes_left"], row["alarm"]) == (False, 20, False)

    # 2. 九亭镇 road collapse: nothing filed, verbal 10 min overdue and past the escalation step (board alarm).
    jiuting = obligation("路面塌陷", "jiuting")
    assert jiuting.verbal_due_at == AT - 10 * MIN
    assert (jiuting.verbal_state, jiuting.written_state) == ("pending", "pending")
    assert not Report.objects.filter(obligation=jiuting).exists()
    row = board_row(jiuting, now=AT)
    assert (row["overdue"], row["overdue_minutes"], row["alarm"]) == (True, 10, True)
    assert jiuting.next_action_at <= AT  # the first sweep acts on it at once

    # 3. 经开区 fall: one death, every verbal and written report filed on time, so no clock is left running.
    fall = Incident.objects.get(title__contains="高处坠落")
    assert (fall.deaths, fall.grade) == (1, "IV")
    assert (
        all((o.verbal_state, o.written_state) == ("on_time", "on_time") for o in fall.obligations.all())
        and fall.obligations.count() == 2
    )
    reports = Report.objects.filter(incident=fall)
    assert sorted(reports.values_list("unit__code", "kind")) == sorted(
        [("sjedz", "verbal"), ("sjedz", "written"), ("construction", "verbal"), ("construction", "written")]
    )
    assert all(r.on_time for r in reports)
    # The verbal reports were phoned in and logged by the duty room: the call time is what counted.
    logged = reports.get(unit__code="sjedz", kind="verbal")
    assert (logged.counted_at, logged.filed_by.username) == (AT - 112 * MIN, "duty")
    # The death rule notified the district leader in charge of production safety (to the scene).
    deaths = Notification.objects.filter(incident=fall, step="event_deaths")
    leaders = district_leaders(domain="production_safety")
    assert leaders and {n.recipient_id for n in deaths} == {c.pk for c in leaders}
    assert messages.sms_text(messages.facts_for(deaths.first()), now=AT).startswith("【演练】")

    # The board at seed time: the alarm first, then the fire's rows by time left (20 then 48 min); the filed
    # incident is not on it.
    assert [(r["unit_code"], r["alarm"], r["minutes_left"]) for r in board_rows(now=AT)] == [
        ("jiuting", True, None),
        ("emergency", False, 20),
        ("sijing", False, 48),
    ]


def test_the_first_sweep_chases_and_escalates_only_the_overdue_one(monkeypatch):
    seed(AT, monkeypatch)
    with freeze_time(AT):
        sweep_run(now=AT)
    jiuting = obligation("路面塌陷", "jiuting")
    chased = Notification.objects.filter(obligation__isnull=False)
    assert set(chased.values_list("obligation_id", flat=True)) == {jiuting.pk}
    assert set(chased.values_list("step", flat=True)) == {"verbal_overdue", "verbal_escalate"}
    assert chased.filter(step="verbal_escalate", recipient__unit__code="duty-room").exists()
    assert list(DeadlineBreach.objects.values_list("obligation_id", "deadline")) == [(jiuting.pk, "verbal")]
    sms = chased.filter(channel="sms").select_related("incident", "obligation__unit").first()
    assert messages.sms_text(messages.facts_for(sms), now=AT).startswith("【演练】")


def test_demo_incidents_stay_out_of_every_audit_figure(monkeypatch):
    seed(AT, monkeypatch)
    later = AT + timedelta(days=2)  # every silent deadline is long past 漏报's 24 hours
    findings_recompute(now=later, incident_ids=Incident.objects.values_list("pk", flat=True))
    assert not Finding.objects.exists()
    assert all(row["obligations"] == 0 for row in timeliness_rows())
    # The same data as real incidents would count: the two checks above can fail.
    Incident.objects.update(exercise=False)
    findings_recompute(now=later, incident_ids=Incident.objects.values_list("pk", flat=True))
    assert Finding.objects.filter(kind="missed").exists()
    assert sum(row["obligations"] for row in timeliness_rows()) == 5


def test_a_second_seed_adds_no_incident(monkeypatch):
    seed(AT, monkeypatch)
    counts = demo_counts()
    out = seed(AT + timedelta(hours=3), monkeypatch)
    assert demo_counts() == counts
    assert "no exercise incident added" in out and "demo: 3 exercise incidents" not in out


def test_no_demo_incident_on_a_database_with_incidents(monkeypatch):
    seed(AT, monkeypatch, "--no-incidents")
    with freeze_time(AT):
        services.incident_create(
            actor=User.objects.get(username="duty"),
            now=AT,
            title="真实事件",
            domain="natural_disaster",
            occurred_at=AT - 5 * MIN,
            location="松江区",
            summary="",
            units=[{"unit": Unit.objects.get(code="water"), "first_known_at": AT - 5 * MIN, "channel": "self"}],
        )
    seed(AT + MIN, monkeypatch)
    assert list(Incident.objects.values_list("title", flat=True)) == ["真实事件"]


def test_no_incidents_option(monkeypatch):
    out = seed(AT, monkeypatch, "--no-incidents")
    assert "demo: 39 units" in out and "exercise" not in out
    assert Incident.objects.count() == 0
    assert not AuditEvent.objects.exclude(incident=None).exists()
    # Without the option, a later run on the still empty database opens them.
    assert "demo: 3 exercise incidents" in seed(AT + MIN, monkeypatch)


def test_the_audit_chain_of_the_demo_verifies(monkeypatch):
    seed(AT, monkeypatch)
    filed = AuditEvent.objects.filter(kind="report_filed")
    assert filed.count() == 5
    out = StringIO()
    call_command("verify_audit_chain", stdout=out)
    assert out.getvalue().strip().startswith(f"audit chain OK ({AuditEvent.objects.count()} events); head ")


def test_every_unit_person_shift_and_user_the_demo_adds_is_audited(monkeypatch):
    """seed_demo goes through the audited services: each thing it adds has its event, with the command as the actor,
    and the users' events never carry a password. A second run that changes nothing appends nothing."""
    at = datetime(2026, 11, 28, 9, 0, tzinfo=SH)
    seed(at, monkeypatch, "--no-incidents")
    by_seed = AuditEvent.objects.filter(actor__startswith="manage.py seed_demo (")
    expected = {
        ("unit", "unit_added"): set(Unit.objects.values_list("pk", flat=True)),
        ("contact", "contact_added"): set(Contact.objects.values_list("pk", flat=True)),
        ("shift", "shift_added"): set(Shift.objects.values_list("pk", flat=True)),
        ("user", "user_added"): set(User.objects.values_list("pk", flat=True)),
        ("reportingpolicy", "reporting_policy_added"): set(ReportingPolicy.objects.values_list("pk", flat=True)),
    }
    for (model, kind), pks in expected.items():
        recorded = {int(pk) for pk in by_seed.filter(kind=kind, object_type=model).values_list("object_id", flat=True)}
        assert pks and recorded == pks, kind
    assert by_seed.count() == sum(len(pks) for pks in expected.values()) + 1  # + the officer's contact
    officer = User.objects.get(username="sijing-officer")
    assert by_seed.get(kind="user_changed").detail["changed"] == {"contact": [None, officer.contact_id]}
    assert "demo-pass-1" not in json.dumps(list(by_seed.values_list("detail", flat=True)))
    events = AuditEvent.objects.count()
    seed(at + timedelta(hours=3), monkeypatch, "--no-incidents")
    assert AuditEvent.objects.count() == events
