"""Sending notifications through their channel (SMS via SMS_BACKEND, email via Django's mailers) and the fallback.
Provider callbacks (status, acknowledgement replies) are in ``notifications.callbacks``.

Two entry points keep one contract: ``notifications_send`` (the batch path: the sweep hands its new rows to the
``send_notifications`` task in chunks of at most ``BATCH_SIZE``; re-drives and fallbacks go the same way) and
``notification_send`` (one row: the ``send_notification`` task, kept for tasks queued before the batch path).

Exactly once — the contract of ``notifications_send`` and ``notification_send``
------------------------------------------------------------------------------
1. **Claim.** A conditional ``UPDATE`` sets ``claimed_by=<task id>`` (the fencing token) and ``claimed_at`` on rows
   that are ``pending``, have no ``provider_id`` and are either unclaimed or claimed longer than
   ``CLAIM_STALE_SECONDS`` ago, and are still held by whoever held them when they were read (compare-and-swap, so a
   takeover knows whose claim it took). A row is claimed only if the statement changed it (one row: it must change
   exactly one; a chunk: one ``UPDATE … RETURNING id`` for all, which on PostgreSQL first locks the rows in id order
   so two overlapping chunks queue instead of deadlocking); any other row is owned by another worker (or was sent)
   and is left alone. The same statement saves the composed bodies and subjects, so the text is durable **before**
   the provider is called, and it autocommits, so the claim survives a crash.
2. **Send**, then record ``status=sent``, ``provider_id``, ``sent_at`` (fenced on the token) and an audit event. A
   chunk's SMS are sent from a small thread pool (``SEND_THREADS`` per worker process, one SMS backend — one Twilio
   client — per thread; the threads never touch the database), its emails from the task's own thread meanwhile;
   then every outcome of the chunk (sent, failed, released) is written in one transaction, fenced on the token, with
   its audit events chained at the end in one INSERT (``reporting.auditlog.events_deferred``).
3. **Transient error** (timeouts, connection errors, HTTP 5xx/429, SMTP 4xx): the row's claim is released. One row:
   ``TransientError`` is raised and the task retries with backoff. A chunk: the other rows go on; the task retries
   (same task id, so the same token) with only the rows that hit a transient error, with the same backoff.
4. **Permanent error** (invalid number 21211/21614, other 4xx, SMTP 5xx): ``status=failed``, the error is recorded
   and the fallback runs (email to the same person, SMS to the next contact).

Rate limit (``notifications.ratelimit``). One row waits for its slot before the claim. A chunk reserves consecutive
slots for all its SMS in one call, waits for the first before the claim and for each of the others in its thread
just before that row's call; a chunk is claimed in parts of at most ``CLAIM_SPAN_SECONDS`` of slots, so no claim is
held long before its call.

The crash window (trade-off). A worker that dies between the provider accepting a message and step 2 leaves a row
that is ``pending``, claimed, with no ``provider_id`` — for a chunk, every row it had claimed and not yet recorded.
Nobody may touch it while the claim is live, so a re-delivered task (``acks_late``, the same token), a retry or a
second worker does nothing. A live worker is never overtaken: the claim is taken after the first rate-limit wait,
a provider call (10-second timeout, and the lookup before it) must start within ``SEND_WITHIN_SECONDS`` (a third
of the lease) of the claim or the row is released unsent, so every call ends well before ``CLAIM_STALE_SECONDS``.
After that the claim counts as dead and the row may be taken over (the sweep re-drives it), *only* if no
``provider_id`` was recorded. Before sending again, the new holder asks the SMS backend whether it already has this
message (``lookup``: same number, same saved body, since the dead claim); if so it records that provider id and
sends nothing (at-least-once with dedupe). Only a backend that cannot answer (console) or an email (SMTP has no
lookup) can then go out twice — the safe side for a deadline alarm, where the alternative (marking sent before the
call) silently loses an alert. An error the code does not know (not a provider answer) is treated the same way: the
claim is kept, since the message may have left. Every other path (retries, two workers, two sweeps, overlapping
chunks, re-driven tasks) sends at most once.

Discharge. If the deadline a step belongs to is no longer pending when the row is about to be claimed (re-read
after the rate-limit wait: the report was filed, or marked not required), the row is closed without sending:
``status=cancelled`` (terminal) with ``error="discharged: …"``, in the same conditional UPDATE discipline as a claim,
with one audit event. No row is deleted. A step already handed to the provider is not recalled. (The chasing side
cancels unclaimed rows as soon as a report is filed; this check covers a row whose task was already running.)
"""

