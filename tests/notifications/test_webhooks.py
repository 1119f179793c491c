"""Twilio webhooks (issue 3, must-show 4): valid signature → 2xx; missing or forged → 403 (also with no token
configured); out-of-order and repeated status callbacks; a reply 收到 acknowledges."""

import uuid
from datetime import timedelta

import pytest
from django.db import DatabaseError
from django.utils import timezone
from freezegun import freeze_time
from twilio.request_validator import RequestValidator

from notifications import callbacks
from notifications.models import Notification, NotificationStatus, ProviderRequestSeen
from reporting import services
from reporting.models import AuditEvent, Contact, ContactRole
from tests.conftest import NOW

S = NotificationStatus
TOKEN = "webhook-test-token"
BASE = "https://tracker.example.org"
STATUS_URL = "/webhooks/twilio/status/"
INBOUND_URL = "/webhooks/twilio/inbound/"
SID = "SM" + "a" * 32


@pytest.fixture(autouse=True)
def _twilio(settings):
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.PUBLIC_BASE_URL = BASE  # behind a proxy: Django sees http://testserver, Twilio signed the public URL


def signed_post(client, path, params, *, token=TOKEN, signature=None):
    sig = signature if signature is not None else RequestValidator(token).compute_signature(BASE + path, params)
    headers = {"HTTP_X_TWILIO_SIGNATURE": sig} if sig != "" else {}
    return client.post(path, params, **headers)


@pytest.fixture
def sent(units):
    incident = services.incident_create(
        actor=None,
        now=NOW,
        units=[{"unit": units["sijing"], "first_known_at": NOW, "channel": "self"}],
        title="泗泾镇某厂房火灾",
        domain="production_safety",
        occurred_at=NOW - timedelta(minutes=5),
        location="泗泾镇某路1号",
    )
    Notification.objects.all().delete()
    sj = units["sijing"]
    officer = Contact.objects.create(
        unit=sj, name="王某", phone="+8617000000001", email="officer@example.org", role=ContactRole.DUTY_OFFICER
    )
    Contact.objects.create(unit=sj, name="默认", phone="+8617000000009", role=ContactRole.DUTY_OFFICER, is_default=True)

    def make(step="verbal_overdue", sid=SID, at=NOW + timedelta(minutes=31), **extra):
        return Notification.objects.create(
            incident=incident,
            obligation=incident.obligations.get(),
            step=step,
            channel="sms",
            recipient=officer,
            to=officer.phone,
            status=S.SENT,
            provider_id=sid,
            sent_at=at,
            scheduled_for=at,
            created_at=at,
            body="催报",
            **extra,
        )

    return make


def status(n):
    n.refresh_from_db()
    return n.status


# --- signatures ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [STATUS_URL, INBOUND_URL])
def test_missing_signature_is_forbidden(client, db, path):
    assert signed_post(client, path, {"MessageSid": SID, "MessageStatus": "sent"}, signature="").status_code == 403


@pytest.mark.parametrize("path", [STATUS_URL, INBOUND_URL])
def test_forged_signature_is_forbidden(client, db, path):
    params = {"MessageSid": SID, "MessageStatus": "delivered", "From": "+8617000000001", "Body": "1"}
    assert signed_post(client, path, params, token="not-the-token").status_code == 403
    assert signed_post(client, path, params, signature="bm90IGEgc2lnbmF0dXJl").status_code == 403


@pytest.mark.parametrize("path", [STATUS_URL, INBOUND_URL])
def test_no_auth_token_configured_is_forbidden_even_with_a_signature(client, db, settings, path):
    params = {"MessageSid": SID, "MessageStatus": "sent", "From": "+8617000000001", "Body": "1"}
    settings.TWILIO_AUTH_TOKEN = ""
    assert signed_post(client, path, params, token="").status_code == 403
    assert signed_post(client, path, params, token=TOKEN).status_code == 403


def test_a_tampered_parameter_is_forbidden(client, sent):
    n = sent()
    sig = RequestValidator(TOKEN).compute_signature(BASE + STATUS_URL, {"MessageSid": SID, "MessageStatus": "sent"})
    resp = client.post(STATUS_URL, {"MessageSid": SID, "MessageStatus": "failed"}, HTTP_X_TWILIO_SIGNATURE=sig)
    assert resp.status_code == 403 and status(n) == S.SENT


