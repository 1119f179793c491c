"""notification_send: claim and fencing, body saved before the provider call, transient retries, permanent errors
and the fallback, discharged steps, email through Django's mailers, and the cross-process SMS rate limit."""

import multiprocessing
import threading
import time
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection

from notifications import delivery, ratelimit
from notifications.delivery import TransientError, notification_send
from notifications.messages import SEGMENT_CHARS
from notifications.models import Notification, NotificationStatus
from notifications.sms import SmsError, SmsResult
from notifications.sms.backends import locmem
from notifications.sms.backends.base import BaseSmsBackend
from reporting import services
from reporting.models import AuditEvent, Contact, ContactRole, Shift
from tests.conftest import NOW

S = NotificationStatus
DUE = NOW + timedelta(minutes=30)
LATE = DUE + timedelta(minutes=3)


# --- test backends (selected through SMS_BACKEND, never by patching) -------------------------------------------


class Recording(BaseSmsBackend):
    """Looks at the row in the database while the provider is being called."""

    seen: list[dict] = []

    def send(self, *, to, body):
        row = Notification.objects.filter(to=to).order_by("-id").values("body", "claimed_by", "status").first()
        Recording.seen.append({"to": to, "body": body, "row": row})
        return SmsResult(provider_id=f"SMrec{len(Recording.seen):030d}")


class Flaky(BaseSmsBackend):
    """Fails with a transient error ``failures`` times, then works."""

    failures = 0
    calls = 0

    def send(self, *, to, body):
        Flaky.calls += 1
        if Flaky.calls <= Flaky.failures:
            raise SmsError("Service Unavailable", permanent=False, code=20503)
        return locmem.SmsBackend().send(to=to, body=body)


class InvalidNumber(BaseSmsBackend):
    def send(self, *, to, body):
        if to == "+8617000000001":
            raise SmsError("The 'To' number is not a valid phone number.", permanent=True, code=21211)
        return locmem.SmsBackend().send(to=to, body=body)


class Slow(BaseSmsBackend):
    def send(self, *, to, body):
        time.sleep(0.3)
        return locmem.SmsBackend().send(to=to, body=body)


def backend(name: str) -> str:
    return f"{__name__}.{name}"


# --- fixtures ------------------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _clean_outbox(settings):
    locmem.outbox.clear()
    mail.outbox = []
    settings.SMS_RATE_PER_SECOND = 0  # unlimited, except in the rate-limit tests
    settings.PUBLIC_BASE_URL = "https://sj.example.cn"
    Recording.seen.clear()
    Flaky.calls = 0


@pytest.fixture
def case(units):
    """An obligation of 泗泾镇 due at 09:30, its officer (on post) and shift leader (on post), a default contact."""
    incident = services.incident_create(
        actor=None,
        now=NOW,
        units=[{"unit": units["sijing"], "first_known_at": NOW, "channel": "self"}],
        title="泗泾镇某厂房火灾",
        domain="production_safety",
        occurred_at=NOW - timedelta(minutes=5),
        location="泗泾镇某路1号",
    )
    sj = units["sijing"]
    officer = Contact.objects.create(
        unit=sj, name="王某", phone="+8617000000001", email="officer@example.org", role=ContactRole.DUTY_OFFICER
    )
    leader = Contact.objects.create(unit=sj, name="李某", phone="+8617000000002", role=ContactRole.SHIFT_LEADER)
    default = Contact.objects.create(
        unit=sj, name="默认", phone="+8617000000009", role=ContactRole.DUTY_OFFICER, is_default=True
    )
    for contact in (officer, leader):
        Shift.objects.create(
            unit=sj, contact=contact, role=contact.role, starts_at=NOW - timedelta(hours=1), ends_at=NOW + timedelta(1)
        )
    Notification.objects.all().delete()  # whatever the chasing receivers wrote: these tests write their own rows
    return {
        "incident": incident,
        "obligation": incident.obligations.get(),
        "officer": officer,
        "leader": leader,
        "default": default,
    }


