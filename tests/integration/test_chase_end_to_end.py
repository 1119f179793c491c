"""Issue 3, must-show 2: PostgreSQL, the real Redis broker, a real Celery worker and beat, the real twilio SDK against
Prism (serving Twilio's own OpenAPI description, so each request is validated against Twilio's spec) and a real SMTP
server on loopback. An obligation passes its due time: the SMS request reaches Prism (201) and the email reaches
the SMTP server. A transient provider error is retried by the worker and the message still goes out exactly once."""

from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from notifications.models import Notification, NotificationStatus
from reporting import services
from reporting.models import Contact, ContactRole, Shift
from tests.fixtures.delivery import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER
from tests.fixtures.workers import wait_until

pytestmark = pytest.mark.integration
S = NotificationStatus


@pytest.fixture
def delivery_env(twilio_recorder, smtp_server):
    """What the worker needs to talk to the real peers (config/settings/test.py honours TEST_SMS_BACKEND and
    TEST_EMAIL_FROM_ENV)."""
    twilio_recorder.clear()
    smtp_server.clear()
    return {
        "TEST_SMS_BACKEND": "notifications.sms.backends.twilio.SmsBackend",
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_FROM_NUMBER": FROM_NUMBER,
        "TWILIO_API_BASE_URL": twilio_recorder.url,  # the recording proxy in front of Prism
        "TEST_EMAIL_FROM_ENV": "1",
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": smtp_server.host,
        "EMAIL_PORT": str(smtp_server.port),
        "PUBLIC_BASE_URL": "https://tracker.example.org",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }


def staff(units, now):
    """泗泾镇's duty officer, shift leader and leader on shift, all on post (no roster gap)."""
    sj = units["sijing"]
    people = {}
    for n, (role, name) in enumerate(
        [
            (ContactRole.DUTY_OFFICER, "王值班员"),
            (ContactRole.SHIFT_LEADER, "李值班长"),
            (ContactRole.LEADER_ON_SHIFT, "赵带班"),
        ],
        start=1,
    ):
        contact = Contact.objects.create(
            unit=sj, name=name, role=role, phone=f"+861700000000{n}", email=f"staff{n}@example.org"
        )
        Shift.objects.create(
            unit=sj, contact=contact, role=role, starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=8)
        )
        people[role] = contact
    return people


def open_due_soon(units, *, seconds: float):
    """An incident whose verbal report is due ``seconds`` from now."""
    now = timezone.now()
    return services.incident_create(
        actor=None,
        now=now,
        title="泗泾镇某厂房火灾",
        domain="production_safety",
        occurred_at=now - timedelta(minutes=40),
        location="泗泾镇某路1号",
        summary="",
        units=[
            {
                "unit": units["sijing"],
                "first_known_at": now - timedelta(minutes=30) + timedelta(seconds=seconds),
                "channel": "self",
            }
        ],
    )


def test_overdue_obligation_reaches_prism_and_the_smtp_server(
    units, celery_procs, delivery_env, twilio_recorder, smtp_server, prism
):
    people = staff(units, timezone.now())
    officer = people[ContactRole.DUTY_OFFICER]
    celery_procs.worker("w1", concurrency=2, extra_env=delivery_env)
    celery_procs.beat(extra_env=delivery_env)
    incident = open_due_soon(units, seconds=4)
    obligation = incident.obligations.get()

    [sms] = twilio_recorder.wait_for(
        lambda r: r.form.get("To") == officer.phone and "口头报已" in r.form.get("Body", ""), timeout=45
    )
    [email] = smtp_server.wait_for(
        lambda m: officer.email in m["X-Envelope-To"] and "[催报]" in str(m["Subject"]), timeout=45
    )

    # The SMS: accepted by the mock after validation against Twilio's spec, with our parameters.
    assert sms.status == 201
    assert sms.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert sms.form["From"] == FROM_NUMBER
    assert sms.form["StatusCallback"] == "https://tracker.example.org/webhooks/twilio/status/"
    assert sms.form["ValidityPeriod"] == "600"
    assert sms.form["Body"].startswith(f"{incident.number}") and "/f/" in sms.form["Body"]
    assert sms.at > obligation.verbal_due_at.timestamp()  # sent after the deadline passed, not before
    assert "The request passed the validation rules" in prism.log_text()
    # The email, through Django's SMTP mailer to the real server.
    assert str(email["Subject"]) == f"[催报] {incident.number} 泗泾镇 " + str(email["Subject"]).split()[-1]
    assert "口头报" in email.get_body().get_content()
    assert email["Message-ID"].startswith("<notification-")

    row = wait_until(
        lambda: Notification.objects.filter(
            obligation=obligation, step="verbal_overdue", channel="sms", recipient=officer, status=S.SENT
        ).first(),
        timeout=15,
        message="the SMS row recorded as sent",
    )
    assert row.provider_id == "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" and row.body == sms.form["Body"]
    assert row.sent_at >= obligation.verbal_due_at
    # Exactly once: every (recipient, body) the mock received, once.
    wait_until(
        lambda: not Notification.objects.filter(obligation=obligation, status=S.PENDING).exists(),
        timeout=15,
        message="every row handled",
    )
    bodies = Counter((r.form["To"], r.form["Body"]) for r in twilio_recorder.messages() if r.status == 201)
    assert bodies and max(bodies.values()) == 1
    assert sum(bodies.values()) == Notification.objects.filter(obligation=obligation, channel="sms").count()


def test_transient_provider_error_is_retried_by_the_worker_and_sent_once(
    units, celery_procs, delivery_env, twilio_recorder
):
    staff(units, timezone.now())
    twilio_recorder.fail_next(2, 503)  # the first two SMS requests get "503 Service Unavailable"
    celery_procs.worker("w1", concurrency=2, extra_env=delivery_env)
    celery_procs.beat(extra_env=delivery_env)
    incident = open_due_soon(units, seconds=3)
    obligation = incident.obligations.get()

    def all_sent():
        rows = Notification.objects.filter(obligation=obligation, channel="sms")
        overdue = rows.filter(step="verbal_overdue").exists()
        return overdue and not rows.exclude(status=S.SENT).exists()

    wait_until(all_sent, timeout=60, message="every SMS row sent after the retries")
    statuses = [r.status for r in twilio_recorder.messages()]
    assert statuses.count(503) == 2
    delivered = Counter((r.form["To"], r.form["Body"]) for r in twilio_recorder.messages() if r.status == 201)
    rows = Notification.objects.filter(obligation=obligation, channel="sms")
    assert sum(delivered.values()) == rows.count() and max(delivered.values()) == 1
    assert rows.filter(attempts__gte=2).count() >= 1  # the retried ones claimed again
    assert "Retry in" in celery_procs.processes[0].log_text()