def test_get_is_not_allowed(client, db):
    assert client.get(STATUS_URL).status_code == 405


def test_valid_signature_but_missing_fields_is_a_clear_400(client, db):
    resp = signed_post(client, STATUS_URL, {"MessageStatus": "sent"})
    assert resp.status_code == 400 and "MessageSid" in resp.content.decode()


# --- status callbacks ------------------------------------------------------------------------------------------------


def test_delivered_callback_moves_the_status(client, sent):
    n = sent()
    resp = signed_post(client, STATUS_URL, {"MessageSid": SID, "MessageStatus": "delivered"})
    assert resp.status_code == 204
    n.refresh_from_db()
    assert n.status == S.DELIVERED and n.delivered_at is not None
    assert AuditEvent.objects.filter(kind="notification_delivered", object_id=str(n.pk)).count() == 1


def test_out_of_order_and_repeated_callbacks_only_move_forward(client, sent):
    n = sent()
    for callback in ("delivered", "sent", "queued", "delivered", "sent"):
        assert signed_post(client, STATUS_URL, {"MessageSid": SID, "MessageStatus": callback}).status_code == 204
        assert status(n) == S.DELIVERED
    assert AuditEvent.objects.filter(kind="notification_delivered", object_id=str(n.pk)).count() == 1


def test_unknown_sid_and_unknown_status_are_harmless(client, sent):
    n = sent()
    assert (
        signed_post(client, STATUS_URL, {"MessageSid": "SM" + "f" * 32, "MessageStatus": "delivered"}).status_code
        == 204
    )
    assert signed_post(client, STATUS_URL, {"MessageSid": SID, "MessageStatus": "bogus"}).status_code == 204
    assert status(n) == S.SENT


def test_undelivered_falls_back_once(client, sent, django_capture_on_commit_callbacks):
    n = sent()
    params = {"MessageSid": SID, "MessageStatus": "undelivered", "ErrorCode": "30003"}
    with django_capture_on_commit_callbacks() as callbacks:
        for _ in range(3):  # Twilio may repeat a callback
            assert signed_post(client, STATUS_URL, params).status_code == 204
    n.refresh_from_db()
    assert n.status == S.UNDELIVERED and n.error == "twilio undelivered 30003"
    fallbacks = Notification.objects.filter(fallback_of=n).order_by("channel")
    assert [(f.channel, f.to) for f in fallbacks] == [("email", "officer@example.org"), ("sms", "+8617000000009")]
    assert len(callbacks) == 2
    # A late 'delivered' after a terminal failure changes nothing.
    signed_post(client, STATUS_URL, {"MessageSid": SID, "MessageStatus": "delivered"})
    assert status(n) == S.UNDELIVERED


@pytest.mark.parametrize(("reported_after", "fallbacks"), [(timedelta(minutes=29), 2), (timedelta(minutes=31), 0)])
def test_a_failed_reminder_falls_back_only_while_its_deadline_is_ahead(client, sent, reported_after, fallbacks):
    """Verbal due at NOW + 30 min: a reminder's failure reported after that is left to the overdue step."""
    n = sent(step="verbal_reminder", at=NOW + timedelta(minutes=20))
    with freeze_time(NOW + reported_after):
        params = {"MessageSid": SID, "MessageStatus": "undelivered", "ErrorCode": "30003"}
        assert signed_post(client, STATUS_URL, params).status_code == 204
    assert status(n) == S.UNDELIVERED
    assert Notification.objects.filter(fallback_of=n).count() == fallbacks


def test_a_renamed_reminder_is_known_by_its_plan_not_its_name(client, sent):
    """The admin names steps freely: a reminder called "verbal_heads_up" (10 minutes before) in the obligation's
    plan is still a reminder, so its failure after the deadline is left to the overdue step."""
    n = sent(step="verbal_heads_up", at=NOW + timedelta(minutes=20))
    obligation = n.obligation
    obligation.escalation_plan = [
        {**step, "key": "verbal_heads_up"} if step["key"] == "verbal_reminder" else step
        for step in obligation.escalation_plan
    ]
    obligation.save(update_fields=["escalation_plan"])
    with freeze_time(NOW + timedelta(minutes=31)):
        params = {"MessageSid": SID, "MessageStatus": "undelivered", "ErrorCode": "30003"}
        assert signed_post(client, STATUS_URL, params).status_code == 204
    assert status(n) == S.UNDELIVERED
    assert not Notification.objects.filter(fallback_of=n).exists()


