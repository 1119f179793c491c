"""The real twilio SDK against Prism serving Twilio's own OpenAPI description: what we send is validated against
Twilio's spec (invalid → 422, handled as a permanent error), transient answers (5xx, 429) ask for a retry."""

import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from notifications.batch import notifications_send
from notifications.delivery import TransientError, notification_send
from notifications.models import Notification, NotificationStatus
from notifications.sms import SmsError
from notifications.sms.backends.twilio import SmsBackend, twilio_client
from reporting import services
from reporting.models import AuditEvent, Contact, ContactRole
from tests.fixtures.delivery import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER
from tests.fixtures.workers import wait_until

pytestmark = pytest.mark.integration
S = NotificationStatus
PRISM_SID = "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"  # the spec's example response


@pytest.fixture
def sms_row(units, twilio_settings):
    twilio_settings.PUBLIC_BASE_URL = "https://tracker.example.org"
    twilio_settings.SMS_RATE_PER_SECOND = 0
    now = timezone.now()
    incident = services.incident_create(
        actor=None,
        now=now,
        units=[{"unit": units["sijing"], "first_known_at": now - timedelta(minutes=31), "channel": "self"}],
        title="泗泾镇某厂房火灾",
        domain="production_safety",
        occurred_at=now - timedelta(minutes=40),
        location="泗泾镇某路1号",
    )
    Notification.objects.all().delete()
    officer = Contact.objects.create(
        unit=units["sijing"], name="王某", phone="+8617000000001", email="o@example.org", role=ContactRole.DUTY_OFFICER
    )
    Contact.objects.create(
        unit=units["sijing"], name="默认", phone="+8617000000009", role=ContactRole.DUTY_OFFICER, is_default=True
    )
    return Notification.objects.create(
        incident=incident,
        obligation=incident.obligations.get(),
        step="verbal_overdue",
        channel="sms",
        recipient=officer,
        to=officer.phone,
        scheduled_for=now,
        created_at=now,
    )


def test_sdk_request_is_valid_for_twilios_spec(sms_row, twilio_recorder, prism):
    assert notification_send(notification_id=sms_row.pk, token="t1", now=timezone.now()) == S.SENT
    sms_row.refresh_from_db()
    [request] = twilio_recorder.messages()
    assert request.status == 201  # Prism validated the request against CreateMessage
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert request.form == {
        "To": "+8617000000001",
        "From": FROM_NUMBER,
        "Body": sms_row.body,
        "StatusCallback": "https://tracker.example.org/webhooks/twilio/status/",
        "ValidityPeriod": "600",
    }
    assert sms_row.body.startswith(sms_row.incident.number) and "泗泾镇" in sms_row.body and len(sms_row.body) <= 70
    assert sms_row.provider_id == PRISM_SID and sms_row.status == S.SENT
    assert "The request passed the validation rules" in prism.log_text()


def test_last_request_of_the_sdk_client(twilio_settings):
    client = twilio_client()
    SmsBackend(client=client).send(to="+8617000000001", body="测试")
    sent = client.http_client._test_only_last_request
    assert sent.method == "POST" and sent.data["Body"] == "测试" and sent.data["To"] == "+8617000000001"
    assert client.http_client._test_only_last_response.status_code == 201


def test_messaging_service_sid_replaces_the_from_number(sms_row, twilio_recorder):
    from django.conf import settings

    settings.TWILIO_MESSAGING_SERVICE_SID = "MG" + "0" * 32
    notification_send(notification_id=sms_row.pk, token="t1", now=timezone.now())
    [request] = twilio_recorder.messages()
    assert request.status == 201
    assert request.form["MessagingServiceSid"] == "MG" + "0" * 32 and "From" not in request.form


def test_invalid_request_gets_422_and_is_a_permanent_error_with_fallback(sms_row, twilio_recorder):
    from django.conf import settings

    settings.TWILIO_MESSAGING_SERVICE_SID = "MG-not-a-valid-sid"
    assert notification_send(notification_id=sms_row.pk, token="t1", now=timezone.now()) == S.FAILED
    [request] = twilio_recorder.messages()
    assert request.status == 422 and "MessagingServiceSid" in request.response
    sms_row.refresh_from_db()
    assert sms_row.status == S.FAILED and sms_row.error.startswith("422: ")
    assert sorted(Notification.objects.filter(fallback_of=sms_row).values_list("channel", "to")) == [
        ("email", "o@example.org"),
        ("sms", "+8617000000009"),
    ]


