"""Who may see and do what in the web pages (SPEC "Integrity and access").

Unit staff see only their own unit; another unit's obligation, report or incident is a 404, never a 403, so the
pages do not even confirm that it exists. The duty room and admins see everything operational; district leaders and
auditors read.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from reporting.models import Incident, Obligation, Report, Role

#: May open the live board (the duty room works from it; leaders and auditors read it).
BOARD_ROLES = frozenset({Role.DUTY_ROOM, Role.ADMIN, Role.DISTRICT_LEADER, Role.AUDITOR})
#: May file for any unit (the duty room logs phoned-in verbal reports).
FILE_ANY_ROLES = frozenset({Role.DUTY_ROOM, Role.ADMIN})
#: May open an incident from the web (unit staff for their own unit; the duty room for any units).
OPEN_INCIDENT_ROLES = frozenset({Role.UNIT_STAFF, Role.DUTY_ROOM, Role.ADMIN})
#: May add units to an incident, mark an obligation not required and correct a first-known time (API: duty room).
MANAGE_ROLES = frozenset({Role.DUTY_ROOM, Role.ADMIN})
#: May open the auditor page.
AUDIT_ROLES = frozenset({Role.AUDITOR, Role.ADMIN, Role.DISTRICT_LEADER, Role.DUTY_ROOM})


def role_of(user) -> str:
    return user.effective_role if user.is_authenticated else ""


def obligations_visible(user) -> QuerySet[Obligation]:
    """Obligations the user may read: their own unit's for unit staff, every one for the reading roles."""
    qs = Obligation.objects.select_related("incident", "unit")
    role = role_of(user)
    if role == Role.UNIT_STAFF:
        return qs.filter(unit_id=user.unit_id)
    if role in BOARD_ROLES:
        return qs
    return qs.none()


def incidents_visible(user) -> QuerySet[Incident]:
    role = role_of(user)
    if role == Role.UNIT_STAFF:
        return Incident.objects.filter(obligations__unit_id=user.unit_id).distinct()
    if role in BOARD_ROLES:
        return Incident.objects.all()
    return Incident.objects.none()


def can_file(user, obligation: Obligation) -> bool:
    role = role_of(user)
    if role in FILE_ANY_ROLES:
        return True
    return role == Role.UNIT_STAFF and obligation.unit_id == user.unit_id


def obligation_for_filing(user, obligation_id: int) -> Obligation:
    """The obligation the user may file for, or 404 (unknown, another unit's, or a read-only role)."""
    obligation = obligations_visible(user).filter(pk=obligation_id).first()
    if obligation is None or not can_file(user, obligation):
        raise Http404("no such obligation")
    return obligation


def reports_visible(user) -> QuerySet[Report]:
    """Reports the user may read: their own unit's for unit staff, every one for the reading roles."""
    qs = Report.objects.select_related("incident", "unit", "obligation")
    role = role_of(user)
    if role == Role.UNIT_STAFF:
        return qs.filter(unit_id=user.unit_id)
    if role in BOARD_ROLES:
        return qs
    return qs.none()


def report_visible(user, report_id: int) -> Report:
    report = reports_visible(user).filter(pk=report_id).first()
    if report is None:
        raise Http404("no such report")
    return report
