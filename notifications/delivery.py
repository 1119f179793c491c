"""Sending notifications through their channel (SMS via SMS_BACKEND, email via Django's mailers) and the fallback.
Provider callbacks (status, acknowledgement replies) are in ``notifications.callbacks``.

Two entry points keep one contract: ``notifications.batch.notifications_send`` (the batch path: the sweep hands its
new rows to the ``send_notifications`` task in chunks of at most ``BATCH_SIZE``; re-drives and fallbacks go the same
way) and ``notification_send`` here (one row: the ``send_notification`` task, kept for tasks queued before the batch
path). This module also holds what both share: the claim condition, the channel call, the audit event, the fallback.

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
cancels unclaimed rows as soon as a report is filed; this check covers a row whose task was already running.) A
chunk's part, once claimed, can wait up to ``CLAIM_SPAN_SECONDS`` for its later rate slots: each SMS is checked
again just before it is handed to the provider (states at most ``batch.RECHECK_SECONDS`` old), and a discharged one
is closed the same way, fenced on the token.

Voice calls (the ``voice`` channel, 语音外呼). A voice row goes through the SMS backend's ``call`` (Twilio: a call
that says the row's body, ``messages.voice_text``, twice in Mandarin) under the same contract: claim, fencing,
discharge, the crash window. It has its own rate (``VOICE_RATE_PER_SECOND``, ``ratelimit.VOICE_KEY``) and never
takes an SMS slot: one row waits for a call slot before its claim; in a chunk the voice rows are placed one after
another on the process's call thread, each after its call slot and one more look at its deadline (read from the
database just then). A dead claim taken over asks ``lookup_call`` (any call to that number while the dead claim
could still call) instead of ``lookup``. The call status webhook maps Twilio's CallStatus (``callbacks``): answered
by a person → delivered; answered by a machine (AnsweredBy), busy, no-answer, failed, canceled → the fallback, an SMS
to the same person. A backend that cannot place calls at all (Twilio with no caller number: ``calls_unavailable``) has
its voice rows failed at once, never claimed and with no call slot, with that fallback (``voice_refused``).

Times. ``sent_at`` and the ``notification_sent``/``notification_failed`` events carry the moment the provider
answered that call, not the claim's. A provider status callback that arrives before the id is recorded is kept and
applied when it is (``notifications.callbacks.early_statuses_apply``), so an early ``failed`` still falls back.
"""

from __future__ import annotations

import logging
import smtplib
import time
from collections.abc import Collection
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import F, Q

from notifications import messages, ratelimit, roster
from notifications.models import Notification, NotificationChannel, NotificationStatus
from notifications.sms import SmsError, calls_unavailable, get_backend
from reporting.auditlog import event_append
from reporting.models import Contact, DeadlineState, Incident, Shift

log = logging.getLogger(__name__)

#: A claim older than this belongs to a dead worker: the provider call times out after 10 s and the rate-limit wait
#: happens before the claim. Equal to the sweep's re-drive lease (``notifications.sweep.CLAIM_LEASE``).
CLAIM_STALE_SECONDS = float(getattr(settings, "NOTIFICATION_CLAIM_STALE_SECONDS", 60))
#: A claimed row whose provider call has not started this long after the claim is released instead of sent: the
#: call (and a lookup before it, 10 s timeout each) then always ends long before the claim could look dead.
SEND_WITHIN_SECONDS = CLAIM_STALE_SECONDS / 3
#: The seconds after its claim within which a dead worker can have placed a call: it starts within
#: ``SEND_WITHIN_SECONDS`` and its request times out after 10 s. ``earlier_send`` looks for a call only in there.
CALL_PLACED_WITHIN_SECONDS = SEND_WITHIN_SECONDS + 10

S = NotificationStatus


class TransientError(Exception):
    """A provider error worth retrying (timeouts, 5xx, 429); the send task retries with backoff."""


def stale_before(now: datetime) -> datetime:
    return now - timedelta(seconds=CLAIM_STALE_SECONDS)


def claimable(now: datetime) -> Q:
    """Rows a new token may claim: pending, never handed to the provider, unclaimed or claimed by a dead worker."""
    return Q(status=S.PENDING, provider_id="") & (
        Q(claimed_by="") | Q(claimed_at__isnull=True) | Q(claimed_at__lt=stale_before(now))
    )


def notifications_to_redrive(*, now: datetime):
    """Selector for a dispatcher's re-drive: pending rows due by ``now`` that no live worker holds."""
    return Notification.objects.filter(scheduled_for__lte=now).filter(claimable(now))


