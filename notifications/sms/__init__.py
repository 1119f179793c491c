"""SMS channel: backends chosen by the ``SMS_BACKEND`` setting, like Django's ``EMAIL_BACKEND``.

``get_backend()`` builds the configured backend; every backend has ``send(*, to, body) -> SmsResult`` (an SMS) and
``call(*, to, text) -> SmsResult`` (a voice call that says ``text``: the ``voice`` channel, 语音外呼), and raises
``SmsError`` (``permanent=True`` for errors a retry cannot fix, such as an invalid number).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.utils.module_loading import import_string


@dataclass(frozen=True)
class SmsResult:
    """What the provider answered: its message or call id (Twilio's ``SM…``/``CA…`` sid) and initial status."""

    provider_id: str
    status: str = "sent"


class SmsError(Exception):
    """A provider error. ``permanent`` errors (invalid number, 4xx) are recorded and fall back; others retry."""

    def __init__(self, message: str, *, permanent: bool, code: int | str | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.code = code

    def __str__(self) -> str:
        text = super().__str__()
        return f"{self.code}: {text}" if self.code is not None else text


def get_backend(backend: str | None = None, **kwargs):
    """An instance of ``backend`` (a dotted path) or of ``settings.SMS_BACKEND``."""
    return import_string(backend or settings.SMS_BACKEND)(**kwargs)


def calls_unavailable() -> str:
    """Why the configured backend cannot place a voice call ("" if it can), read without building it."""
    return import_string(settings.SMS_BACKEND).calls_unavailable()


def send_sms(*, to: str, body: str, backend: str | None = None) -> SmsResult:
    return get_backend(backend).send(to=to, body=body)
