"""The voice channel (语音外呼): the spoken text, a voice step placed as a call (never an SMS, never an SMS rate slot)
on both send paths, discharge and re-drive, the Twilio backend through the real SDK and Prism, the call status
webhook and its fallback SMS."""

import time
from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from freezegun import freeze_time
from twilio.request_validator import RequestValidator

from notifications import batch, callbacks, ratelimit
from notifications.batch import notifications_send
from notifications.delivery import notification_send
from notifications.messages import LOCAL_TZ, spoken_number, spoken_when, voice_text
from notifications.models import EarlyStatusCallback, EscalationPolicy, Notification, NotificationStatus
from notifications.sms import SmsResult, get_backend
from notifications.sms.backends import file as file_backend
from notifications.sms.backends import locmem
from notifications.sms.backends.twilio import call_params
from notifications.sweep import sweep_run
from reporting.auditlog import chain_verify
from reporting.models import AuditEvent, Obligation
from tests.conftest import NOW
from tests.fixtures.delivery import ACCOUNT_SID, FROM_NUMBER
from tests.notifications.test_delivery import DUE, LATE, case, row, verbal_report_filed  # noqa: F401 (fixture)
from tests.notifications.test_messages import facts

S = NotificationStatus
TOKEN = "webhook-test-token"
BASE = "https://tracker.example.org"
CALL_STATUS_URL = "/webhooks/twilio/call-status/"


@pytest.fixture(autouse=True)
def _clean(settings):
    locmem.outbox.clear()
    locmem.calls.clear()
    mail.outbox = []
    settings.SMS_BACKEND = "notifications.sms.backends.locmem.SmsBackend"
    settings.SMS_RATE_PER_SECOND = 0
    settings.VOICE_RATE_PER_SECOND = 0
    settings.PUBLIC_BASE_URL = "https://sj.example.cn"


def events_of(n: Notification) -> list[str]:
    events = AuditEvent.objects.filter(object_id=str(n.pk), kind__startswith="notification_").order_by("id")
    return list(events.values_list("kind", flat=True))


# --- the spoken text -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("over", "now", "expected"),
    [
        (
            {},
            DUE + timedelta(minutes=3),
            "松江区突发事件报送督办。泗泾镇，2026年第123号事件，泗泾镇某厂房火灾，口头报已超时3分钟。"
            "请立即向区政府总值班室报送。",
        ),
        (
            {"step": "verbal_reminder", "reminder": True},
            DUE - timedelta(minutes=10),
            "松江区突发事件报送督办。泗泾镇，2026年第123号事件，泗泾镇某厂房火灾，口头报还剩10分钟。"
            "请按时向区政府总值班室报送。",
        ),
        (
            {"unit_name": "区政府总值班室", "deadline": "relay"},
            DUE + timedelta(minutes=2),
            "松江区突发事件报送督办。区政府总值班室，2026年第123号事件，泗泾镇某厂房火灾，转报区委办区府办已超时2分钟。"
            "请立即转报区委办区府办。",
        ),
        (
            {"step": "verbal_escalate", "escalated_to": "duty_room"},
            DUE + timedelta(minutes=5),
            "松江区突发事件报送督办。泗泾镇，2026年第123号事件，泗泾镇某厂房火灾，口头报已超时5分钟，"
            "已升级区总值班室督办。请立即向区政府总值班室报送。",
        ),
        (
            {"exercise": True},
            DUE,
            "演练。松江区突发事件报送督办。泗泾镇，2026年第123号事件，泗泾镇某厂房火灾，口头报已到时限。"
            "请立即向区政府总值班室报送。",
        ),
        (
            {"step": "event_deaths", "deadline": "", "unit_name": "", "deaths": 2, "link": ""},
            NOW,
            "松江区突发事件报送督办。2026年第123号事件，泗泾镇某厂房火灾，死亡2人，请分管区领导赶赴现场。",
        ),
        (
            {"step": "event_grade_IV", "deadline": "", "grade": "IV", "deaths": 1, "injuries": 3, "exercise": True},
            NOW,
            "演练。松江区突发事件报送督办。2026年第123号事件，泗泾镇某厂房火灾，泗泾镇报送。一般事件，死亡1人，受伤3人。",
        ),
    ],
    ids=["overdue", "reminder", "relay", "escalation", "exercise", "event-deaths", "event-grade"],
)
def test_voice_text_is_spoken_chinese_without_a_link(over, now, expected):
    text = voice_text(facts(**over), now=now)
    assert text == expected
    assert "http" not in text and "SJ-" not in text


#: An event on a road at 09:00 (Asia/Shanghai), reported by 泗泾镇: what the leader's SMS says besides the figures.
EVENT = dict(deadline="", unit_name="泗泾镇", link="", location="泗泾镇泗砖公路588号", occurred_at=NOW)


