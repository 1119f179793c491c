"""The audit event hash chain: each event carries the SHA-256 of the previous event and of its own content."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction

from reporting.models import AuditEvent

GENESIS = "0" * 64
# Any constant: serialises appenders on PostgreSQL so two transactions never chain onto the same predecessor.
_CHAIN_LOCK_ID = 482_019_331


def canonical(
    *,
    at: datetime,
    kind: str,
    actor: str,
    incident_id: int | None,
    object_type: str,
    object_id: str,
    detail: dict[str, Any],
    prev_hash: str,
) -> str:
    """The canonical text of an event: sorted keys, no spaces, UTC times, UTF-8 kept.

    ``at`` is normalised to UTC: the database hands it back in UTC whatever offset the caller used, and the
    verifier must hash exactly what the appender hashed.
    """
    body = {
        "at": at.astimezone(UTC).isoformat(timespec="microseconds"),
        "kind": kind,
        "actor": actor,
        "incident": incident_id,
        "object_type": object_type,
        "object_id": object_id,
        "detail": detail,
        "prev": prev_hash,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, cls=DjangoJSONEncoder)


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _normalise(detail: dict[str, Any]) -> dict[str, Any]:
    # Round-trip through JSON so the stored detail and the hashed detail are the same values.
    return json.loads(json.dumps(detail, cls=DjangoJSONEncoder, ensure_ascii=False))


def event_append(
    *, at: datetime, kind: str, actor: str = "", incident=None, obj=None, detail: dict[str, Any] | None = None
) -> AuditEvent:
    """Append one event to the chain. Must run inside the transaction that makes the change it records.

    ``at`` must be timezone-aware. On PostgreSQL a transaction-scoped advisory lock serialises appenders, so two
    transactions never chain onto the same predecessor; on SQLite the IMMEDIATE transaction mode does the same.
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("audit event time must be timezone-aware")
    detail = _normalise(detail or {})
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_ID])
        last = AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first()
        prev_hash = last or GENESIS
        object_type = obj._meta.model_name if obj is not None else ""
        object_id = str(obj.pk) if obj is not None else ""
        incident_id = incident.pk if incident is not None else None
        text = canonical(
            at=at,
            kind=kind,
            actor=actor,
            incident_id=incident_id,
            object_type=object_type,
            object_id=object_id,
            detail=detail,
            prev_hash=prev_hash,
        )
        return AuditEvent.objects.create(
            at=at,
            kind=kind,
            actor=actor,
            incident_id=incident_id,
            object_type=object_type,
            object_id=object_id,
            detail=detail,
            prev_hash=prev_hash,
            hash=digest(text),
        )


@dataclass(frozen=True)
class ChainBreak:
    """The first event whose link or content does not verify.

    A row altered in place fails its own content hash, so it is named itself. A row deleted from the middle of
    the chain is named through its successor, whose ``prev_hash`` no longer matches.
    """

    event_id: int
    reason: str


def chain_verify(*, batch_size: int = 2000) -> ChainBreak | None:
    """Walk the chain oldest first; the first event whose link or content hash does not match, or None."""
    prev_hash = GENESIS
    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=batch_size):
        if event.prev_hash != prev_hash:
            return ChainBreak(
                event.pk,
                "prev_hash does not match the previous event's hash (the event before it was deleted or replaced)",
            )
        text = canonical(
            at=event.at,
            kind=event.kind,
            actor=event.actor,
            incident_id=event.incident_id,
            object_type=event.object_type,
            object_id=event.object_id,
            detail=event.detail,
            prev_hash=event.prev_hash,
        )
        if digest(text) != event.hash:
            return ChainBreak(event.pk, "content does not match its hash (this event was altered)")
        prev_hash = event.hash
    return None
