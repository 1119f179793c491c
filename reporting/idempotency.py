"""The ``Idempotency-Key`` request header (IETF httpapi draft "The Idempotency-Key HTTP Header Field", as Stripe
uses it): which keys are well formed, and the fingerprint that tells one request from another. Pure: no ORM, no
settings, no clock (``reporting.idempotency_services`` keeps the records)."""

from __future__ import annotations

import hashlib
import re

HEADER = "Idempotency-Key"
#: Set on a response that was stored under the key and is sent again (the first request's answer).
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_LENGTH = 255

# Printable ASCII, space included (0x20-0x7E).
_PRINTABLE = re.compile(rf"[\x20-\x7e]{{1,{MAX_LENGTH}}}")


def parse_key(value: str) -> str | None:
    """The key a header value names, or None when it is not 1 to 255 printable ASCII characters.

    The key is opaque and taken as sent: the draft's structured-field form (``"8e03978e-..."``, quotes included)
    and Stripe's bare form are both keys, each equal only to itself, as a client's retries send it unchanged."""
    if _PRINTABLE.fullmatch(value) is None:
        return None
    return value


def fingerprint(*, method: str, path: str, body: bytes) -> str:
    """SHA-256 over the method, the path (with its query) and the raw body: a retry sends the same bytes again.

    Each part is length-prefixed, so no two different requests can run together into one input."""
    digest = hashlib.sha256()
    for part in (method.upper().encode("ascii"), path.encode("utf-8"), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()
