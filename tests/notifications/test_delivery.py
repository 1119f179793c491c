"""notification_send and the batch path notifications_send: claim and fencing, body saved before the provider call,
transient retries, permanent errors and the fallback, discharged steps, email through Django's mailers, and the
cross-process SMS rate limit."""

import threading
import time
from datetime import timedelta

import pytest
from django.core import mail
from django.db import OperationalError, connection
from django.db.models.signals import post_save

from notifications import batch, callbacks, delivery, ratelimit
from notifications.batch import notifications_send
from notifications.delivery import TransientError, email_message_id, notification_send
from notifications.messages import SEGMENT_CHARS
from notifications.models import EarlyStatusCallback, Notification, NotificationStatus
from notifications.sms import SmsError, SmsResult
from notifications.sms.backends import locmem
from notifications.sms.backends.base import BaseSmsBackend
from reporting import services
from reporting.auditlog import chain_verify
from reporting.links import incident_link
from reporting.models import AuditEvent, Contact, ContactRole, Obligation, Shift
from tests.conftest import NOW
from tests.fixtures import processes

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


class Mixed(locmem.SmsBackend):
    """Answers each number its own way: ``transient`` numbers get a 503, ``permanent`` ones an invalid-number error,
    the others are sent (into the locmem outbox, whose ``lookup`` finds earlier sends)."""

    transient: set[str] = set()
    permanent: set[str] = set()

    def send(self, *, to, body):
        if to in Mixed.transient:
            raise SmsError("Service Unavailable", permanent=False, code=20503)
        if to in Mixed.permanent:
            raise SmsError("The 'To' number is not a valid phone number.", permanent=True, code=21211)
        return super().send(to=to, body=body)


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
    Mixed.transient, Mixed.permanent = set(), set()


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
    # sent_at is when the provider answered, on the clock of the task's ``now``.
    assert (
        n.status == S.SENT and n.provider_id == message.provider_id and LATE <= n.sent_at < LATE + timedelta(seconds=5)
    )
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
    # One Message-ID per row, recorded as its provider id: a copy sent again after a crash carries the same one.
    n.refresh_from_db()
    assert message.extra_headers["Message-ID"] == n.provider_id == f"<notification-{n.pk}@localhost>"
    assert "Message-ID: <notification-" in message.message().as_string()


def test_the_message_id_fits_the_provider_id_column(settings):
    settings.DEFAULT_FROM_EMAIL = "值班 <duty-tracker@" + "very-long-subdomain." * 5 + "example.org>"
    message_id = email_message_id(Notification(pk=9_223_372_036_854_775_807))
    assert len(message_id) <= Notification._meta.get_field("provider_id").max_length
    assert message_id.startswith("<notification-9223372036854775807@very-long-subdomain.") and message_id[-1] == ">"


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
    assert locmem.outbox[0].body == (
        f"{case['incident'].number} 泗泾镇某厂房火灾（08:55，泗泾镇某路1号，泗泾镇报）：死亡0人，"
        f"本领域无分管区领导，请安排区领导赶赴现场 {incident_link(case['incident'].pk)}"  # no leader in this case
    )


def test_redrive_selector_skips_live_claims_and_sent_rows(case):
    free = row(case)
    row(case, contact="leader", claimed_by="live", claimed_at=LATE)
    stale = row(case, contact="default", claimed_by="dead", claimed_at=LATE - timedelta(minutes=5))
    row(case, channel="email", status=S.SENT)
    assert set(delivery.notifications_to_redrive(now=LATE)) == {free, stale}


# --- rate limit ----------------------------------------------------------------------------------------------------


def test_rate_limit_is_shared_across_processes():
    key = f"test:rate:{time.time_ns()}"
    ctx = processes.spawned()
    out = ctx.Queue()
    procs = [ctx.Process(target=processes.reserve_many, args=(key, 10, 20.0, out)) for _ in range(3)]
    for p in procs:
        p.start()
    got = [out.get(timeout=30) for _ in range(30)]
    for p in procs:
        p.join(10)
    slots = sorted(slot for slot, _ in got)
    woke = sorted(w for _, w in got)
    # 30 sends at 20 per second: the slots are 50 ms apart whatever the number of processes (the few milliseconds
    # between Redis answering and the process reading its clock are the only slack), and nobody went before its slot.
    gaps = [b - a for a, b in zip(slots, slots[1:], strict=False)]
    assert sum(g < 0.035 for g in gaps) <= 1, gaps
    assert slots[-1] - slots[0] >= 29 / 20 - 0.05
    assert all(w >= s - 0.002 for s, w in got)
    assert woke[-1] - woke[0] >= 29 / 20 - 0.05


