"""The audit event hash chain: each event carries the SHA-256 of the previous event and of its own content."""

from __future__ import annotations

import functools
import hashlib
import json
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import OperationalError, connection, transaction

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


_state = threading.local()


@contextmanager
def events_deferred():
    """Buffer the audit events appended inside this block and chain them all at its end.

    The chain's advisory lock is held from the moment an event is chained until the transaction commits, which
    serialises every writer behind it. Buffering moves the chaining to the end of the unit of work, so the lock is
    held only for the final INSERT and the commit. Use it inside the transaction (``audited`` does both). Nested
    blocks join the outermost one; a nested block that fails drops its own events (its savepoint rolled back).
    """
    buffer = getattr(_state, "buffer", None)
    if buffer is not None:
        mark = len(buffer)
        try:
            yield
        except BaseException:
            del buffer[mark:]
            raise
        return
    _state.buffer = []
    try:
        yield
        pending = _state.buffer
    finally:
        _state.buffer = None
    if pending:
        _chain(pending)


#: How often an outermost service transaction is re-run when PostgreSQL breaks a deadlock by aborting it.
DEADLOCK_RETRIES = 3


def audited(func):
    """Run a service in one transaction whose audit events are chained at its end (see ``events_deferred``).

    The outermost call is re-run (up to ``DEADLOCK_RETRIES`` times) when PostgreSQL aborts it to break a deadlock
    or a serialization failure: everything it did was rolled back and its side effects wait for ``on_commit``, so a
    re-run is the same request again, not a second one.
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        outermost = not transaction.get_connection().in_atomic_block
        attempt = 0
        while True:
            try:
                with transaction.atomic(), events_deferred():
                    return func(*args, **kwargs)
            except OperationalError as exc:
                attempt += 1
                if not outermost or attempt > DEADLOCK_RETRIES or not _is_retryable(exc):
                    raise
                time.sleep(0.01 * attempt)

    return wrapper


def _is_retryable(exc: OperationalError) -> bool:
    sqlstate = getattr(getattr(exc, "__cause__", None), "sqlstate", None)
    return sqlstate in ("40P01", "40001")  # deadlock_detected, serialization_failure


def event_append(
    *, at: datetime, kind: str, actor: str = "", incident=None, obj=None, detail: dict[str, Any] | None = None
) -> AuditEvent:
    """Append one event to the chain. Must run inside the transaction that makes the change it records.

    ``at`` must be timezone-aware. On PostgreSQL a transaction-scoped advisory lock serialises appenders, so two
    transactions never chain onto the same predecessor; on SQLite the IMMEDIATE transaction mode does the same.
    Inside ``events_deferred`` the event is buffered (returned unsaved) and chained when the block ends.
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("audit event time must be timezone-aware")
    event = AuditEvent(
        at=at,
        kind=kind,
        actor=actor,
        incident_id=incident.pk if incident is not None else None,
        object_type=obj._meta.model_name if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        detail=_normalise(detail or {}),
    )
    buffer = getattr(_state, "buffer", None)
    if buffer is not None:
        buffer.append(event)
        return event
    _chain([event])
    return event


def _chain(events: list[AuditEvent]) -> None:
    """Link ``events`` onto the end of the chain, in order, and insert them in one statement. Inside a transaction
    it needs no savepoint of its own: a failure here fails the change it records."""
    with transaction.atomic(savepoint=False):
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_ID])
        prev_hash = AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first() or GENESIS
        for event in events:
            event.prev_hash = prev_hash
            event.hash = digest(
                canonical(
                    at=event.at,
                    kind=event.kind,
                    actor=event.actor,
                    incident_id=event.incident_id,
                    object_type=event.object_type,
                    object_id=event.object_id,
                    detail=event.detail,
                    prev_hash=prev_hash,
                )
            )
            prev_hash = event.hash
        if len(events) == 1:
            events[0].save(force_insert=True)
        else:
            AuditEvent.objects.bulk_create(events)


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


def chain_head() -> tuple[int, str, int] | None:
    """The newest event's id and hash, and the number of events: an anchor to keep outside the database. A later
    ``verify_audit_chain --anchor ID:HASH`` then shows the chain was not cut back or rewritten up to that event,
    which the chain alone cannot show (it has no secret: whoever may write the table could rebuild it whole)."""
    last = AuditEvent.objects.order_by("-id").values_list("id", "hash").first()
    return None if last is None else (last[0], last[1], AuditEvent.objects.count())


def anchor_check(event_id: int, event_hash: str) -> str | None:
    """Why the chain no longer holds the anchored event as anchored, or None when it does."""
    stored = AuditEvent.objects.filter(pk=event_id).values_list("hash", flat=True).first()
    if stored is None:
        return f"anchored event {event_id} is gone: the chain was cut back or rebuilt"
    if stored != event_hash:
        return f"anchored event {event_id} has another hash: the chain was rewritten up to it"
    return None
