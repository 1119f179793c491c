"""Provider callbacks: message status (forward only) and acknowledgement replies. The webhooks call these."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef

from notifications.delivery import notification_audit, notification_fallback
from notifications.models import EarlyStatusCallback, Notification, NotificationChannel, NotificationStatus

S = NotificationStatus
#: Statuses only move forward. undelivered/failed are terminal for delivery; an acknowledgement ends everything.
RANK = {S.PENDING: 0, S.SENT: 1, S.DELIVERED: 2, S.UNDELIVERED: 3, S.FAILED: 3, S.ACKNOWLEDGED: 4, S.CANCELLED: 5}
#: Twilio's MessageStatus values mapped onto ours (queued/accepted/sending: the provider has it, i.e. sent).
TWILIO_STATUS = {
    "accepted": S.SENT,
    "scheduled": S.SENT,
    "queued": S.SENT,
    "sending": S.SENT,
    "sent": S.SENT,
    "delivered": S.DELIVERED,
    "read": S.DELIVERED,
    "undelivered": S.UNDELIVERED,
    "failed": S.FAILED,
    "canceled": S.FAILED,
}
#: Twilio's CallStatus values (the voice channel) mapped onto ours: ``in-progress`` (the ``answered`` event) and
#: ``completed`` mean a person picked up (delivered: the call was heard). A call that voicemail, a fax or a carrier's
#: recording took is ``answered-by-machine`` (``MACHINE_STATUS``: the webhook's name for ``completed`` with a
#: machine's ``AnsweredBy``, from Twilio's machine detection), undelivered like busy and no-answer; failed and
#: canceled are failed, and all of them start the fallback (an SMS to the same person). queued/initiated/ringing:
#: the provider has it, i.e. sent. No
#: CallStatus means something else as a MessageStatus (queued, failed and canceled mean the same), so one table
#: maps both and a kept early callback (``EarlyStatusCallback``) is applied the same way for a call as for an SMS.
TWILIO_CALL_STATUS = {
    "queued": S.SENT,
    "initiated": S.SENT,
    "ringing": S.SENT,
    "in-progress": S.DELIVERED,
    "completed": S.DELIVERED,
    "busy": S.UNDELIVERED,
    "no-answer": S.UNDELIVERED,
    "answered-by-machine": S.UNDELIVERED,
    "failed": S.FAILED,
    "canceled": S.FAILED,
}
PROVIDER_STATUS = {**TWILIO_STATUS, **TWILIO_CALL_STATUS}
#: The CallStatus the webhook records for an answered call whose ``AnsweredBy`` is a machine (``call_status_seen``).
MACHINE_STATUS = "answered-by-machine"
#: Twilio's machine detection verdicts that mean no person heard the call. ``human`` and ``unknown`` (detection
#: could not tell: often a person who said nothing) count as heard.
MACHINE_ANSWERS = ("machine_start", "machine_end_beep", "machine_end_silence", "machine_end_other", "fax")


def call_status_seen(call_status: str, answered_by: str) -> str:
    """The status a call's callback stands for: an answered call (``in-progress``/``completed``) that machine
    detection says a machine took is ``MACHINE_STATUS``; anything else is the CallStatus as it came."""
    if call_status.lower() in ("in-progress", "completed") and answered_by.lower() in MACHINE_ANSWERS:
        return MACHINE_STATUS
    return call_status


ACK_REPLIES = {"1", "收到", "ok"}


#: A kept early status callback nobody claimed (a message of another system on the same account) goes after this.
EARLY_STATUS_KEPT_DAYS = 7


def notification_record_status(*, provider_id: str, provider_status: str, error_code: str = "", now: datetime) -> str:
    """A provider status callback, of a message (MessageStatus) or a call (CallStatus). Moves the status only
    forward (a late ``sent`` never overwrites ``delivered``), so repeats and out-of-order callbacks are harmless;
    ``undelivered``/``failed`` start the fallback once.

    A callback for an id not recorded yet is kept (``EarlyStatusCallback``) when it would change something: the
    worker records a part's provider ids after all its calls, and the provider may call back before that. Whichever
    side comes second applies it: the worker looks for kept callbacks after recording the ids
    (``early_statuses_apply``), and this looks for the id once more after keeping the callback, so one of the two
    always sees the other's write; applying twice is harmless (forward only, under a row lock). A worker that stops
    between recording and looking leaves it to the sweep (``early_statuses_sweep``).
    Returns what happened: "updated", "ignored", "kept" or "unknown"."""
    target = PROVIDER_STATUS.get(provider_status.lower())
    if target is None or not provider_id:
        return "ignored"
    outcome = _status_apply(provider_id=provider_id, target=target, raw=provider_status, code=error_code, now=now)
    if outcome != "unknown" or RANK[target] <= RANK[S.SENT]:
        return outcome
    EarlyStatusCallback.objects.filter(received_at__lt=now - timedelta(days=EARLY_STATUS_KEPT_DAYS)).delete()
    kept = EarlyStatusCallback.objects.create(
        provider_id=provider_id, provider_status=provider_status[:20], error_code=error_code[:32], received_at=now
    )
    outcome = _status_apply(provider_id=provider_id, target=target, raw=provider_status, code=error_code, now=now)
    if outcome == "unknown":
        return "kept"
    kept.delete()
    return outcome


def early_statuses_apply(provider_ids: Iterable[str]) -> int:
    """Apply, then delete, the status callbacks kept for ``provider_ids``, each as of when it came. Call it after
    the transaction that recorded those ids has committed. Returns how many were applied."""
    ids = [pid for pid in dict.fromkeys(provider_ids) if pid]
    if not ids:
        return 0
    kept = list(EarlyStatusCallback.objects.filter(provider_id__in=ids))
    for callback in kept:
        target = PROVIDER_STATUS.get(callback.provider_status.lower())
        if target is not None:
            _status_apply(
                provider_id=callback.provider_id,
                target=target,
                raw=callback.provider_status,
                code=callback.error_code,
                now=callback.received_at,
            )
        EarlyStatusCallback.objects.filter(pk=callback.pk).delete()
    return len(kept)


#: The most kept callbacks one sweep tick applies (``early_statuses_sweep``); the rest wait for the next tick.
EARLY_STATUS_SWEEP_BATCH = 500


def early_statuses_sweep() -> int:
    """Apply the kept callbacks whose id has been recorded since: the worker that recorded it normally applies them
    right after its commit (``early_statuses_apply``), but a worker stopped between the two, or a database error
    there, would leave an early ``failed`` unapplied, with no fallback, for good. The sweep calls this every tick:
    the table holds only callbacks still waiting, so the look is cheap. Returns how many were applied."""
    recorded = Notification.objects.filter(provider_id=OuterRef("provider_id"))
    ids = (
        EarlyStatusCallback.objects.filter(Exists(recorded))
        .order_by("received_at")
        .values_list("provider_id", flat=True)[:EARLY_STATUS_SWEEP_BATCH]
    )
    return early_statuses_apply(list(ids))


def _status_apply(*, provider_id: str, target: str, raw: str, code: str, now: datetime) -> str:
    """Move the notifications with ``provider_id`` forward to ``target``: "updated", "ignored" or "unknown". One id
    is one row; should two ever hold it (a call taken for a dead claim's by a race ``earlier_send`` cannot rule
    out: a call carries nothing of ours), both move, so neither is left ``sent`` with no fallback."""
    lower = [status for status, rank in RANK.items() if rank < RANK[target]]
    changes: dict = {"status": target}
    if target == S.DELIVERED:
        changes["delivered_at"] = now
    if target in (S.UNDELIVERED, S.FAILED):
        changes["error"] = f"twilio {raw}" + (f" {code}" if code else "")
    with transaction.atomic():
        rows = list(
            Notification.objects.select_for_update(no_key=True, of=("self",))
            .select_related("incident", "obligation", "recipient")
            .filter(provider_id=provider_id)
            .order_by("id")
        )
        if not rows:
            return "unknown"
        moved = [n for n in rows if n.status in lower]
        if not moved:
            return "ignored"
        for n in moved:
            Notification.objects.filter(pk=n.pk).update(**changes)
            n.status = target
            if target == S.DELIVERED:
                notification_audit(n, kind="notification_delivered", now=now, actor="twilio", provider_id=provider_id)
            elif target in (S.UNDELIVERED, S.FAILED):
                notification_audit(n, kind="notification_failed", now=now, actor="twilio", error=changes["error"])
                notification_fallback(notification=n, now=now)
    return "updated"


def is_ack_reply(text: str) -> bool:
    """``1``, ``收到`` or ``OK`` (case-insensitive, trimmed, full-width forms too)."""
    return unicodedata.normalize("NFKC", text or "").strip().casefold() in ACK_REPLIES


def phone_variants(phone: str) -> set[str]:
    """The forms a number may be stored in: +8617000000001, 8617000000001, 17000000001."""
    phone = phone.strip()
    variants = {phone}
    digits = phone.lstrip("+")
    variants |= {digits, "+" + digits}
    if digits.startswith("86") and len(digits) == 13:
        variants.add(digits[2:])
    return variants


def notifications_acknowledge(*, phone: str, now: datetime) -> list[Notification]:
    """A reply from ``phone`` acknowledges the most recent SMS sent to it: every sent or delivered SMS to that phone
    for the same incident and obligation. Repeats to that person then stop (the ladder checks
    ``acknowledged_at``); escalation to the duty room does not."""
    sent = Notification.objects.filter(
        channel=NotificationChannel.SMS, to__in=phone_variants(phone), status__in=[S.SENT, S.DELIVERED]
    )
    latest = sent.exclude(sent_at__isnull=True).order_by("-sent_at", "-id").first()
    if latest is None:
        return []
    same = sent.filter(incident_id=latest.incident_id, obligation_id=latest.obligation_id)
    return _acknowledge(same, actor=phone, now=now)


def call_acknowledge(*, call_sid: str, now: datetime) -> list[Notification]:
    """A key (1) pressed during a call acknowledges it as a reply to an SMS would: the call, and every sent or
    delivered SMS or call to the same phone for the same incident and obligation. Repeats to that person then stop;
    escalation does not. Nothing for a call not recorded (yet) or already closed."""
    if not call_sid:
        return []
    call = Notification.objects.filter(
        channel=NotificationChannel.VOICE, provider_id=call_sid, status__in=[S.SENT, S.DELIVERED]
    ).first()
    if call is None:
        return []
    rows = Notification.objects.filter(
        channel__in=[NotificationChannel.SMS, NotificationChannel.VOICE],
        to__in=phone_variants(call.to),
        status__in=[S.SENT, S.DELIVERED],
        incident_id=call.incident_id,
        obligation_id=call.obligation_id,
    )
    return _acknowledge(rows, actor=call.to, now=now)


def _acknowledge(rows, *, actor: str, now: datetime) -> list[Notification]:
    """Move ``rows`` (sent or delivered) to acknowledged, each with its audit event; under row locks, so two
    acknowledgements at once record each row once."""
    acked = []
    with transaction.atomic():
        for row in rows.select_for_update(no_key=True, of=("self",)).select_related("incident"):
            if Notification.objects.filter(pk=row.pk, status__in=[S.SENT, S.DELIVERED]).update(
                status=S.ACKNOWLEDGED, acknowledged_at=now
            ):
                row.status, row.acknowledged_at = S.ACKNOWLEDGED, now
                notification_audit(row, kind="notification_acknowledged", now=now, actor=actor)
                acked.append(row)
    return acked
