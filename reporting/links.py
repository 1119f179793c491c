"""Short signed links to an obligation's filing form, carried by every SMS (SPEC "Acknowledgement"); and the plain
link to an incident's page that the event rules' messages to district leaders carry.

A token is ``<base62 id>.<base62 unix time>.<8 chars of HMAC-SHA256>``, about 18 characters, so that the whole SMS
fits one 70-character UCS-2 segment. 48 bits of signature are plenty against online guessing for a link that only
opens a login-protected filing form and expires after a week.
"""

from __future__ import annotations

import base64
import time

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils.crypto import constant_time_compare, salted_hmac

_SALT = "reporting.filing-link"
#: A link stays valid for a week: long after both deadlines, short enough not to live forever in inboxes.
MAX_AGE_SECONDS = 7 * 24 * 3600
_SIG_CHARS = 8


def _signature(value: str) -> str:
    mac = salted_hmac(_SALT, value, algorithm="sha256").digest()
    return base64.urlsafe_b64encode(mac).decode()[:_SIG_CHARS]


def filing_token(obligation_id: int, *, at: float | None = None) -> str:
    """A compact signed token naming the obligation (base62 id + base62 time + truncated signature)."""
    value = f"{signing.b62_encode(obligation_id)}.{signing.b62_encode(int(time.time() if at is None else at))}"
    return f"{value}.{_signature(value)}"


def filing_link(obligation_id: int) -> str:
    return f"{settings.PUBLIC_BASE_URL}/f/{filing_token(obligation_id)}"


def incident_link(incident_id: int) -> str:
    """The incident page, for a district leader's event SMS and email: a leader reads the incident (never files), and
    the page asks anyone not signed in to sign in first. It needs no signature: it opens nothing by itself."""
    return settings.PUBLIC_BASE_URL + reverse("web:incident", args=[incident_id])


def obligation_from_token(token: str, *, now: float | None = None) -> int | None:
    """The obligation id a token names, or None for a forged, malformed or expired token."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    value = f"{parts[0]}.{parts[1]}"
    if not constant_time_compare(parts[2], _signature(value)):
        return None
    try:
        obligation_id, issued = signing.b62_decode(parts[0]), signing.b62_decode(parts[1])
    except ValueError:
        return None
    if (time.time() if now is None else now) - issued > MAX_AGE_SECONDS or obligation_id <= 0:
        return None
    return obligation_id
