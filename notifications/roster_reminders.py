"""The daily 值班表 reminder: a unit whose roster leaves a 双人在岗 gap in the next 24 hours is told by email.

The chasing meets a roster gap only when it needs the unit's duty staff, then falls back to the default contacts
and records a finding. This tells the unit (its head and default contacts) the day before, so the gap is filled
instead. Once a day per unit (``RosterReminder``'s unique (unit, day)), from ``ROSTER_REMINDER_HOUR`` Shanghai time;
beat runs the job every half hour, so a beat that was down at that hour still sends later that day.

At most once: a row is claimed (pending → sending) before the email goes out, and a worker that dies mid-send leaves
it ``sending`` rather than send it twice; a daily reminder lost is cheaper than one repeated.
"""

from __future__ import annotations

import smtplib
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction

from notifications.messages import LOCAL_TZ, local_text
from notifications.models import RosterReminder
from reporting import selectors
from reporting.coverage import MIN_ON_POST
from reporting.models import Contact, ContactRole, Unit

#: The reminder looks this far ahead of the moment the job runs.
AHEAD = timedelta(hours=24)

S = RosterReminder.Status


def reminders_prepare(*, now: datetime) -> list[int]:
    """Today's reminder rows for the units whose roster has gaps in ``[now, now + AHEAD)``, once per unit and
    Shanghai day; the ids of the rows made now (none before ``ROSTER_REMINDER_HOUR``, or when it is unset)."""
    hour = settings.ROSTER_REMINDER_HOUR
    local_now = now.astimezone(LOCAL_TZ)
    if hour is None or local_now.hour < hour:
        return []
    day = local_now.date()
    done = set(RosterReminder.objects.filter(day=day).values_list("unit_id", flat=True))
    units = [u for u in selectors.rostered_units().order_by("id") if u.pk not in done]
    gaps_by_unit = selectors.roster_gaps(units=units, start=now, end=now + AHEAD)
    rows = []
    for unit in units:
        gaps = gaps_by_unit[unit.pk]
        if not gaps:
            continue
        recipients = _recipients(unit)
        rows.append(
            RosterReminder(
                unit=unit,
                day=day,
                gaps=[
                    {"starts_at": g.starts_at.isoformat(), "ends_at": g.ends_at.isoformat(), "on_post": g.on_post}
                    for g in gaps
                ],
                gap_seconds=int(sum(g.seconds for g in gaps)),
                recipients=recipients,
                status=S.PENDING if recipients else S.NO_RECIPIENT,
                created_at=now,
            )
        )
    # ignore_conflicts: a second run racing this one (two beats, a manual run) keeps the first row.
    RosterReminder.objects.bulk_create(rows, ignore_conflicts=True)
    return list(
        RosterReminder.objects.filter(day=day, created_at=now, status=S.PENDING, unit__in=[r.unit for r in rows])
        .order_by("id")
        .values_list("id", flat=True)
    )


def _recipients(unit: Unit) -> list[str]:
    """The unit head and the default contacts with an email, each address once."""
    people = Contact.objects.filter(unit=unit, active=True).exclude(email="")
    people = people.filter(role=ContactRole.UNIT_HEAD) | people.filter(is_default=True)
    return sorted({c.email for c in people})


def reminder_send(*, reminder_id: int, now: datetime) -> str:
    """Send one reminder if it is still pending; its final status."""
    with transaction.atomic():
        claimed = RosterReminder.objects.filter(pk=reminder_id, status=S.PENDING).update(status=S.SENDING)
    reminder = RosterReminder.objects.select_related("unit").get(pk=reminder_id)
    if not claimed:
        return reminder.status
    subject, body = reminder_text(reminder)
    try:
        EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, reminder.recipients).send(using="default")
    except (smtplib.SMTPException, OSError) as exc:
        RosterReminder.objects.filter(pk=reminder_id).update(status=S.FAILED, error=f"{type(exc).__name__}: {exc}")
        return S.FAILED
    RosterReminder.objects.filter(pk=reminder_id).update(status=S.SENT, sent_at=now)
    return S.SENT


def reminder_text(reminder: RosterReminder) -> tuple[str, str]:
    """The email (Chinese, as every notification): which stretches lack people, how many are on post then, and
    where to fix it."""
    unit = reminder.unit
    hours = round(reminder.gap_seconds / 3600, 1)
    lines = []
    for gap in reminder.gaps:
        who = "无人值班" if gap["on_post"] == 0 else f"仅 {gap['on_post']} 人在岗"
        span = " — ".join(local_text(datetime.fromisoformat(gap[end])) for end in ("starts_at", "ends_at"))
        lines.append(f"- {span}: {who}")
    subject = f"【值班表提醒】{unit.name} 未来24小时有 {hours} 小时不足{MIN_ON_POST}人在岗"
    body = "\n".join(
        [
            f"{unit.name}:",
            "",
            f"按贵单位值班表, 未来24小时内以下时段不足{MIN_ON_POST}人在岗 (双人在岗):",
            *lines,
            "",
            "缺岗期间的催报将改发单位默认联系人, 并记为督查发现。请及时排班:",
            f"{settings.PUBLIC_BASE_URL}/roster/{unit.code}/",
            "",
            "区政府总值班室 · 突发事件信息报送时限跟踪",
        ]
    )
    return subject, body


def reminders_run(*, now: datetime) -> int:
    """The daily job: make today's reminders (when it is time) and send them; how many were sent."""
    return sum(reminder_send(reminder_id=pk, now=now) == S.SENT for pk in reminders_prepare(now=now))
