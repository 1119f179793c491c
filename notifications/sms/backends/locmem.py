"""Keeps each SMS in ``notifications.sms.backends.locmem.outbox`` (like Django's ``mail.outbox``) and each voice
call in ``calls``, for tests."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from notifications.sms import SmsResult
from notifications.sms.backends.base import BaseSmsBackend


@dataclass(frozen=True)
class OutboxMessage:
    to: str
    body: str
    provider_id: str


@dataclass(frozen=True)
class OutboxCall:
    to: str
    text: str
    provider_id: str
    at: datetime


#: Every message sent in this process; tests clear it (``outbox.clear()``).
outbox: list[OutboxMessage] = []
#: Every call placed in this process; tests clear it (``calls.clear()``).
calls: list[OutboxCall] = []


class SmsBackend(BaseSmsBackend):
    def send(self, *, to: str, body: str) -> SmsResult:
        sid = self.local_id()
        outbox.append(OutboxMessage(to=to, body=body, provider_id=sid))
        return SmsResult(provider_id=sid)

    def lookup(self, *, to: str, body: str, since) -> SmsResult | None:
        found = next((m for m in reversed(outbox) if m.to == to and m.body == body), None)
        return SmsResult(provider_id=found.provider_id) if found else None

    def call(self, *, to: str, text: str) -> SmsResult:
        sid = self.local_call_id()
        calls.append(OutboxCall(to=to, text=text, provider_id=sid, at=timezone.now()))
        return SmsResult(provider_id=sid, status="queued")

    def lookup_call(
        self, *, to: str, since: datetime, until: datetime | None = None, exclude: Collection[str] = ()
    ) -> SmsResult | None:
        """The latest call to ``to``, whenever it was placed (like ``lookup``: tests run on frozen or fixed clocks,
        so the window is the file and Twilio backends' business)."""
        found = next((c for c in reversed(calls) if c.to == to and c.provider_id not in exclude), None)
        return SmsResult(provider_id=found.provider_id, status="queued") if found else None