@pytest.mark.parametrize(
    ("over", "now", "expected"),
    [
        (
            {"step": "event_deaths", "deaths": 1},
            NOW + timedelta(minutes=20),
            "松江区突发事件报送督办。2026年第123号事件，泗泾镇某厂房火灾，今天上午九点发生，"
            "地点泗泾镇泗砖公路588号，泗泾镇报送。死亡1人，请分管区领导赶赴现场。",
        ),
        (
            {"step": "event_grade_IV", "grade": "IV", "injuries": 3, "exercise": True},
            NOW + timedelta(days=1),
            "演练。松江区突发事件报送督办。2026年第123号事件，泗泾镇某厂房火灾，昨天上午九点发生，"
            "地点泗泾镇泗砖公路588号，泗泾镇报送。一般事件，死亡0人，受伤3人。",
        ),
        (
            {"step": "event_deaths", "deaths": 2, "occurred_at": NOW + timedelta(hours=6, minutes=5)},
            NOW + timedelta(days=3),
            "松江区突发事件报送督办。2026年第123号事件，泗泾镇某厂房火灾，11月28日下午三点零五分发生，"
            "地点泗泾镇泗砖公路588号，泗泾镇报送。死亡2人，请分管区领导赶赴现场。",
        ),
    ],
    ids=["deaths-today", "grade-yesterday-exercise", "deaths-days-ago"],
)
def test_a_leaders_event_call_says_when_where_and_which_units(over, now, expected):
    """The event SMS to a district leader says when, where and which units report; the call says the same, the time
    as one says it in Shanghai, 演练 spoken (never 【演练】)."""
    text = voice_text(facts(**{**EVENT, **over}), now=now)
    assert text == expected
    assert "【" not in text and "http" not in text


@pytest.mark.parametrize(
    ("hour", "minute", "spoken"),
    [
        (0, 0, "凌晨零点"),
        (2, 30, "凌晨两点三十分"),
        (7, 5, "早上七点零五分"),
        (12, 15, "中午十二点十五分"),
        (14, 0, "下午两点"),
        (18, 45, "晚上六点四十五分"),
        (23, 59, "晚上十一点五十九分"),
    ],
)
def test_a_time_of_day_as_spoken(hour, minute, spoken):
    local = datetime(2026, 11, 28, hour, minute, tzinfo=LOCAL_TZ)
    assert spoken_when(local, now=local) == "今天" + spoken
    assert spoken_when(local.astimezone(UTC), now=local + timedelta(days=1)) == "昨天" + spoken


def test_a_leaders_event_call_is_placed_with_the_place_and_time(case):  # noqa: F811
    """Through the send path: the call placed for an event row says where and when, as the SMS does."""
    n = Notification.objects.create(
        incident=case["incident"],
        step="event_deaths",
        channel="voice",
        recipient=case["officer"],
        to=case["officer"].phone,
        scheduled_for=NOW,
        created_at=NOW,
    )
    assert send_batch(n, NOW) == S.SENT
    [call] = locmem.calls
    assert "今天早上八点五十五分发生，地点泗泾镇某路1号，泗泾镇报送。死亡0人" in call.text, call.text


def test_spoken_number():
    assert spoken_number("SJ-2026-000123") == "2026年第123号事件"
    assert spoken_number("X1") == "X1号事件"


# --- sending ----------------------------------------------------------------------------------------------------------


def send_batch(n, now):
    return notifications_send(notification_ids=[n.pk], token="batch-1", now=now).statuses[n.pk]


def send_one(n, now):
    return notification_send(notification_id=n.pk, token="task-1", now=now)


@pytest.fixture
def rate_spy(monkeypatch):
    """Which rate-limit keys were asked for slots (the real limiter still answers)."""
    asked: list[tuple[str, int]] = []
    reserve_many = ratelimit.reserve_many

    def spy(count, *, rate=None, key=ratelimit.KEY):
        if count:
            asked.append((key, count))
        return reserve_many(count, rate=rate, key=key)

    monkeypatch.setattr(ratelimit, "reserve_many", spy)
    return asked


@pytest.mark.parametrize("send", [send_batch, send_one], ids=["batch", "one"])
def test_a_voice_row_is_placed_as_one_call_never_as_an_sms(case, send, rate_spy):  # noqa: F811
    n = row(case, channel="voice")
    assert send(n, LATE) == S.SENT
    [call] = locmem.calls
    n.refresh_from_db()
    assert (n.status, n.provider_id, n.body, n.subject) == (S.SENT, call.provider_id, call.text, "")
    assert call.to == case["officer"].phone and call.provider_id.startswith("CA")
    assert call.text.startswith("松江区突发事件报送督办。") and "口头报已超时3分钟" in call.text
    assert locmem.outbox == [] and mail.outbox == []
    assert rate_spy == [(ratelimit.VOICE_KEY, 1)]  # the call rate, never an SMS slot
    assert events_of(n) == ["notification_sent"]
    # Again, by any token: nothing more is placed.
    assert send_batch(n, LATE + timedelta(minutes=1)) == S.SENT
    assert send_one(n, LATE + timedelta(minutes=1)) == S.SENT
    assert len(locmem.calls) == 1