def test_delivery_respects_the_sms_rate(case, settings):
    settings.SMS_RATE_PER_SECOND = 10
    rows = [row(case, step=f"verbal_overdue_{i}") for i in range(6)]
    started = time.monotonic()
    for i, n in enumerate(rows):
        notification_send(notification_id=n.pk, token=f"t{i}", now=LATE)
    assert time.monotonic() - started >= 0.5 - 0.02  # 6 sends, 5 intervals of 100 ms
    assert len(locmem.outbox) == 6


# --- the batch path (notifications_send) -----------------------------------------------------------------------------


def events_of(n: Notification) -> list[str]:
    return list(
        AuditEvent.objects.filter(object_type="notification", object_id=str(n.pk)).values_list("kind", flat=True)
    )


def test_a_chunk_with_mixed_outcomes_gives_each_row_its_status_and_one_event(case, settings):
    """One chunk: sent, transient, permanent, discharged, held by a live worker, a dead worker's send found by
    lookup, an email, and an id that does not exist. Each row ends in its own status with exactly one audit event
    (none for the row another worker holds), and one row's error never fails the others."""
    settings.SMS_BACKEND = backend("Mixed")
    sj = case["incident"].obligations.get().unit
    flaky = Contact.objects.create(unit=sj, name="陈某", phone="+8617000000003", role=ContactRole.DUTY_OFFICER)
    invalid = Contact.objects.create(
        unit=sj, name="刘某", phone="+8617000000004", email="liu@example.org", role=ContactRole.DUTY_OFFICER
    )
    case.update(flaky=flaky, invalid=invalid)
    Mixed.transient, Mixed.permanent = {flaky.phone}, {invalid.phone}
    obligation = case["obligation"]
    obligation.verbal_state = "late"  # the verbal deadline is discharged; the written one is still chased
    obligation.save(update_fields=["verbal_state"])

    ok = row(case, step="written_overdue")
    transient = row(case, contact="flaky", step="written_overdue")
    permanent = row(case, contact="invalid", step="written_overdue")
    discharged = row(case, step="verbal_overdue")
    held = row(case, contact="leader", step="written_overdue", claimed_by="other-task", claimed_at=LATE)
    recovered = row(
        case,
        contact="default",
        step="written_overdue",
        claimed_by="dead-task",
        claimed_at=LATE - timedelta(seconds=61),
        body="已保存的正文",
    )
    earlier = locmem.SmsBackend().send(to=recovered.to, body="已保存的正文")  # the dead worker's message
    email = row(case, channel="email", step="written_overdue")
    chunk = [ok.pk, transient.pk, permanent.pk, discharged.pk, held.pk, recovered.pk, email.pk, 999_999]

    result = notifications_send(notification_ids=chunk, token="batch-1", now=LATE)

    assert result.statuses == {
        ok.pk: S.SENT,
        transient.pk: S.PENDING,
        permanent.pk: S.FAILED,
        discharged.pk: S.CANCELLED,
        held.pk: S.PENDING,
        recovered.pk: S.SENT,
        email.pk: S.SENT,
        999_999: "missing",
    }
    assert result.retry == [transient.pk]
    rows = {n.pk: n for n in Notification.objects.filter(pk__in=chunk)}
    assert (rows[ok.pk].status, rows[ok.pk].claimed_by, rows[ok.pk].attempts) == (S.SENT, "batch-1", 1)
    assert (rows[transient.pk].status, rows[transient.pk].claimed_by, rows[transient.pk].attempts) == (S.PENDING, "", 1)
    assert rows[transient.pk].error == "20503: Service Unavailable" and rows[transient.pk].provider_id == ""
    assert rows[permanent.pk].status == S.FAILED and rows[permanent.pk].error.startswith("21211: ")
    assert rows[discharged.pk].status == S.CANCELLED and rows[discharged.pk].error.startswith("discharged: 口头报")
    assert (rows[held.pk].status, rows[held.pk].claimed_by, rows[held.pk].attempts) == (S.PENDING, "other-task", 0)
    assert (rows[recovered.pk].provider_id, rows[recovered.pk].claimed_by) == (earlier.provider_id, "batch-1")
    # The provider got exactly: the dead worker's message (not repeated) and the one new SMS; the email went too.
    assert [(m.to, m.provider_id) for m in locmem.outbox] == [
        (recovered.to, earlier.provider_id),
        (ok.to, rows[ok.pk].provider_id),
    ]
    assert rows[ok.pk].body == locmem.outbox[1].body and rows[ok.pk].body.startswith(case["incident"].number)
    assert [m.to for m in mail.outbox] == [["officer@example.org"]] and mail.outbox[0].body == rows[email.pk].body

    assert events_of(ok) == ["notification_sent"]
    assert events_of(transient) == []  # nothing happened to it yet: it is retried
    assert events_of(permanent) == ["notification_failed"]
    assert events_of(discharged) == ["notification_cancelled"]
    assert events_of(held) == []
    assert events_of(recovered) == ["notification_sent"]
    assert AuditEvent.objects.get(object_id=str(recovered.pk)).detail["recovered"] is True
    assert events_of(email) == ["notification_sent"]
    assert chain_verify() is None
    # The permanent failure fell back to an email to the same person; no SMS, as everyone on post and the default
    # contact already have this step.
    assert list(Notification.objects.filter(fallback_of=permanent).values_list("channel", "to")) == [
        ("email", "liu@example.org")
    ]

    # The retry (same task id) sends only the transient row, once the provider answers again.
    Mixed.transient = set()
    again = notifications_send(notification_ids=result.retry, token="batch-1", now=LATE + timedelta(seconds=4))
    assert again.statuses == {transient.pk: S.SENT} and again.retry == []
    transient.refresh_from_db()
    assert (transient.status, transient.attempts, transient.error) == (S.SENT, 2, "")
    assert events_of(transient) == ["notification_sent"]
    assert len(locmem.outbox) == 3