from __future__ import annotations

import logging
import os
import smtplib
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import BooleanField, ExpressionWrapper, F, Q

from notifications import messages, ratelimit
from notifications.models import Notification, NotificationChannel, NotificationStatus
from notifications.sms import SmsError, get_backend
from reporting.auditlog import event_append, events_deferred
from reporting.models import Contact, DeadlineState, Obligation, Shift

log = logging.getLogger(__name__)

#: A claim older than this belongs to a dead worker: the provider call times out after 10 s and the rate-limit wait
#: happens before the claim. Equal to the sweep's re-drive lease (``notifications.sweep.CLAIM_LEASE``).
CLAIM_STALE_SECONDS = float(getattr(settings, "NOTIFICATION_CLAIM_STALE_SECONDS", 60))

S = NotificationStatus


class TransientError(Exception):
    """A provider error worth retrying (timeouts, 5xx, 429); the send task retries with backoff."""


def _stale_before(now: datetime) -> datetime:
    return now - timedelta(seconds=CLAIM_STALE_SECONDS)


def _claimable(now: datetime) -> Q:
    """Rows a new token may claim: pending, never handed to the provider, unclaimed or claimed by a dead worker."""
    return Q(status=S.PENDING, provider_id="") & (
        Q(claimed_by="") | Q(claimed_at__isnull=True) | Q(claimed_at__lt=_stale_before(now))
    )


def notifications_to_redrive(*, now: datetime):
    """Selector for a dispatcher's re-drive: pending rows due by ``now`` that no live worker holds."""
    return Notification.objects.filter(scheduled_for__lte=now).filter(_claimable(now))


def _enqueue(notification_id: int) -> None:
    from notifications.tasks import send_notifications  # tasks imports this module

    transaction.on_commit(lambda: send_notifications.delay([notification_id]))


def notification_audit(notification: Notification, *, kind: str, now: datetime, actor: str = "system", **detail):
    """Append the audit event of a notification's state change (sent, delivered, acknowledged, failed, cancelled);
    call it inside the transaction that makes the change."""
    event_append(
        at=now,
        kind=kind,
        actor=actor,
        incident=notification.incident,
        obj=notification,
        detail={
            "step": notification.step,
            "repeat": notification.repeat,
            "channel": notification.channel,
            "to": notification.to,
            "obligation": notification.obligation_id,
            **detail,
        },
    )


def step_discharged(notification: Notification) -> str:
    """Why the deadline this step belongs to no longer needs chasing ("" while it is still pending)."""
    obligation = notification.obligation
    if obligation is None:
        return ""  # incident-level event rules are never discharged by a filing
    deadline, _ = messages.step_deadline(step=notification.step, plan=obligation.escalation_plan, kind=obligation.kind)
    state = obligation.written_state if deadline == messages.WRITTEN else obligation.verbal_state
    if state == DeadlineState.PENDING:
        return ""
    return f"{messages.DEADLINE_LABELS[deadline]}: {DeadlineState(state).label}"


