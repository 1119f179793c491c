"""A district leader's failed event SMS (a death, a grade; SPEC "Escalation") falls back to an email to the leader and
an SMS to the district duty room on post, which names the leader so someone phones them; never to whoever else works
in the leader's office. Exactly once still holds: one row per (incident, step, repeat, recipient, channel), and per
leader the duty room is asked to reach (``about``): two unreached leaders of one step are each named to the room."""

import importlib
from datetime import timedelta

import pytest
from django.apps import apps
from django.core import mail
from freezegun import freeze_time

from notifications import callbacks
from notifications.batch import notifications_send
from notifications.delivery import notification_send
from notifications.models import Notification, NotificationStatus
from notifications.sms import SmsError
from notifications.sms.backends import locmem
from reporting import services
from reporting.links import incident_link
from reporting.models import ContactRole, Finding, FindingKind, Shift
from tests.notifications.conftest import T0, on_shift, open_incident, person

S = NotificationStatus
backfill = importlib.import_module("notifications.migrations.0009_notification_about_backfill")


class LeadersUnreachable(locmem.SmsBackend):
    """Twilio refusing the district leaders' numbers (an invalid number); everyone else is reached."""

    numbers: set[str] = set()

    def send(self, *, to, body):
        if to in LeadersUnreachable.numbers:
            raise SmsError("The 'To' number is not a valid phone number.", permanent=True, code=21211)
        return super().send(to=to, body=body)


@pytest.fixture(autouse=True)
def _backends(settings):
    settings.SMS_BACKEND = f"{__name__}.LeadersUnreachable"
    settings.SMS_RATE_PER_SECOND = 0
    locmem.outbox.clear()
    mail.outbox = []
    LeadersUnreachable.numbers = set()


@pytest.fixture
def leaders(units, roster):
    """Two leaders kept in 区府办, and a colleague of theirs there who is on post and a default contact: the person
    the old fallback picked."""
    office = units["qfb"]
    people = {
        "safety": person(office, "王副区长", ContactRole.DISTRICT_LEADER, 40, portfolio=["production_safety"]),
        "listed": person(office, "陈副区长", ContactRole.DISTRICT_LEADER, 42, notify_on_grade=True),
        "colleague": person(office, "区府办秘书", ContactRole.DUTY_OFFICER, 43, is_default=True),
    }
    on_shift(people["colleague"], ContactRole.DUTY_OFFICER)
    return people


def sms_of(incident, step, contact):
    return Notification.objects.get(incident=incident, obligation=None, step=step, recipient=contact, channel="sms")


def test_a_leaders_failed_sms_goes_to_the_duty_room_on_post_naming_the_leader(units, roster, leaders):
    with freeze_time(T0):
        incident = open_incident(units, deaths=1)
    leader = leaders["safety"]
    LeadersUnreachable.numbers = {leader.phone}
    failed = sms_of(incident, "event_deaths", leader)
    later = T0 + timedelta(seconds=5)

    assert notification_send(notification_id=failed.pk, token="t-1", now=later) == S.FAILED

    fallbacks = Notification.objects.filter(fallback_of=failed).order_by("recipient_id")
    assert [(f.channel, f.recipient.name, f.step, f.obligation_id) for f in fallbacks] == [
        ("sms", "钱总值班员", "event_deaths", None),
        ("sms", "周总值班长", "event_deaths", None),
    ]
    # The leader's own email is the step's row already (SMS and email): not made twice.
    assert Notification.objects.filter(incident=incident, recipient=leader, channel="email").count() == 1
    assert not Notification.objects.filter(recipient=leaders["colleague"]).exists()

    result = notifications_send(notification_ids=[f.pk for f in fallbacks], token="t-2", now=later)
    assert set(result.statuses.values()) == {S.SENT}
    bodies = {m.to: m.body for m in locmem.outbox}
    expected = (
        f"{incident.number} 泗泾镇某厂房火灾（08:55，泗泾镇某路1号，泗泾镇报）："
        f"死亡1人，王副区长短信未送达，请电话通知其赶赴现场 {incident_link(incident.pk)}"
    )
    assert bodies == {roster["room_officer"].phone: expected, roster["room_leader"].phone: expected}