def _enqueue(notification_id: int) -> None:
    """Hand the row to a send task once committed; with the broker down the row stays pending and the sweep
    re-drives it (never an error for the caller, whose work is already committed: a webhook, a batch's outcomes)."""
    from notifications.sweep import enqueue_on_commit  # sweep imports this module

    enqueue_on_commit([notification_id])


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
    if not Notification.objects.filter(pk=n.pk).filter(claimable(now)).exists():
        return n.status  # sent, closed, or held by a live worker: nothing to do

    is_sms = n.channel == NotificationChannel.SMS
    is_voice = n.channel == NotificationChannel.VOICE
    refused = voice_refused(n, now=now) if is_voice else None
    if refused is not None:
        return refused
    if is_sms or is_voice:
        # Before the claim: a slot wasted by a lost claim costs nothing. The wait moves our clock on, so the claim
        # is dated when it is really taken (a long queue must not make a fresh claim look stale). A call waits for
        # the call rate, never taking an SMS slot.
        now = now + timedelta(seconds=ratelimit.acquire_call() if is_voice else ratelimit.acquire())
        if n.obligation_id:
            n.obligation.refresh_from_db(fields=["verbal_state", "written_state"])  # a report filed meanwhile

    reason = step_discharged(n)
    if reason:
        with transaction.atomic():
            closed = (
                Notification.objects.filter(pk=n.pk)
                .filter(claimable(now))
                .update(status=S.CANCELLED, error=f"discharged: {reason}")
            )
            if closed:
                notification_audit(n, kind="notification_cancelled", now=now, reason=reason)
        return S.CANCELLED

    body, subject = compose(n, now=now)
    # Compare-and-swap on the previous holder too, so we know exactly whose claim (if anyone's) we took over.
    previous_token, previous_claim_at = n.claimed_by, n.claimed_at
    claimed = (
        Notification.objects.filter(pk=n.pk, claimed_by=previous_token)
        .filter(claimable(now))
        .update(claimed_by=token, claimed_at=now, attempts=F("attempts") + 1, body=body, subject=subject[:200])
    )
    if claimed != 1:
        return Notification.objects.values_list("status", flat=True).get(pk=n.pk)
    n.body, n.subject = body, subject[:200]
    claimed_at = time.monotonic()

    def answered() -> datetime:
        """The moment the provider answered, on the clock of ``now``: the outcome's time, not the claim's."""
        return now + timedelta(seconds=time.monotonic() - claimed_at)

    if previous_token and (is_sms or is_voice):
        # We took over a dead worker's claim: it may have handed this very message (or placed this call) just
        # before dying. Ask the provider first; only a message it does not know is sent again.
        try:
            since = previous_claim_at or now
            held = calls_held(n, since=since) if is_voice else set()
            earlier = earlier_send(get_backend(), n, since=since, held=held)
        except SmsError as exc:
            # Cannot tell: keep the claim, so nobody sends until it is stale again and the question is asked again.
            raise TransientError(f"lookup before re-send failed: {exc}") from exc
        if earlier is not None:
            return _record_sent(n, token=token, now=answered(), provider_id=earlier.provider_id, recovered=True)

    try:
        provider_id = deliver(n)
    except (SmsError, EmailError) as exc:
        return _failed_attempt(n, token=token, now=answered(), error=str(exc), permanent=exc.permanent)
    return _record_sent(n, token=token, now=answered(), provider_id=provider_id)


def compose(n: Notification, *, now: datetime) -> tuple[str, str]:
    """The body and subject of ``n`` at ``now``, keeping what was already saved: an SMS's text, a call's spoken
    text (``messages.voice_text``), an email's body and subject. Reads the facts only when something is missing."""
    if n.body and (n.subject or n.channel != NotificationChannel.EMAIL):
        return n.body, n.subject
    facts = messages.facts_for(n)
    if n.channel == NotificationChannel.SMS:
        return n.body or messages.sms_text(facts, now=now), ""
    if n.channel == NotificationChannel.VOICE:
        return n.body or messages.voice_text(facts, now=now), ""
    return n.body or messages.email_body(facts, now=now), (n.subject or messages.email_subject(facts, now=now))[:200]