def notification_send(*, notification_id: int, token: str, now: datetime) -> str:
    """Send one pending notification exactly once; ``token`` is the calling task's id (fencing token).

    Returns the notification's status after the attempt ("missing" for an unknown id). Raises TransientError to
    ask for a retry. See the module docstring for the claim, the crash window and discharge.
    """
    if not token:
        raise ValueError("a fencing token is required")
    n = (
        Notification.objects.select_related("incident", "obligation", "obligation__unit", "recipient")
        .filter(pk=notification_id)
        .first()
    )
    if n is None:
        return "missing"
    if not Notification.objects.filter(pk=n.pk).filter(_claimable(now)).exists():
        return n.status  # sent, closed, or held by a live worker: nothing to do

    is_sms = n.channel == NotificationChannel.SMS
    if is_sms:
        # Before the claim: a slot wasted by a lost claim costs nothing. The wait moves our clock on, so the claim
        # is dated when it is really taken (a long queue must not make a fresh claim look stale).
        now = now + timedelta(seconds=ratelimit.acquire())
        if n.obligation_id:
            n.obligation.refresh_from_db(fields=["verbal_state", "written_state"])  # a report filed meanwhile

    reason = step_discharged(n)
    if reason:
        with transaction.atomic():
            closed = (
                Notification.objects.filter(pk=n.pk)
                .filter(_claimable(now))
                .update(status=S.CANCELLED, error=f"discharged: {reason}")
            )
            if closed:
                notification_audit(n, kind="notification_cancelled", now=now, reason=reason)
        return S.CANCELLED

    facts = messages.facts_for(n)
    body = n.body or (messages.sms_text(facts, now=now) if is_sms else messages.email_body(facts, now=now))
    subject = n.subject or ("" if is_sms else messages.email_subject(facts, now=now))
    # Compare-and-swap on the previous holder too, so we know exactly whose claim (if anyone's) we took over.
    previous_token, previous_claim_at = n.claimed_by, n.claimed_at
    claimed = (
        Notification.objects.filter(pk=n.pk, claimed_by=previous_token)
        .filter(_claimable(now))
        .update(claimed_by=token, claimed_at=now, attempts=F("attempts") + 1, body=body, subject=subject[:200])
    )
    if claimed != 1:
        return Notification.objects.values_list("status", flat=True).get(pk=n.pk)
    n.body, n.subject = body, subject[:200]

    if previous_token and is_sms:
        # We took over a dead worker's claim: it may have handed this very message to the provider just before
        # dying. Ask the provider first; only a message it does not know is sent again.
        try:
            earlier = get_backend().lookup(to=n.to, body=n.body, since=previous_claim_at or now)
        except SmsError as exc:
            # Cannot tell: keep the claim, so nobody sends until it is stale again and the question is asked again.
            raise TransientError(f"lookup before re-send failed: {exc}") from exc
        if earlier is not None:
            return _record_sent(n, token=token, now=now, provider_id=earlier.provider_id, recovered=True)

    try:
        provider_id = _deliver(n)
    except SmsError as exc:
        return _failed_attempt(n, token=token, now=now, error=str(exc), permanent=exc.permanent)
    except _EmailError as exc:
        return _failed_attempt(n, token=token, now=now, error=str(exc), permanent=exc.permanent)
    return _record_sent(n, token=token, now=now, provider_id=provider_id)


def _record_sent(n: Notification, *, token: str, now: datetime, provider_id: str, recovered: bool = False) -> str:
    with transaction.atomic():
        recorded = Notification.objects.filter(pk=n.pk, claimed_by=token, status=S.PENDING).update(
            status=S.SENT, provider_id=provider_id, sent_at=now, error=""
        )
        if recorded != 1:
            # Our claim went stale while we were sending; keep the provider id so nobody sends it again.
            log.warning("notification %s sent after its claim was lost", n.pk)
            Notification.objects.filter(pk=n.pk, provider_id="").update(provider_id=provider_id)
        detail = {"provider_id": provider_id, **({"recovered": True} if recovered else {})}
        notification_audit(n, kind="notification_sent", now=now, **detail)
    return S.SENT


class _EmailError(Exception):
    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


def email_message_id(n: Notification) -> str:
    """One Message-ID per notification row. SMTP cannot be asked whether it already took a message, so an email sent
    again after a worker died mid-send is a second copy; carrying the same Message-ID, it is shown once by mail
    systems that de-duplicate on it, and auditors can match the copies. It is recorded as the row's provider id."""
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2].strip("<> ") or "localhost"
    local = f"notification-{n.pk}"
    # The provider id column holds 64 characters: a long domain is cut (the id stays unique by its local part).
    return f"<{local}@{domain[: 64 - len(local) - 3]}>"


