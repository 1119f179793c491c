"""Twilio through the official SDK. The client is built in one place, ``twilio_client()``.

``TWILIO_API_BASE_URL`` (tests: the Prism mock serving Twilio's own OpenAPI description) sends every request for
``*.twilio.com`` to that base instead, through the SDK's documented ``http_client=`` hook; everything else (form
encoding, auth, response parsing, ``TwilioRestException``) stays the real SDK code.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import requests
from django.conf import settings
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client
from twilio.twiml.voice_response import VoiceResponse

from notifications.sms import SmsError, SmsResult
from notifications.sms.backends.base import BaseSmsBackend

#: Seconds Twilio may hold a message in its queue. Well under the 30-minute deadline window: a chase that cannot
#: be delivered within 10 minutes is stale, and the next step (or the fallback) takes over.
VALIDITY_PERIOD_SECONDS = 600
#: Socket/read timeout of one API call: a hung call must end long before a claim is considered stale.
HTTP_TIMEOUT_SECONDS = 10

STATUS_CALLBACK_PATH = "/webhooks/twilio/status/"
CALL_STATUS_CALLBACK_PATH = "/webhooks/twilio/call-status/"
#: The language and voice of a call's ``<Say>``: Mandarin. ``zh-CN`` is the code Twilio documents for Mandarin with
#: its ``alice`` voice (Polly/Google voices name it ``cmn-CN`` and need their own voice name: change both together).
CALL_LANGUAGE = "zh-CN"
CALL_VOICE = "alice"
#: Seconds of silence between the two readings of a call's text.
CALL_PAUSE_SECONDS = 1
#: Seconds a call rings before Twilio gives up (``no-answer``): long enough to reach a phone on a desk, short
#: enough that the SMS fallback still comes within a couple of minutes.
CALL_RING_SECONDS = 40
#: Where Twilio posts the key pressed during a call (``<Gather>``): 1 acknowledges, as an SMS reply does.
CALL_KEY_PATH = "/webhooks/twilio/call-key/"
#: What a call asks after its text, and how long it waits for the key.
CALL_KEY_PROMPT = "收到请按1。"
CALL_KEY_SECONDS = 5
#: Seconds Twilio's clock (a call's ``date_created``) may differ from ours when ``lookup_call`` checks its window.
CALL_CLOCK_SLACK_SECONDS = 10
#: How many of the most recent calls to a number ``lookup_call`` reads (one request).
CALL_LOOKUP_LIMIT = 50


class RedirectingHttpClient(TwilioHttpClient):
    """Sends requests meant for ``*.twilio.com`` to ``base_url`` (scheme and host only; the path is kept)."""

    def __init__(self, base_url: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.base = urlsplit(base_url)

    def request(self, method, url, params=None, data=None, headers=None, *args, **kwargs):
        parts = urlsplit(url)
        if parts.hostname and (parts.hostname == "twilio.com" or parts.hostname.endswith(".twilio.com")):
            url = urlunsplit((self.base.scheme, self.base.netloc, parts.path, parts.query, parts.fragment))
        return super().request(method, url, params, data, headers, *args, **kwargs)


def twilio_client() -> Client:
    """The one place a Twilio client is built. ``environment={}``: only settings count, never stray TWILIO_* vars."""
    base_url = settings.TWILIO_API_BASE_URL
    http_client = (
        RedirectingHttpClient(base_url, timeout=HTTP_TIMEOUT_SECONDS)
        if base_url
        else TwilioHttpClient(timeout=HTTP_TIMEOUT_SECONDS)
    )
    return Client(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, http_client=http_client, environment={})


def message_params(*, to: str, body: str) -> dict:
    """The keyword arguments of ``messages.create``: Messaging Service when configured, else the from number."""
    params = {
        "to": to,
        "body": body,
        "status_callback": settings.PUBLIC_BASE_URL + STATUS_CALLBACK_PATH,
        "validity_period": VALIDITY_PERIOD_SECONDS,
    }
    if settings.TWILIO_MESSAGING_SERVICE_SID:
        params["messaging_service_sid"] = settings.TWILIO_MESSAGING_SERVICE_SID
    else:
        params["from_"] = settings.TWILIO_FROM_NUMBER
    return params


def call_twiml(text: str) -> str:
    """What a call says: ``text`` twice in Mandarin with a short pause between, so someone who picks up mid-sentence
    still hears all of it, then asks for 1 to acknowledge; the whole is one ``<Gather>``, so a key pressed at any
    moment is taken (posted to ``CALL_KEY_PATH``). No key: the call ends after ``CALL_KEY_SECONDS``."""
    response = VoiceResponse()
    gather = response.gather(
        num_digits=1, action=settings.PUBLIC_BASE_URL + CALL_KEY_PATH, method="POST", timeout=CALL_KEY_SECONDS
    )
    gather.say(text, voice=CALL_VOICE, language=CALL_LANGUAGE)
    gather.pause(length=CALL_PAUSE_SECONDS)
    gather.say(text, voice=CALL_VOICE, language=CALL_LANGUAGE)
    gather.say(CALL_KEY_PROMPT, voice=CALL_VOICE, language=CALL_LANGUAGE)
    return str(response)


def call_key_answer(acknowledged: bool | None) -> str:
    """What the call says after a key: acknowledged, nothing to acknowledge (False), or a key other than 1 (None)."""
    if acknowledged is None:
        text = "未确认。收到请回复短信1。"
    elif acknowledged:
        text = "已确认收到催报，请尽快报送。"
    else:
        text = "未找到需要确认的催报。"
    response = VoiceResponse()
    response.say(text, voice=CALL_VOICE, language=CALL_LANGUAGE)
    return str(response)


def call_params(*, to: str, text: str) -> dict:
    """The keyword arguments of ``calls.create``. A call always comes from ``TWILIO_FROM_NUMBER`` (a Messaging
    Service cannot place calls). The status callback is left at Twilio's default event, ``completed``, whose
    ``CallStatus`` is the final one (completed, busy, no-answer, failed, canceled): all the chasing needs. Asking for
    more events (``status_callback_event=[...]``, sent as repeated form keys) is refused by the Prism mock the tests
    run against (stoplightio/prism#2473, see ../shared/twilio-oai/README.md), for no gain here.

    Machine detection (``Enable``) puts ``AnsweredBy`` in that callback: a call that voicemail or a fax took is not
    counted as heard (``callbacks.call_status_seen``), so the person still gets the fallback SMS. The message plays
    once detection has decided (a few seconds after pick-up), to a person and to voicemail alike."""
    return {
        "to": to,
        "from_": settings.TWILIO_FROM_NUMBER,
        "twiml": call_twiml(text),
        "timeout": CALL_RING_SECONDS,
        "status_callback": settings.PUBLIC_BASE_URL + CALL_STATUS_CALLBACK_PATH,
        "status_callback_method": "POST",
        "machine_detection": "Enable",
    }


def classify(exc: Exception) -> SmsError:
    """Map an SDK/transport error: connection errors, timeouts, 5xx and 429 are transient; other 4xx
    (21211 invalid 'To', 21614 not a mobile number, 422 from the mock for an invalid request) are permanent."""
    if isinstance(exc, TwilioRestException):
        transient = exc.status >= 500 or exc.status == 429
        return SmsError(exc.msg or str(exc), permanent=not transient, code=exc.code or exc.status)
    if isinstance(exc, requests.exceptions.Timeout | requests.exceptions.ConnectionError):
        return SmsError(f"{type(exc).__name__}: {exc}", permanent=False, code="network")
    return SmsError(f"{type(exc).__name__}: {exc}", permanent=True, code="config")


#: Why no call can be placed without a caller number (the row's error and the deploy check's warning).
NO_CALLER_NUMBER = (
    "no caller number: TWILIO_FROM_NUMBER is not set, and a Messaging Service (TWILIO_MESSAGING_SERVICE_SID) sends "
    "SMS only, it cannot place calls"
)


class SmsBackend(BaseSmsBackend):
    def __init__(self, *, client: Client | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.client = client or twilio_client()

    @classmethod
    def calls_unavailable(cls) -> str:
        return "" if settings.TWILIO_FROM_NUMBER else NO_CALLER_NUMBER

    def send(self, *, to: str, body: str) -> SmsResult:
        try:
            message = self.client.messages.create(**message_params(to=to, body=body))
        except (TwilioException, requests.exceptions.RequestException) as exc:
            raise classify(exc) from exc
        return SmsResult(provider_id=message.sid or "", status=message.status or "queued")

    def call(self, *, to: str, text: str) -> SmsResult:
        if not settings.TWILIO_FROM_NUMBER:
            raise SmsError(NO_CALLER_NUMBER, permanent=True, code="config")
        try:
            call = self.client.calls.create(**call_params(to=to, text=text))
        except (TwilioException, requests.exceptions.RequestException) as exc:
            raise classify(exc) from exc
        return SmsResult(provider_id=call.sid or "", status=call.status or "queued")

    def lookup_call(
        self, *, to: str, since: datetime, until: datetime | None = None, exclude: Collection[str] = ()
    ) -> SmsResult | None:
        """A call to ``to`` created in the window, from Twilio's calls to ``to`` started since ``since`` (one
        request: the first page, at most ``CALL_LOOKUP_LIMIT`` calls, most recent first). Twilio may filter
        ``StartTime>`` by day only, so the window is checked on ``date_created``, with ``CALL_CLOCK_SLACK_SECONDS``
        for clock skew (narrow: a wider window takes in more calls to the same officer about other incidents). A
        call still queued has no start time and is not listed: the dead claim is at least ``CLAIM_STALE_SECONDS``
        old, long past a queued call's start. Calls in ``exclude`` are skipped."""
        slack = timedelta(seconds=CALL_CLOCK_SLACK_SECONDS)
        try:
            # One page, not ``calls.list`` (which follows ``next_page_uri`` until its limit: more requests for calls
            # older than the window). The SDK writes the datetime as UTC only if it is given in UTC.
            after = (since - timedelta(minutes=1)).astimezone(UTC)
            recent = list(self.client.calls.page(to=to, start_time_after=after, page_size=CALL_LOOKUP_LIMIT))
        except (TwilioException, requests.exceptions.RequestException) as exc:
            raise classify(exc) from exc
        for call in recent:
            created = call.date_created
            if call.sid in exclude:
                continue
            if created is not None and created >= since - slack and (until is None or created <= until + slack):
                return SmsResult(provider_id=call.sid or "", status=call.status or "")
        return None

    def lookup(self, *, to: str, body: str, since: datetime) -> SmsResult | None:
        """Twilio's most recent page of messages to ``to`` (one request; queued ones have no date_sent yet, so
        date_created is compared)."""
        try:
            recent = list(self.client.messages.page(to=to, page_size=50))
        except (TwilioException, requests.exceptions.RequestException) as exc:
            raise classify(exc) from exc
        for message in recent:
            created = message.date_created
            if message.body == body and (created is None or created >= since - timedelta(minutes=1)):
                return SmsResult(provider_id=message.sid or "", status=message.status or "")
        return None
