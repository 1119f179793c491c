"""Writes to idempotency records: claim a key before a creating request runs, store its answer after, give the key
back when the request failed on the server's side, purge expired records.

A key's life (``reporting.api.idempotency`` drives it, one request at a time):

- ``idempotency_claim`` inserts the record, in progress, in its own short transaction. Two requests with one key
  race on the unique constraint (user, key): the second waits for the first's INSERT to commit, then finds the
  record in progress (409). So at most one request with a key is ever being processed.
- ``idempotency_hold`` opens the request's transaction on the record: the request runs in it, row-locked, and
  ``idempotency_complete`` stores the answer (status, body) in that very transaction when the request ended with a
  status below 500, so what the request wrote and its answer commit together or not at all. A later request with
  the same key and the same fingerprint gets the answer back without running (``Replay``). While the first request
  runs, its row lock tells any other request with the key that it is in progress (409), however long it runs:
  the lease below only covers the moment between the claim and the hold, and a process that died (its
  connection, and so its lock, gone).
- ``idempotency_release`` deletes the record when the request ended in a 5xx or raised: the client may retry.
- A process that dies mid-request leaves its record in progress; after ``IDEMPOTENCY_KEY_LEASE_SECONDS`` the next
  request with that key takes the lease over (a new fencing token: the dead holder can no longer store or release).
  The lease must outlast the longest request (gunicorn's worker timeout, 30 s by default), or a slow first request
  and the retry that took its lease over could both run.
- After ``IDEMPOTENCY_KEY_TTL_SECONDS`` a record is expired: the key is new again, and ``idempotency_purge``
  deletes it.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, OperationalError, transaction

from reporting.errors import ConflictError, DomainError
from reporting.idempotency import HEADER
from reporting.models import IdempotencyRecord

log = logging.getLogger(__name__)


class IdempotencyKeyInProgress(ConflictError):
    """409: the first request with this key is still being processed (IETF draft, section 2.7)."""

    #: Seconds a client should wait before asking again: a first request usually completes well within one.
    headers = {"Retry-After": "1"}

    def __init__(self) -> None:
        super().__init__(
            {
                HEADER: [
                    f"使用此 {HEADER} 的请求仍在处理中, 请稍后重试 "
                    f"(a request with this {HEADER} is still being processed; retry later)"
                ]
            }
        )


class IdempotencyKeyReused(DomainError):
    """422: the key was used for another request (another method, path or body): never replayed, never run."""

    status_code = 422

    def __init__(self) -> None:
        super().__init__(
            {
                HEADER: [
                    f"此 {HEADER} 已用于另一个请求 (方法、路径或请求体不同); 新的请求请使用新的键 "
                    f"(this {HEADER} was used for a different request (method, path or body); "
                    f"use a new key for a new request)"
                ]
            }
        )


@dataclass(frozen=True)
class Claim:
    """The lease on a key: the request runs, then completes or releases it with this token."""

    record_id: int
    token: str


@dataclass(frozen=True)
class Replay:
    """The stored answer of the first request with the key."""

    status: int
    content_type: str
    body: str


def _ttl() -> timedelta:
    return timedelta(seconds=float(settings.IDEMPOTENCY_KEY_TTL_SECONDS))


def _lease() -> timedelta:
    return timedelta(seconds=float(settings.IDEMPOTENCY_KEY_LEASE_SECONDS))


#: How often a claim looks again when the record it collided with was given up before it could read it.
_CLAIM_ATTEMPTS = 3


def idempotency_claim(*, user, key: str, method: str, path: str, fingerprint: str, now: datetime) -> Claim | Replay:
    """Claim ``key`` of ``user`` for this request, or the stored answer to give instead.

    Raises ``IdempotencyKeyReused`` (422) when the key stands for another request, ``IdempotencyKeyInProgress``
    (409) when its first request holds a lease younger than ``IDEMPOTENCY_KEY_LEASE_SECONDS``. An expired record
    (``IDEMPOTENCY_KEY_TTL_SECONDS``) or a lapsed lease is taken over. Commits before it returns: call it outside
    any ``transaction.atomic()`` block, or a concurrent request could not see the claim.
    """
    for _ in range(_CLAIM_ATTEMPTS):
        token = uuid.uuid4().hex
        with transaction.atomic():
            try:
                with transaction.atomic():
                    record = IdempotencyRecord.objects.create(
                        user=user,
                        key=key,
                        method=method,
                        path=path,
                        fingerprint=fingerprint,
                        lock_token=token,
                        locked_at=now,
                        created_at=now,
                        expires_at=now + _ttl(),
                    )
                return Claim(record.pk, token)
            except IntegrityError:
                pass  # the key is taken: look at what holds it
            try:
                # NOWAIT: a record locked is held by its request, running (``idempotency_hold``): in progress.
                record = IdempotencyRecord.objects.select_for_update(nowait=True).filter(user=user, key=key).first()
            except OperationalError as exc:
                if getattr(getattr(exc, "__cause__", None), "sqlstate", None) != "55P03":  # lock_not_available
                    raise
                raise IdempotencyKeyInProgress() from exc
            if record is None:
                continue  # its request failed and gave the key back in the meantime: claim it afresh
            if record.expires_at <= now:
                _restart(record, method=method, path=path, fingerprint=fingerprint, token=token, now=now)
                return Claim(record.pk, token)
            if record.fingerprint != fingerprint:
                raise IdempotencyKeyReused()
            if record.response_status is not None:
                return Replay(record.response_status, record.response_content_type, record.response_body)
            if record.locked_at is not None and record.locked_at > now - _lease():
                raise IdempotencyKeyInProgress()
            log.warning("idempotency key %r of user %s: lease of %s lapsed, taken over", key, user.pk, record.locked_at)
            record.lock_token, record.locked_at = token, now
            record.save(update_fields=["lock_token", "locked_at"])
            return Claim(record.pk, token)
    raise IdempotencyKeyInProgress()


def _restart(record: IdempotencyRecord, *, method: str, path: str, fingerprint: str, token: str, now: datetime):
    """An expired record's key is a new key: the record starts over, in progress."""
    record.method, record.path, record.fingerprint = method, path, fingerprint
    record.lock_token, record.locked_at = token, now
    record.created_at, record.expires_at = now, now + _ttl()
    record.response_status, record.response_content_type, record.response_body = None, "", ""
    record.completed_at = None
    record.save()