def _deliver(n: Notification, *, backend=None) -> str:
    """Hand the message to the channel (SMS through ``backend``, default a new one); the provider's id (the
    Message-ID for email)."""
    if n.channel == NotificationChannel.SMS:
        return (backend or get_backend()).send(to=n.to, body=n.body).provider_id
    if n.channel == NotificationChannel.EMAIL:
        message_id = email_message_id(n)
        message = EmailMessage(
            n.subject, n.body, settings.DEFAULT_FROM_EMAIL, [n.to], headers={"Message-ID": message_id}
        )
        try:
            message.send(using="default")
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused) as exc:
            raise _EmailError(f"smtp: {exc}", permanent=True) from exc
        except smtplib.SMTPResponseException as exc:
            raise _EmailError(f"smtp {exc.smtp_code}: {exc.smtp_error!r}", permanent=exc.smtp_code >= 500) from exc
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            raise _EmailError(f"smtp: {type(exc).__name__}: {exc}", permanent=False) from exc
        return message_id
    raise SmsError(f"channel {n.channel} is not supported", permanent=True, code="channel")


def _failed_attempt(n: Notification, *, token: str, now: datetime, error: str, permanent: bool) -> str:
    if not permanent:
        # Release the claim so the retry (same task id) or a re-drive may claim again.
        Notification.objects.filter(pk=n.pk, claimed_by=token, status=S.PENDING).update(
            claimed_by="", claimed_at=None, error=error[:2000]
        )
        raise TransientError(error)
    with transaction.atomic():
        failed = Notification.objects.filter(pk=n.pk, claimed_by=token, status=S.PENDING).update(
            status=S.FAILED, error=error[:2000]
        )
        if failed:
            notification_audit(n, kind="notification_failed", now=now, error=error[:500])
            notification_fallback(notification=n, now=now)
    return S.FAILED


def _next_contact(n: Notification, *, now: datetime) -> Contact | None:
    """The next person for the same step: on post now, else a default contact, not yet sent this step by SMS."""
    unit_id = n.recipient.unit_id if n.recipient_id else (n.obligation.unit_id if n.obligation_id else None)
    if unit_id is None:
        return None
    done = Notification.objects.filter(
        incident_id=n.incident_id,
        obligation_id=n.obligation_id,
        step=n.step,
        repeat=n.repeat,
        channel=NotificationChannel.SMS,
        recipient__isnull=False,
    ).values("recipient_id")
    on_post = (
        Shift.objects.filter(unit_id=unit_id, starts_at__lte=now, ends_at__gt=now, contact__active=True)
        .exclude(contact__phone="")
        .exclude(contact_id__in=done)
        .order_by("starts_at", "id")
        .select_related("contact")
        .first()
    )
    if on_post is not None:
        return on_post.contact
    return (
        Contact.objects.filter(unit_id=unit_id, is_default=True, active=True)
        .exclude(phone="")
        .exclude(pk__in=done)
        .order_by("id")
        .first()
    )


def notification_fallback(*, notification: Notification, now: datetime) -> list[Notification]:
    """An SMS that failed or went undelivered: an email to the same person (if they have one) and an SMS to the
    next contact, as new rows with ``fallback_of``, each sent on commit. A row the unique constraint already holds
    (the step's own email to that person) is not created again. Must run inside the transaction that marked the
    notification failed/undelivered, which only one caller can do."""
    n = notification
    if n.channel != NotificationChannel.SMS:
        return []
    wanted: list[tuple[str, Contact, str]] = []
    if n.recipient_id and n.recipient.email:
        wanted.append((NotificationChannel.EMAIL, n.recipient, n.recipient.email))
    nxt = _next_contact(n, now=now)
    if nxt is not None:
        wanted.append((NotificationChannel.SMS, nxt, nxt.phone))
    created = []
    for channel, contact, to in wanted:
        try:
            with transaction.atomic():
                row = Notification.objects.create(
                    incident_id=n.incident_id,
                    obligation_id=n.obligation_id,
                    step=n.step,
                    repeat=n.repeat,
                    channel=channel,
                    recipient=contact,
                    to=to,
                    scheduled_for=now,
                    created_at=now,
                    fallback_of=n,
                )
        except IntegrityError:
            continue  # that person already has this step on that channel: never twice
        _enqueue(row.pk)
        created.append(row)
    return created


