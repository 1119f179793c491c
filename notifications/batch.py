"""Sending notifications in chunks: the batch path of ``notifications.delivery`` (its module docstring holds the
exactly-once contract both paths keep). The sweep hands the rows it creates to the ``send_notifications`` task in
chunks of at most ``BATCH_SIZE``; re-drives and fallbacks go the same way. A chunk is claimed in one conditional
``UPDATE … RETURNING``, its SMS are handed to a thread pool each at its rate-limit slot, once a thread is free to
call at once (after one more look at its deadline), and its outcomes, each with the moment of its own call, written
in one transaction. A part that stops half way (the database gone while looking) still records what left.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.db.models import BooleanField, ExpressionWrapper, F

from notifications import ratelimit
from notifications.callbacks import early_statuses_apply
from notifications.delivery import (
    SEND_WITHIN_SECONDS,
    EmailError,
    calls_held,
    claimable,
    compose,
    deliver,
    earlier_send,
    failure_log,
    notification_audit,
    notification_fallback,
    stale_before,
    step_discharged,
    voice_refused,
)
from notifications.models import Notification, NotificationChannel
from notifications.models import NotificationStatus as S
from notifications.sms import SmsError, get_backend
from reporting.auditlog import events_deferred
from reporting.models import Obligation

log = logging.getLogger(__name__)

#: The most rows one batch task is given (the sweep splits the rows it creates into chunks of at most this many).
#: Each task costs its queries, its audit chain append and Celery's own work whatever its size: 50 instead of 20
#: cut the CPU per SMS of a 10,000-deadline burst by a fifth (bench/burst.py); a sweep batch (100 obligations, two
#: people each) still makes four chunks, so both workers' processes share it.
BATCH_SIZE = 50
#: Provider calls in flight at once in one worker process: they wait on the network, so threads overlap them.
SEND_THREADS = 8
#: Seconds of rate-limit slots one claim may cover: the first slot is waited for before the claim, the others
#: after it, so a batch larger than the rate allows in this span is claimed in several parts.
CLAIM_SPAN_SECONDS = 2.0
#: The most voice calls one part holds: the part's calls are placed one after another on one thread, each taking
#: the provider's answer time (up to a second), and all must start within ``SEND_WITHIN_SECONDS`` of the claim,
#: whatever the call rate allows (unlimited, or an account with a higher calls-per-second).
VOICE_PART_MAX = 10
#: How old the deadline states read for a claimed part may be when an SMS of it is handed to the provider: older,
#: they are read again (one query for the rest of the part), so a report filed while the part waits for its rate
#: slots stops its SMS. At most this many seconds of filings can still meet an SMS already on its way.
RECHECK_SECONDS = 0.1

#: The channels whose rows go through the SMS backend: an SMS, a voice call.
_PHONE = (NotificationChannel.SMS, NotificationChannel.VOICE)

_TABLE = Notification._meta.db_table
#: ``_claimable`` in SQL; parameters: the pending status and the stale-before moment.
_CLAIMABLE_SQL = " AND status = %s AND provider_id = '' AND (claimed_by = '' OR claimed_at IS NULL OR claimed_at < %s)"
#: Held by ``token`` and still pending; parameters: the token and the pending status.
_HELD_SQL = " AND claimed_by = %s AND status = %s"


@dataclass
class BatchResult:
    """What ``notifications_send`` did: each id's status after the attempt ("missing" for an unknown id) and the
    ids whose transient error asks for another attempt with backoff."""

    statuses: dict[int, str] = field(default_factory=dict)
    retry: list[int] = field(default_factory=list)


@dataclass
class _Attempt:
    """One claimed row's provider call: sent (or found by ``lookup``) with the provider's id (empty for email), or
    an error."""

    sent: bool = False
    provider_id: str = ""
    recovered: bool = False
    error: str = ""
    permanent: bool = False
    keep_claim: bool = False  # the provider may have the message: nobody sends until the claim is stale
    retry: bool = True
    discharged: str = ""  # why its deadline no longer needs chasing, found just before the call: not sent
    at: datetime | None = None  # when the outcome was known (the provider's answer); the part's claim time if None


def notifications_send(*, notification_ids: list[int], token: str, now: datetime) -> BatchResult:
    """Send many pending notifications, each exactly once; ``token`` is the calling task's id (fencing token).

    The same contract as ``notification_send`` row by row (module docstring), with the database work done per
    chunk: one conditional UPDATE … RETURNING claims them, the provider calls run in a thread pool, and the
    outcomes and their audit events are written in one transaction. One row's error never fails the others: a
    transient one is listed in ``retry``.
    """
    if not token:
        raise ValueError("a fencing token is required")
    ids = list(dict.fromkeys(notification_ids))
    result = BatchResult()
    # The rows of a chunk share few incidents: each is read once (prefetch) instead of once per row (a join), and the
    # recipient only when a fallback needs it; building these objects was a tenth of a worker's CPU in a burst.
    rows = {
        n.pk: n
        for n in Notification.objects.select_related("obligation", "obligation__unit")
        .prefetch_related("incident")
        .filter(pk__in=ids)
        .annotate(
            claimable_now=ExpressionWrapper(claimable(now), output_field=BooleanField()),
            recipient_unit_id=F("recipient__unit_id"),  # for the text (messages.facts_for), without the contact
        )
    }
    todo = []
    for pk in ids:
        n = rows.get(pk)
        if n is None:
            result.statuses[pk] = "missing"
        elif n.claimable_now:
            refused = voice_refused(n, now=now) if n.channel == NotificationChannel.VOICE else None
            if refused is None:
                todo.append(n)
            else:
                result.statuses[pk] = refused
        else:
            result.statuses[pk] = n.status  # sent, closed, or held by a live worker: nothing to do
    # Parts by rate: SMS (and emails) at the SMS rate, then voice calls at the call rate, so no part holds more
    # calls than its claim span allows (at 1 call a second, 60 calls in one part: the last ones would be released as
    # too old to call, and wait for the task's retry).
    calls = [n for n in todo if n.channel == NotificationChannel.VOICE]
    others = [n for n in todo if n.channel != NotificationChannel.VOICE]
    started = time.monotonic()
    for rows_of, rate, most in (
        (others, settings.SMS_RATE_PER_SECOND, len(others)),
        (calls, settings.VOICE_RATE_PER_SECOND, VOICE_PART_MAX),
    ):
        size = max(1, min(int(rate * CLAIM_SPAN_SECONDS) if rate > 0 else len(rows_of), most))
        for i in range(0, len(rows_of), size):
            part_now = now + timedelta(seconds=time.monotonic() - started)
            _part_send(rows_of[i : i + size], token=token, now=part_now, result=result)
    return result


def _part_send(part: list[Notification], *, token: str, now: datetime, result: BatchResult) -> None:
    sms = [n for n in part if n.channel == NotificationChannel.SMS]
    calls = [n for n in part if n.channel == NotificationChannel.VOICE]
    waits = ratelimit.reserve_many(len(sms))
    call_waits = ratelimit.reserve_many(len(calls), rate=settings.VOICE_RATE_PER_SECOND, key=ratelimit.VOICE_KEY)
    reserved_at = time.monotonic()
    slot_at = {n.pk: reserved_at + wait for n, wait in zip(sms + calls, waits + call_waits, strict=True)}
    part_now = now

    def clock() -> datetime:
        """The moment now, on the clock of ``now`` (freezegun moves both)."""
        return part_now + timedelta(seconds=time.monotonic() - reserved_at)

    first = min((w[0] for w in (waits, call_waits) if w), default=0.0)
    if first > 0:
        # The first slot before the claim, as for one row: the claim is dated when it is really taken.
        time.sleep(first)
        now += timedelta(seconds=first)
    _clocks_refresh(part)  # a report filed meanwhile

    discharged = {n.pk: reason for n in part if (reason := step_discharged(n))}
    if discharged:
        _discharged_close([n for n in part if n.pk in discharged], discharged, now=now)
        result.statuses.update(dict.fromkeys(discharged, S.CANCELLED))
    live = [n for n in part if n.pk not in discharged]
    if not live:
        return
    previous = {n.pk: (n.claimed_by, n.claimed_at) for n in live}
    for n in live:
        n.body, n.subject = compose(n, now=now)
    try:
        claimed = _claim_many(live, token=token, now=now)
    except OperationalError as exc:
        if getattr(exc.__cause__, "sqlstate", None) != "40P01":
            raise
        # PostgreSQL broke a deadlock with another claimer by aborting this claim: nothing was claimed.
        result.statuses.update(dict.fromkeys((n.pk for n in live), S.PENDING))
        result.retry += [n.pk for n in live]
        return
    lost = [n.pk for n in live if n.pk not in claimed]
    if lost:
        result.statuses.update(Notification.objects.filter(pk__in=lost).values_list("pk", "status"))
    mine = [n for n in live if n.pk in claimed]
    send_by = time.monotonic() + SEND_WITHIN_SECONDS
    attempts = _attempts_run(mine, previous=previous, slot_at=slot_at, send_by=send_by, now=now, clock=clock)
    _outcomes_record(mine, attempts, token=token, now=now, result=result)


def _clocks_refresh(part: list[Notification]) -> None:
    """Re-read the deadline states of the rows' obligations (one query)."""
    ids = {n.obligation_id for n in part if n.obligation_id}
    states = {
        pk: (verbal, written)
        for pk, verbal, written in Obligation.objects.filter(pk__in=ids).values_list(
            "pk", "verbal_state", "written_state"
        )
    }
    for n in part:
        if n.obligation_id in states:
            n.obligation.verbal_state, n.obligation.written_state = states[n.obligation_id]


