"""The SMS backend contract (SMS and voice calls: one provider account, one backend)."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime

from notifications.sms import SmsResult


class BaseSmsBackend:
    """Subclasses implement ``send`` and ``call``; ``to`` is an E.164 number, ``body``/``text`` the final text."""

    def __init__(self, **kwargs) -> None:
        self.options = kwargs

    def send(self, *, to: str, body: str) -> SmsResult:  # pragma: no cover - abstract
        raise NotImplementedError

    def call(self, *, to: str, text: str) -> SmsResult:  # pragma: no cover - abstract
        """Phone ``to`` and say ``text``; the provider's id of the call."""
        raise NotImplementedError

    @classmethod
    def calls_unavailable(cls) -> str:
        """Why this backend cannot place a call with the current settings ("" if it can): a voice row is then
        failed at once, without a call slot, and falls back to SMS (``notifications.delivery.voice_refused``)."""
        return ""

    def lookup(self, *, to: str, body: str, since: datetime) -> SmsResult | None:
        """A message with this text already handed to the provider for ``to`` since ``since``, if the backend can
        tell (used before re-sending a row whose worker died mid-send). None: not found, or cannot tell."""
        return None

    def lookup_call(
        self, *, to: str, since: datetime, until: datetime | None = None, exclude: Collection[str] = ()
    ) -> SmsResult | None:
        """A call to ``to`` placed since ``since`` (and, when given, before ``until``), if the backend can tell: the
        same question as ``lookup`` for a voice row. A provider keeps no text of a call, so any call to that number
        in the window counts but those in ``exclude`` (the calls other notifications already hold: another
        incident's call to the same officer in the window is not this one); the window is the dead claim's (see
        ``notifications.delivery``). None: not found, or cannot tell."""
        return None

    @staticmethod
    def local_id() -> str:
        """A unique id for backends without a provider, shaped like Twilio's sids (``SM`` + 32 hex)."""
        return "SM" + uuid.uuid4().hex

    @staticmethod
    def local_call_id() -> str:
        """A unique call id for backends without a provider, shaped like Twilio's call sids (``CA`` + 32 hex)."""
        return "CA" + uuid.uuid4().hex