def row(case, *, channel="sms", contact="officer", step="verbal_overdue", **extra) -> Notification:
    person = case[contact]
    return Notification.objects.create(
        incident=case["incident"],
        obligation=case["obligation"],
        step=step,
        repeat=0,
        channel=channel,
        recipient=person,
        to=person.email if channel == "email" else person.phone,
        scheduled_for=DUE,
        created_at=DUE,
        **extra,
    )


# --- claim, fencing, body --------------------------------------------------------------------------------------------


def test_sms_is_sent_once_and_recorded(case):
    n = row(case)
    assert notification_send(notification_id=n.pk, token="task-1", now=LATE) == S.SENT
    n.refresh_from_db()
    [message] = locmem.outbox
    assert n.status == S.SENT and n.provider_id == message.provider_id and n.sent_at == LATE
    assert n.claimed_by == "task-1" and n.attempts == 1
    link = message.body.split()[-1]
    number = case["incident"].number
    # The link's length grows with the obligation id; a longer one drops the spacing to stay in one segment.
    roomy, tight = f"{number} 泗泾镇：口头报已超时3分钟 {link}", f"{number}泗泾镇口头报已超时3分钟 {link}"
    assert message.body == n.body == (roomy if len(roomy) <= SEGMENT_CHARS else tight)
    assert AuditEvent.objects.filter(kind="notification_sent", object_id=str(n.pk)).count() == 1
    # A retry of the same task, a second worker and a re-driven task all find it sent: nothing more goes out.
    for token in ("task-1", "task-2", "redrive"):
        assert notification_send(notification_id=n.pk, token=token, now=LATE + timedelta(minutes=5)) == S.SENT
    assert len(locmem.outbox) == 1


def test_body_is_saved_and_claimed_before_the_provider_is_called(case, settings):
    settings.SMS_BACKEND = backend("Recording")
    n = row(case)
    notification_send(notification_id=n.pk, token="task-1", now=LATE)
    [seen] = Recording.seen
    assert seen["row"] == {"body": seen["body"], "claimed_by": "task-1", "status": S.PENDING}
    assert seen["body"].startswith(case["incident"].number)


def test_a_live_claim_of_another_task_is_respected(case):
    n = row(case, claimed_by="other-task", claimed_at=LATE - timedelta(seconds=5))
    assert notification_send(notification_id=n.pk, token="task-1", now=LATE) == S.PENDING
    assert locmem.outbox == []
    n.refresh_from_db()
    assert n.claimed_by == "other-task" and n.attempts == 0


def test_a_stale_claim_without_provider_id_is_sent_with_the_saved_body(case):
    """The worker died after claiming (and maybe before the provider answered): after the lease it is sent again,
    with exactly the body that was saved."""
    n = row(case, claimed_by="dead-task", claimed_at=LATE - timedelta(seconds=61), body="已保存的正文")
    assert notification_send(notification_id=n.pk, token="task-2", now=LATE) == S.SENT
    assert [m.body for m in locmem.outbox] == ["已保存的正文"]
    n.refresh_from_db()
    assert n.claimed_by == "task-2"


def test_a_dead_workers_send_is_found_and_not_repeated(case):
    """The worker died after the provider accepted the message but before recording it: the next holder asks the
    backend first, finds the message (same number, same saved body) and records it instead of sending again."""
    n = row(case, claimed_by="dead-task", claimed_at=LATE - timedelta(seconds=61), body="已保存的正文")
    earlier = locmem.SmsBackend().send(to=n.to, body="已保存的正文")
    assert notification_send(notification_id=n.pk, token="task-2", now=LATE) == S.SENT
    assert len(locmem.outbox) == 1
    n.refresh_from_db()
    assert (n.status, n.provider_id, n.claimed_by) == (S.SENT, earlier.provider_id, "task-2")
    assert AuditEvent.objects.get(kind="notification_sent", object_id=str(n.pk)).detail["recovered"] is True


