"""Reads, scoped to who is asking (SPEC "Integrity and access").

Unit staff see their own unit's data only: anything else is simply absent from their querysets, so the API
answers 404 for it, never 403. The duty room, district leaders, auditors and admins see everything they may
read at all; whether a role may read a kind of object at all is the API's permission layer, not this module.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db.models import Count, QuerySet

from reporting.coverage import MIN_ON_POST, Gap, coverage_gaps
from reporting.models import AuditEvent, Contact, ContactRole, Incident, Obligation, Report, Role, Shift, Signal, Unit


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


def incident_timeline(*, incident: Incident) -> QuerySet[AuditEvent]:
    """Every audit event of an incident, oldest first (served by auditevent_incident_idx)."""
    return AuditEvent.objects.filter(incident=incident).order_by("id")


#: The audit events of a unit's roster (``reporting.roster_services``).
ROSTER_EVENT_KINDS = ("shift_added", "shift_removed", "contact_added", "contact_changed", "contact_removed")


def roster_changes(*, unit: Unit, limit: int = 20) -> QuerySet[AuditEvent]:
    """The latest changes to ``unit``'s people and shifts, newest first (served by auditevent_kind_noinc_idx)."""
    return AuditEvent.objects.filter(
        incident__isnull=True, kind__in=ROSTER_EVENT_KINDS, detail__unit=unit.code
    ).order_by("-id")[:limit]


def units_short_on_post(*, at: datetime, minimum: int = MIN_ON_POST) -> int:
    """How many active units have fewer than ``minimum`` distinct active people on a shift covering ``at``
    (双人在岗 not kept right now), counted as the chasing counts (``notifications.roster.on_duty_many``)."""
    covered = (
        Shift.objects.filter(starts_at__lte=at, ends_at__gt=at, contact__active=True, unit__active=True)
        .values("unit_id")
        .annotate(people=Count("contact_id", distinct=True))
        .filter(people__gte=minimum)
    )
    return Unit.objects.filter(active=True).exclude(pk__in=covered.values("unit_id")).count()


def roster_shifts(*, units: Iterable[Unit], start: datetime, end: datetime) -> QuerySet[Shift]:
    """Shifts of ``units`` overlapping ``[start, end)`` whose person is active, as the chasing counts them."""
    return (
        Shift.objects.filter(unit__in=list(units), starts_at__lt=end, ends_at__gt=start, contact__active=True)
        .select_related("contact")
        .order_by("starts_at", "id")
    )


def roster_gaps(*, units: Iterable[Unit], start: datetime, end: datetime) -> dict[int, list[Gap]]:
    """Each unit's 双人在岗 gaps in ``[start, end)`` from its roster (``reporting.coverage``), by unit id; one query."""
    units = list(units)
    spans: dict[int, list] = {u.pk: [] for u in units}
    for shift in roster_shifts(units=units, start=start, end=end):
        spans[shift.unit_id].append((shift.starts_at, shift.ends_at, shift.contact_id))
    return {pk: coverage_gaps(unit_spans, start=start, end=end) for pk, unit_spans in spans.items()}


def district_leaders() -> QuerySet[Contact]:
    """Every district leader (区领导), active first, as the leaders page lists them."""
    return Contact.objects.filter(role=ContactRole.DISTRICT_LEADER).order_by("-active", "name", "id")
