"""Short signed links to an obligation's filing form, carried by every SMS (SPEC "Acknowledgement"); and the plain
link to an incident's page that the event rules' messages to district leaders carry.

A token is ``<base62 id>.<3 base62 digits: hours since 2026-01-01 UTC><8 chars of HMAC-SHA256>``, 15 characters for
the first 238,327 obligations (16 after), so that a chasing SMS has a chance of one 70-character UCS-2 segment: the
link is most of it. The signature covers the id and the hour (as ``<id>.h<hours>``, which no token of the older form
signs). 48 bits of signature are plenty against online guessing for a link that only opens a login-protected filing
form and expires after a week (counted from the hour it was made, so up to an hour sooner than the week).

Links sent before (``<base62 id>.<base62 unix seconds>.<signature>``, about 19 characters) still open, until their
week is over.
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


#: Hours are counted from here (2026-01-01 00:00 UTC): three base62 digits last until 2053.
_EPOCH = 1767225600
_HOUR_CHARS = 3


def filing_token(obligation_id: int, *, at: float | None = None) -> str:
    """A compact signed token naming the obligation (base62 id, then the hour it was made and the signature)."""
    hours = (int(time.time() if at is None else at) - _EPOCH) // 3600
    value = f"{signing.b62_encode(obligation_id)}.{signing.b62_encode(hours).rjust(_HOUR_CHARS, '0')}"
    return f"{value}{_signature(_signed(value))}"


def _signed(value: str) -> str:
    """What a compact token's signature covers: ``<id>.h<hours>`` (an older token signs ``<id>.<seconds>``)."""
    head, hours = value.split(".")
    return f"{head}.h{hours}"


def filing_link(obligation_id: int) -> str:
    return f"{settings.PUBLIC_BASE_URL}/f/{filing_token(obligation_id)}"


def incident_link(incident_id: int) -> str:
    """The incident page, for a district leader's event SMS and email: a leader reads the incident (never files), and
    the page asks anyone not signed in to sign in first. It needs no signature: it opens nothing by itself."""
    return settings.PUBLIC_BASE_URL + reverse("web:incident", args=[incident_id])


def obligation_from_token(token: str, *, now: float | None = None) -> int | None:
    """The obligation id a token names (the compact form, or the older one), or None for a forged, malformed or
    expired token."""
    parts = token.split(".")
    if len(parts) == 2 and len(parts[1]) == _HOUR_CHARS + _SIG_CHARS:
        value, signature = f"{parts[0]}.{parts[1][:_HOUR_CHARS]}", parts[1][_HOUR_CHARS:]
        signed = _signed(value)
    elif len(parts) == 3:
        value, signature = f"{parts[0]}.{parts[1]}", parts[2]
        signed = value
    else:
        return None
    if not constant_time_compare(signature, _signature(signed)):
        return None
    head, when = value.split(".")
    try:
        obligation_id, issued = signing.b62_decode(head), signing.b62_decode(when)
    except ValueError:
        return None
    if len(parts) == 2:
        issued = _EPOCH + issued * 3600
    if (time.time() if now is None else now) - issued > MAX_AGE_SECONDS or obligation_id <= 0:
        return None
    return obligation_id
