"""The daily 值班表 reminder through the real pieces: the task on the Redis broker, a real Celery worker, PostgreSQL
and a real SMTP server on loopback. Run twice, it emails once."""

from datetime import timedelta

import pytest
from django.utils import timezone

from notifications.models import RosterReminder
from notifications.tasks import send_roster_reminders
from reporting.models import Contact, ContactRole, Shift
from tests.fixtures.workers import wait_until

pytestmark = pytest.mark.integration


def test_the_worker_emails_a_unit_with_a_gap_once(units, celery_procs, smtp_server):
    smtp_server.clear()
    now = timezone.now()
    sj = units["sijing"]
    officer = Contact.objects.create(unit=sj, name="王某", phone="+8617000000001", role=ContactRole.DUTY_OFFICER)
    Contact.objects.create(unit=sj, name="镇长", role=ContactRole.UNIT_HEAD, email="head@sijing.example.org")
    Shift.objects.create(unit=sj, contact=officer, role="duty_officer", starts_at=now, ends_at=now + timedelta(2))
    env = {
        "TEST_EMAIL_FROM_ENV": "1",
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": smtp_server.host,
        "EMAIL_PORT": str(smtp_server.port),
        "ROSTER_REMINDER_HOUR": "0",  # any hour of the day is past it
        "PUBLIC_BASE_URL": "https://tracker.example.org",
    }
    worker = celery_procs.worker("w1", concurrency=2, extra_env=env)
    done = "Task notifications.tasks.roster_reminders["
    send_roster_reminders.delay()
    [message] = smtp_server.wait_for(lambda m: "head@sijing.example.org" in m["X-Envelope-To"], timeout=45)
    assert "泗泾镇" in str(message["Subject"]) and "仅 1 人在岗" in message.get_content()
    assert "https://tracker.example.org/roster/sijing/" in message.get_content()
    wait_until(
        lambda: RosterReminder.objects.filter(unit=sj, status="sent").exists(), timeout=30, message="reminder sent"
    )
    send_roster_reminders.delay()
    wait_until(
        lambda: worker.log_text().count(done) >= 4, timeout=30, message="the second run"
    )  # received, succeeded ×2
    # Every unit keeping a roster was looked at once: 泗泾镇 emailed, the others (no roster, no email) recorded as not
    # remindable; 区委办/区府办 keep no roster here (``selectors.rostered_units``) and are not looked at.
    assert RosterReminder.objects.count() == len(units) - 2
    assert not RosterReminder.objects.filter(unit__code__in=["qwb", "qfb"]).exists()
    assert RosterReminder.objects.filter(unit=sj).count() == 1
    assert len([m for m in smtp_server.messages if "head@sijing.example.org" in m["X-Envelope-To"]]) == 1