def test_a_part_with_sms_email_and_voice_sends_each_on_its_channel(case, rate_spy):  # noqa: F811
    rows = [
        row(case),
        row(case, channel="email"),
        row(case, channel="voice"),
        row(case, channel="voice", contact="leader"),
    ]
    result = notifications_send(notification_ids=[n.pk for n in rows], token="batch-1", now=LATE)
    assert set(result.statuses.values()) == {S.SENT} and result.retry == []
    assert [m.to for m in locmem.outbox] == [case["officer"].phone]
    assert [c.to for c in locmem.calls] == [case["officer"].phone, case["leader"].phone]
    assert len(mail.outbox) == 1
    assert sorted(rate_spy) == [(ratelimit.KEY, 1), (ratelimit.VOICE_KEY, 2)]  # one part: its two call slots
    assert chain_verify() is None


def test_calls_are_claimed_in_parts_their_own_rate_can_place_in_time(case, settings, monkeypatch):  # noqa: F811
    """Five calls at 2 a second, a claim span of 1 s and calls allowed up to 1.2 s after their claim: parts of two
    calls each, every call placed in time. One part of five (sized by the SMS rate, unlimited here) left its last
    calls too old to place: released, waiting for the task's retry."""
    settings.VOICE_RATE_PER_SECOND = 2
    monkeypatch.setattr(batch, "CLAIM_SPAN_SECONDS", 1.0)
    monkeypatch.setattr(batch, "SEND_WITHIN_SECONDS", 1.2)
    rows = [row(case, channel="voice", step=f"written_overdue_{i}") for i in range(5)] + [row(case)]
    result = notifications_send(notification_ids=[n.pk for n in rows], token="batch-1", now=LATE)
    assert set(result.statuses.values()) == {S.SENT} and result.retry == []
    assert len(locmem.calls) == 5 and len(locmem.outbox) == 1
    claims = Notification.objects.filter(pk__in=[n.pk for n in rows[:5]]).values_list("claimed_at", flat=True)
    assert len(set(claims)) == 3  # 2 + 2 + 1


@pytest.mark.parametrize("send", [send_batch, send_one], ids=["batch", "one"])
def test_a_report_filed_before_the_call_cancels_it(case, send):  # noqa: F811
    n = row(case, channel="voice")
    Obligation.objects.filter(pk=case["obligation"].pk).update(verbal_state="late")
    assert send(n, LATE) == S.CANCELLED
    n.refresh_from_db()
    assert n.status == S.CANCELLED and n.error.startswith("discharged: 口头报")
    assert locmem.calls == [] and locmem.outbox == []


class FilesOnFirstCall(locmem.SmsBackend):
    """While the provider places the first call, the unit files its verbal report (another connection)."""

    obligation_id = 0

    def call(self, *, to, text):
        first = not locmem.calls
        result = super().call(to=to, text=text)
        if first:
            verbal_report_filed(FilesOnFirstCall.obligation_id)
        return result


@pytest.mark.django_db(transaction=True)
def test_a_report_filed_while_calls_wait_for_the_call_rate_stops_the_later_call(case, settings):  # noqa: F811
    """Two calls of the verbal deadline in one part, half a second apart (2 calls per second). The report is filed
    during the first: the second is looked at again on the call thread, after its slot, and closed, not placed."""
    settings.VOICE_RATE_PER_SECOND = 2
    settings.SMS_BACKEND = f"{__name__}.FilesOnFirstCall"
    FilesOnFirstCall.obligation_id = case["obligation"].pk
    first, second = row(case, channel="voice"), row(case, channel="voice", contact="leader")
    result = notifications_send(notification_ids=[first.pk, second.pk], token="batch-1", now=LATE)
    assert result.statuses == {first.pk: S.SENT, second.pk: S.CANCELLED} and result.retry == []
    assert [c.to for c in locmem.calls] == [first.to]
    second.refresh_from_db()
    assert (second.status, second.provider_id) == (S.CANCELLED, "") and second.error.startswith("discharged: 口头报")
    assert events_of(second) == ["notification_cancelled"]


@pytest.mark.parametrize("send", [send_batch, send_one], ids=["batch", "one"])
def test_a_dead_workers_call_is_found_and_not_placed_again(case, send):  # noqa: F811
    n = row(case, channel="voice", claimed_by="dead-task", claimed_at=LATE - timedelta(seconds=61), body="已保存")
    earlier = locmem.SmsBackend().call(to=n.to, text="已保存")
    assert send(n, LATE) == S.SENT
    assert len(locmem.calls) == 1 and locmem.outbox == []
    n.refresh_from_db()
    assert n.provider_id == earlier.provider_id
    assert AuditEvent.objects.get(kind="notification_sent", object_id=str(n.pk)).detail["recovered"] is True


@pytest.mark.parametrize("send", [send_batch, send_one], ids=["batch", "one"])
def test_a_dead_claim_without_a_call_is_placed_with_the_saved_text(case, send):  # noqa: F811
    n = row(case, channel="voice", claimed_by="dead-task", claimed_at=LATE - timedelta(seconds=61), body="已保存")
    locmem.SmsBackend().call(to="+8617000000002", text="别人的电话")
    assert send(n, LATE) == S.SENT
    assert [(c.to, c.text) for c in locmem.calls][-1] == (n.to, "已保存")