def earlier_send(backend, n: Notification, *, since: datetime, held: Collection[str] = ()):
    """What the provider already has of ``n`` from the dead claim dated ``since``: the same text to the same number
    for an SMS (``lookup``); for a call, a call to that number placed while the dead claim could still call
    (``lookup_call``: a provider keeps no text of a call, and the dead worker could only call within
    ``CALL_PLACED_WITHIN_SECONDS`` of its claim), but none of ``held`` (``calls_held``: the calls other
    notifications already hold, such as another incident's call to the same officer). None: not found, or the
    backend cannot tell."""
    if n.channel == NotificationChannel.VOICE:
        until = since + timedelta(seconds=CALL_PLACED_WITHIN_SECONDS)
        return backend.lookup_call(to=n.to, since=since, until=until, exclude=held)
    return backend.lookup(to=n.to, body=n.body, since=since)


def calls_held(n: Notification, *, since: datetime) -> set[str]:
    """The provider ids of the other calls to ``n``'s number recorded since a little before ``since``: a call one
    of them holds is not ``n``'s (``earlier_send``)."""
    recorded = Notification.objects.filter(
        channel=NotificationChannel.VOICE, to=n.to, sent_at__gte=since - timedelta(minutes=2)
    ).exclude(pk=n.pk)
    return set(recorded.exclude(provider_id="").values_list("provider_id", flat=True))


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
    from notifications.callbacks import early_statuses_apply  # callbacks imports this module

    early_statuses_apply([provider_id])  # a status the provider sent before we recorded its id
    return S.SENT


class EmailError(Exception):
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


def deliver(n: Notification, *, backend=None) -> str:
    """Hand the message to the channel (SMS and voice calls through ``backend``, default a new one: a call says
    the row's body); the provider's id (the call sid for voice, the Message-ID for email)."""
    if n.channel == NotificationChannel.SMS:
        return (backend or get_backend()).send(to=n.to, body=n.body).provider_id
    if n.channel == NotificationChannel.VOICE:
        return (backend or get_backend()).call(to=n.to, text=n.body).provider_id
    if n.channel == NotificationChannel.EMAIL:
        message_id = email_message_id(n)
        message = EmailMessage(
            n.subject, n.body, settings.DEFAULT_FROM_EMAIL, [n.to], headers={"Message-ID": message_id}
        )
        try:
            message.send(using="default")
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused) as exc:
            raise EmailError(f"smtp: {exc}", permanent=True) from exc
        except smtplib.SMTPResponseException as exc:
            raise EmailError(f"smtp {exc.smtp_code}: {exc.smtp_error!r}", permanent=exc.smtp_code >= 500) from exc
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            raise EmailError(f"smtp: {type(exc).__name__}: {exc}", permanent=False) from exc
        return message_id
    raise SmsError(f"channel {n.channel} is not supported", permanent=True, code="channel")


def failure_log(n: Notification, error: str, *, outcome: str, level: int = logging.WARNING) -> None:
    """The worker's log line of a send that did not go out (the row keeps the error too): the notification, its
    incident, obligation, step and channel, and the provider's error, so an operator can find the deadline being
    chased. Never the message text: it carries the signed filing link."""
    number = Incident.objects.filter(pk=n.incident_id).values_list("number", flat=True).first() or "?"
    log.log(
        level,
        "notification %s (incident %s (%s), obligation %s, step %s repeat %s, %s to contact %s) %s: %s",
        n.pk,
        n.incident_id,
        number,
        n.obligation_id,
        n.step,
        n.repeat,
        n.channel,
        n.recipient_id,
        outcome,
        error,
    )


def _failed_attempt(n: Notification, *, token: str, now: datetime, error: str, permanent: bool) -> str:
    failure_log(
        n,
        error,
        outcome="failed, falling back" if permanent else "not sent, to be retried",
        level=logging.ERROR if permanent else logging.WARNING,
    )
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


def voice_refused(n: Notification, *, now: datetime) -> str | None:
    """A voice row the configured backend cannot place (``calls_unavailable``: Twilio with no caller number) is
    recorded failed at once, with the reason, never claimed and without waiting for a call slot, and falls back to an
    SMS to the same person, as an unanswered call does: the status after that. None when the call can be placed, or
    when its deadline is discharged (the send path closes it as for any row)."""
    why = calls_unavailable()
    if not why or step_discharged(n):
        return None
    error = f"config: {why}"
    with transaction.atomic():
        failed = (
            Notification.objects.filter(pk=n.pk, status=S.PENDING)
            .filter(claimable(now))
            .update(status=S.FAILED, error=error)
        )
        if not failed:
            return Notification.objects.values_list("status", flat=True).get(pk=n.pk)
        failure_log(n, error, outcome="not placed, falling back to SMS")
        notification_audit(n, kind="notification_failed", now=now, error=error[:500])
        notification_fallback(notification=n, now=now)
    return S.FAILED