def test_an_undelivered_callback_for_a_leader_falls_back_the_same_way(units, roster, leaders):
    with freeze_time(T0):
        incident = open_incident(units, deaths=1)
    leader = leaders["listed"]
    n = sms_of(incident, "event_grade_IV", leader)
    assert notification_send(notification_id=n.pk, token="t-1", now=T0) == S.SENT
    n.refresh_from_db()

    later = T0 + timedelta(minutes=1)
    assert callbacks.notification_record_status(provider_id=n.provider_id, provider_status="undelivered", now=later)
    assert sorted(Notification.objects.filter(fallback_of=n).values_list("channel", "to")) == [
        ("sms", roster["room_officer"].phone),
        ("sms", roster["room_leader"].phone),
    ]
    officer_sms = sms_of(incident, "event_grade_IV", roster["room_officer"])
    locmem.outbox.clear()
    assert notification_send(notification_id=officer_sms.pk, token="t-2", now=later) == S.SENT
    assert locmem.outbox[0].body.endswith(
        f"：一般(IV)事件，死亡1人受伤0人；陈副区长短信未送达，请电话通知 {incident_link(incident.pk)}"
    )
    # A repeated callback changes nothing.
    callbacks.notification_record_status(provider_id=n.provider_id, provider_status="undelivered", now=later)
    assert Notification.objects.filter(fallback_of=n).count() == 2


@pytest.fixture
def two_unreached(units, roster, leaders):
    """No leader covers social security: the death goes to the grade list, two leaders, both unreachable. The second
    has no email address (so he has no step email either)."""
    second = person(units["qfb"], "刘副区长", ContactRole.DISTRICT_LEADER, 44, notify_on_grade=True)
    second.email = ""
    second.save(update_fields=["email"])
    with freeze_time(T0):
        incident = open_incident(units, deaths=1, domain="social_security")
    first = leaders["listed"]
    LeadersUnreachable.numbers = {first.phone, second.phone}
    return incident, first, second


def room_rows(incident, units, step="event_deaths"):
    return Notification.objects.filter(incident=incident, step=step, recipient__unit=units["duty-room"])


def test_two_leaders_failing_on_one_step_ask_each_duty_room_officer_about_each(units, roster, two_unreached):
    """Exactly once per (step, recipient, channel) and per leader the recipient is asked to reach: each officer on
    post gets one SMS per unreached leader, naming that leader; no leader gets a second email."""
    incident, first, second = two_unreached
    first_row, second_row = sms_of(incident, "event_deaths", first), sms_of(incident, "event_deaths", second)
    result = notifications_send(notification_ids=[first_row.pk, second_row.pk], token="t-1", now=T0)
    assert set(result.statuses.values()) == {S.FAILED}

    room = room_rows(incident, units)
    assert sorted(room.values_list("recipient__name", "channel", "fallback_of_id")) == [
        ("周总值班长", "sms", first_row.pk),
        ("周总值班长", "sms", second_row.pk),
        ("钱总值班员", "sms", first_row.pk),
        ("钱总值班员", "sms", second_row.pk),
    ]
    assert {(n.fallback_of_id, n.about_id) for n in room} == {(first_row.pk, first.pk), (second_row.pk, second.pk)}
    # The leader with an email has the step's own (not made twice); the other has none to fall back to.
    assert (
        Notification.objects.filter(incident=incident, step="event_deaths", recipient=first, channel="email").count()
        == 1
    )
    assert not Notification.objects.filter(recipient=second, channel="email").exists()
    assert not Notification.objects.filter(fallback_of__in=[first_row, second_row], channel="email").exists()
    # Only the duty room's questions are about someone.
    assert set(Notification.objects.exclude(about=None).values_list("recipient__unit", flat=True)) == {
        units["duty-room"].pk
    }

    result = notifications_send(notification_ids=[n.pk for n in room], token="t-2", now=T0)
    assert set(result.statuses.values()) == {S.SENT}
    for officer in (roster["room_officer"], roster["room_leader"]):
        bodies = [m.body for m in locmem.outbox if m.to == officer.phone]
        assert len(bodies) == 2
        assert sorted(("陈副区长" in b, "刘副区长" in b) for b in bodies) == [(False, True), (True, False)]
        assert all(b.endswith(f"短信未送达，请电话通知其赶赴现场 {incident_link(incident.pk)}") for b in bodies)


def test_two_unreached_leaders_are_asked_about_exactly_once(units, roster, two_unreached):
    """A second send of the failed rows, a second fallback of each and the sweep add nothing."""
    from notifications.delivery import notification_fallback
    from notifications.sweep import sweep_run

    incident, first, second = two_unreached
    rows = [sms_of(incident, "event_deaths", first), sms_of(incident, "event_deaths", second)]
    notifications_send(notification_ids=[n.pk for n in rows], token="t-1", now=T0)
    before = sorted(Notification.objects.values_list("pk", flat=True))
    assert room_rows(incident, units).count() == 4

    later = T0 + timedelta(minutes=1)
    assert notifications_send(notification_ids=[n.pk for n in rows], token="t-2", now=later).statuses == {
        n.pk: S.FAILED for n in rows
    }
    for n in rows:
        n.refresh_from_db()
        assert notification_fallback(notification=n, now=later) == []
    sweep_run(now=later + timedelta(minutes=1))
    assert sorted(Notification.objects.values_list("pk", flat=True)) == before