def _case(values: dict[int, object], sql_type: str = "text") -> tuple[str, list]:
    """One expression giving each row (by ``id``) its own value: a statement sets a different value on each row.

    On PostgreSQL two arrays, so the statement stays short and has two placeholders whatever the number of rows
    (psycopg parses placeholders in Python and caches only short statements); elsewhere ``CASE id WHEN … END``."""
    if connection.vendor == "postgresql":
        return f"(%s::{sql_type}[])[array_position(%s::bigint[], id)]", [list(values.values()), list(values)]
    return "CASE id" + " WHEN %s THEN %s" * len(values) + " END", [x for item in values.items() for x in item]


def _ids_in(ids: list[int]) -> tuple[str, list]:
    """``id`` is one of ``ids``: one array placeholder on PostgreSQL (see ``_case``), else an ``IN`` list."""
    if connection.vendor == "postgresql":
        return "id = ANY(%s::bigint[])", [list(ids)]
    return "id IN (" + ", ".join(["%s"] * len(ids)) + ")", list(ids)


def _sql_time(moment: datetime):
    """A datetime as the ORM would store it (SQLite keeps text in its own format; PostgreSQL takes it as is)."""
    return connection.ops.adapt_datetimefield_value(moment)


def _update_returning(assignments: str, params: list, *, ids: list[int], where: str, where_params: list) -> set[int]:
    """``UPDATE … SET <assignments> WHERE id IN (ids) <where> RETURNING id``: the ids it changed."""
    ids_sql, ids_params = _ids_in(ids)
    # Identifiers and SQL fragments are this module's constants; every value is a bound parameter.
    sql = f"UPDATE {_TABLE} SET {assignments} WHERE {ids_sql}{where} RETURNING id"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *ids_params, *where_params])
        return {row[0] for row in cursor.fetchall()}