def test_a_batch_sends_nothing_already_sent_or_closed(case):
    rows = [row(case, step=f"written_overdue_{i}") for i in range(3)]
    first = notifications_send(notification_ids=[n.pk for n in rows], token="batch-1", now=LATE)
    assert set(first.statuses.values()) == {S.SENT}
    for token in ("batch-1", "batch-2"):  # a re-delivered task, a second worker, a re-drive
        again = notifications_send(notification_ids=[n.pk for n in rows], token=token, now=LATE + timedelta(hours=1))
        assert set(again.statuses.values()) == {S.SENT} and again.retry == []
    assert len(locmem.outbox) == 3
    assert AuditEvent.objects.filter(kind="notification_sent").count() == 3


def test_a_claim_too_old_to_send_safely_is_released_not_sent(case, monkeypatch):
    """A provider call must start well within the lease (the pool may be slow): a row whose call would start too
    late after the claim is released and retried, never sent on a claim that may already look dead."""
    monkeypatch.setattr(batch, "SEND_WITHIN_SECONDS", -1.0)
    n = row(case)
    result = notifications_send(notification_ids=[n.pk], token="batch-1", now=LATE)
    assert result.retry == [n.pk] and locmem.outbox == []
    n.refresh_from_db()
    assert (n.status, n.claimed_by, n.provider_id) == (S.PENDING, "", "")
    assert n.error.startswith("not sent: ")


def test_a_batch_larger_than_the_rate_allows_at_once_is_claimed_in_parts(case, settings):
    """At 1.5 SMS/s one claim covers the 3 slots of CLAIM_SPAN_SECONDS; the fourth row is claimed later, when its
    slot comes, so no claim is held long before its provider call."""
    settings.SMS_RATE_PER_SECOND = 1.5
    rows = [row(case, step=f"written_overdue_{i}") for i in range(4)]
    result = notifications_send(notification_ids=[n.pk for n in rows], token="batch-1", now=LATE)
    assert set(result.statuses.values()) == {S.SENT} and len(locmem.outbox) == 4
    claimed_at = [Notification.objects.get(pk=n.pk).claimed_at for n in rows]
    assert claimed_at[0] == claimed_at[1] == claimed_at[2] < claimed_at[3]


