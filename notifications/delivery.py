"""Sending one notification through its channel (SMS via SMS_BACKEND, email via Django's mailers)."""

from __future__ import annotations

from datetime import datetime


class TransientError(Exception):
    """A provider error worth retrying (timeouts, 5xx, 429); the send task retries with backoff."""


def notification_send(*, notification_id: int, token: str, now: datetime) -> str:
    """Send one pending notification exactly once; ``token`` is the calling task's id (fencing token).

    Returns the notification's status after the attempt. Raises TransientError to ask for a retry.
    """
    raise NotImplementedError
