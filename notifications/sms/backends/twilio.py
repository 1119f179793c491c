"""Twilio through the official SDK. The client is built in one place, ``twilio_client()``.

``TWILIO_API_BASE_URL`` (tests: the Prism mock serving Twilio's own OpenAPI description) sends every request for
``*.twilio.com`` to that base instead, through the SDK's documented ``http_client=`` hook; everything else (form
encoding, auth, response parsing, ``TwilioRestException``) stays the real SDK code.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import requests
from django.conf import settings
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from notifications.sms import SmsError, SmsResult
from notifications.sms.backends.base import BaseSmsBackend

#: Seconds Twilio may hold a message in its queue. Well under the 30-minute deadline window: a chase that cannot
#: be delivered within 10 minutes is stale, and the next step (or the fallback) takes over.
VALIDITY_PERIOD_SECONDS = 600
#: Socket/read timeout of one API call: a hung call must end long before a claim is considered stale.
HTTP_TIMEOUT_SECONDS = 10

STATUS_CALLBACK_PATH = "/webhooks/twilio/status/"


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


def classify(exc: Exception) -> SmsError:
    """Map an SDK/transport error: connection errors, timeouts, 5xx and 429 are transient; other 4xx
    (21211 invalid 'To', 21614 not a mobile number, 422 from the mock for an invalid request) are permanent."""
    if isinstance(exc, TwilioRestException):
        transient = exc.status >= 500 or exc.status == 429
        return SmsError(exc.msg or str(exc), permanent=not transient, code=exc.code or exc.status)
    if isinstance(exc, requests.exceptions.Timeout | requests.exceptions.ConnectionError):
        return SmsError(f"{type(exc).__name__}: {exc}", permanent=False, code="network")
    return SmsError(f"{type(exc).__name__}: {exc}", permanent=True, code="config")


class SmsBackend(BaseSmsBackend):
    def __init__(self, *, client: Client | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.client = client or twilio_client()

    def send(self, *, to: str, body: str) -> SmsResult:
        try:
            message = self.client.messages.create(**message_params(to=to, body=body))
        except (TwilioException, requests.exceptions.RequestException) as exc:
            raise classify(exc) from exc
        return SmsResult(provider_id=message.sid or "", status=message.status or "queued")

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