def idempotency_hold(*, claim: Claim) -> bool:
    """Lock the claimed record for the rest of the caller's transaction (the request's): False when the lease was
    lost before (taken over after it lapsed). Call it inside ``transaction.atomic()``."""
    held = IdempotencyRecord.objects.select_for_update().filter(
        pk=claim.record_id, lock_token=claim.token, response_status__isnull=True
    )
    return bool(list(held.values_list("pk", flat=True)))


def idempotency_complete(*, claim: Claim, status: int, content_type: str, body: str, now: datetime) -> bool:
    """Store the answer under the claimed key. False when the lease was lost (taken over after it lapsed): the
    answer then is not stored, and the record belongs to the request that took it."""
    stored = IdempotencyRecord.objects.filter(
        pk=claim.record_id, lock_token=claim.token, response_status__isnull=True
    ).update(
        response_status=status,
        response_content_type=content_type,
        response_body=body,
        completed_at=now,
        lock_token="",
    )
    if not stored:
        log.warning("idempotency record %s: lease lost before the answer was stored", claim.record_id)
    return bool(stored)


def idempotency_release(*, claim: Claim) -> None:
    """Give the key back (the request failed on the server's side): a retry with it runs afresh."""
    IdempotencyRecord.objects.filter(pk=claim.record_id, lock_token=claim.token, response_status__isnull=True).delete()


def idempotency_purge(*, now: datetime) -> int:
    """Delete the expired records (one indexed DELETE); how many went."""
    deleted, _ = IdempotencyRecord.objects.filter(expires_at__lte=now).delete()
    return deleted