def _claim_many(rows: list[Notification], *, token: str, now: datetime) -> set[int]:
    """Claim ``rows`` in one conditional UPDATE (autocommit): each row only if it is still claimable and still held
    by the holder it was read with (compare-and-swap, so a takeover knows whose claim it took). Saves the composed
    bodies in the same statement. Returns the ids claimed."""
    ids = [n.pk for n in rows]
    body_sql, body_params = _case({n.pk: n.body for n in rows})
    subject_sql, subject_params = _case({n.pk: n.subject for n in rows})
    holder_sql, holder_params = _case({n.pk: n.claimed_by for n in rows})
    where = _CLAIMABLE_SQL + f" AND claimed_by = {holder_sql}"
    where_params = [S.PENDING, _sql_time(stale_before(now)), *holder_params]
    if connection.vendor == "postgresql":
        # Lock the rows in id order first: two tasks claiming overlapping chunks queue instead of deadlocking.
        ids_sql, ids_params = _ids_in(ids)
        where += f" AND id IN (SELECT id FROM {_TABLE} WHERE {ids_sql}"  # noqa: S608 (constants, bound values)
        where += " ORDER BY id FOR NO KEY UPDATE)"
        where_params += ids_params
    return _update_returning(
        f"claimed_by = %s, claimed_at = %s, attempts = attempts + 1, body = {body_sql}, subject = {subject_sql}",
        [token, _sql_time(now), *body_params, *subject_params],
        ids=ids,
        where=where,
        where_params=where_params,
    )


