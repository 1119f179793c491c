"""Sending one notification through its channel (SMS via SMS_BACKEND, email via Django's mailers)."""

from __future__ import annotations

from datetime import datetime


def notification_send(*, notification_id: int, token: str, now: datetime) -> str:
    """Send one pending notification exactly once; ``token`` is the calling task's id (fencing token).

    Returns the notification's status after the attempt.
    """
    raise NotImplementedError