def test_file_backend_records_calls_apart_and_looks_them_up_in_the_window(tmp_path):
    backend = file_backend.SmsBackend(file_path=str(tmp_path))
    before = datetime.now(UTC)
    placed = backend.call(to="+8617000000001", text="语音")
    assert file_backend.read_messages(tmp_path) == []  # a call is never counted as an SMS
    [record] = file_backend.read_calls(tmp_path)
    assert (record["sid"], record["to"], record["text"]) == (placed.provider_id, "+8617000000001", "语音")
    assert backend.lookup_call(to="+8617000000001", since=before).provider_id == placed.provider_id
    assert backend.lookup_call(to="+8617000000002", since=before) is None
    assert backend.lookup_call(to="+8617000000001", since=before + timedelta(minutes=1)) is None
    assert backend.lookup_call(to="+8617000000001", since=before - timedelta(hours=1), until=before) is None


def test_a_voice_step_of_the_ladder_is_placed_by_the_sweep(units, roster, settings):
    """The active ladder's verbal overdue step on voice only: the sweep creates a call for each person of its
    audience, and each is placed once; no SMS goes out for that step."""
    from tests.notifications.conftest import open_incident

    EscalationPolicy.objects.get(active=True).steps.filter(key="verbal_overdue").update(
        channels=["voice"], repeat_channels=["voice"]
    )
    with freeze_time(NOW):
        obligation = open_incident(units).obligations.get()
    for when in (DUE + timedelta(seconds=1), DUE + timedelta(minutes=1)):
        with freeze_time(when):
            sweep_run(now=when)
            # What the send_notifications task does with the rows the sweep hands it (run here, not by a worker).
            pending = list(Notification.objects.filter(status=S.PENDING).values_list("pk", flat=True))
            notifications_send(notification_ids=pending, token=f"sweep-{when:%H%M%S}", now=when)
    calls = Notification.objects.filter(obligation=obligation, step="verbal_overdue")
    assert set(calls.values_list("channel", flat=True)) == {"voice"}
    assert set(calls.values_list("status", flat=True)) == {S.SENT}, list(calls.values_list("error", flat=True))
    assert sorted(c.to for c in locmem.calls) == sorted(calls.values_list("to", flat=True))
    assert len(locmem.calls) == calls.count() >= 1
    assert not [m for m in locmem.outbox if "口头报已超时" in m.body]


# --- Twilio through the real SDK and Prism ----------------------------------------------------------------------------


def test_call_params(settings):
    settings.PUBLIC_BASE_URL, settings.TWILIO_FROM_NUMBER = BASE, FROM_NUMBER
    params = call_params(to="+8617000000001", text="口头报已超时")
    assert params["status_callback"] == BASE + CALL_STATUS_URL
    assert "status_callback_event" not in params  # Twilio's default: the final status only
    assert params["machine_detection"] == "Enable"
    assert params["twiml"].count('<Say language="zh-CN" voice="alice">口头报已超时</Say>') == 2
    # The text and the question are one Gather: a key pressed at any moment is taken; 1 acknowledges.
    twiml = params["twiml"]
    assert twiml.index("<Gather") < twiml.index("口头报已超时") < twiml.index("收到请按1。") < twiml.index("</Gather>")
    assert f'action="{BASE}/webhooks/twilio/call-key/"' in twiml and 'numDigits="1"' in twiml


@pytest.mark.integration
@pytest.mark.parametrize("send", [send_batch, send_one], ids=["batch", "one"])
def test_with_no_caller_number_a_voice_step_fails_at_once_and_is_texted(
    case,  # noqa: F811
    send,
    rate_spy,
    twilio_settings,
    twilio_recorder,
):
    """A Messaging Service sends SMS but cannot place calls: with no TWILIO_FROM_NUMBER a voice row is recorded
    failed at once, saying why, without waiting for a call slot (a deadline's calls at 1 a second would hold every
    fallback back), and falls back to an SMS to the same person as an unanswered call does."""
    twilio_settings.TWILIO_FROM_NUMBER = ""
    twilio_settings.TWILIO_MESSAGING_SERVICE_SID = "MG" + "0" * 32
    n = row(case, channel="voice")
    assert send(n, LATE) == S.FAILED
    n.refresh_from_db()
    assert n.status == S.FAILED and "TWILIO_FROM_NUMBER" in n.error and "Messaging Service" in n.error
    assert (n.claimed_by, n.attempts, n.body) == ("", 0, "")  # never claimed: nothing was tried
    assert rate_spy == [] and twilio_recorder.requests == []  # no call slot, no request
    assert events_of(n) == ["notification_failed"]
    [fallback] = Notification.objects.filter(fallback_of=n)
    assert (fallback.channel, fallback.to) == ("sms", case["officer"].phone)
    assert send_one(fallback, LATE) == S.SENT
    [sms] = twilio_recorder.messages()
    assert sms.status == 201 and sms.form["MessagingServiceSid"] == "MG" + "0" * 32
    assert sms.form["To"] == case["officer"].phone and "口头报" in sms.form["Body"]


