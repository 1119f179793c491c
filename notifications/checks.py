"""Deployment checks (``manage.py check --deploy``): settings with which the chasing would run and send nothing
anyone receives. Each is a warning: a deployment may choose it (an exercise on a closed network), but never by
accident."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Tags, Warning, register

#: Backends that deliver nothing to a phone (``notifications.sms.backends``); the file backend is a deliberate choice.
NOT_DELIVERED = ("console", "locmem")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "0.0.0.0")  # noqa: S104 (names compared, nothing bound)


@register(Tags.security, deploy=True)
def chasing_reaches_people(app_configs, **kwargs) -> list[Warning]:
    found = []
    backend = settings.SMS_BACKEND.rsplit(".", 2)[-2] if settings.SMS_BACKEND.count(".") >= 2 else ""
    if backend in NOT_DELIVERED:
        found.append(
            Warning(
                f"SMS_BACKEND is the {backend} backend: every reminder, overdue notice and escalation is marked sent "
                "and reaches nobody.",
                hint="Set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN (the Twilio backend is then used), or SMS_BACKEND.",
                id="notifications.W001",
            )
        )
    if backend == "twilio" and not (settings.TWILIO_FROM_NUMBER or settings.TWILIO_MESSAGING_SERVICE_SID):
        found.append(
            Warning(
                "The Twilio backend has no sender: every SMS would fail.",
                hint="Set TWILIO_MESSAGING_SERVICE_SID or TWILIO_FROM_NUMBER (voice calls need TWILIO_FROM_NUMBER).",
                id="notifications.W002",
            )
        )
    elif backend == "twilio" and not settings.TWILIO_FROM_NUMBER:
        found.append(
            Warning(
                "The Twilio backend has a Messaging Service but no caller number: no voice call (语音外呼) can be "
                "placed. Each voice step of the escalation ladder is recorded failed at once and sent as an SMS "
                "to the same person instead.",
                hint="Set TWILIO_FROM_NUMBER to a voice-capable number of the account, or take the voice channel "
                "out of the escalation policy's steps (admin).",
                id="notifications.W004",
            )
        )
    host = urlsplit(settings.PUBLIC_BASE_URL).hostname or ""
    if host in LOOPBACK_HOSTS or host.endswith(".localhost"):
        found.append(
            Warning(
                f"PUBLIC_BASE_URL is {settings.PUBLIC_BASE_URL}: the filing link in every SMS and Twilio's status "
                "and reply callbacks would point at this machine, which no phone and no Twilio server can reach.",
                hint="Set PUBLIC_BASE_URL to the public https address of the site.",
                id="notifications.W003",
            )
        )
    return found