@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_over_overlapping_chunks_send_each_row_once(case, settings):
    settings.SMS_BACKEND = backend("Slow")
    rows = [row(case, step=f"written_overdue_{i}") for i in range(6)]
    ids = [n.pk for n in rows]
    results = []

    def work(i):
        try:
            chunk = ids[i % 3 :] + ids[: i % 3]  # overlapping chunks, in different orders
            results.append(notifications_send(notification_ids=chunk, token=f"batch-{i}", now=LATE))
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 6
    assert sorted(m.to for m in locmem.outbox) == sorted(n.to for n in rows)
    assert set(Notification.objects.filter(pk__in=ids).values_list("status", "attempts")) == {(S.SENT, 1)}
    assert AuditEvent.objects.filter(kind="notification_sent").count() == 6
    assert chain_verify() is None


def test_the_batch_task_is_late_acked_and_retried():
    """The batch task's contract: re-delivered when its worker dies, retried (only its transient rows)."""
    from notifications.tasks import send_notifications

    assert send_notifications.acks_late is True and send_notifications.reject_on_worker_lost is True
    assert send_notifications.max_retries >= 3


@pytest.mark.parametrize(
    ("count", "size", "lengths"),
    [(0, 20, []), (1, 20, [1]), (20, 20, [20]), (21, 20, [11, 10]), (45, 20, [15, 15, 15]), (3, 1, [1, 1, 1])],
)
def test_the_sweeps_rows_are_split_into_even_chunks(count, size, lengths):
    from notifications.sweep import chunks_of

    ids = list(range(100, 100 + count))
    chunks = chunks_of(ids, size)
    assert [len(c) for c in chunks] == lengths
    assert [pk for c in chunks for pk in c] == ids


def test_reserve_many_takes_consecutive_slots_in_one_call():
    key = f"test:rate:{time.time_ns()}"
    assert ratelimit.reserve_many(3, rate=0.5, key=key) == [0.0, 2.0, 4.0]
    # The next reservation comes after all three (6 s after the first, less the little time since).
    assert 4.0 < ratelimit.reserve(rate=0.5, key=key) <= 6.0
    assert ratelimit.reserve_many(2, rate=0, key=key) == [0.0, 0.0]


# --- timing: early status callbacks, a filing while a part waits, each call's own time ----------------------------


class FixedSid(BaseSmsBackend):
    """Answers a send with a provider id known in advance, so a test can post its status callback first."""

    sid = "SMea71e50000000000000000000000000001"

    def send(self, *, to, body):
        return SmsResult(provider_id=FixedSid.sid)


class FilesOnFirstSend(locmem.SmsBackend):
    """While the provider takes the first SMS, the unit files its verbal report (another connection, as the web
    process would)."""

    obligation_id = 0

    def send(self, *, to, body):
        first = not locmem.outbox
        result = super().send(to=to, body=body)
        if first:
            verbal_report_filed(FilesOnFirstSend.obligation_id)
        return result


def verbal_report_filed(obligation_id: int) -> None:
    """The unit files its verbal report while a provider call is on its way: from the sending thread's own
    connection, closed at once (as the web process would, outside the worker's transaction)."""
    try:
        Obligation.objects.filter(pk=obligation_id).update(verbal_state="on_time")
    finally:
        connection.close()


def send_batch(n, now):
    return notifications_send(notification_ids=[n.pk], token="batch-1", now=now).statuses[n.pk]


def send_one(n, now):
    return notification_send(notification_id=n.pk, token="task-1", now=now)


