"""``Idempotency-Key`` on the creating POSTs (docs/api-beyond-the-contract.md, "Idempotency-Key").

A viewset names its ``idempotent_actions``. On those, a request carrying the header claims the key after
authentication, permissions and throttling (so a 401/403/429 is never stored), runs, and leaves its answer under
the key; a retry with the same key and request gets that answer again, marked ``Idempotent-Replayed: true``, and
runs nothing. Without the header nothing changes. The rules are in ``reporting.idempotency_services``.
"""

from __future__ import annotations

import logging

from django.db import DatabaseError, transaction
from django.http import HttpResponse, RawPostDataException
from rest_framework import exceptions
from rest_framework.exceptions import APIException

from reporting import idempotency_services
from reporting.idempotency import HEADER, REPLAYED_HEADER, fingerprint, parse_key
from reporting.idempotency_services import Claim, Replay

log = logging.getLogger(__name__)

MALFORMED = (
    f"请求头 {HEADER} 须为 1 至 255 个可打印 ASCII 字符 "
    f"(the {HEADER} header must be 1 to 255 printable ASCII characters)"
)


class _Replayed(APIException):
    """Carries a stored answer out of ``initial`` the way DRF's own refusals leave it (``handle_exception``)."""

    def __init__(self, replay: Replay):
        super().__init__()
        self.replay = replay


class IdempotentMixin:
    """For ``ApiViewSet``: ``idempotent_actions`` accept ``Idempotency-Key``. Needs ``self.now`` set before
    ``initial`` runs.

    A claimed request runs in one transaction with its record locked (``idempotency_hold``), and its answer is
    stored in that transaction: what it wrote is committed with its answer, or neither is. Otherwise a request
    committed but whose answer was not stored (a process killed in between, the database lost for that last
    statement, a 5xx raised after the service's commit) would run a second time on the retry, and a request
    slower than the lease would run alongside the retry that took the lease over."""

    idempotent_actions: tuple[str, ...] = ()
    _idempotency_claim: Claim | None = None
    _idempotency_atomic: transaction.Atomic | None = None

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if getattr(self, "action", None) not in self.idempotent_actions or HEADER not in request.headers:
            return
        key = parse_key(request.headers[HEADER])
        if key is None:
            raise exceptions.ValidationError({HEADER: [MALFORMED]})
        try:
            body = request.body
        except RawPostDataException:
            # Read as a form already (a session's CSRF check on a form post): not JSON, which these endpoints
            # refuse anyway; the raw bytes the fingerprint needs are gone.
            raise exceptions.UnsupportedMediaType(request.content_type) from None
        outcome = idempotency_services.idempotency_claim(
            user=request.user,
            key=key,
            method=request.method,
            path=request.get_full_path(),
            fingerprint=fingerprint(method=request.method, path=request.get_full_path(), body=body),
            now=self.now,
        )
        if isinstance(outcome, Replay):
            raise _Replayed(outcome)
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            held = idempotency_services.idempotency_hold(claim=outcome)
        except BaseException as exc:
            atomic.__exit__(type(exc), exc, exc.__traceback__)
            raise
        if not held:
            atomic.__exit__(None, None, None)
            raise idempotency_services.IdempotencyKeyInProgress()
        self._idempotency_claim, self._idempotency_atomic = outcome, atomic

    def handle_exception(self, exc):
        if isinstance(exc, _Replayed):
            response = HttpResponse(exc.replay.body, status=exc.replay.status, content_type=exc.replay.content_type)
            response[REPLAYED_HEADER] = "true"
            return response
        return super().handle_exception(exc)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        claim, atomic = self._take_claim()
        if claim is None or atomic is None:
            return response
        if response.status_code >= 500:
            _abandon(claim, atomic)
            return response
        try:
            if hasattr(response, "render"):
                response.render()
            stored = idempotency_services.idempotency_complete(
                claim=claim,
                status=response.status_code,
                content_type=response.get("Content-Type", ""),
                body=response.content.decode(response.charset or "utf-8"),
                now=self.now,
            )
            if not stored:  # cannot be while the record is held; never commit a request whose answer is lost
                raise DatabaseError(f"idempotency record {claim.record_id}: held but not stored")
        except BaseException as exc:
            # Rolled back with its answer: the request did nothing, and a retry with the key runs afresh.
            _abandon(claim, atomic, exc)
            raise
        # Commits the request's writes and its answer together (then runs their on_commit side effects).
        atomic.__exit__(None, None, None)
        return response

    def dispatch(self, request, *args, **kwargs):
        try:
            return super().dispatch(request, *args, **kwargs)
        finally:
            # Still held: the view raised past DRF's handler (a crash, Django's 500). Its writes are rolled back
            # and the key may be retried.
            claim, atomic = self._take_claim()
            if claim is not None and atomic is not None:
                _abandon(claim, atomic, RuntimeError("the request raised"))

    def _take_claim(self) -> tuple[Claim | None, transaction.Atomic | None]:
        taken = self._idempotency_claim, self._idempotency_atomic
        self._idempotency_claim = self._idempotency_atomic = None
        return taken


def _abandon(claim: Claim, atomic: transaction.Atomic, exc: BaseException | None = None) -> None:
    """Roll the request back, then give its key back."""
    exc = exc or RuntimeError("the request failed on the server's side")
    try:
        atomic.__exit__(type(exc), exc, exc.__traceback__)
    except DatabaseError:
        log.exception("idempotency record %s: the request could not be rolled back", claim.record_id)
    _release(claim)


def _release(claim: Claim) -> None:
    try:
        idempotency_services.idempotency_release(claim=claim)
    except DatabaseError:
        log.exception("idempotency record %s: could not be given back; its lease will lapse", claim.record_id)