def _next_contact(n: Notification, *, now: datetime) -> Contact | None:
    """The next person for the same step of an obligation: someone on post in the recipient's unit now, else a
    default contact, not yet sent this step by SMS. None for an incident-level event row: its recipient is a district
    leader, and whoever else works in the leader's office is nobody's choice (see ``_fallback_phones``)."""
    if n.obligation_id is None:
        return None
    unit_id = n.recipient.unit_id if n.recipient_id else n.obligation.unit_id
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


def _fallback_phones(n: Notification, *, now: datetime) -> list[Contact]:
    """Who gets an SMS when ``n``'s SMS failed. For an obligation's step, the next contact of the same unit. For an
    event rule (a death, a grade: a district leader, SPEC "Escalation") everyone on post in the district duty room,
    whose SMS names the leader it could not reach, so one of them phones the leader; never a colleague of the
    leader's who happens to work in the same office."""
    if n.obligation_id is not None:
        nxt = _next_contact(n, now=now)
        return [nxt] if nxt is not None else []
    room = roster.duty_room_on_post(at=now, incident=n.incident, step=n.step, repeat=n.repeat)
    return [c for c in room if c.pk != n.recipient_id and c.phone]


def _about(n: Notification) -> Contact | None:
    """Whom the fallbacks of ``n`` ask their recipients to reach: for an event rule (no obligation), the person the
    fallback chain started with (the district leader whose SMS failed); None for an obligation's step, whose next
    contact is asked to do the step itself."""
    if n.obligation_id is not None:
        return None
    if n.about_id is not None:
        return n.about
    first = n
    while first.fallback_of_id is not None:  # back to the leader's own row (SMS or call)
        first = first.fallback_of
    return first.recipient


def notification_fallback(*, notification: Notification, now: datetime) -> list[Notification]:
    """An SMS that failed or went undelivered: an email to the same person (if they have one) and an SMS to the
    next contact (``_fallback_phones``: for a district leader, the duty room on post); a voice call that was not
    answered (busy, no-answer) or failed: an SMS to the same person (whose own failure falls back as above). As new
    rows with ``fallback_of``, each sent on commit.

    An event rule's fallback to someone other than the person its chain started with (the duty room, asked to phone
    the district leader whose SMS failed) records that leader in ``about`` (``_about``), which the exactly-once
    constraint includes: when two leaders of one step are unreached, each duty room officer gets one SMS per leader,
    each naming its leader. Every other row is about nobody (NULL), so a row the constraint already holds is not
    created again: the step's own email to the leader (or its SMS, for a call's fallback); the next contact of an
    obligation's step, who already has that step; a duty room officer already asked about that same leader (a
    failed duty room SMS falls back to the rest of the room, already asked). Must run inside the transaction that
    marked the notification failed/undelivered, which only one caller can do."""
    n = notification
    if n.channel not in (NotificationChannel.SMS, NotificationChannel.VOICE):
        return []
    if n.obligation_id:
        # A reminder whose deadline has passed is no longer worth chasing down: its overdue step (a wider audience,
        # SMS and email) has taken over, and a fallback would still say "time is left" (chasing review). Which
        # deadline, and whether it is a reminder, come from the frozen plan: the admin names steps freely.
        obligation = n.obligation
        deadline, reminder = messages.step_deadline(step=n.step, plan=obligation.escalation_plan, kind=obligation.kind)
        due = obligation.written_due_at if deadline == messages.WRITTEN else obligation.verbal_due_at
        if reminder and due is not None and now > due:
            return []
    wanted: list[tuple[str, Contact | None, str]] = []
    if n.channel == NotificationChannel.VOICE:
        # A call nobody answered (or that failed): an SMS to the same phone, which can be read later. Only that: if
        # the SMS fails in turn, its own fallback brings the email and the next contact. If the step already sends
        # this person an SMS, that SMS stands (the unique constraint) and nothing is added.
        wanted.append((NotificationChannel.SMS, n.recipient, n.to))
    elif n.recipient_id and n.recipient.email:
        wanted.append((NotificationChannel.EMAIL, n.recipient, n.recipient.email))
    for contact in _fallback_phones(n, now=now) if n.channel == NotificationChannel.SMS else []:
        wanted.append((NotificationChannel.SMS, contact, contact.phone))
    unreached = _about(n)
    created = []
    for channel, contact, to in wanted:
        about = unreached if unreached is not None and unreached.pk != getattr(contact, "pk", None) else None
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
                    about=about,
                )
        except IntegrityError:
            continue  # that person already has this step on that channel (about that leader): never twice
        _enqueue(row.pk)
        created.append(row)
    return created
