"""The home redirect by role and a unit's obligations (the incident pages are in ``reporting.web.incidents``)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from reporting.models import DeadlineState, Role
from reporting.web import roster
from reporting.web.access import BOARD_ROLES, OPEN_INCIDENT_ROLES, can_file, obligations_visible, role_of
from reporting.web.board import board_row
from reporting.web.display import local_short


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
    unit = request.user.unit if role_of(request.user) == Role.UNIT_STAFF else None
    gaps = roster.gaps_ahead(unit, now=now) if unit is not None else []
    return render(
        request,
        "web/obligations.html",
        {
            "open_rows": open_rows,
            "done": done,
            "unit": request.user.unit,
            "states": DeadlineState,
            "may_open": role_of(request.user) in OPEN_INCIDENT_ROLES,
            "roster_gap": {
                "hours": round(sum(g.seconds for g in gaps) / 3600, 1),
                "from": local_short(gaps[0].starts_at),
            }
            if gaps
            else None,
        },
    )
