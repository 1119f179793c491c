"""The SMS backend contract."""

from __future__ import annotations

import uuid
from datetime import datetime

from notifications.sms import SmsResult


class BaseSmsBackend:
    """Subclasses implement ``send``; ``to`` is an E.164 number, ``body`` the final text."""

    def __init__(self, **kwargs) -> None:
        self.options = kwargs

    def send(self, *, to: str, body: str) -> SmsResult:  # pragma: no cover - abstract
        raise NotImplementedError

    def lookup(self, *, to: str, body: str, since: datetime) -> SmsResult | None:
        """A message with this text already handed to the provider for ``to`` since ``since``, if the backend can
        tell (used before re-sending a row whose worker died mid-send). None: not found, or cannot tell."""
        return None

    @staticmethod
    def local_id() -> str:
        """A unique id for backends without a provider, shaped like Twilio's sids (``SM`` + 32 hex)."""
        return "SM" + uuid.uuid4().hex
