"""Short signed links to an obligation's filing form, carried by every SMS (SPEC "Acknowledgement")."""

from __future__ import annotations

from django.conf import settings
from django.core import signing

_SALT = "reporting.filing-link"
#: A link stays valid for a week: long after both deadlines, short enough not to live forever in inboxes.
MAX_AGE_SECONDS = 7 * 24 * 3600


def filing_token(obligation_id: int) -> str:
    """A compact signed token naming the obligation (base62 id + truncated signature)."""
    return signing.dumps(obligation_id, salt=_SALT, compress=False)


def filing_link(obligation_id: int) -> str:
    return f"{settings.PUBLIC_BASE_URL}/f/{filing_token(obligation_id)}"


def obligation_from_token(token: str) -> int | None:
    """The obligation id a token names, or None for a forged or expired token."""
    try:
        value = signing.loads(token, salt=_SALT, max_age=MAX_AGE_SECONDS)
    except signing.BadSignature:
        return None
    return value if isinstance(value, int) else None
