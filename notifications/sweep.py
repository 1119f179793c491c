"""The deadline checker: claims obligations whose next action is due and acts on them.

The database is the source of truth: ``next_action_at`` (partial index ``obligation_next_action_idx``) says
when each obligation must next be looked at. Claims use ``SELECT … FOR UPDATE SKIP LOCKED`` so two sweeps
running at once split the work instead of doing it twice. For each claimed obligation, in one transaction:

1. the due steps of its frozen escalation plan (``notifications.escalation``) are resolved against the duty roster
   at that moment and written as one ``Notification`` row per (obligation, step, repeat, recipient, channel) with
   ``INSERT … ON CONFLICT DO NOTHING`` under ``notification_exactly_once``;
2. ``next_action_at`` moves to the plan's next moment (None when nothing is left);
3. each deadline that has passed with nothing filed is recorded once (``DeadlineBreach`` + audit event), last,
   so the audit chain's lock is held only for the end of the transaction;
4. on commit, the rows actually inserted go to batch send tasks (``send_notifications``), in chunks of at most
   ``notifications.batch.BATCH_SIZE``.

Sending is exactly once because the row exists before any provider call and the send task claims the row
(``notifications.delivery``); a lost task is re-driven here from the pending rows, never re-created. Each tick
also applies the provider's early status callbacks whose worker stopped before applying them
(``notifications.callbacks.early_statuses_sweep``).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q

from notifications import batch, escalation, roster
from notifications.callbacks import early_statuses_sweep
from notifications.models import Notification, NotificationChannel, NotificationStatus, SweepHeartbeat
from reporting.auditlog import events_deferred
from reporting.models import Contact, Obligation
from reporting.obligation_services import obligations_record_breaches

logger = logging.getLogger(__name__)

#: Obligations per claim and transaction: the send tasks are enqueued when it commits, so small keeps lag low.
BATCH = 100
REDRIVE_BATCH = 1000


def _redrive_after() -> timedelta:
    """A pending row older than this with no live claim is assumed to have lost its send task."""
    return timedelta(seconds=getattr(settings, "NOTIFICATION_REDRIVE_AFTER_SECONDS", 30))


def _claim_lease() -> timedelta:
    """How long a send claim (``claimed_at``) is trusted; the same lease as ``notifications.delivery``."""
    return timedelta(seconds=getattr(settings, "NOTIFICATION_CLAIM_STALE_SECONDS", 60))


def _claim(now: datetime):
    qs = Obligation.objects.due_before(now).order_by("next_action_at").select_related("incident", "unit")
    if connection.vendor == "postgresql":
        return qs.select_for_update(skip_locked=True, no_key=True, of=("self",))[:BATCH]
    return qs.select_for_update()[:BATCH]


def sweep_run(*, now: datetime) -> int:
    """One tick: act on every due obligation, in batches; re-drive lost sends; heartbeat. Returns how many
    obligations were claimed."""
    claimed = 0
    while True:
        with transaction.atomic(), events_deferred():
            batch = list(_claim(now))
            fired = fired_steps_by_obligation([o.pk for o in batch])
            # One roster query and one INSERT for the whole batch: a tick costs per query, not per row.
            duties = roster.on_duty_many(units={o.unit_id: o.unit for o in batch}.values(), at=now)
            rows: list[Notification] = []
            for obligation in batch:
                rows += obligation_rows(
                    obligation=obligation, now=now, fired=fired.get(obligation.pk, set()), duties=duties
                )
            merged = [row for row in rows if row.status == NotificationStatus.CANCELLED]  # ``merge_same_moment``
            new_ids = _insert_ignoring_conflicts([row for row in rows if row.status != NotificationStatus.CANCELLED])
            _insert_ignoring_conflicts(merged)  # recorded as fired, never sent
            _next_actions_save(batch)
            # The breaches' audit events are chained at the end of the block, in one INSERT right before the commit:
            # the chain's append lock is transaction-scoped, and every other appender (the send tasks'
            # "notification_sent" events, the other sweeps) waits for it.
            obligations_record_breaches(obligations=batch, now=now)
            enqueue_on_commit(new_ids)
        claimed += len(batch)
        if len(batch) < BATCH:
            break
    notifications_redrive(now=now)
    early_statuses_sweep()  # a provider's early failed whose worker stopped before applying it
    heartbeat_record(now=now, claimed=claimed)
    return claimed


def _next_actions_save(batch: list[Obligation]) -> None:
    """One statement for the whole batch: a tick costs per query, not per row."""
    if not batch:
        return
    if connection.vendor != "postgresql":
        Obligation.objects.bulk_update(batch, ["next_action_at"])
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE reporting_obligation AS o SET next_action_at = v.t"
            " FROM (SELECT unnest(%s::bigint[]) AS id, unnest(%s::timestamptz[]) AS t) AS v WHERE o.id = v.id",
            [[o.pk for o in batch], [o.next_action_at for o in batch]],
        )


def clock_of(obligation: Obligation) -> escalation.Clock:
    return escalation.Clock(
        verbal_due_at=obligation.verbal_due_at,
        written_due_at=obligation.written_due_at,
        verbal_state=obligation.verbal_state,
        written_state=obligation.written_state,
    )


def fired_steps(obligation: Obligation) -> set[tuple[str, int]]:
    """The (step, repeat) pairs that already have notification rows for this obligation."""
    return fired_steps_by_obligation([obligation.pk]).get(obligation.pk, set())


def fired_steps_by_obligation(ids: list[int]) -> dict[int, set[tuple[str, int]]]:
    fired: dict[int, set[tuple[str, int]]] = {}
    if not ids:
        return fired
    rows = Notification.objects.filter(obligation_id__in=ids).values_list("obligation_id", "step", "repeat").distinct()
    for obligation_id, step, repeat in rows:
        fired.setdefault(obligation_id, set()).add((step, repeat))
    return fired


def obligation_rows(
    *,
    obligation: Obligation,
    now: datetime,
    fired: set[tuple[str, int]],
    duties: dict[int, roster.OnDuty] | None = None,
) -> list[Notification]:
    """Act on one claimed (row-locked) obligation at ``now``, given the steps already ``fired`` for it: the
    notification rows its due steps call for (unsaved: the caller inserts a whole batch's in one statement and
    records the breaches), and ``obligation.next_action_at`` set (the caller saves it). ``duties``: the rosters
    already read at ``now`` (``roster.on_duty_many``)."""
    plan = obligation.escalation_plan or []
    clock = clock_of(obligation)
    rows_by_deadline: dict[str, list[Notification]] = {}
    carriers: list[Notification] = []  # written rows a verbal one may fold into: not reminders
    gaps: dict[datetime, list[roster.GapNeed]] = {}  # by moment: the steps of one moment make one need
    for moment in escalation.due_steps(plan, clock, now=now, fired=fired):
        contacts = roster.audience_resolve(
            unit=obligation.unit,
            audience=moment.audience,
            at=now,
            incident=obligation.incident,
            obligation=obligation,
            step=moment.key,
            repeat=moment.repeat,
            duties=duties,
            gaps=gaps.setdefault(moment.at, []),
        )
        if moment.is_repeat:
            contacts = _without_acknowledged(contacts, obligation=obligation, plan=plan, deadline=moment.deadline)
        rows = notification_rows(
            incident_id=obligation.incident_id,
            obligation_id=obligation.pk,
            step=moment.key,
            repeat=moment.repeat,
            contacts=contacts,
            channels=moment.channels,
            scheduled_for=moment.at,
            now=now,
        )
        rows_by_deadline.setdefault(moment.deadline, []).extend(rows)
        if moment.deadline == "written" and not moment.is_reminder:
            carriers += rows
    for needs in gaps.values():
        roster.gaps_record(needs, incident=obligation.incident, obligation=obligation)
    obligation.next_action_at = escalation.next_action_at(plan, clock, now=now)
    return merge_same_moment(rows_by_deadline.get("verbal", []), into=carriers) + rows_by_deadline.get("written", [])


#: The error of a verbal-deadline row that ``merge_same_moment`` folded into a written step's message.
MERGED_ERROR = "并入同时发出的书面报催报 (merged into {step})"


def merge_same_moment(verbal: list[Notification], *, into: list[Notification]) -> list[Notification]:
    """One message per person and channel per moment of an obligation: a ``verbal``-deadline row whose recipient
    gets a written-deadline row (``into``) on the same channel in the same tick is written ``cancelled``, its error
    naming the written step, so it counts as fired and is never sent. Returns ``verbal``.

    The default ladder puts the verbal step's repeats (every 15 minutes after the verbal deadline) on the written
    deadline's own moments (written due, and its repeats 15 and 30 minutes later): a silent unit's officer, shift
    leader and leader on shift would each get two SMS in the same second, three times over. The written message
    asks for the report that discharges both deadlines (SPEC rule 3); the verbal deadline's breach, board alarm and
    findings read the obligation, not its messages, and are unaffected. Only an overdue message carries a verbal
    one (the caller passes no reminder in ``into``): a written reminder says time is left, and a ladder that puts
    it on the verbal deadline must still say that the verbal report is overdue."""
    written = {(row.recipient.pk, row.channel): row.step for row in into}
    for row in verbal:
        if step := written.get((row.recipient.pk, row.channel)):
            row.status = NotificationStatus.CANCELLED
            row.error = MERGED_ERROR.format(step=step)
    return verbal


def _without_acknowledged(contacts: list[Contact], *, obligation: Obligation, plan: list[dict], deadline: str):
    """SPEC: a recipient who acknowledged gets no more repeats for that deadline (escalation still goes on)."""
    keys = [s["key"] for s in plan if escalation.DEADLINE_OF_ANCHOR[s["anchor"]] == deadline]
    acked = set(
        Notification.objects.filter(
            obligation=obligation, step__in=keys, status=NotificationStatus.ACKNOWLEDGED
        ).values_list("recipient_id", flat=True)
    )
    if deadline == "verbal":
        # A verbal message folded into a written one (``merge_same_moment``) was acknowledged with the message that
        # carried it: the person replied to the one SMS they got at that moment, written in the same tick (the same
        # ``created_at``; not always the same ``scheduled_for``: a catch-up folds the verbal step's own message,
        # planned at the verbal due, into the written one).
        carrier_acked = Notification.objects.filter(
            obligation=obligation,
            recipient_id=OuterRef("recipient_id"),
            channel=OuterRef("channel"),
            created_at=OuterRef("created_at"),
            status=NotificationStatus.ACKNOWLEDGED,
        ).exclude(step__in=keys)
        acked |= set(
            Notification.objects.filter(
                obligation=obligation,
                step__in=keys,
                status=NotificationStatus.CANCELLED,
                error__startswith=MERGED_ERROR.split("{", 1)[0],
            )
            .filter(Exists(carrier_acked))
            .values_list("recipient_id", flat=True)
        )
    return [c for c in contacts if c.pk not in acked]


def address_of(contact: Contact, channel: str) -> str:
    """Where a channel reaches a contact: the phone for SMS and voice, the email address for email."""
    return (contact.email if channel == NotificationChannel.EMAIL else contact.phone) or ""


def notifications_insert(**fields) -> list[int]:
    """Write one pending row per (contact, channel) with an address; a row that already exists is left alone
    (``ON CONFLICT DO NOTHING`` under ``notification_exactly_once``). Takes ``notification_rows``'s keyword
    arguments; returns the ids actually inserted."""
    return _insert_ignoring_conflicts(notification_rows(**fields))


def notification_rows(
    *,
    incident_id: int,
    obligation_id: int | None,
    step: str,
    repeat: int,
    contacts: list[Contact],
    channels,
    scheduled_for: datetime,
    now: datetime,
    about: Contact | None = None,
) -> list[Notification]:
    """The unsaved pending rows for ``step`` (``repeat``) of an incident or obligation: one per (contact, channel)
    with an address, ``scheduled_for`` its moment, ``created_at`` now; ``about``: the person the recipients are asked
    to reach (an event rule's district leader with no mobile number, ``notifications.events``)."""
    return [
        Notification(
            incident_id=incident_id,
            obligation_id=obligation_id,
            step=step,
            repeat=repeat,
            channel=channel,
            recipient=contact,
            to=address_of(contact, channel),
            scheduled_for=scheduled_for,
            created_at=now,
            about=about,
        )
        for contact in contacts
        for channel in channels
        if address_of(contact, channel)
    ]


def _insert_ignoring_conflicts(rows: list[Notification]) -> list[int]:
    """Django's ``bulk_create(ignore_conflicts=True)`` cannot say which rows went in; this can (RETURNING)."""
    if not rows:
        return []
    meta = Notification._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    qn = connection.ops.quote_name
    columns = ", ".join(qn(f.column) for f in fields)
    values = [[f.get_db_prep_save(f.pre_save(row, True), connection) for f in fields] for row in rows]
    if connection.vendor == "postgresql":
        # One array per column: a short statement with one placeholder per column, whatever the number of rows
        # (psycopg parses a statement's placeholders in Python, and caches only short statements).
        arrays = ", ".join(f"%s::{f.db_type(connection)}[]" for f in fields)
        rows_sql = f"SELECT * FROM unnest({arrays})"  # noqa: S608 (the model's own column types)
        params = [list(column) for column in zip(*values, strict=True)]
    else:
        one = "(" + ", ".join(["%s"] * len(fields)) + ")"
        rows_sql, params = "VALUES " + ", ".join([one] * len(rows)), [x for row in values for x in row]
    # Identifiers and types come from the model's own metadata; every value is a bound parameter.
    sql = f"INSERT INTO {qn(meta.db_table)} ({columns}) {rows_sql} "  # noqa: S608
    sql += f"ON CONFLICT DO NOTHING RETURNING {qn(meta.pk.column)}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [r[0] for r in cursor.fetchall()]


def chunks_of(ids: list[int], size: int) -> list[list[int]]:
    """``ids`` in order, in as few chunks of at most ``size`` as possible, of even lengths (21 by 20: 11 and 10), so
    the workers share a burst evenly."""
    if not ids:
        return []
    count = -(-len(ids) // size)
    step = -(-len(ids) // count)
    return [ids[i : i + step] for i in range(0, len(ids), step)]


def enqueue_on_commit(ids: list[int]) -> None:
    """Hand the new rows to batch send tasks once they are committed (a task never sees an uncommitted row)."""
    if not ids:
        return
    chunks = chunks_of(ids, batch.BATCH_SIZE)

    def send() -> None:
        from notifications.tasks import send_notifications

        for chunk in chunks:
            try:
                send_notifications.delay(chunk)
            except Exception:  # the broker is down: the rows stay pending and the sweep re-drives them
                logger.exception("could not enqueue notifications %s; the sweep will re-drive them", chunk)
                return

    transaction.on_commit(send)


def notifications_redrive(*, now: datetime) -> int:
    """Re-enqueue pending rows whose send task may be lost (a worker killed, the broker flushed): pending and never
    handed to a provider for longer than ``NOTIFICATION_REDRIVE_AFTER_SECONDS``, with no claim younger than the
    lease (``NOTIFICATION_CLAIM_STALE_SECONDS``, the same rule ``notifications.delivery`` claims by), and not
    re-driven within the last interval. The send task's claim makes a duplicate task harmless.
    Returns how many rows were re-driven."""
    stale = now - _redrive_after()
    lease = now - _claim_lease()
    with transaction.atomic():
        qs = (
            Notification.objects.filter(
                status=NotificationStatus.PENDING, provider_id="", scheduled_for__lte=stale, created_at__lte=stale
            )
            .filter(Q(claimed_by="") | Q(claimed_at__isnull=True) | Q(claimed_at__lt=lease))
            .filter(Q(redriven_at__isnull=True) | Q(redriven_at__lt=stale))
            .order_by("scheduled_for")
        )
        if connection.vendor == "postgresql":
            qs = qs.select_for_update(skip_locked=True, no_key=True)
        ids = list(qs.values_list("pk", flat=True)[:REDRIVE_BATCH])
        if ids:
            Notification.objects.filter(pk__in=ids).update(redriven_at=now)
            enqueue_on_commit(ids)
    return len(ids)


def heartbeat_record(*, now: datetime, claimed: int = 0) -> None:
    SweepHeartbeat.objects.update_or_create(name="sweep", defaults={"beat_at": now, "claimed": claimed})