@pytest.mark.parametrize("status", [503, 500, 429])
def test_server_errors_and_throttling_are_transient(sms_row, twilio_recorder, status):
    twilio_recorder.fail_next(1, status)
    with pytest.raises(TransientError):
        notification_send(notification_id=sms_row.pk, token="t1", now=timezone.now())
    sms_row.refresh_from_db()
    assert sms_row.status == S.PENDING and sms_row.claimed_by == "" and sms_row.provider_id == ""
    assert notification_send(notification_id=sms_row.pk, token="t1", now=timezone.now()) == S.SENT
    assert [r.status for r in twilio_recorder.messages()] == [status, 201]


def test_bad_account_sid_is_refused_by_the_spec(twilio_settings, twilio_recorder):
    twilio_settings.TWILIO_ACCOUNT_SID = "AC-wrong"
    with pytest.raises(SmsError) as info:
        SmsBackend().send(to="+8617000000001", body="x")
    assert info.value.permanent and info.value.code == 422


def test_lookup_before_resend_lists_recent_messages(twilio_settings, twilio_recorder):
    since = timezone.now() - timedelta(days=365 * 30)
    backend = SmsBackend()
    assert backend.lookup(to="+8617000000001", body="从未发送的正文", since=since) is None
    [request] = [r for r in twilio_recorder.requests if r.method == "GET"]
    assert request.status == 200 and request.path.startswith(f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json?")
    assert "To=%2B8617000000001" in request.path


@pytest.mark.parametrize("code", [21211, 21614])
def test_invalid_number_is_permanent_and_falls_back(sms_row, twilio_recorder, code):
    twilio_recorder.fail_next(1, 400, code)
    assert notification_send(notification_id=sms_row.pk, token="t1", now=timezone.now()) == S.FAILED
    sms_row.refresh_from_db()
    assert sms_row.status == S.FAILED and sms_row.error == f"{code}: Unable to create record: injected {code}"
    assert Notification.objects.filter(fallback_of=sms_row).count() == 2
    assert [r.status for r in twilio_recorder.messages()] == [400]


def test_the_sdk_logs_no_phone_numbers_and_our_failure_log_still_does(sms_row, twilio_recorder, caplog):
    """The twilio SDK logs each request at INFO (the URL with a lookup's To=, headers, the answer's headers): off
    under the settings' LOGGING (``TWILIO_LOG_LEVEL``, WARNING), at the root's INFO. Our own failure line stays."""
    assert logging.getLogger().getEffectiveLevel() == logging.INFO  # the settings' root level: INFO would pass
    with caplog.at_level(logging.INFO):
        caplog.set_level(logging.INFO, logger="notifications")
        backend = SmsBackend()
        backend.lookup(to="+8617000000001", body="x", since=timezone.now() - timedelta(days=1))
        twilio_recorder.fail_next(1, 400, 21211)
        assert notification_send(notification_id=sms_row.pk, token="t1", now=timezone.now()) == S.FAILED
        fallback = Notification.objects.filter(fallback_of=sms_row, channel="sms").get()
        assert notification_send(notification_id=fallback.pk, token="t2", now=timezone.now()) == S.SENT
    assert len(twilio_recorder.requests) == 3  # the lookup and both sends reached the mock
    assert [r.getMessage() for r in caplog.records if r.name.startswith("twilio")] == []
    assert "+8617000000001" not in caplog.text and "+8617000000009" not in caplog.text
    [line] = [r for r in caplog.records if r.name == "notifications.delivery"]
    assert line.levelno == logging.ERROR and f"notification {sms_row.pk} " in line.getMessage()
    assert "21211" in line.getMessage()


# --- the batch path: the same SDK calls, many at once from the send threads --------------------------------------


@pytest.fixture
def sms_rows(sms_row, units):
    """``sms_row`` and two more rows of the same step, to two more people of 泗泾镇."""
    rows = [sms_row]
    for n in (2, 3):
        person = Contact.objects.create(
            unit=units["sijing"], name=f"值班{n}", phone=f"+861700000000{n}", role=ContactRole.DUTY_OFFICER
        )
        rows.append(
            Notification.objects.create(
                incident=sms_row.incident,
                obligation=sms_row.obligation,
                step=sms_row.step,
                channel="sms",
                recipient=person,
                to=person.phone,
                scheduled_for=sms_row.scheduled_for,
                created_at=sms_row.created_at,
            )
        )
    return rows


def test_a_batch_sends_valid_requests_and_a_permanent_error_fails_only_its_row(sms_rows, twilio_recorder):
    twilio_recorder.fail_next(1, 400, 21211)  # whichever request comes first: the SDK calls run in parallel
    result = notifications_send(notification_ids=[n.pk for n in sms_rows], token="batch-1", now=timezone.now())
    requests = twilio_recorder.messages()
    assert sorted(r.form["To"] for r in requests) == sorted(n.to for n in sms_rows)
    assert sorted(r.status for r in requests) == [201, 201, 400]
    [refused] = [r.form["To"] for r in requests if r.status == 400]
    assert all(r.form["Body"] == Notification.objects.get(to=r.form["To"]).body for r in requests)
    assert result.retry == []
    for n in sms_rows:
        n.refresh_from_db()
        events = list(AuditEvent.objects.filter(object_id=str(n.pk)).values_list("kind", flat=True))
        if n.to == refused:
            assert (n.status, n.error) == (S.FAILED, "21211: Unable to create record: injected 21211")
            assert events == ["notification_failed"]
            assert Notification.objects.filter(fallback_of=n).exists()
        else:
            assert (n.status, n.provider_id) == (S.SENT, PRISM_SID)
            assert events == ["notification_sent"]


def test_a_batch_retries_only_the_row_that_got_a_server_error(sms_rows, twilio_recorder):
    twilio_recorder.fail_next(1, 503)
    ids = [n.pk for n in sms_rows]
    result = notifications_send(notification_ids=ids, token="batch-1", now=timezone.now())
    [retry] = result.retry
    assert sorted(result.statuses.values()) == [S.PENDING, S.SENT, S.SENT]
    row = Notification.objects.get(pk=retry)
    assert (row.status, row.claimed_by, row.provider_id) == (S.PENDING, "", "")
    again = notifications_send(notification_ids=result.retry, token="batch-1", now=timezone.now())
    assert again.statuses == {retry: S.SENT} and again.retry == []
    assert set(Notification.objects.filter(pk__in=ids).values_list("status", flat=True)) == {S.SENT}
    assert sorted(r.status for r in twilio_recorder.messages()) == [201, 201, 201, 503]
    assert [r.form["To"] for r in twilio_recorder.messages()].count(row.to) == 2  # the 503, then the retry


def test_the_batch_task_retries_only_its_transient_row_in_a_real_worker(units, celery_procs, twilio_recorder):
    """A real worker runs one chunk through the real SDK; the mock answers the first request 503. The task retries
    itself (same task id) with that one row only, no sweep or re-drive running: 11 requests for 10 rows."""
    from notifications.sweep import sweep_run
    from tests.integration.test_exactly_once import open_for, towns

    now = timezone.now()
    open_for(towns(5, now), now=now, first_known_at=now - timedelta(minutes=21))  # reminders due: 2 SMS each
    twilio_recorder.clear()
    twilio_recorder.fail_next(1, 503)
    sweep_run(now=timezone.now())  # writes the 10 rows and, on commit, queues them as one chunk
    assert Notification.objects.count() == 10
    celery_procs.worker(
        "w1",
        concurrency=2,
        extra_env={
            "TEST_SMS_BACKEND": "notifications.sms.backends.twilio.SmsBackend",
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "TWILIO_FROM_NUMBER": FROM_NUMBER,
            "TWILIO_API_BASE_URL": twilio_recorder.url,
            "PUBLIC_BASE_URL": "https://tracker.example.org",
        },
    )
    wait_until(lambda: not Notification.objects.filter(status="pending").exists(), timeout=60, message="all sent")

    requests = twilio_recorder.messages()
    assert sorted(r.status for r in requests) == [201] * 10 + [503]
    [refused] = [r.form["To"] for r in requests if r.status == 503]
    assert [r.form["To"] for r in requests].count(refused) == 2
    rows = Notification.objects.all()
    assert {(n.status, n.attempts) for n in rows if n.to != refused} == {(S.SENT, 1)}
    assert [(n.status, n.attempts) for n in rows if n.to == refused] == [(S.SENT, 2)]
    assert sorted(AuditEvent.objects.filter(kind="notification_sent").values_list("object_id", flat=True)) == sorted(
        str(n.pk) for n in rows
    )