def test_a_duty_room_officers_failed_sms_falls_back_about_the_same_leader(units, roster, two_unreached):
    """The officer's own SMS about each leader fails: an email to the officer about each leader, each naming him;
    the rest of the room was already asked about that leader, so nothing more for them."""
    incident, first, second = two_unreached
    officer = roster["room_officer"]
    LeadersUnreachable.numbers |= {officer.phone}
    leader_rows = [sms_of(incident, "event_deaths", first), sms_of(incident, "event_deaths", second)]
    notifications_send(notification_ids=[n.pk for n in leader_rows], token="t-1", now=T0)
    officer_rows = list(room_rows(incident, units).filter(recipient=officer))
    result = notifications_send(notification_ids=[n.pk for n in officer_rows], token="t-2", now=T0)
    assert set(result.statuses.values()) == {S.FAILED}

    emails = Notification.objects.filter(fallback_of__in=officer_rows)
    assert sorted(emails.values_list("recipient__name", "channel", "about__name")) == [
        ("钱总值班员", "email", "刘副区长"),
        ("钱总值班员", "email", "陈副区长"),
    ]
    assert room_rows(incident, units).filter(channel="sms").count() == 4
    notifications_send(notification_ids=[n.pk for n in emails], token="t-3", now=T0)
    bodies = [m.body for m in mail.outbox if m.to == [officer.email]]
    asks = sorted(
        ("发给陈副区长的短信未送达，请电话通知。" in b, "发给刘副区长的短信未送达，请电话通知。" in b) for b in bodies
    )
    assert asks == [(False, True), (True, False)]


def test_with_nobody_on_post_in_the_duty_room_its_default_contact_is_asked_and_the_gap_recorded(units, roster, leaders):
    Shift.objects.filter(unit=units["duty-room"]).delete()
    with freeze_time(T0):
        incident = open_incident(units, deaths=1)
    LeadersUnreachable.numbers = {leaders["safety"].phone}
    failed = sms_of(incident, "event_deaths", leaders["safety"])
    notification_send(notification_id=failed.pk, token="t-1", now=T0)
    assert list(Notification.objects.filter(fallback_of=failed).values_list("recipient__name", "channel")) == [
        ("总值班室默认", "sms")
    ]
    gap = Finding.objects.get(kind=FindingKind.ROSTER_GAP, unit=units["duty-room"])
    assert (gap.incident_id, gap.obligation_id, gap.detail["step"], gap.detail["reason"]) == (
        incident.pk,
        None,
        "event_deaths",
        "no_shift",
    )


def test_two_rules_at_one_moment_needing_an_unstaffed_duty_room_record_one_roster_gap(units, roster, leaders):
    """A death (grade IV too) told to two leaders without a mobile number: both rules ask the duty room at the same
    moment, which has nobody on post; that is one need of its duty staff, so one roster-gap finding naming both
    steps (``roster.gaps_record``), as for an obligation's steps due together."""
    Shift.objects.filter(unit=units["duty-room"]).delete()
    for leader in (leaders["safety"], leaders["listed"]):
        leader.phone = ""
        leader.save()
    with freeze_time(T0):
        incident = open_incident(units, deaths=1)
    asked = Notification.objects.filter(incident=incident, recipient__name="总值班室默认", channel="sms")
    assert sorted(asked.values_list("step", flat=True)) == ["event_deaths", "event_grade_IV"]
    (gap,) = Finding.objects.filter(kind=FindingKind.ROSTER_GAP, unit=units["duty-room"])
    steps = [(gap.detail["step"], gap.detail["repeat"]), *[(n["step"], n["repeat"]) for n in gap.detail["also"]]]
    assert sorted(steps) == [("event_deaths", 0), ("event_grade_IV", 0)]


def test_a_failed_obligation_sms_still_falls_back_within_the_unit(units, roster, leaders):
    """Unchanged for the chasing of a unit: the next person on post in the recipient's unit."""
    with freeze_time(T0):
        incident = open_incident(units)
    obligation = incident.obligations.get()
    LeadersUnreachable.numbers = {roster["officer"].phone}
    n = Notification.objects.create(
        incident=incident,
        obligation=obligation,
        step="verbal_overdue",
        channel="sms",
        recipient=roster["officer"],
        to=roster["officer"].phone,
        scheduled_for=T0 + timedelta(minutes=30),
        created_at=T0 + timedelta(minutes=30),
    )
    notification_send(notification_id=n.pk, token="t-1", now=T0 + timedelta(minutes=31))
    sms = Notification.objects.get(fallback_of=n, channel="sms")
    assert sms.recipient.unit == units["sijing"] and sms.recipient != roster["officer"]


