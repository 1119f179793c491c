"""The home redirect by role, a unit's obligations, and an incident's detail with its timeline."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from reporting.models import AuditEvent, DeadlineState, Role
from reporting.web.access import BOARD_ROLES, can_file, incidents_visible, obligations_visible, role_of
from reporting.web.board import board_row
from reporting.web.display import EVENT_LABELS, local_short

#: Audit events that concern the incident as a whole (shown to every unit on it); the rest name a unit.
INCIDENT_LEVEL_EVENTS = frozenset({"incident_created", "incident_changed"})


@require_GET
@login_required
def home(request):
    """``/``: the duty room and admins (and leaders, read-only) to the board, unit staff to their obligations,
    auditors to the audit page."""
    role = role_of(request.user)
    if role == Role.UNIT_STAFF:
        return redirect("web:obligations")
    if role == Role.AUDITOR:
        return redirect("web:audit")
    if role in BOARD_ROLES:
        return redirect("web:board")
    return render(request, "web/no_pages.html", status=403)


@require_GET
@login_required
def obligations(request):
    """A unit's open obligations (every unit's for the duty room), then the recently finished ones."""
    if role_of(request.user) not in BOARD_ROLES | {Role.UNIT_STAFF}:
        raise Http404("no pages for this role")
    now = timezone.now()
    visible = obligations_visible(request.user).order_by("verbal_due_at", "id")
    open_rows = [board_row(o, now=now) | {"may_file": can_file(request.user, o)} for o in visible.open()]
    done = visible.done().order_by("-created_at", "-id")[:20]
    return render(
        request,
        "web/obligations.html",
        {"open_rows": open_rows, "done": done, "unit": request.user.unit, "states": DeadlineState},
    )


def _describe(event: AuditEvent) -> str:
    """A short, language-neutral summary of an event's detail (unit, report kind, due time...)."""
    detail = event.detail or {}
    parts = []
    for key in ("unit", "kind", "deadline", "sequence", "on_time", "missing", "reason", "source", "grade"):
        if key in detail and detail[key] not in (None, "", []):
            value = detail[key]
            parts.append(f"{key}={','.join(value) if isinstance(value, list) else value}")
    return " · ".join(parts)


@require_GET
@login_required
def incident_detail(request, incident_id: int):
    incident = incidents_visible(request.user).filter(pk=incident_id).first()
    if incident is None:
        raise Http404("no such incident")
    now = timezone.now()
    obligations_qs = obligations_visible(request.user).filter(incident=incident)
    rows = [board_row(o, now=now) | {"may_file": can_file(request.user, o)} for o in obligations_qs]
    events = AuditEvent.objects.filter(incident=incident).order_by("id")
    if role_of(request.user) == Role.UNIT_STAFF:
        unit_code = request.user.unit.code
        events = [e for e in events if e.kind in INCIDENT_LEVEL_EVENTS or (e.detail or {}).get("unit") == unit_code]
    timeline = [
        {
            "at": local_short(e.at, seconds=True),
            "kind": e.kind,
            "label": EVENT_LABELS.get(e.kind, e.kind),
            "actor": e.actor,
            "summary": _describe(e),
        }
        for e in events
    ]
    return render(
        request,
        "web/incident.html",
        {"incident": incident, "rows": rows, "timeline": timeline, "occurred_at": local_short(incident.occurred_at)},
    )