@pytest.mark.parametrize("send", [send_batch, send_one], ids=["batch", "one"])
def test_a_failed_status_that_comes_before_the_id_is_recorded_still_falls_back(case, settings, send):
    """Twilio can call back before the worker has written the SMS's id (a part's outcomes are written after all its
    calls). The callback is kept and applied when the id is recorded: the status moves and the fallback runs."""
    settings.SMS_BACKEND = backend("FixedSid")
    n = row(case)
    outcome = callbacks.notification_record_status(
        provider_id=FixedSid.sid, provider_status="undelivered", error_code="30003", now=LATE
    )
    assert outcome == "kept" and EarlyStatusCallback.objects.count() == 1

    assert send(n, LATE + timedelta(seconds=1)) == S.SENT
    n.refresh_from_db()
    assert (n.status, n.provider_id, n.error) == (S.UNDELIVERED, FixedSid.sid, "twilio undelivered 30003")
    assert events_of(n) == ["notification_sent", "notification_failed"]
    failed = AuditEvent.objects.get(object_id=str(n.pk), kind="notification_failed")
    assert failed.at == LATE and failed.actor == "twilio"
    assert sorted(Notification.objects.filter(fallback_of=n).values_list("channel", "to")) == [
        ("email", "officer@example.org"),
        ("sms", case["leader"].phone),
    ]
    assert not EarlyStatusCallback.objects.exists()
    assert chain_verify() is None


def test_an_early_delivered_status_keeps_its_own_time(case, settings):
    settings.SMS_BACKEND = backend("FixedSid")
    n = row(case)
    received = LATE + timedelta(milliseconds=300)
    assert callbacks.notification_record_status(provider_id=FixedSid.sid, provider_status="delivered", now=received)
    send_batch(n, LATE)
    n.refresh_from_db()
    assert (n.status, n.delivered_at) == (S.DELIVERED, received)
    assert not EarlyStatusCallback.objects.exists()


def test_a_status_kept_while_the_worker_records_the_id_is_applied_once(case, settings):
    """The other order: the worker records the id (and finds nothing kept) between the webhook's first look and its
    keeping the callback. The webhook looks again after keeping it, and applies it itself."""
    n = row(case, status=S.SENT, provider_id="")

    def worker_records_the_id(sender, instance, created, **kwargs):
        Notification.objects.filter(pk=n.pk).update(provider_id=instance.provider_id)

    post_save.connect(worker_records_the_id, sender=EarlyStatusCallback)
    try:
        outcome = callbacks.notification_record_status(provider_id="SMrace", provider_status="failed", now=LATE)
    finally:
        post_save.disconnect(worker_records_the_id, sender=EarlyStatusCallback)
    n.refresh_from_db()
    assert outcome == "updated" and n.status == S.FAILED
    assert not EarlyStatusCallback.objects.exists()
    assert callbacks.early_statuses_apply(["SMrace"]) == 0  # the worker's look afterwards finds nothing to redo
    assert events_of(n) == ["notification_failed"]
    assert Notification.objects.filter(fallback_of=n).count() == 2


def test_only_statuses_that_change_something_are_kept_and_old_ones_go(case):
    for status in ("queued", "sent", "accepted"):
        assert callbacks.notification_record_status(provider_id="SMx", provider_status=status, now=LATE) == "unknown"
    assert not EarlyStatusCallback.objects.exists()
    assert callbacks.notification_record_status(provider_id="SMold", provider_status="failed", now=LATE) == "kept"
    week_later = LATE + timedelta(days=callbacks.EARLY_STATUS_KEPT_DAYS, seconds=1)
    assert callbacks.notification_record_status(provider_id="SMnew", provider_status="failed", now=week_later) == "kept"
    assert list(EarlyStatusCallback.objects.values_list("provider_id", flat=True)) == ["SMnew"]


@pytest.mark.django_db(transaction=True)
def test_a_report_filed_while_a_part_waits_for_its_rate_slots_stops_its_later_sms(case, settings):
    """Two SMS of the verbal deadline in one part, half a second apart (2 per second). The report is filed while
    the first is with the provider: the second is looked at again just before its call and closed, not sent."""
    settings.SMS_RATE_PER_SECOND = 2
    settings.SMS_BACKEND = backend("FilesOnFirstSend")
    FilesOnFirstSend.obligation_id = case["obligation"].pk
    first, second = row(case), row(case, contact="leader")

    result = notifications_send(notification_ids=[first.pk, second.pk], token="batch-1", now=LATE)

    assert result.statuses == {first.pk: S.SENT, second.pk: S.CANCELLED} and result.retry == []
    assert [m.to for m in locmem.outbox] == [first.to]
    second.refresh_from_db()
    assert (second.status, second.claimed_by, second.provider_id) == (S.CANCELLED, "batch-1", "")
    assert second.error.startswith("discharged: 口头报")
    assert events_of(first) == ["notification_sent"] and events_of(second) == ["notification_cancelled"]
    assert chain_verify() is None