def test_migration_0009_names_the_leader_on_the_duty_rooms_older_rows_only(units, roster, leaders):
    """Rows as the old code left them (``about`` empty): the duty room's SMS about the leader and the email of an
    officer whose own SMS failed get the leader; the leader's rows and a unit's chasing rows stay about nobody."""
    with freeze_time(T0):
        incident = open_incident(units, deaths=1)
    leader, officer = leaders["safety"], roster["room_officer"]
    LeadersUnreachable.numbers = {leader.phone, officer.phone, roster["officer"].phone}
    notifications_send(notification_ids=[sms_of(incident, "event_deaths", leader).pk], token="t-1", now=T0)
    officer_sms = room_rows(incident, units).get(recipient=officer, channel="sms")
    notifications_send(notification_ids=[officer_sms.pk], token="t-2", now=T0)
    chased = Notification.objects.create(
        incident=incident,
        obligation=incident.obligations.get(),
        step="verbal_overdue",
        channel="sms",
        recipient=roster["officer"],
        to=roster["officer"].phone,
        scheduled_for=T0 + timedelta(minutes=30),
        created_at=T0 + timedelta(minutes=30),
    )
    notifications_send(notification_ids=[chased.pk], token="t-3", now=T0 + timedelta(minutes=31))
    assert Notification.objects.filter(fallback_of=chased).exists()
    expected = dict(Notification.objects.values_list("pk", "about_id"))
    about_leader = Notification.objects.filter(about=leader)
    assert sorted(about_leader.values_list("recipient__name", "channel")) == [
        ("周总值班长", "sms"),
        ("钱总值班员", "email"),
        ("钱总值班员", "sms"),
    ]

    Notification.objects.update(about=None)
    backfill.fill_about(apps, None)
    assert dict(Notification.objects.values_list("pk", "about_id")) == expected


@pytest.mark.parametrize("email", ["wang@example.org", ""])
def test_a_leader_with_no_phone_is_phoned_by_the_duty_room_at_once(units, roster, leaders, email):
    """A leader kept without a mobile number gets no SMS at all (and, with no email either, nothing): the duty room on
    post is asked at once, as when the SMS fails, to phone the leader to the scene."""
    leader = leaders["safety"]
    leader.phone, leader.email = "", email
    leader.save()
    with freeze_time(T0):
        incident = open_incident(units, deaths=1)
    told = Notification.objects.filter(incident=incident, step="event_deaths")
    assert sorted(told.values_list("recipient__name", "channel", "about__name")) == sorted(
        [
            ("周总值班长", "sms", "王副区长"),
            ("钱总值班员", "sms", "王副区长"),
            *([("王副区长", "email", None)] if email else []),
        ]
    )
    notifications_send(notification_ids=list(told.values_list("pk", flat=True)), token="t-1", now=T0)
    bodies = {m.to: m.body for m in locmem.outbox}
    assert bodies[roster["room_officer"].phone].startswith(f"{incident.number} 泗泾镇某厂房火灾（")
    assert (
        f"死亡1人，王副区长无手机号码，请电话通知其赶赴现场 {incident_link(incident.pk)}"
        in bodies[roster["room_leader"].phone]
    )
    # Figures rising later fire nothing again: the rule has fired.
    with freeze_time(T0 + timedelta(minutes=20)):
        services.incident_update(incident=incident, actor=None, now=T0 + timedelta(minutes=20), deaths=2)
    assert told.count() == 2 + bool(email)


def test_a_death_no_leaders_portfolio_covers_says_so_and_with_no_leader_at_all_goes_to_the_duty_room(
    units, roster, leaders
):
    """A death in social security, which no leader's portfolio covers: the leaders on the list are told, and told that
    no leader is in charge of it (not asked, as leaders in charge, to go); with no leader on the list either, the
    duty room on post is told, so that a death never reaches no one."""
    with freeze_time(T0):
        incident = open_incident(units, deaths=1, domain="social_security")
    sms = sms_of(incident, "event_deaths", leaders["listed"])
    notification_send(notification_id=sms.pk, token="t-1", now=T0)
    assert locmem.outbox[-1].body.split(" ")[-2].endswith("：死亡1人，本领域无分管区领导，请安排区领导赶赴现场")

    leaders["listed"].notify_on_grade = False
    leaders["listed"].save()
    with freeze_time(T0):
        alone = open_incident(units, deaths=1, domain="social_security", title="无人分管")
    told = Notification.objects.filter(incident=alone, step="event_deaths")
    assert sorted(told.values_list("recipient__name", "channel")) == [
        ("周总值班长", "email"),
        ("周总值班长", "sms"),
        ("钱总值班员", "email"),
        ("钱总值班员", "sms"),
    ]
    sms = told.filter(channel="sms").first()
    notification_send(notification_id=sms.pk, token="t-2", now=T0)
    assert "：死亡1人，本领域无分管区领导，请安排区领导赶赴现场" in locmem.outbox[-1].body