def _discharged_close(rows: list[Notification], reasons: dict[int, str], *, now: datetime) -> None:
    """Close the discharged rows still claimable, with one audit event each, in one transaction."""
    errors = {pk: f"discharged: {reason}" for pk, reason in reasons.items()}
    error_sql, error_params = _case(errors)
    with transaction.atomic(), events_deferred():
        closed = _update_returning(
            f"status = %s, error = {error_sql}",
            [S.CANCELLED, *error_params],
            ids=list(errors),
            where=_CLAIMABLE_SQL,
            where_params=[S.PENDING, _sql_time(stale_before(now))],
        )
        for n in rows:
            if n.pk in closed:
                notification_audit(n, kind="notification_cancelled", now=now, reason=reasons[n.pk])


_pool: ThreadPoolExecutor | None = None
_mail_pool: ThreadPoolExecutor | None = None
_voice_pool: ThreadPoolExecutor | None = None
_pool_free: threading.Semaphore | None = None
_pool_pid = 0
_threads = threading.local()
#: The settings an SMS backend is built from: a thread's backend is rebuilt when one of them changes.
_BACKEND_SETTINGS = ("SMS_BACKEND", "SMS_FILE_PATH", "TWILIO_API_BASE_URL", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN")


def _executor() -> ThreadPoolExecutor:
    """This process's pool of provider-call threads (made after the fork: a prefork child gets its own)."""
    global _pool, _mail_pool, _voice_pool, _pool_pid, _pool_free
    if _pool is None or _mail_pool is None or _voice_pool is None or _pool_free is None or _pool_pid != os.getpid():
        _pool = ThreadPoolExecutor(max_workers=SEND_THREADS, thread_name_prefix="send")
        _pool_free = threading.Semaphore(SEND_THREADS)
        _mail_pool, _pool_pid = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mail"), os.getpid()
        _voice_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="voice")
    return _pool


def _free_threads() -> threading.Semaphore:
    """One permit per thread of this process's SMS pool: the dispatcher takes one before it hands an SMS over."""
    _executor()
    assert _pool_free is not None
    return _pool_free


def _mail_executor() -> ThreadPoolExecutor:
    """This process's email thread: a part's emails go one after another, beside its SMS, never taking their
    threads."""
    _executor()
    assert _mail_pool is not None
    return _mail_pool


def _voice_executor() -> ThreadPoolExecutor:
    """This process's call thread: a part's voice calls go one after another at the call rate
    (``VOICE_RATE_PER_SECOND``), beside its SMS and emails, never taking an SMS thread or an SMS rate slot."""
    _executor()
    assert _voice_pool is not None
    return _voice_pool


def _voice_look(n: Notification, *, since: datetime | None) -> tuple[str, frozenset[str]]:
    """Just before ``n``'s call, from the database (the call thread's own connection, closed at once: calls are
    rare and a second apart): why its deadline no longer needs chasing (or ""), and, for a dead claim dated
    ``since`` taken over, the calls other rows hold (``delivery.calls_held``)."""
    try:
        _clocks_refresh([n])
        held = frozenset(calls_held(n, since=since)) if since is not None else frozenset()
    finally:
        connection.close()
    return step_discharged(n), held


def _thread_backend():
    """This thread's SMS backend, kept between tasks (one Twilio client per thread, never shared)."""
    key = tuple(getattr(settings, name, None) for name in _BACKEND_SETTINGS)
    if getattr(_threads, "key", None) != key:
        _threads.backend, _threads.key = get_backend(), key
    return _threads.backend


