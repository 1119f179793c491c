"""Reads, scoped to who is asking (SPEC "Integrity and access").

Unit staff see their own unit's data only: anything else is simply absent from their querysets, so the API
answers 404 for it, never 403. The duty room, district leaders, auditors and admins see everything they may
read at all; whether a role may read a kind of object at all is the API's permission layer, not this module.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db.models import Count, F, Q, QuerySet

from reporting.coverage import MIN_ON_POST, Gap, active_spans, coverage_gaps
from reporting.models import (
    AuditEvent,
    Contact,
    ContactRole,
    Incident,
    Obligation,
    Report,
    Role,
    Shift,
    Signal,
    Unit,
    UnitKind,
)

#: Unit kinds that keep no duty roster here (``rostered_units``).
NOT_ROSTERED_KINDS = (UnitKind.LEADERSHIP_OFFICE,)


def _confined(user) -> bool:
    return getattr(user, "effective_role", None) == Role.UNIT_STAFF


def unit_list() -> QuerySet[Unit]:
    return Unit.objects.order_by("id")


def unit_labels(*, codes: Iterable[str]) -> dict[str, str]:
    """Unit code -> the name to show in the active language (``Unit.label``: the English name when the language is
    English and the unit has one, else the Chinese name), for ``codes``; unknown codes are left out. One query."""
    units = Unit.objects.filter(code__in=list(codes)).only("code", "name", "name_en")
    return {unit.code: unit.label for unit in units}


def contact_list(*, user) -> QuerySet[Contact]:
    qs = Contact.objects.select_related("unit").order_by("id")
    return qs.filter(unit_id=user.unit_id) if _confined(user) else qs


def shift_list(*, user) -> QuerySet[Shift]:
    qs = Shift.objects.select_related("unit").order_by("starts_at", "id")
    return qs.filter(unit_id=user.unit_id) if _confined(user) else qs


def incident_list(*, user) -> QuerySet[Incident]:
    """Incidents the user may see: for unit staff, those their unit is responsible for."""
    qs = Incident.objects.order_by("-id")
    if _confined(user):
        qs = qs.filter(pk__in=Obligation.objects.filter(unit_id=user.unit_id).values("incident_id"))
    return qs


def obligation_list(*, user) -> QuerySet[Obligation]:
    qs = Obligation.objects.select_related("unit", "incident").order_by("id")
    return qs.filter(unit_id=user.unit_id) if _confined(user) else qs


def report_list(*, user) -> QuerySet[Report]:
    qs = Report.objects.select_related("unit", "filed_by").order_by("id")
    return qs.filter(unit_id=user.unit_id) if _confined(user) else qs


def signal_list(*, user) -> QuerySet[Signal]:
    qs = Signal.objects.select_related("delivered_to").order_by("id")
    return qs.filter(delivered_to_id=user.unit_id) if _confined(user) else qs


# How unit staff see each kind of audit event in an incident's timeline (SPEC "Integrity and access"). They get
# the incident as a whole and their own unit's clock, reports and chasing, exactly what /obligations/, /reports/ and
# /signals/ already give them; another unit's obligation, reports and chasing are that unit's data, and reviews are
# the auditors' (/findings/ is 403 to them). A kind missing from STAFF_TIMELINE is hidden from unit staff, so a new
# kind of event stays hidden until someone decides who may read it.
#: The incident's facts, figures and grade (every responsible unit works from them; the incident detail shows them).
STAFF_SEES_INCIDENT = "incident"
#: The event's object is an obligation: shown when it is the user's unit's. This includes ``obligation_created``
#: of another unit: its detail is that unit's clock (first-known time, channel, deadlines), and the incident
#: detail does not list another unit's obligation to unit staff either.
STAFF_SEES_OWN_OBLIGATION = "obligation"
#: A report event: ``detail.unit`` is the unit of the report's obligation.
STAFF_SEES_OWN_REPORT = "report"
#: Chasing: ``detail.obligation`` is the obligation chased. Chasing of no obligation (the event rules that alert
#: district leaders) is the duty room's, so it is hidden.
STAFF_SEES_OWN_NOTIFICATION = "notification"
#: The event's object is a signal: shown when it was delivered to the user's unit, as /signals/ shows it.
STAFF_SEES_OWN_SIGNAL = "signal"
STAFF_HIDDEN = "hidden"

STAFF_TIMELINE = {
    "incident_created": STAFF_SEES_INCIDENT,
    "incident_changed": STAFF_SEES_INCIDENT,
    "obligation_created": STAFF_SEES_OWN_OBLIGATION,
    "obligation_not_required": STAFF_SEES_OWN_OBLIGATION,
    "obligation_restored": STAFF_SEES_OWN_OBLIGATION,
    "first_known_corrected": STAFF_SEES_OWN_OBLIGATION,
    "first_known_evidence": STAFF_SEES_OWN_OBLIGATION,
    "city_report_recorded": STAFF_SEES_OWN_OBLIGATION,
    "deadline_passed": STAFF_SEES_OWN_OBLIGATION,
    "report_filed": STAFF_SEES_OWN_REPORT,
    "report_refused": STAFF_SEES_OWN_REPORT,
    "report_draft_saved": STAFF_SEES_OWN_REPORT,
    "notification_sent": STAFF_SEES_OWN_NOTIFICATION,
    "notification_delivered": STAFF_SEES_OWN_NOTIFICATION,
    "notification_acknowledged": STAFF_SEES_OWN_NOTIFICATION,
    "notification_failed": STAFF_SEES_OWN_NOTIFICATION,
    "notification_cancelled": STAFF_SEES_OWN_NOTIFICATION,
    "signal_received": STAFF_SEES_OWN_SIGNAL,
    "signal_linked": STAFF_SEES_OWN_SIGNAL,
    "signal_unlinked": STAFF_SEES_OWN_SIGNAL,
    # An auditor's decision and reason, even on the user's own unit's finding.
    "finding_reviewed": STAFF_HIDDEN,
    # The system's verdict on a finding as the data changes: part of the auditors' record, like a review.
    "finding_withdrawn": STAFF_HIDDEN,
    "finding_reinstated": STAFF_HIDDEN,
    # These carry no incident today; named so that one that starts to carry one is still hidden.
    "shift_added": STAFF_HIDDEN,
    "shift_removed": STAFF_HIDDEN,
    "shift_ended": STAFF_HIDDEN,
    "contact_added": STAFF_HIDDEN,
    "contact_changed": STAFF_HIDDEN,
    "contact_removed": STAFF_HIDDEN,
    "unit_added": STAFF_HIDDEN,
    "unit_changed": STAFF_HIDDEN,
    "unit_removed": STAFF_HIDDEN,
    "user_added": STAFF_HIDDEN,
    "user_changed": STAFF_HIDDEN,
    "user_removed": STAFF_HIDDEN,
    "token_created": STAFF_HIDDEN,
    "token_replaced": STAFF_HIDDEN,
    "token_removed": STAFF_HIDDEN,
    "group_added": STAFF_HIDDEN,
    "group_changed": STAFF_HIDDEN,
    "group_removed": STAFF_HIDDEN,
    "reporting_policy_added": STAFF_HIDDEN,
    "reporting_policy_changed": STAFF_HIDDEN,
    "reporting_policy_removed": STAFF_HIDDEN,
    "escalation_policy_added": STAFF_HIDDEN,
    "escalation_policy_changed": STAFF_HIDDEN,
    "escalation_policy_removed": STAFF_HIDDEN,
}


def _staff_kinds(scope: str) -> list[str]:
    return [kind for kind, seen in STAFF_TIMELINE.items() if seen == scope]


def incident_timeline(*, incident: Incident, user) -> QuerySet[AuditEvent]:
    """The audit events of an incident ``user`` may read, oldest first (served by auditevent_incident_idx): every
    one for the reading roles; for unit staff, those ``STAFF_TIMELINE`` shows them (the incident's own events and
    their unit's), never another unit's or a review."""
    qs = AuditEvent.objects.filter(incident=incident).order_by("id")
    if not _confined(user):
        return qs
    own_obligations = list(
        Obligation.objects.filter(incident=incident, unit_id=user.unit_id).values_list("pk", flat=True)
    )
    own_signals = Signal.objects.filter(incident=incident, delivered_to_id=user.unit_id).values_list("pk", flat=True)
    unit_code = user.unit.code if user.unit_id is not None else None
    visible = Q(kind__in=_staff_kinds(STAFF_SEES_INCIDENT)) | Q(
        kind__in=_staff_kinds(STAFF_SEES_OWN_OBLIGATION),
        object_type="obligation",
        object_id__in=[str(pk) for pk in own_obligations],
    )
    visible |= Q(kind__in=_staff_kinds(STAFF_SEES_OWN_NOTIFICATION), detail__obligation__in=own_obligations)
    visible |= Q(
        kind__in=_staff_kinds(STAFF_SEES_OWN_SIGNAL),
        object_type="signal",
        object_id__in=[str(pk) for pk in own_signals],
    )
    if unit_code is not None:
        visible |= Q(kind__in=_staff_kinds(STAFF_SEES_OWN_REPORT), detail__unit=unit_code)
    return qs.filter(visible)


#: The audit events of a unit's roster (``reporting.roster_services``).
ROSTER_EVENT_KINDS = (
    "shift_added",
    "shift_removed",
    "shift_ended",
    "contact_added",
    "contact_changed",
    "contact_removed",
)


def roster_changes(*, unit: Unit, limit: int = 20) -> QuerySet[AuditEvent]:
    """The latest changes to ``unit``'s people and shifts, newest first (served by auditevent_kind_noinc_idx)."""
    return AuditEvent.objects.filter(
        incident__isnull=True, kind__in=ROSTER_EVENT_KINDS, detail__unit=unit.code
    ).order_by("-id")[:limit]


def rostered_units() -> QuerySet[Unit]:
    """The active units that keep a duty roster here: every one but the leadership offices (区委办, 区府办), which
    receive the duty room's relay (SPEC rule 13) and report nothing, so no step of the chasing asks for their
    duty staff. Their coverage is nobody's concern here: the board and the coverage overview leave them out."""
    return Unit.objects.filter(active=True).exclude(kind__in=NOT_ROSTERED_KINDS)


def units_short_on_post(*, at: datetime, minimum: int = MIN_ON_POST) -> int:
    """How many units keeping a roster (``rostered_units``) have fewer than ``minimum`` distinct active people on a
    shift covering ``at`` (双人在岗 not kept right now), counted as the chasing counts
    (``notifications.roster.on_duty_many``)."""
    covered = (
        Shift.objects.filter(starts_at__lte=at, ends_at__gt=at, contact__active=True, unit__active=True)
        .values("unit_id")
        .annotate(people=Count("contact_id", distinct=True))
        .filter(people__gte=minimum)
    )
    return rostered_units().exclude(pk__in=covered.values("unit_id")).count()


def roster_shifts(*, units: Iterable[Unit], start: datetime, end: datetime) -> QuerySet[Shift]:
    """Shifts of ``units`` overlapping ``[start, end)`` whose person is active, or was when the shift began (made
    inactive since: the hours before still count, ``on_post_spans``)."""
    counted = Q(contact__active=True) | Q(contact__deactivated_at__gt=F("starts_at"))
    return (
        Shift.objects.filter(counted, unit__in=list(units), starts_at__lt=end, ends_at__gt=start)
        .select_related("contact")
        .order_by("starts_at", "id")
    )


def on_post_spans(shifts: Iterable[Shift]) -> list[tuple[datetime, datetime, int]]:
    """``(starts_at, ends_at, contact id)`` for the parts of ``shifts`` whose person was active then, as the chasing
    counted them at each moment (``reporting.coverage.active_spans``): for ``coverage_gaps``."""
    return [
        (s, e, shift.contact_id)
        for shift in shifts
        for s, e in active_spans(
            shift.starts_at,
            shift.ends_at,
            active=shift.contact.active,
            deactivated_at=shift.contact.deactivated_at,
            reactivated_at=shift.contact.reactivated_at,
        )
    ]


def roster_gaps(*, units: Iterable[Unit], start: datetime, end: datetime) -> dict[int, list[Gap]]:
    """Each unit's 双人在岗 gaps in ``[start, end)`` from its roster (``reporting.coverage``), by unit id; one query."""
    units = list(units)
    by_unit: dict[int, list[Shift]] = {u.pk: [] for u in units}
    for shift in roster_shifts(units=units, start=start, end=end):
        by_unit[shift.unit_id].append(shift)
    return {pk: coverage_gaps(on_post_spans(shifts), start=start, end=end) for pk, shifts in by_unit.items()}


def district_leaders() -> QuerySet[Contact]:
    """Every district leader (区领导), active first, as the leaders page lists them."""
    return Contact.objects.filter(role=ContactRole.DISTRICT_LEADER).order_by("-active", "name", "id")