def test_failed_after_sent_falls_back(client, sent):
    n = sent()
    signed_post(client, STATUS_URL, {"MessageSid": SID, "MessageStatus": "sent"})
    signed_post(client, STATUS_URL, {"MessageSid": SID, "MessageStatus": "failed", "ErrorCode": "30005"})
    assert status(n) == S.FAILED
    assert Notification.objects.filter(fallback_of=n).count() == 2


# --- inbound replies -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("reply", ["收到", " ok ", "OK", "1", "ＯＫ"])
def test_reply_acknowledges_the_most_recent_notification(client, sent, reply):
    older = sent(step="verbal_reminder", sid="SM" + "b" * 32, at=NOW + timedelta(minutes=20))
    latest = sent()
    resp = signed_post(client, INBOUND_URL, {"From": "+8617000000001", "Body": reply})
    assert resp.status_code == 200 and resp["Content-Type"].startswith("text/xml")
    assert "<Response><Message>已确认收到催报" in resp.content.decode()
    for n in (latest, older):  # same obligation: both acknowledged
        n.refresh_from_db()
        assert n.status == S.ACKNOWLEDGED and n.acknowledged_at is not None
    assert AuditEvent.objects.filter(kind="notification_acknowledged").count() == 2


def test_ack_is_not_overwritten_by_a_late_delivered_callback(client, sent):
    n = sent()
    signed_post(client, INBOUND_URL, {"From": "+8617000000001", "Body": "收到"})
    signed_post(client, STATUS_URL, {"MessageSid": SID, "MessageStatus": "delivered"})
    assert status(n) == S.ACKNOWLEDGED


def test_a_reply_posted_again_does_not_acknowledge_a_newer_sms(client, sent):
    """Twilio's signature carries no time: a captured signed reply posted again later must not acknowledge an SMS
    sent after it (found by security review). Each reply (its MessageSid) is acted on once."""
    first = sent()
    reply = {"From": "+8617000000001", "Body": "1", "MessageSid": f"SM{uuid.uuid4().hex}"}
    assert "已确认收到催报" in signed_post(client, INBOUND_URL, reply).content.decode()
    assert status(first) == S.ACKNOWLEDGED
    newer = sent(step="verbal_escalate", sid="SM" + "c" * 32, at=NOW + timedelta(minutes=36))
    again = signed_post(client, INBOUND_URL, reply)
    assert again.status_code == 200 and "已确认收到催报" not in again.content.decode()
    assert status(newer) == S.SENT
    fresh = {**reply, "MessageSid": f"SM{uuid.uuid4().hex}"}  # a new reply from that phone still acknowledges
    assert "已确认收到催报" in signed_post(client, INBOUND_URL, fresh).content.decode()
    assert status(newer) == S.ACKNOWLEDGED


def test_a_reply_whose_acknowledgement_fails_is_not_marked_seen(client, sent, monkeypatch):
    """The reply is remembered in the transaction of its acknowledgement: should that fail (the database refuses
    mid-way), the reply is not marked as seen, and Twilio's retry of it still acknowledges."""
    n = sent()
    reply = {"From": "+8617000000001", "Body": "1", "MessageSid": f"SM{uuid.uuid4().hex}"}
    real = callbacks.notifications_acknowledge

    def broken(**kwargs):
        real(**kwargs)
        raise DatabaseError("connection lost")

    monkeypatch.setattr(callbacks, "notifications_acknowledge", broken)
    client.raise_request_exception = False
    assert signed_post(client, INBOUND_URL, reply).status_code == 500
    assert status(n) == S.SENT and not ProviderRequestSeen.objects.exists()
    monkeypatch.setattr(callbacks, "notifications_acknowledge", real)
    assert "已确认收到催报" in signed_post(client, INBOUND_URL, reply).content.decode()
    assert status(n) == S.ACKNOWLEDGED
    assert list(ProviderRequestSeen.objects.values_list("provider_id", flat=True)) == [reply["MessageSid"]]