# --- batched sending ------------------------------------------------------------------------------------------------

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
#: A claimed row whose provider call has not started this long after the claim is released instead of sent: the
#: call (and a lookup before it, 10 s timeout each) then always ends long before the claim could look dead.
SEND_WITHIN_SECONDS = CLAIM_STALE_SECONDS / 3

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
        .annotate(claimable_now=ExpressionWrapper(_claimable(now), output_field=BooleanField()))
    }
    todo = []
    for pk in ids:
        n = rows.get(pk)
        if n is None:
            result.statuses[pk] = "missing"
        elif n.claimable_now:
            todo.append(n)
        else:
            result.statuses[pk] = n.status  # sent, closed, or held by a live worker: nothing to do
    rate = settings.SMS_RATE_PER_SECOND
    size = max(1, int(rate * CLAIM_SPAN_SECONDS)) if rate > 0 else max(1, len(todo))
    started = time.monotonic()
    for i in range(0, len(todo), size):
        part_now = now + timedelta(seconds=time.monotonic() - started)
        _part_send(todo[i : i + size], token=token, now=part_now, result=result)
    return result


def _part_send(part: list[Notification], *, token: str, now: datetime, result: BatchResult) -> None:
    sms = [n for n in part if n.channel == NotificationChannel.SMS]
    waits = ratelimit.reserve_many(len(sms))
    reserved_at = time.monotonic()
    slot_at = {n.pk: reserved_at + wait for n, wait in zip(sms, waits, strict=True)}
    if waits and waits[0] > 0:
        # The first slot before the claim, as for one row: the claim is dated when it is really taken.
        time.sleep(waits[0])
        now += timedelta(seconds=waits[0])
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
        is_sms = n.channel == NotificationChannel.SMS
        facts = None if n.body and (is_sms or n.subject) else messages.facts_for(n)
        n.body = n.body or (messages.sms_text(facts, now=now) if is_sms else messages.email_body(facts, now=now))
        n.subject = (n.subject or ("" if is_sms else messages.email_subject(facts, now=now)))[:200]
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
    attempts = _attempts_run(mine, previous=previous, slot_at=slot_at, send_by=send_by, now=now)
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


def _case(values: dict[int, object]) -> tuple[str, list]:
    """One expression giving each row (by ``id``) its own value: a statement sets a different value on each row.

    On PostgreSQL two arrays, so the statement stays short and has two placeholders whatever the number of rows
    (psycopg parses placeholders in Python and caches only short statements); elsewhere ``CASE id WHEN … END``."""
    if connection.vendor == "postgresql":
        return "(%s::text[])[array_position(%s::bigint[], id)]", [list(values.values()), list(values)]
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
    where_params = [S.PENDING, _sql_time(_stale_before(now)), *holder_params]
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
            where_params=[S.PENDING, _sql_time(_stale_before(now))],
        )
        for n in rows:
            if n.pk in closed:
                notification_audit(n, kind="notification_cancelled", now=now, reason=reasons[n.pk])


