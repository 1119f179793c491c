"""Incidents in the web pages: opening one (新建事件, also from a feed signal) and its page with obligations,
timeline and the forms of the duty room's actions (which live in ``reporting.web.incident_actions``).

Every write goes through the domain services with the server's clock, exactly as the API's do. A refused input
shows each message next to its field, keeps what the user typed, answers 400 (409 for a conflict) and writes nothing.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from reporting import selectors, services, signal_services
from reporting.errors import DomainError
from reporting.models import Channel, DeadlineState, Incident, Obligation, ObligationKind, Role, Signal
from reporting.web.access import (
    MANAGE_ROLES,
    OPEN_INCIDENT_ROLES,
    can_file,
    incidents_visible,
    obligations_visible,
    reports_visible,
    role_of,
)
from reporting.web.board import board_row
from reporting.web.display import EVENT_LABELS, local_input, local_short, report_label
from reporting.web.forms import (
    CityReportForm,
    FirstKnownForm,
    IncidentEditForm,
    IncidentForm,
    NotRequiredForm,
    RestoreForm,
    UnitClockForm,
    add_domain_errors,
    error_summary,
)
from reporting.web.throttle import sms_throttled
from reporting.web.timeline import corrected_labels, describe, unit_labels

# --- opening an incident ---------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@login_required
@sms_throttled
def incident_new(request):
    """``/incidents/new/``: unit staff open an incident for their own unit (declaring when they first knew, SPEC
    rule 5); the duty room opens one for the units it names, or from a signal (``?signal=<id>``: prefilled from it,
    and the signal is linked to the new incident in the same transaction). The clocks start at once."""
    role = role_of(request.user)
    if role not in OPEN_INCIDENT_ROLES or (role == Role.UNIT_STAFF and request.user.unit is None):
        raise PermissionDenied("this role does not open incidents")
    own_unit = request.user.unit if role == Role.UNIT_STAFF else None
    signal = _signal_to_open(request) if own_unit is None else None
    if isinstance(signal, HttpResponse):
        return signal
    status = 200
    if request.method == "POST":
        form = IncidentForm(request.POST, own_unit=own_unit)
        if form.is_valid():
            units = [own_unit] if own_unit is not None else list(form.cleaned_data["units"])
            clocks = [
                {
                    "unit": u,
                    "first_known_at": form.cleaned_data["first_known_at"],
                    "channel": form.cleaned_data["channel"],
                }
                for u in units
            ]
            try:
                if signal is None:
                    incident = services.incident_create(
                        actor=request.user, now=timezone.now(), units=clocks, **form.incident_values()
                    )
                else:
                    incident = signal_services.incident_create_from_signal(
                        signal=signal, actor=request.user, now=timezone.now(), units=clocks, **form.incident_values()
                    )
            except DomainError as exc:
                add_domain_errors(form, exc)
                status = exc.status_code
            else:
                messages.success(request, _("事件已建立, 报送计时已开始。"))
                if own_unit is not None:
                    # 快报: unit staff go straight on to their report, the incident's facts already filled in.
                    return redirect("web:file", incident.obligations.get(unit=own_unit, kind=ObligationKind.REPORT).pk)
                return redirect("web:incident", incident.pk)
        else:
            status = 400
    else:
        form = IncidentForm(initial=_initial_incident(own_unit, signal), own_unit=own_unit)
    context = {"form": form, "own_unit": own_unit, "signal": signal, "error_summary": error_summary(form)}
    return render(request, "web/incident_new.html", context, status=status)


def _signal_to_open(request) -> Signal | HttpResponse | None:
    """The signal named by ``signal`` (query or form), unlinked; a linked one sends the user to its incident."""
    raw = request.POST.get("signal") if request.method == "POST" else request.GET.get("signal")
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 10:
        raise Http404("no such signal")
    signal = Signal.objects.select_related("delivered_to").filter(pk=int(raw)).first()
    if signal is None:
        raise Http404("no such signal")
    if signal.incident_id is not None:
        messages.info(request, _("该线索已关联事件。"))
        return redirect("web:incident", signal.incident_id)
    return signal


def _initial_incident(own_unit, signal: Signal | None) -> dict:
    now = local_input(timezone.now())
    if signal is None:
        channel = Channel.SELF if own_unit else Channel.DUTY_ROOM
        return {"occurred_at": now, "first_known_at": now, "channel": channel}
    return {
        "title": (signal.summary.splitlines() or [""])[0][:60] or f"{signal.get_source_display()} {signal.external_id}",
        "domain": signal.domain,
        "occurred_at": local_input(signal.received_at),
        "location": signal.location,
        "summary": signal.summary,
        "deaths": signal.deaths,
        "injuries": signal.injuries,
        "units": [signal.delivered_to.code] if signal.delivered_to else [],
        "first_known_at": local_input(signal.delivered_at) or now,
        "channel": signal.source,
    }


# --- the incident page -----------------------------------------------------------------------------------------


def _pending(obligation: Obligation) -> bool:
    return DeadlineState.PENDING in (obligation.verbal_state, obligation.written_state)


def render_incident(request, incident: Incident, *, failed: dict | None = None, status: int = 200):
    """The incident page. ``failed`` is a refused action's bound form (``{"action", "obligation", "form"}``),
    shown with its errors where the user left it."""
    failed = failed or {}
    now = timezone.now()
    manage = role_of(request.user) in MANAGE_ROLES
    rows = []
    for obligation in obligations_visible(request.user).filter(incident=incident).order_by("kind", "id"):
        # A duty marked not required (both clocks) has nothing left to file: no 填报 button to suggest otherwise.
        closed = obligation.verbal_state == obligation.written_state == DeadlineState.NOT_REQUIRED
        row = board_row(obligation, now=now) | {"may_file": can_file(request.user, obligation) and not closed}
        if manage:
            mine = failed.get("obligation") == obligation.pk
            row["actions_open"] = mine
            if _pending(obligation):
                row["not_required_form"] = (
                    failed["form"]
                    if mine and failed["action"] == "not_required"
                    else NotRequiredForm(auto_id=f"nr{obligation.pk}_%s")
                )
            if obligation.not_required_at is not None:
                row["restore_form"] = (
                    failed["form"]
                    if mine and failed["action"] == "restore"
                    else RestoreForm(auto_id=f"rs{obligation.pk}_%s")
                )
            # A correction is allowed after filing too: it moves pending clocks only (SPEC rule 4). The relay
            # clock runs from the duty room's first report, not from a first-known time.
            if obligation.kind == ObligationKind.REPORT:
                row["first_known_form"] = (
                    failed["form"]
                    if mine and failed["action"] == "first_known"
                    else FirstKnownForm(
                        auto_id=f"fk{obligation.pk}_%s",
                        initial={
                            "first_known_at": local_input(
                                obligation.declared_first_known_at or obligation.first_known_at
                            )
                        },
                    )
                )
        if obligation.unit.vertical and obligation.kind == ObligationKind.REPORT and can_file(request.user, obligation):
            mine = failed.get("obligation") == obligation.pk and failed.get("action") == "city_report"
            row["city_report_form"] = (
                failed["form"]
                if mine
                else CityReportForm(
                    auto_id=f"cr{obligation.pk}_%s", initial={"reported_at": local_input(obligation.city_reported_at)}
                )
            )
            row["city_reported_at"] = local_short(obligation.city_reported_at)
            row["actions_open"] = row.get("actions_open") or mine
        if obligation.not_required_reason:
            row["not_required_reason"] = obligation.not_required_reason
        rows.append(row)
    events = list(selectors.incident_timeline(incident=incident, user=request.user))
    units = unit_labels(events)
    corrected = corrected_labels(events, reports_visible(request.user))
    timeline = [
        {
            "at": local_short(e.at, seconds=True),
            "kind": e.kind,
            "label": EVENT_LABELS.get(e.kind, e.kind),
            "actor": e.actor,
            "summary": describe(e, units=units, corrected=corrected),
        }
        for e in events
    ]
    add_unit_form = edit_form = None
    if manage:
        edit_form = (
            failed["form"]
            if failed.get("action") == "edit"
            else IncidentEditForm(
                auto_id="edit_%s",
                initial={f: getattr(incident, f) for f in IncidentEditForm.base_fields if f != "grade"},
            )
        )
        add_unit_form = (
            failed["form"]
            if failed.get("action") == "add_unit"
            else UnitClockForm(auto_id="add_%s", initial={"first_known_at": local_input(now)})
        )
    # What each filed report says, oldest first: the page is where the readers (district leaders, auditors) read the
    # reports, having no filing form; drafts are the unit's own and are not shown.
    filed = reports_visible(request.user).filter(incident=incident).filed().order_by("counted_at", "id")
    # The signals linked to the incident, its first-known evidence (SPEC rule 5): unit staff see those delivered to
    # their unit, as /signals/ shows them. One query, the unit read with each signal.
    linked = selectors.signal_list(user=request.user).filter(incident=incident).order_by("received_at", "id")
    context = {
        "incident": incident,
        "rows": rows,
        "signals": [
            {
                "signal": s,
                "received_at": local_short(s.received_at),
                "delivered_at": local_short(s.delivered_at),
                "unit": s.delivered_to.label if s.delivered_to_id else "",
            }
            for s in linked
        ],
        "reports": [{"report": r, "label": report_label(r), "filed_at": local_short(r.counted_at)} for r in filed],
        "timeline": timeline,
        "occurred_at": local_short(incident.occurred_at),
        "manage": manage,
        "add_unit_form": add_unit_form,
        "edit_form": edit_form,
    }
    return render(request, "web/incident.html", context, status=status)


def incident_for(user, incident_id: int) -> Incident:
    incident = incidents_visible(user).filter(pk=incident_id).first()
    if incident is None:
        raise Http404("no such incident")
    return incident


@require_GET
@login_required
def incident_detail(request, incident_id: int):
    return render_incident(request, incident_for(request.user, incident_id))