def test_a_reply_is_remembered_thirty_days(client, sent):
    n = sent()
    old = ProviderRequestSeen.objects.create(provider_id="SM" + "0" * 32, seen_at=timezone.now() - timedelta(days=31))
    recent = ProviderRequestSeen.objects.create(
        provider_id="SM" + "9" * 32, seen_at=timezone.now() - timedelta(days=29)
    )
    replayed = signed_post(
        client, INBOUND_URL, {"From": "+8617000000001", "Body": "1", "MessageSid": recent.provider_id}
    )
    assert "已确认收到催报" not in replayed.content.decode() and status(n) == S.SENT
    assert not ProviderRequestSeen.objects.filter(pk=old.pk).exists()  # gone after SEEN_KEPT_DAYS


def test_other_replies_do_not_acknowledge(client, sent):
    n = sent()
    resp = signed_post(client, INBOUND_URL, {"From": "+8617000000001", "Body": "稍后报送"})
    assert resp.status_code == 200 and "回复 1、收到 或 OK" in resp.content.decode()
    assert status(n) == S.SENT


def test_reply_from_an_unknown_phone_acknowledges_nothing(client, sent):
    n = sent()
    resp = signed_post(client, INBOUND_URL, {"From": "+8613900000000", "Body": "收到"})
    assert resp.status_code == 200 and "未找到" in resp.content.decode()
    assert status(n) == S.SENT


# --- control characters ----------------------------------------------------------------------------------------------
# PostgreSQL refuses NUL in text: looked up as it came, a signed callback with one answered 500, which Twilio retries.


@pytest.mark.parametrize(
    ("field", "params"),
    [
        ("MessageSid", {"MessageSid": "\x00", "MessageStatus": "delivered"}),
        ("MessageSid", {"MessageSid": SID + "\x00", "MessageStatus": "delivered"}),
        ("MessageSid", {"MessageSid": "SM\x1b" + "a" * 31, "MessageStatus": "delivered"}),
        ("MessageStatus", {"MessageSid": SID, "MessageStatus": "delivered\x00"}),
        ("ErrorCode", {"MessageSid": SID, "MessageStatus": "undelivered", "ErrorCode": "30003\x00"}),
    ],
)
def test_a_status_callback_with_a_control_character_is_a_400_and_changes_nothing(client, sent, field, params):
    n = sent()
    resp = signed_post(client, STATUS_URL, params)
    assert resp.status_code == 400 and resp.content.decode().startswith(f"{field}: ")
    assert status(n) == S.SENT
    assert not Notification.objects.filter(fallback_of=n).exists()
    assert not AuditEvent.objects.filter(kind__in=["notification_delivered", "notification_failed"]).exists()


@pytest.mark.parametrize("phone", ["\x00", "+8617000000001\x00", "+86170\x0700000001"])
def test_a_reply_from_a_phone_with_a_control_character_is_a_400_and_acknowledges_nothing(client, sent, phone):
    n = sent()
    resp = signed_post(client, INBOUND_URL, {"From": phone, "Body": "收到"})
    assert resp.status_code == 400 and resp.content.decode().startswith("From: ")
    assert status(n) == S.SENT


def test_a_reply_body_with_a_nul_is_answered_not_refused(client, sent):
    """The body is only compared with the acknowledgement words, never stored: the reply gets its usual answer."""
    n = sent()
    resp = signed_post(client, INBOUND_URL, {"From": "+8617000000001", "Body": "收到\x00"})
    assert resp.status_code == 200 and "回复 1、收到 或 OK" in resp.content.decode()
    assert status(n) == S.SENT


def test_a_tab_or_line_break_around_a_sid_is_still_trimmed(client, sent):
    """``reporting.text`` allows tabs and line breaks; the webhook trims them as before."""
    n = sent()
    assert (
        signed_post(client, STATUS_URL, {"MessageSid": f"\t{SID}\n", "MessageStatus": "delivered"}).status_code == 204
    )
    assert status(n) == S.DELIVERED