def test_each_sms_of_a_part_carries_the_time_of_its_own_call(case, settings):
    """One claim, three rate slots 0.5 s apart: sent_at and the notification_sent event are each call's moment."""
    settings.SMS_RATE_PER_SECOND = 2
    rows = [row(case, step=f"written_overdue_{i}") for i in range(3)]
    notifications_send(notification_ids=[n.pk for n in rows], token="batch-1", now=LATE)
    got = list(Notification.objects.filter(pk__in=[n.pk for n in rows]).order_by("id"))
    assert len({n.claimed_at for n in got}) == 1  # one part, one claim
    sent = [n.sent_at for n in got]
    assert got[0].claimed_at <= sent[0] and all(b - a >= timedelta(seconds=0.45) for a, b in zip(sent, sent[1:]))
    for n in got:
        assert AuditEvent.objects.get(object_id=str(n.pk), kind="notification_sent").at == n.sent_at


# --- a part that stops half way: what left is recorded, the rest released (review) --------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_database_error_while_dispatching_records_what_already_left_and_releases_the_rest(
    case, settings, monkeypatch
):
    """Rate 2/s: the second SMS's look at its deadline (0.5 s later) hits a database error. The first SMS and the
    email had already left: their outcomes are recorded (an email has no lookup, so a re-drive would send it
    again); the second is released for a retry, and the retry sends it alone."""
    settings.SMS_RATE_PER_SECOND = 2
    first, second = row(case), row(case, contact="leader")
    email = row(case, channel="email")
    real, calls = batch._clocks_refresh, []

    def flaky(part):
        calls.append(len(part))
        if len(calls) == 2:
            raise OperationalError("server closed the connection unexpectedly")
        return real(part)

    monkeypatch.setattr(batch, "_clocks_refresh", flaky)
    result = notifications_send(notification_ids=[first.pk, second.pk, email.pk], token="batch-1", now=LATE)

    assert result.statuses == {first.pk: S.SENT, email.pk: S.SENT, second.pk: S.PENDING}
    assert result.retry == [second.pk]
    assert [m.to for m in locmem.outbox] == [first.to] and len(mail.outbox) == 1
    for n in (first, second, email):
        n.refresh_from_db()
    assert (first.status, email.status) == (S.SENT, S.SENT) and first.provider_id
    assert (second.status, second.claimed_by, second.provider_id) == (S.PENDING, "", "")
    assert "dispatching stopped" in second.error and "OperationalError" in second.error

    monkeypatch.setattr(batch, "_clocks_refresh", real)
    again = notifications_send(notification_ids=[first.pk, second.pk, email.pk], token="retry-1", now=LATE)
    assert again.statuses == {first.pk: S.SENT, email.pk: S.SENT, second.pk: S.SENT}
    assert [m.to for m in locmem.outbox] == [first.to, second.to] and len(mail.outbox) == 1
    assert chain_verify() is None


class SlowFilesOnFirst(FilesOnFirstSend):
    """The provider takes 0.6 s per SMS; the report is filed while it handles the first one."""

    def send(self, *, to, body):
        time.sleep(0.6)
        return super().send(to=to, body=body)


@pytest.mark.django_db(transaction=True)
def test_an_sms_waits_for_a_free_thread_before_its_last_look_so_a_filing_during_slow_calls_stops_it(
    case, settings, monkeypatch
):
    """Every send thread busy (here the pool has one; in production 8 threads against 30 SMS a second times the
    provider's latency): an SMS is handed over only when a thread is free, and its deadline is looked at then, not
    when it would have joined the pool's queue. The report filed during the first (slow) call stops the others."""
    settings.SMS_RATE_PER_SECOND = 10  # slots 0.1 s apart, all before the first call ends
    settings.SMS_BACKEND = backend("SlowFilesOnFirst")
    FilesOnFirstSend.obligation_id = case["obligation"].pk
    monkeypatch.setattr(batch, "SEND_THREADS", 1)
    for name in ("_pool", "_mail_pool", "_pool_free"):
        monkeypatch.setattr(batch, name, None)  # made again, with one thread and one permit; restored after
    rows = [row(case), row(case, contact="leader"), row(case, contact="default")]

    result = notifications_send(notification_ids=[n.pk for n in rows], token="batch-1", now=LATE)

    assert [m.to for m in locmem.outbox] == [rows[0].to]
    assert result.statuses == {rows[0].pk: S.SENT, rows[1].pk: S.CANCELLED, rows[2].pk: S.CANCELLED}
    assert all(events_of(n) == ["notification_cancelled"] for n in rows[1:])


