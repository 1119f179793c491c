"""A district leader's failed event SMS (a death, a grade; SPEC "Escalation") falls back to an email to the leader and
an SMS to the district duty room on post, which names the leader so someone phones them; never to whoever else works
in the leader's office. Exactly once still holds: one row per (incident, step, repeat, recipient, channel)."""

from datetime import timedelta

import pytest
from django.core import mail
from freezegun import freeze_time

from notifications import callbacks
from notifications.batch import notifications_send
from notifications.delivery import notification_send
from notifications.models import Notification, NotificationStatus
from notifications.sms import SmsError
from notifications.sms.backends import locmem
from reporting.models import ContactRole, Finding, FindingKind, Shift
from tests.notifications.conftest import T0, on_shift, open_incident, person

S = NotificationStatus


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
    expected = f"{incident.number} 泗泾镇某厂房火灾：死亡1人，王副区长短信未送达，请电话通知其赶赴现场"
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
    assert locmem.outbox[0].body.endswith("：一般(IV)事件，死亡1人受伤0人；陈副区长短信未送达，请电话通知")
    # A repeated callback changes nothing.
    callbacks.notification_record_status(provider_id=n.provider_id, provider_status="undelivered", now=later)
    assert Notification.objects.filter(fallback_of=n).count() == 2


def test_two_leaders_failing_on_one_step_ask_each_duty_room_officer_once(units, roster, leaders):
    """No leader covers social security: the death goes to the list. Exactly once per (step, recipient, channel):
    the second failure finds the duty room already asked for that step and adds nothing."""
    second = person(units["qfb"], "刘副区长", ContactRole.DISTRICT_LEADER, 44, notify_on_grade=True)
    with freeze_time(T0):
        incident = open_incident(units, deaths=1, domain="social_security")
    LeadersUnreachable.numbers = {leaders["listed"].phone, second.phone}
    first_row, second_row = (
        sms_of(incident, "event_deaths", leaders["listed"]),
        sms_of(incident, "event_deaths", second),
    )
    result = notifications_send(notification_ids=[first_row.pk, second_row.pk], token="t-1", now=T0)
    assert set(result.statuses.values()) == {S.FAILED}
    room = Notification.objects.filter(incident=incident, step="event_deaths", recipient__unit=units["duty-room"])
    assert sorted(room.values_list("recipient__name", "channel")) == [("周总值班长", "sms"), ("钱总值班员", "sms")]
    assert {n.fallback_of_id for n in room} == {first_row.pk}


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