def _attempts_run(
    rows: list[Notification],
    *,
    previous: dict,
    slot_at: dict[int, float],
    send_by: float,
    now: datetime,
    clock: Callable[[], datetime],
) -> dict[int, _Attempt]:
    """The provider calls of the claimed ``rows``. Emails go to the mail thread at once. This thread hands each SMS
    to the pool at its rate-limit slot and once a thread is free, after looking at its deadline once more (the
    states are read again when older than ``RECHECK_SECONDS``): an SMS whose report was filed while the part waited,
    for its slot or for a thread, is not sent. If this thread fails half way, the SMS not handed over are released
    (retry) and the outcomes of those that were are still returned."""

    def attempt(n: Notification, held: frozenset[str] = frozenset()) -> _Attempt:
        previous_token, previous_claim_at = previous[n.pk]
        since = previous_claim_at or now
        return _attempt(n, previous_token=previous_token, since=since, send_by=send_by, clock=clock, held=held)

    submitted = time.monotonic()
    call_thread_start: list[float] = []

    def on_call_thread(moment: float) -> float:
        """A moment of this thread's clock on the call thread's: carried over as its offset from the submission
        (the call thread is idle then, so its first call starts at once). The two clocks are one in production;
        a test's frozen clock (freezegun) is the caller's only, not a pool thread's."""
        return call_thread_start[0] + (moment - submitted)

    def call(n: Notification) -> _Attempt:
        """A voice row, on the call thread: its call-rate slot (reserved before the claim), then one more look at
        its deadline (and, for a dead claim taken over, at the calls other rows hold), then the call."""
        if not call_thread_start:
            call_thread_start.append(time.monotonic())
        if (delay := on_call_thread(slot_at.get(n.pk, submitted)) - time.monotonic()) > 0:
            time.sleep(delay)
        if time.monotonic() > on_call_thread(send_by):
            return _Attempt(error="not sent: its claim was too old to call the provider safely")
        previous_token, previous_claim_at = previous[n.pk]
        try:
            reason, held = _voice_look(n, since=(previous_claim_at or now) if previous_token else None)
        except Exception as exc:
            log.exception("notification %s: its deadline could not be looked at again before the call", n.pk)
            return _Attempt(error=f"not sent: dispatching stopped ({type(exc).__name__}: {exc})"[:2000])
        if reason:
            return _Attempt(discharged=reason, retry=False, at=clock())
        return attempt(n, held)

    futures = {n.pk: _mail_executor().submit(attempt, n) for n in rows if n.channel == NotificationChannel.EMAIL}
    futures |= {n.pk: _voice_executor().submit(call, n) for n in rows if n.channel == NotificationChannel.VOICE}
    done: dict[int, _Attempt] = {}
    sms = sorted((n for n in rows if n.channel == NotificationChannel.SMS), key=lambda n: slot_at.get(n.pk, 0.0))
    states_read = time.monotonic()  # just before the claim (``_clocks_refresh``)
    free = _free_threads()
    try:
        for i, n in enumerate(sms):
            if (delay := slot_at.get(n.pk, 0.0) - time.monotonic()) > 0:
                time.sleep(delay)
            # Wait for a free thread first: the look below is then the last one before the call, not one made
            # while the SMS would wait in the pool's queue behind slow calls (a report filed meanwhile stops it).
            free.acquire()
            handed = False
            try:
                if time.monotonic() - states_read > RECHECK_SECONDS:
                    _clocks_refresh(sms[i:])
                    states_read = time.monotonic()
                if reason := step_discharged(n):
                    done[n.pk] = _Attempt(discharged=reason, retry=False, at=clock())
                else:
                    futures[n.pk] = future = _executor().submit(attempt, n)
                    handed = True
                    future.add_done_callback(lambda _: free.release())
            finally:
                if not handed:
                    free.release()
    except Exception as exc:
        # The database went away while looking again (or anything else): the SMS not handed over yet are released
        # for a retry; those already handed over, and the emails, are waited for and their outcomes recorded, so
        # nothing that left is sent again.
        log.exception("notification part: dispatching stopped; the rest is released for a retry")
        for n in sms:
            if n.pk not in futures and n.pk not in done:
                done[n.pk] = _Attempt(error=f"not sent: dispatching stopped ({type(exc).__name__}: {exc})"[:2000])
    for n in rows:
        future = futures.get(n.pk)
        if future is None:
            continue
        try:
            done[n.pk] = future.result()
        except Exception as exc:
            # Not a provider answer we know: the message may have left. Keep the claim; once it is stale the
            # sweep's re-drive asks the provider before sending again.
            log.exception("notification %s: unexpected error while sending", n.pk)
            done[n.pk] = _Attempt(error=f"{type(exc).__name__}: {exc}", keep_claim=True, retry=False)
    return done


def _attempt(
    n: Notification,
    *,
    previous_token: str,
    since: datetime,
    send_by: float,
    clock: Callable[[], datetime],
    held: frozenset[str] = frozenset(),
) -> _Attempt:
    """One claimed row's provider calls, dated by ``clock`` when answered. Runs in a pool thread: no database
    access here."""
    if time.monotonic() > send_by:
        return _Attempt(error="not sent: its claim was too old to call the provider safely")
    by_backend = n.channel in _PHONE
    backend = _thread_backend() if by_backend else None
    if previous_token and by_backend:
        # A dead worker's claim taken over: it may have handed this very message (placed this call) to the provider.
        try:
            earlier = earlier_send(backend, n, since=since, held=held)
        except SmsError as exc:
            return _Attempt(error=f"lookup before re-send failed: {exc}", keep_claim=True)
        if earlier is not None:
            return _Attempt(sent=True, provider_id=earlier.provider_id, recovered=True, at=clock())
    try:
        provider_id = deliver(n, backend=backend)
    except (SmsError, EmailError) as exc:
        return _Attempt(error=str(exc), permanent=exc.permanent, at=clock())
    return _Attempt(sent=True, provider_id=provider_id, at=clock())