def test_file_backend_lookup_finds_an_earlier_send(tmp_path):
    from notifications.sms.backends.file import SmsBackend

    backend = SmsBackend(file_path=str(tmp_path))
    sent = backend.send(to="+8617000000001", body="正文")
    assert backend.lookup(to="+8617000000001", body="正文", since=NOW).provider_id == sent.provider_id
    assert backend.lookup(to="+8617000000001", body="别的", since=NOW) is None
    assert backend.lookup(to="+8617000000002", body="正文", since=NOW) is None


def test_a_stale_claim_with_a_provider_id_is_never_sent_again(case):
    n = row(case, claimed_by="dead-task", claimed_at=LATE - timedelta(hours=1), provider_id="SM" + "1" * 32)
    assert notification_send(notification_id=n.pk, token="task-2", now=LATE) == S.PENDING
    assert locmem.outbox == []


@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_send_exactly_once(case, settings):
    settings.SMS_BACKEND = backend("Slow")
    n = row(case)
    results = []

    def work(i):
        try:
            results.append(notification_send(notification_id=n.pk, token=f"task-{i}", now=LATE))
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(locmem.outbox) == 1
    assert len(results) == 8 and set(results) <= {S.SENT, S.PENDING}
    n.refresh_from_db()
    assert n.attempts == 1 and n.status == S.SENT


# --- errors --------------------------------------------------------------------------------------------------------


def test_transient_error_releases_the_claim_and_asks_for_a_retry(case, settings):
    settings.SMS_BACKEND = backend("Flaky")
    Flaky.failures = 2
    n = row(case)
    for attempt in (1, 2):
        with pytest.raises(TransientError, match="20503"):
            notification_send(notification_id=n.pk, token="task-1", now=LATE)
        n.refresh_from_db()
        assert (n.status, n.claimed_by, n.attempts) == (S.PENDING, "", attempt)
        assert "Service Unavailable" in n.error
    # The retry (Celery keeps the task id) succeeds; the body composed on the first attempt is kept.
    first_body = n.body
    assert notification_send(notification_id=n.pk, token="task-1", now=LATE + timedelta(seconds=6)) == S.SENT
    n.refresh_from_db()
    assert (n.status, n.attempts, n.error, n.body) == (S.SENT, 3, "", first_body)
    assert len(locmem.outbox) == 1


def test_the_send_task_retries_transient_errors_with_backoff():
    """The task's contract (owned by the chasing work): TransientError is retried with exponential backoff."""
    from notifications.tasks import send_notification

    assert send_notification.autoretry_for == (TransientError,)
    assert send_notification.retry_backoff and send_notification.max_retries >= 3
    assert send_notification.acks_late is True


def test_permanent_error_is_recorded_and_falls_back(case, settings, django_capture_on_commit_callbacks):
    settings.SMS_BACKEND = backend("InvalidNumber")
    n = row(case)
    with django_capture_on_commit_callbacks() as callbacks:
        assert notification_send(notification_id=n.pk, token="task-1", now=LATE) == S.FAILED
    n.refresh_from_db()
    assert n.status == S.FAILED and n.error.startswith("21211: ")
    fallbacks = list(Notification.objects.filter(fallback_of=n).order_by("channel"))
    assert [(f.channel, f.recipient, f.to, f.step, f.status) for f in fallbacks] == [
        ("email", case["officer"], "officer@example.org", "verbal_overdue", S.PENDING),
        ("sms", case["leader"], "+8617000000002", "verbal_overdue", S.PENDING),
    ]
    assert len(callbacks) == 2  # one send task per fallback row, on commit
    assert AuditEvent.objects.filter(kind="notification_failed", object_id=str(n.pk)).exists()


def test_fallback_goes_to_default_contacts_when_everyone_on_post_was_tried(case, settings):
    settings.SMS_BACKEND = backend("InvalidNumber")
    row(case, contact="leader")  # the leader already has this step
    n = row(case)
    notification_send(notification_id=n.pk, token="task-1", now=LATE)
    sms = Notification.objects.get(fallback_of=n, channel="sms")
    assert sms.recipient == case["default"]


