"""Keeps each SMS in ``notifications.sms.backends.locmem.outbox`` (like Django's ``mail.outbox``), for tests."""

from __future__ import annotations

from dataclasses import dataclass

from notifications.sms import SmsResult
from notifications.sms.backends.base import BaseSmsBackend


@dataclass(frozen=True)
class OutboxMessage:
    to: str
    body: str
    provider_id: str


#: Every message sent in this process; tests clear it (``outbox.clear()``).
outbox: list[OutboxMessage] = []


class SmsBackend(BaseSmsBackend):
    def send(self, *, to: str, body: str) -> SmsResult:
        sid = self.local_id()
        outbox.append(OutboxMessage(to=to, body=body, provider_id=sid))
        return SmsResult(provider_id=sid)

    def lookup(self, *, to: str, body: str, since) -> SmsResult | None:
        found = next((m for m in reversed(outbox) if m.to == to and m.body == body), None)
        return SmsResult(provider_id=found.provider_id) if found else None