def test_an_early_failed_left_unapplied_by_a_stopped_worker_is_applied_by_the_sweep(case, settings, monkeypatch):
    """The webhook keeps an early 'failed'; the worker records the SMS's id and then stops (or the database errors)
    before applying kept callbacks. The next sweep tick applies it: the row fails and its fallback is made."""
    from notifications.sweep import sweep_run

    settings.SMS_BACKEND = backend("FixedSid")
    n = row(case)
    assert callbacks.notification_record_status(provider_id=FixedSid.sid, provider_status="failed", now=LATE) == "kept"

    def worker_stops(ids):
        raise OperationalError("worker lost")

    monkeypatch.setattr(batch, "early_statuses_apply", worker_stops)
    with pytest.raises(OperationalError):
        notifications_send(notification_ids=[n.pk], token="batch-1", now=LATE)
    monkeypatch.undo()
    n.refresh_from_db()
    assert (n.status, n.provider_id) == (S.SENT, FixedSid.sid) and EarlyStatusCallback.objects.count() == 1

    sweep_run(now=LATE + timedelta(minutes=1))

    n.refresh_from_db()
    assert (n.status, n.error) == (S.FAILED, "twilio failed") and not EarlyStatusCallback.objects.exists()
    assert Notification.objects.filter(fallback_of=n).count() == 2
    assert events_of(n) == ["notification_sent", "notification_failed"]
    sweep_run(now=LATE + timedelta(minutes=2))  # applied once
    assert events_of(n) == ["notification_sent", "notification_failed"]


# --- what an operator sees in the worker's log -------------------------------------------------------------------


def failure_logs(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("notifications") and r.levelno >= 30]


def test_a_batch_logs_each_send_that_failed_with_its_incident_obligation_and_step(case, settings, caplog):
    """A provider that refuses every SMS (a wrong Twilio token, an exhausted account) must show in the worker's log,
    not only in the rows: each failure names the notification, incident, obligation, step and the provider's error,
    and never the message text (it carries the signed filing link)."""
    settings.SMS_BACKEND = backend("Mixed")
    sj = case["incident"].obligations.get().unit
    flaky = Contact.objects.create(unit=sj, name="陈某", phone="+8617000000003", role=ContactRole.DUTY_OFFICER)
    case.update(flaky=flaky)
    Mixed.transient, Mixed.permanent = {flaky.phone}, {case["officer"].phone}
    permanent = row(case, step="written_overdue")
    transient = row(case, contact="flaky", step="written_overdue")
    incident, obligation = case["incident"], case["obligation"]

    with caplog.at_level("INFO"):
        notifications_send(notification_ids=[permanent.pk, transient.pk], token="batch-1", now=LATE)

    logs = failure_logs(caplog)
    [failed] = [m for m in logs if f"notification {permanent.pk} " in m]
    [retried] = [m for m in logs if f"notification {transient.pk} " in m]
    for message in (failed, retried):
        assert f"incident {incident.pk} ({incident.number})" in message
        assert f"obligation {obligation.pk}" in message and "written_overdue" in message and "sms" in message
    assert "21211" in failed and "failed" in failed
    assert "20503" in retried and "retried" in retried
    bodies = Notification.objects.filter(pk__in=[permanent.pk, transient.pk]).values_list("body", flat=True)
    assert all(body and body not in " ".join(logs) for body in bodies)


def test_one_send_logs_its_failure_with_its_incident_obligation_and_step(case, settings, caplog):
    settings.SMS_BACKEND = backend("InvalidNumber")
    n = row(case)

    with caplog.at_level("INFO"):
        assert notification_send(notification_id=n.pk, token="task-1", now=LATE) == S.FAILED

    [message] = [m for m in failure_logs(caplog) if f"notification {n.pk} " in m]
    assert f"incident {case['incident'].pk}" in message and f"obligation {case['obligation'].pk}" in message
    assert "verbal_overdue" in message and "21211" in message