def test_fallback_never_duplicates_the_steps_own_email(case, settings):
    settings.SMS_BACKEND = backend("InvalidNumber")
    email = row(case, channel="email")
    n = row(case)
    notification_send(notification_id=n.pk, token="task-1", now=LATE)
    assert not Notification.objects.filter(fallback_of=n, channel="email").exists()
    assert Notification.objects.filter(channel="email").get() == email


def test_discharged_step_is_cancelled_not_sent(case):
    n = row(case)
    obligation = case["obligation"]
    obligation.verbal_state = "late"
    obligation.save(update_fields=["verbal_state"])
    assert notification_send(notification_id=n.pk, token="task-1", now=LATE) == S.CANCELLED
    n.refresh_from_db()
    assert n.status == S.CANCELLED and n.error.startswith("discharged: 口头报") and locmem.outbox == []
    # A written step of the same obligation is still chased.
    w = row(case, step="written_overdue")
    assert notification_send(notification_id=w.pk, token="task-2", now=LATE) == S.SENT


def test_email_goes_through_django_mailers(case):
    n = row(case, channel="email")
    assert notification_send(notification_id=n.pk, token="task-1", now=LATE) == S.SENT
    [message] = mail.outbox
    assert message.to == ["officer@example.org"]
    assert message.subject == f"[催报] {case['incident'].number} 泗泾镇 口头报已超时3分钟"
    assert "请立即登录报送" in message.body and message.body == Notification.objects.get(pk=n.pk).body


def test_unreachable_smtp_server_is_transient(case, settings):
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": 9, "timeout": 2},
        }
    }
    n = row(case, channel="email")
    with pytest.raises(TransientError, match="smtp"):
        notification_send(notification_id=n.pk, token="task-1", now=LATE)
    n.refresh_from_db()
    assert (n.status, n.claimed_by) == (S.PENDING, "")


def test_incident_level_event_rows_are_sent(case):
    n = Notification.objects.create(
        incident=case["incident"],
        step="event_deaths",
        channel="sms",
        recipient=case["officer"],
        to="+8617000000001",
        scheduled_for=NOW,
        created_at=NOW,
    )
    assert notification_send(notification_id=n.pk, token="t", now=NOW) == S.SENT
    assert locmem.outbox[0].body == f"{case['incident'].number} 泗泾镇某厂房火灾：死亡0人，请分管区领导赶赴现场"


def test_redrive_selector_skips_live_claims_and_sent_rows(case):
    free = row(case)
    row(case, contact="leader", claimed_by="live", claimed_at=LATE)
    stale = row(case, contact="default", claimed_by="dead", claimed_at=LATE - timedelta(minutes=5))
    row(case, channel="email", status=S.SENT)
    assert set(delivery.notifications_to_redrive(now=LATE)) == {free, stale}


# --- rate limit ----------------------------------------------------------------------------------------------------


def _reserve_many(key: str, count: int, rate: float, out) -> None:
    import django

    django.setup()
    for _ in range(count):
        ratelimit.acquire(rate=rate, key=key)
        out.put(time.time())


def test_rate_limit_is_shared_across_processes():
    key = f"test:rate:{time.time_ns()}"
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    procs = [ctx.Process(target=_reserve_many, args=(key, 10, 20.0, out)) for _ in range(3)]
    for p in procs:
        p.start()
    stamps = sorted(out.get(timeout=30) for _ in range(30))
    for p in procs:
        p.join(10)
    # 30 sends at 20 per second: at least 29 intervals of 50 ms, whatever the number of processes.
    assert stamps[-1] - stamps[0] >= 29 / 20 - 0.05
    gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    assert sum(g < 0.035 for g in gaps) <= 2  # sleeping is not exact, but no bursts


def test_delivery_respects_the_sms_rate(case, settings):
    settings.SMS_RATE_PER_SECOND = 10
    rows = [row(case, step=f"verbal_overdue_{i}") for i in range(6)]
    started = time.monotonic()
    for i, n in enumerate(rows):
        notification_send(notification_id=n.pk, token=f"t{i}", now=LATE)
    assert time.monotonic() - started >= 0.5 - 0.02  # 6 sends, 5 intervals of 100 ms
    assert len(locmem.outbox) == 6