_pool: ThreadPoolExecutor | None = None
_pool_pid = 0
_threads = threading.local()
#: The settings an SMS backend is built from: a thread's backend is rebuilt when one of them changes.
_BACKEND_SETTINGS = ("SMS_BACKEND", "SMS_FILE_PATH", "TWILIO_API_BASE_URL", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN")


def _executor() -> ThreadPoolExecutor:
    """This process's pool of provider-call threads (made after the fork: a prefork child gets its own)."""
    global _pool, _pool_pid
    if _pool is None or _pool_pid != os.getpid():
        _pool, _pool_pid = ThreadPoolExecutor(max_workers=SEND_THREADS, thread_name_prefix="send"), os.getpid()
    return _pool


def _thread_backend():
    """This thread's SMS backend, kept between tasks (one Twilio client per thread, never shared)."""
    key = tuple(getattr(settings, name, None) for name in _BACKEND_SETTINGS)
    if getattr(_threads, "key", None) != key:
        _threads.backend, _threads.key = get_backend(), key
    return _threads.backend


def _attempts_run(
    rows: list[Notification], *, previous: dict, slot_at: dict[int, float], send_by: float, now: datetime
) -> dict[int, _Attempt]:
    """The provider calls of the claimed ``rows``: SMS in the thread pool, email in this thread meanwhile."""

    def attempt(n: Notification) -> _Attempt:
        previous_token, previous_claim_at = previous[n.pk]
        return _attempt(
            n,
            previous_token=previous_token,
            since=previous_claim_at or now,
            slot_at=slot_at.get(n.pk),
            send_by=send_by,
        )

    sms = {n.pk: _executor().submit(attempt, n) for n in rows if n.channel == NotificationChannel.SMS}
    done: dict[int, _Attempt] = {}
    for n in rows:
        future = sms.get(n.pk)
        try:
            done[n.pk] = future.result() if future is not None else attempt(n)
        except Exception as exc:
            # Not a provider answer we know: the message may have left. Keep the claim; once it is stale the
            # sweep's re-drive asks the provider before sending again.
            log.exception("notification %s: unexpected error while sending", n.pk)
            done[n.pk] = _Attempt(error=f"{type(exc).__name__}: {exc}", keep_claim=True, retry=False)
    return done


def _attempt(
    n: Notification, *, previous_token: str, since: datetime, slot_at: float | None, send_by: float
) -> _Attempt:
    """One claimed row's provider calls. Runs in a pool thread (SMS): no database access here."""
    if slot_at is not None and (delay := slot_at - time.monotonic()) > 0:
        time.sleep(delay)
    if time.monotonic() > send_by:
        return _Attempt(error="not sent: its claim was too old to call the provider safely")
    is_sms = n.channel == NotificationChannel.SMS
    backend = _thread_backend() if is_sms else None
    if previous_token and is_sms:
        # A dead worker's claim taken over: it may have handed this very message to the provider.
        try:
            earlier = backend.lookup(to=n.to, body=n.body, since=since)
        except SmsError as exc:
            return _Attempt(error=f"lookup before re-send failed: {exc}", keep_claim=True)
        if earlier is not None:
            return _Attempt(sent=True, provider_id=earlier.provider_id, recovered=True)
    try:
        return _Attempt(sent=True, provider_id=_deliver(n, backend=backend))
    except (SmsError, _EmailError) as exc:
        return _Attempt(error=str(exc), permanent=exc.permanent)


def _outcomes_record(
    rows: list[Notification], attempts: dict[int, _Attempt], *, token: str, now: datetime, result: BatchResult
) -> None:
    """Write every outcome of a part in one transaction, fenced on ``token``, with its audit events chained at the
    end (one advisory-lock hold, one INSERT)."""
    by_pk = {n.pk: n for n in rows}
    sent = {pk: a for pk, a in attempts.items() if a.sent}
    failed = {pk: a for pk, a in attempts.items() if not a.sent and a.permanent}
    released = {pk: a for pk, a in attempts.items() if not a.sent and not a.permanent and not a.keep_claim}
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
        if sent:
            ids_sql, ids_params = _case({pk: a.provider_id for pk, a in sent.items()})
            recorded = _update_returning(
                f"status = %s, provider_id = {ids_sql}, sent_at = %s, error = ''",
                [S.SENT, *ids_params, _sql_time(now)],
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
                notification_audit(by_pk[pk], kind="notification_sent", now=now, **detail)
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
                    notification_audit(by_pk[pk], kind="notification_failed", now=now, error=failed[pk].error[:500])
                    notification_fallback(notification=by_pk[pk], now=now)
    for pk, a in attempts.items():
        result.statuses[pk] = S.SENT if pk in sent else S.FAILED if pk in failed else S.PENDING
        if pk not in sent and pk not in failed and a.retry:
            result.retry.append(pk)