def _outcomes_record(
    rows: list[Notification], attempts: dict[int, _Attempt], *, token: str, now: datetime, result: BatchResult
) -> None:
    """Write every outcome of a part in one transaction, fenced on ``token``, each dated when its call was
    answered, with its audit events chained at the end (one advisory-lock hold, one INSERT); then apply any status
    callback the provider sent before the ids were recorded."""
    by_pk = {n.pk: n for n in rows}
    at = {pk: a.at or now for pk, a in attempts.items()}
    sent = {pk: a for pk, a in attempts.items() if a.sent}
    failed = {pk: a for pk, a in attempts.items() if not a.sent and a.permanent}
    discharged = {pk: a for pk, a in attempts.items() if a.discharged}
    released = {
        pk: a for pk, a in attempts.items() if not a.sent and not a.permanent and not a.keep_claim and not a.discharged
    }
    cancelled: set[int] = set()
    with transaction.atomic(), events_deferred():
        if released:
            error_sql, error_params = _case({pk: a.error[:2000] for pk, a in released.items()})
            _update_returning(
                f"claimed_by = '', claimed_at = NULL, error = {error_sql}",
                error_params,
                ids=list(released),
                where=_HELD_SQL,
                where_params=[token, S.PENDING],
            )
        if discharged:
            error_sql, error_params = _case({pk: f"discharged: {a.discharged}" for pk, a in discharged.items()})
            cancelled = _update_returning(
                f"status = %s, error = {error_sql}",
                [S.CANCELLED, *error_params],
                ids=list(discharged),
                where=_HELD_SQL,
                where_params=[token, S.PENDING],
            )
            for pk in cancelled:
                reason = discharged[pk].discharged
                notification_audit(by_pk[pk], kind="notification_cancelled", now=at[pk], reason=reason)
        if sent:
            ids_sql, ids_params = _case({pk: a.provider_id for pk, a in sent.items()})
            sent_at_sql, sent_at_params = _case({pk: _sql_time(at[pk]) for pk in sent}, "timestamptz")
            recorded = _update_returning(
                f"status = %s, provider_id = {ids_sql}, sent_at = {sent_at_sql}, error = ''",
                [S.SENT, *ids_params, *sent_at_params],
                ids=list(sent),
                where=_HELD_SQL,
                where_params=[token, S.PENDING],
            )
            for pk, a in sent.items():
                if pk not in recorded:
                    # Our claim went stale while we were sending; keep the provider id so nobody sends it again.
                    log.warning("notification %s sent after its claim was lost", pk)
                    Notification.objects.filter(pk=pk, provider_id="").update(provider_id=a.provider_id)
                detail = {"provider_id": a.provider_id, **({"recovered": True} if a.recovered else {})}
                notification_audit(by_pk[pk], kind="notification_sent", now=at[pk], **detail)
        if failed:
            error_sql, error_params = _case({pk: a.error[:2000] for pk, a in failed.items()})
            marked = _update_returning(
                f"status = %s, error = {error_sql}",
                [S.FAILED, *error_params],
                ids=list(failed),
                where=_HELD_SQL,
                where_params=[token, S.PENDING],
            )
            for pk in failed:
                if pk in marked:
                    notification_audit(by_pk[pk], kind="notification_failed", now=at[pk], error=failed[pk].error[:500])
                    notification_fallback(notification=by_pk[pk], now=at[pk])
    for pk, a in attempts.items():
        if a.error and not a.sent and not a.discharged:
            if a.permanent:
                failure_log(by_pk[pk], a.error, outcome="failed, falling back", level=logging.ERROR)
            elif a.keep_claim:
                failure_log(by_pk[pk], a.error, outcome="outcome unknown, held until its claim is stale")
            else:
                failure_log(by_pk[pk], a.error, outcome="not sent, to be retried")
    early_statuses_apply(a.provider_id for a in sent.values())
    for pk, a in attempts.items():
        if pk in discharged:
            result.statuses[pk] = S.CANCELLED if pk in cancelled else S.PENDING
            continue
        result.statuses[pk] = S.SENT if pk in sent else S.FAILED if pk in failed else S.PENDING
        if pk not in sent and pk not in failed and a.retry:
            result.retry.append(pk)