@pytest.mark.integration
def test_twilio_backend_places_a_call_through_prism_and_looks_it_up(twilio_settings, twilio_recorder):
    twilio_settings.PUBLIC_BASE_URL = BASE
    text = "松江区突发事件报送督办。泗泾镇，口头报已超时5分钟。"
    result = get_backend().call(to="+8617000000001", text=text)
    assert result.provider_id == "CAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"  # Prism's example: the spec's response
    [request] = [r for r in twilio_recorder.requests if r.method == "POST"]
    assert (request.status, request.path) == (201, f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json")
    assert (request.form["To"], request.form["From"]) == ("+8617000000001", FROM_NUMBER)
    twiml = request.form["Twiml"]
    assert twiml.count(text) == 2 and twiml.count('language="zh-CN"') == 3 and "<Response>" in twiml
    assert f'<Gather action="{BASE}/webhooks/twilio/call-key/" method="POST" numDigits="1"' in twiml
    assert request.form["StatusCallback"] == BASE + CALL_STATUS_URL
    assert request.form["Timeout"] == "40" and "StatusCallbackEvent" not in request.form
    assert request.form["MachineDetection"] == "Enable"  # AnsweredBy in the status callback: voicemail is not heard

    # The spec's list answer (the mock ignores the filters): calls created 17:00 (CA…aa) and 16:00 (CA…a0) UTC; the
    # most recent one in the window counts.
    twilio_recorder.clear()
    created = datetime(2019, 10, 18, 17, 0, tzinfo=UTC)

    def lookup(since, until=None):
        found = get_backend().lookup_call(to="+8617000000001", since=since, until=until)
        return found and found.provider_id

    assert (
        lookup(created - timedelta(minutes=5)) == "CAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    )  # asked from 16:54 (1 min slack)
    [listing] = twilio_recorder.requests  # one request: the first page only
    assert listing.method == "GET" and listing.status == 200 and listing.path.split("?")[0].endswith("/Calls.json")
    assert "To=%2B8617000000001" in listing.path and "StartTime%3E=2019-10-18T16%3A54%3A00Z" in listing.path
    assert lookup(created - timedelta(minutes=65), until=created - timedelta(minutes=30)) == "CA" + "a" * 31 + "0"
    assert lookup(created + timedelta(hours=1)) is None
    assert lookup(created - timedelta(hours=3), until=created - timedelta(hours=2)) is None


# --- the call status webhook ----------------------------------------------------------------------------------------


@pytest.fixture
def webhook(settings):
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.PUBLIC_BASE_URL = BASE


def signed_post(client, params, *, signed=True):
    headers = {}
    if signed:
        headers["HTTP_X_TWILIO_SIGNATURE"] = RequestValidator(TOKEN).compute_signature(BASE + CALL_STATUS_URL, params)
    return client.post(CALL_STATUS_URL, params, **headers)


SID = "CA" + "b" * 32


def placed(case, **extra):  # noqa: F811
    return row(case, channel="voice", status=S.SENT, provider_id=SID, sent_at=LATE, body="语音", **extra)


def status(n):
    n.refresh_from_db()
    return n.status


def test_call_status_needs_a_valid_signature(client, case, webhook):  # noqa: F811
    n = placed(case)
    assert signed_post(client, {"CallSid": SID, "CallStatus": "completed"}, signed=False).status_code == 403
    forged = client.post(CALL_STATUS_URL, {"CallSid": SID, "CallStatus": "completed"}, HTTP_X_TWILIO_SIGNATURE="x")
    assert forged.status_code == 403 and status(n) == S.SENT
    assert signed_post(client, {"CallSid": SID}).status_code == 400
    assert signed_post(client, {"CallSid": SID + "\x00", "CallStatus": "completed"}).status_code == 400
    assert signed_post(client, {"CallSid": "CA" + "c" * 32, "CallStatus": "completed"}).status_code == 204  # unknown
    assert signed_post(client, {"CallSid": SID, "CallStatus": "completed"}).status_code == 204
    assert status(n) == S.DELIVERED


def test_an_answered_call_is_delivered_and_later_callbacks_change_nothing(client, case, webhook):  # noqa: F811
    n = placed(case)
    for call_status in ("ringing", "in-progress", "completed", "ringing", "in-progress", "completed"):
        assert signed_post(client, {"CallSid": SID, "CallStatus": call_status}).status_code == 204
    n.refresh_from_db()
    assert n.status == S.DELIVERED and n.delivered_at is not None
    assert events_of(n) == ["notification_delivered"]
    assert not Notification.objects.filter(fallback_of=n).exists()


@pytest.mark.parametrize(
    ("call_status", "expected"), [("no-answer", S.UNDELIVERED), ("busy", S.UNDELIVERED), ("failed", S.FAILED)]
)
def test_an_unanswered_call_falls_back_to_one_sms_to_the_same_person(
    client,
    case,  # noqa: F811
    webhook,
    call_status,
    expected,
    django_capture_on_commit_callbacks,
):
    n = placed(case)
    with django_capture_on_commit_callbacks() as enqueued:
        for _ in range(2):  # Twilio retrying, a repeat: still one fallback
            assert signed_post(client, {"CallSid": SID, "CallStatus": call_status}).status_code == 204
        for late in ("ringing", "in-progress", "completed"):  # out of order: never back to sent or delivered
            assert signed_post(client, {"CallSid": SID, "CallStatus": late}).status_code == 204
    assert len(enqueued) == 1  # the fallback's send task
    n.refresh_from_db()
    assert n.status == expected and n.error == f"twilio {call_status}"
    [fallback] = Notification.objects.filter(fallback_of=n)
    assert (fallback.channel, fallback.recipient, fallback.to, fallback.step) == (
        "sms",
        case["officer"],
        case["officer"].phone,
        "verbal_overdue",
    )
    assert fallback.status == S.PENDING
    assert send_batch(fallback, LATE + timedelta(minutes=2)) == S.SENT  # what the enqueued task does
    assert [m.to for m in locmem.outbox] == [case["officer"].phone] and locmem.calls == []
    assert events_of(n) == ["notification_failed"]
    assert chain_verify() is None


@pytest.mark.parametrize("answered_by", ["machine_start", "machine_end_beep", "machine_end_other", "fax"])
def test_a_call_voicemail_took_is_not_heard_and_falls_back_to_an_sms(client, case, webhook, answered_by):  # noqa: F811
    """Twilio reports a call voicemail (or a fax, or a carrier's recording) answered as ``completed``; machine
    detection's AnsweredBy tells: undelivered, with the verdict in the error, and the same person gets the SMS."""
    n = placed(case)
    params = {"CallSid": SID, "CallStatus": "completed", "AnsweredBy": answered_by}
    for _ in range(2):  # Twilio retrying: still one fallback
        assert signed_post(client, params).status_code == 204
    n.refresh_from_db()
    assert (n.status, n.error, n.delivered_at) == (S.UNDELIVERED, f"twilio answered-by-machine {answered_by}", None)
    [fallback] = Notification.objects.filter(fallback_of=n)
    assert (fallback.channel, fallback.to, fallback.status) == ("sms", case["officer"].phone, S.PENDING)
    assert events_of(n) == ["notification_failed"]


@pytest.mark.parametrize("answered_by", ["human", "unknown", "", "HUMAN"])
def test_a_call_a_person_took_is_delivered(client, case, webhook, answered_by):  # noqa: F811
    """``unknown``: detection could not tell (often a person who said nothing); no AnsweredBy: detection was off."""
    n = placed(case)
    assert (
        signed_post(client, {"CallSid": SID, "CallStatus": "completed", "AnsweredBy": answered_by}).status_code == 204
    )
    n.refresh_from_db()
    assert n.status == S.DELIVERED and not Notification.objects.filter(fallback_of=n).exists()


def test_a_machine_answer_never_undoes_a_key_pressed_nor_a_busy_line(client, case, webhook):  # noqa: F811
    """Forward only: a person who pressed 1 acknowledged the call, whatever detection said afterwards; and
    AnsweredBy on a call that was not answered changes nothing (busy stays busy)."""
    n = placed(case)
    assert callbacks.call_acknowledge(call_sid=SID, now=LATE)
    machine = {"CallSid": SID, "CallStatus": "completed", "AnsweredBy": "machine_start"}
    assert signed_post(client, machine).status_code == 204
    assert status(n) == S.ACKNOWLEDGED
    assert callbacks.call_status_seen("busy", "machine_start") == "busy"
    assert callbacks.call_status_seen("in-progress", "machine_end_silence") == callbacks.MACHINE_STATUS
    assert signed_post(client, {**machine, "AnsweredBy": "machine\x00"}).status_code == 400


def test_a_step_that_already_texts_the_person_gets_no_second_sms(case, webhook):  # noqa: F811
    sms = row(case)
    n = placed(case)
    assert callbacks.notification_record_status(provider_id=SID, provider_status="no-answer", now=LATE) == "updated"
    assert not Notification.objects.filter(fallback_of=n).exists()
    assert Notification.objects.filter(channel="sms").get() == sms


def test_an_early_no_answer_is_kept_and_applied_when_the_call_is_recorded(case, settings):  # noqa: F811
    settings.SMS_BACKEND = f"{__name__}.FixedCallSid"
    n = row(case, channel="voice")
    assert callbacks.notification_record_status(provider_id=SID, provider_status="no-answer", now=LATE) == "kept"
    assert EarlyStatusCallback.objects.count() == 1
    assert send_batch(n, LATE + timedelta(seconds=1)) == S.SENT
    n.refresh_from_db()
    assert (n.status, n.provider_id) == (S.UNDELIVERED, SID)
    assert list(Notification.objects.filter(fallback_of=n).values_list("channel", "to")) == [("sms", n.to)]
    assert not EarlyStatusCallback.objects.exists()


class FixedCallSid(locmem.SmsBackend):
    def call(self, *, to, text):
        super().call(to=to, text=text)
        return SmsResult(provider_id=SID, status="queued")


# --- a key pressed during the call ----------------------------------------------------------------------------------

CALL_KEY_URL = "/webhooks/twilio/call-key/"


def key_post(client, params, *, signed=True):
    headers = {}
    if signed:
        headers["HTTP_X_TWILIO_SIGNATURE"] = RequestValidator(TOKEN).compute_signature(BASE + CALL_KEY_URL, params)
    return client.post(CALL_KEY_URL, params, **headers)


def test_pressing_1_in_a_call_acknowledges_it_and_the_same_deadlines_sms(client, case, webhook):  # noqa: F811
    """As a reply 1 to an SMS: the call and the SMS of the same obligation to that phone are acknowledged (the
    ladder then stops repeating to that person); another person's rows and another obligation's are not."""
    call = placed(case)
    sms = row(case, status=S.SENT, provider_id="SM" + "d" * 32, sent_at=LATE)
    leaders = row(case, contact="leader", status=S.SENT, provider_id="SM" + "e" * 32, sent_at=LATE)
    response = key_post(client, {"CallSid": SID, "Digits": "1"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/xml")
    assert "已确认收到催报" in response.text and 'language="zh-CN"' in response.text
    assert (status(call), status(sms), status(leaders)) == (S.ACKNOWLEDGED, S.ACKNOWLEDGED, S.SENT)
    call.refresh_from_db()
    assert call.acknowledged_at is not None
    acked = AuditEvent.objects.get(object_id=str(call.pk), kind="notification_acknowledged")
    assert acked.actor == call.to
    # Twilio retrying the same key: answered as it stands, nothing recorded twice.
    again = key_post(client, {"CallSid": SID, "Digits": "1"})
    assert "已确认收到催报" in again.text
    assert AuditEvent.objects.filter(kind="notification_acknowledged").count() == 2
    # The call's final status afterwards does not undo the acknowledgement.
    assert signed_post(client, {"CallSid": SID, "CallStatus": "completed"}).status_code == 204
    assert status(call) == S.ACKNOWLEDGED
    assert chain_verify() is None


def test_another_key_an_unknown_call_or_no_signature_acknowledges_nothing(client, case, webhook):  # noqa: F811
    call = placed(case)
    assert key_post(client, {"CallSid": SID, "Digits": "1"}, signed=False).status_code == 403
    other = key_post(client, {"CallSid": SID, "Digits": "2"})
    assert other.status_code == 200 and "未确认" in other.text
    unknown = key_post(client, {"CallSid": "CA" + "f" * 32, "Digits": "1"})
    assert unknown.status_code == 200 and "未找到需要确认的催报" in unknown.text
    assert key_post(client, {"Digits": "1"}).status_code == 400
    assert key_post(client, {"CallSid": SID, "Digits": "1\x00"}).status_code == 400
    assert status(call) == S.SENT and not AuditEvent.objects.filter(kind="notification_acknowledged").exists()


# --- a dead claim's call, other incidents' calls, and call slots (review) -------------------------------------------


def second_incident(case):  # noqa: F811
    """Another incident of 泗泾镇, opened at the same time: its calls go to the same duty officer."""
    from reporting import services

    incident = services.incident_create(
        actor=None,
        now=NOW,
        units=[{"unit": case["obligation"].unit, "first_known_at": NOW, "channel": "self"}],
        title="泗泾镇某路段交通事故",
        domain="city_operation",
        occurred_at=NOW - timedelta(minutes=5),
        location="泗泾镇某路2号",
    )
    Notification.objects.filter(incident=incident).delete()  # whatever the chasing receivers wrote
    return incident, incident.obligations.get()


def incident_b_called(case) -> Notification:  # noqa: F811
    """A live worker calls the same officer about another incident, 30 s before the re-drive; its row records it."""
    incident_b, obligation_b = second_incident(case)
    with freeze_time(LATE - timedelta(seconds=30)):
        other = Notification.objects.create(
            incident=incident_b, obligation=obligation_b, step="verbal_overdue", repeat=0, channel="voice",
            recipient=case["officer"], to=case["officer"].phone, scheduled_for=DUE, created_at=DUE, body="事件B语音",
        )  # fmt: skip
        assert send_one(other, LATE - timedelta(seconds=30)) == S.SENT
    other.refresh_from_db()
    return other


@pytest.mark.parametrize("send", [send_batch, send_one], ids=["batch", "one"])
def test_a_dead_claims_call_is_not_taken_for_another_incidents_call_to_the_same_officer(  # noqa: F811
    case,  # noqa: F811
    send,
    settings,
    tmp_path,
):
    """A provider keeps no text of a call, so a dead claim's re-drive looks for any call to the number in the
    window the dead worker could have called in. The officer was just called about incident B (recorded on B's
    row): that call is not A's. A's call is placed, and each row keeps its own call."""
    settings.SMS_BACKEND = "notifications.sms.backends.file.SmsBackend"
    settings.SMS_FILE_PATH = str(tmp_path)
    other = incident_b_called(case)
    n = row(case, channel="voice", claimed_by="dead-task", claimed_at=LATE - timedelta(seconds=61), body="事件A语音")
    with freeze_time(LATE):
        assert send(n, LATE) == S.SENT
    n.refresh_from_db()
    placed = [(c["to"], c["text"], c["sid"]) for c in file_backend.read_calls(tmp_path)]
    assert [(to, text) for to, text, _ in placed] == [(n.to, "事件B语音"), (n.to, "事件A语音")]
    assert n.provider_id == placed[1][2] != other.provider_id
    assert not AuditEvent.objects.filter(kind="notification_sent", object_id=str(n.pk), detail__recovered=True)


def test_a_dead_claims_call_placed_before_it_died_is_still_found_beside_another_incidents(case, settings, tmp_path):  # noqa: F811
    """The other side: the dead worker did place A's call, and B's call came after it. A's is found, not placed
    again, and B's is not taken."""
    settings.SMS_BACKEND = "notifications.sms.backends.file.SmsBackend"
    settings.SMS_FILE_PATH = str(tmp_path)
    claimed = LATE - timedelta(seconds=61)
    with freeze_time(claimed + timedelta(seconds=1)):
        dead_workers = get_backend().call(to=case["officer"].phone, text="事件A语音")
    incident_b_called(case)
    n = row(case, channel="voice", claimed_by="dead-task", claimed_at=claimed, body="事件A语音")
    with freeze_time(LATE):
        assert send_batch(n, LATE) == S.SENT
    n.refresh_from_db()
    assert n.provider_id == dead_workers.provider_id and len(file_backend.read_calls(tmp_path)) == 2


class SlowCalls(locmem.SmsBackend):
    """A provider that takes 0.25 s to accept a call (calls.create is an HTTPS round trip)."""

    def call(self, *, to, text):
        time.sleep(0.25)
        return super().call(to=to, text=text)


@pytest.mark.parametrize("rate", [0, 50], ids=["unlimited", "high-cps"])
def test_a_voice_part_holds_no_more_calls_than_its_one_thread_places_in_time(case, settings, monkeypatch, rate):  # noqa: F811
    """A part's calls are placed one after another on one thread: however high the call rate (or unlimited), a
    part holds at most VOICE_PART_MAX calls, so each starts before its claim is too old (scaled down: 0.25 s a
    call, 1 s to start, 3 calls a part)."""
    settings.VOICE_RATE_PER_SECOND = rate
    settings.SMS_BACKEND = f"{__name__}.SlowCalls"
    monkeypatch.setattr(batch, "CLAIM_SPAN_SECONDS", 0.1)
    monkeypatch.setattr(batch, "SEND_WITHIN_SECONDS", 1.0)
    monkeypatch.setattr(batch, "VOICE_PART_MAX", 3)
    rows = [row(case, channel="voice", step=f"written_overdue_{i}") for i in range(6)]
    result = notifications_send(notification_ids=[n.pk for n in rows], token="batch-1", now=LATE)
    assert result.retry == [] and set(result.statuses.values()) == {S.SENT}
    assert len(locmem.calls) == 6


def test_a_batch_call_waits_for_its_call_slot_before_its_claim(case, settings, monkeypatch):  # noqa: F811
    """Other processes hold the next 2 s of call slots; a call may start up to 1 s after its claim. The part's
    slots are reserved and the first waited for before the claim (as for SMS), so the call is placed, not
    released as too old after sleeping on a claim."""
    settings.VOICE_RATE_PER_SECOND = 10
    monkeypatch.setattr(batch, "SEND_WITHIN_SECONDS", 1.0)
    n = row(case, channel="voice")
    ratelimit.reserve_many(20, rate=10, key=ratelimit.VOICE_KEY)  # the other processes' reservations
    result = notifications_send(notification_ids=[n.pk], token="batch-1", now=LATE)
    assert result.statuses[n.pk] == S.SENT and result.retry == []
    assert len(locmem.calls) == 1
    n.refresh_from_db()
    assert n.claimed_at >= LATE + timedelta(seconds=1.9)  # the claim is dated after the wait


def test_a_call_id_two_rows_hold_moves_both(case):  # noqa: F811
    """Should a race leave two rows with one call id (a dead claim's re-drive taking a live worker's call not yet
    recorded), the call's final status moves both: neither stays 'sent' with no fallback."""
    incident_b, obligation_b = second_incident(case)
    sid = "CA" + "d" * 32
    a = row(case, channel="voice", status=S.SENT, provider_id=sid, sent_at=LATE, body="事件A语音")
    b = Notification.objects.create(
        incident=incident_b, obligation=obligation_b, step="verbal_overdue", repeat=0, channel="voice",
        recipient=case["officer"], to=case["officer"].phone, scheduled_for=DUE, created_at=DUE, body="事件B语音",
        status=S.SENT, provider_id=sid, sent_at=LATE,
    )  # fmt: skip
    assert callbacks.notification_record_status(provider_id=sid, provider_status="no-answer", now=LATE) == "updated"
    assert (status(a), status(b)) == (S.UNDELIVERED, S.UNDELIVERED)
    assert Notification.objects.filter(fallback_of__in=[a, b], channel="sms").count() == 2
    assert callbacks.notification_record_status(provider_id=sid, provider_status="no-answer", now=LATE) == "ignored"
    assert chain_verify() is None
