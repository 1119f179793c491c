"""Event rules (SPEC "Escalation"): on creation and whenever figures change.

- deaths >= 1 → the district leader(s) whose portfolio covers the incident's domain (to the scene); when none does,
  the leaders on the notification list, and when there are none, the duty room on post, each told that no leader is
  in charge of the domain, so a death never reaches no one;
- grade IV or above → the district leaders on the notification list (``Contact.notify_on_grade``), told again
  each time the grade rises past a threshold they have not heard of (IV, III, II, I): 一般 then 重大 is news.

Each rule fires once per incident and threshold: incident-level rows (obligation NULL) with step ``event_deaths`` /
``event_grade_<grade>``; a step that already has a row for the incident never fires again, also when figures rise
later. An incident opened at II tells the list once (``event_grade_II``), not once per lower grade. One exception, for
a death: a leader in charge of the incident's domain who has not been told (the domain was corrected after the rule
fired) is told then, once; nobody told before is told again.
(Grade II and above also opens a relay obligation, done by ``reporting.services``; it is chased like any other.)

A leader the rule names who has no mobile number on record cannot be sent the SMS: the district duty room on post is
asked at once, by SMS naming the leader (``about``), to phone them, as when a leader's SMS fails
(``notifications.delivery.notification_fallback``). The leader still gets the email, if they have an address.
"""

from __future__ import annotations

from datetime import datetime

from notifications import roster
from notifications.messages import EVENT_DEATHS
from notifications.models import Notification, NotificationChannel
from notifications.sweep import enqueue_on_commit, notifications_insert
from reporting import grading
from reporting.models import ContactRole, Incident

EVENT_GRADE_IV = "event_grade_IV"
#: The notification list hears of each grade from IV up once: ``event_grade_IV`` … ``event_grade_I``.
GRADE_THRESHOLDS = ("IV", "III", "II", "I")
CHANNELS = (NotificationChannel.SMS, NotificationChannel.EMAIL)


def _fired(incident: Incident, step: str) -> bool:
    return Notification.objects.filter(incident=incident, obligation__isnull=True, step=step).exists()


def _not_yet_told(incident: Incident, leaders: list) -> list:
    """Those of ``leaders`` the death rule has not reached for this incident, themselves or through the duty room
    (``about``: a leader with no mobile number, or whose SMS failed)."""
    rows = Notification.objects.filter(incident=incident, obligation__isnull=True, step=EVENT_DEATHS)
    told = {pk for pair in rows.values_list("recipient_id", "about_id") for pk in pair if pk is not None}
    return [leader for leader in leaders if leader.pk not in told]


def grade_step(grade: str) -> str:
    return f"event_grade_{grade}"


def _grade_told(incident: Incident, grade: str) -> bool:
    """Whether the notification list already heard of ``grade`` or a higher one for this incident."""
    told = Notification.objects.filter(
        incident=incident, obligation__isnull=True, step__in=[grade_step(g) for g in GRADE_THRESHOLDS]
    ).values_list("step", flat=True)
    return any(grading.at_least(step.removeprefix("event_grade_"), grade) for step in told)


def incident_event_rules(*, incident: Incident, now: datetime) -> list[int]:
    """Fire the rules the incident now meets and that have not fired for it; returns the rows created.

    Runs inside the transaction that changed the incident; sending is enqueued on commit.
    """
    created: list[int] = []
    rules = []
    gaps: list[roster.GapNeed] = []  # the rules fire at one moment: one roster gap for the duty room, however many
    if incident.deaths >= 1:
        in_charge = roster.district_leaders(domain=incident.domain)
        if not _fired(incident, EVENT_DEATHS):
            # No leader's portfolio covers the domain: a death must still reach a district leader, so those on the
            # grade notification list are told instead (the leaders page warns of the uncovered domain beforehand),
            # and with no one on the list either, the duty room on post, to find a leader; the text says no one is
            # in charge.
            rules.append(
                (
                    EVENT_DEATHS,
                    in_charge
                    or roster.district_leaders(notify_on_grade=True)
                    or roster.duty_room_on_post(at=now, incident=incident, step=EVENT_DEATHS, gaps=gaps),
                )
            )
        elif untold := _not_yet_told(incident, in_charge):
            # Told already, but not these leaders in charge: the domain was corrected since (or they took it over).
            # The leader in charge of the incident's domain goes to the scene; those told before are not told again.
            rules.append((EVENT_DEATHS, untold))
    if incident.grade in GRADE_THRESHOLDS and not _grade_told(incident, incident.grade):
        rules.append((grade_step(incident.grade), roster.district_leaders(notify_on_grade=True)))
    for step, contacts in rules:
        fields = dict(incident_id=incident.pk, obligation_id=None, step=step, repeat=0, scheduled_for=now, now=now)
        created += notifications_insert(contacts=contacts, channels=CHANNELS, **fields)
        for leader in contacts:
            if leader.role == ContactRole.DISTRICT_LEADER and not leader.phone:
                room = roster.duty_room_on_post(at=now, incident=incident, step=step, gaps=gaps)
                created += notifications_insert(
                    contacts=room, channels=(NotificationChannel.SMS,), about=leader, **fields
                )
    roster.gaps_record(gaps, incident=incident, obligation=None)
    enqueue_on_commit(created)
    return created
