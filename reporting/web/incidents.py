"""Incidents in the web pages: opening one (新建事件), its page with obligations and timeline, and the duty room's
actions on it (add a responsible unit, mark an obligation not required, correct a first-known time).

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
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from reporting import obligation_services, services, signal_services
from reporting.errors import DomainError
from reporting.models import AuditEvent, Channel, DeadlineState, Incident, Obligation, ObligationKind, Role, Signal
from reporting.web.access import (
    MANAGE_ROLES,
    OPEN_INCIDENT_ROLES,
    can_file,
    incidents_visible,
    obligations_visible,
    role_of,
)
from reporting.web.board import board_row
from reporting.web.display import EVENT_LABELS, STEP_LABELS, local_input, local_short
from reporting.web.forms import (
    CityReportForm,
    FirstKnownForm,
    IncidentEditForm,
    IncidentForm,
    NotRequiredForm,
    UnitClockForm,
    add_domain_errors,
    error_summary,
)

#: Audit events that concern the incident as a whole (shown to every unit on it); the rest name a unit.
INCIDENT_LEVEL_EVENTS = frozenset({"incident_created", "incident_changed"})


# --- opening an incident ---------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@login_required
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
                    return redirect("web:file", incident.obligations.get(unit=own_unit).pk)
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


def _describe(event: AuditEvent) -> str:
    """A short summary of an event's detail: for a notification the chasing step, channel and recipient; else the
    unit, report kind, deadline and the like, language-neutral."""
    detail = event.detail or {}
    if event.kind.startswith("notification_") and "step" in detail:
        step = str(STEP_LABELS.get(detail["step"], detail["step"]))
        repeat = f" #{detail['repeat']}" if detail.get("repeat") else ""
        parts = [f"{step}{repeat}", f"{detail.get('channel', '')} → {detail.get('to', '')}"]
        for key in ("error", "reason"):
            if detail.get(key):
                parts.append(str(detail[key])[:120])
        return " · ".join(parts)
    parts = []
    for key in ("unit", "kind", "deadline", "sequence", "on_time", "missing", "reason", "source", "grade"):
        if key in detail and detail[key] not in (None, "", []):
            value = detail[key]
            parts.append(f"{key}={','.join(value) if isinstance(value, list) else value}")
    return " · ".join(parts)


def _pending(obligation: Obligation) -> bool:
    return DeadlineState.PENDING in (obligation.verbal_state, obligation.written_state)


def _render_incident(request, incident: Incident, *, failed: dict | None = None, status: int = 200):
    """The incident page. ``failed`` is a refused action's bound form (``{"action", "obligation", "form"}``),
    shown with its errors where the user left it."""
    failed = failed or {}
    now = timezone.now()
    manage = role_of(request.user) in MANAGE_ROLES
    rows = []
    for obligation in obligations_visible(request.user).filter(incident=incident).order_by("kind", "id"):
        row = board_row(obligation, now=now) | {"may_file": can_file(request.user, obligation)}
        if manage:
            mine = failed.get("obligation") == obligation.pk
            row["actions_open"] = mine
            if _pending(obligation):
                row["not_required_form"] = (
                    failed["form"]
                    if mine and failed["action"] == "not_required"
                    else NotRequiredForm(auto_id=f"nr{obligation.pk}_%s")
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
    events = AuditEvent.objects.filter(incident=incident).order_by("id")
    if role_of(request.user) == Role.UNIT_STAFF:
        # Their unit's events: those naming the unit, and the chasing of its obligations (which name the obligation).
        unit_code, own = request.user.unit.code, {row["id"] for row in rows}
        events = [
            e
            for e in events
            if e.kind in INCIDENT_LEVEL_EVENTS
            or (e.detail or {}).get("unit") == unit_code
            or (e.kind.startswith("notification_") and (e.detail or {}).get("obligation") in own)
        ]
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
    context = {
        "incident": incident,
        "rows": rows,
        "timeline": timeline,
        "occurred_at": local_short(incident.occurred_at),
        "manage": manage,
        "add_unit_form": add_unit_form,
        "edit_form": edit_form,
    }
    return render(request, "web/incident.html", context, status=status)


def _incident_for(user, incident_id: int) -> Incident:
    incident = incidents_visible(user).filter(pk=incident_id).first()
    if incident is None:
        raise Http404("no such incident")
    return incident


@require_GET
@login_required
def incident_detail(request, incident_id: int):
    return _render_incident(request, _incident_for(request.user, incident_id))


# --- the duty room's actions -----------------------------------------------------------------------------------


def _managed_obligation(user, obligation_id: int) -> Obligation:
    """An obligation the duty room may act on; 404 for everyone else (as the page shows them no such action)."""
    if role_of(user) not in MANAGE_ROLES:
        raise Http404("no such action")
    obligation = obligations_visible(user).filter(pk=obligation_id).first()
    if obligation is None:
        raise Http404("no such obligation")
    return obligation


def _act(request, incident: Incident, form, action: str, write, *, obligation: Obligation | None = None, done: str):
    """Validate ``form``, run ``write(cleaned_data)``; on success back to the incident page with ``done``, else the
    page again with the refused form in place."""
    if form.is_valid():
        try:
            write(form.cleaned_data)
        except DomainError as exc:
            add_domain_errors(form, exc)
            status = exc.status_code
        else:
            messages.success(request, done)
            return redirect("web:incident", incident.pk)
    else:
        status = 400
    failed = {"action": action, "obligation": obligation.pk if obligation else None, "form": form}
    return _render_incident(request, incident, failed=failed, status=status)


@require_POST
@login_required
def incident_add_unit(request, incident_id: int):
    """增加责任单位: a new obligation whose clocks start from the unit's first-known time."""
    if role_of(request.user) not in MANAGE_ROLES:
        raise Http404("no such action")
    incident = _incident_for(request.user, incident_id)
    form = UnitClockForm(request.POST, auto_id="add_%s")

    def write(data):
        services.incident_add_unit(
            incident=incident,
            unit=data["unit"],
            first_known_at=data["first_known_at"],
            channel=data["channel"],
            actor=request.user,
            now=timezone.now(),
        )

    return _act(request, incident, form, "add_unit", write, done=_("已增加责任单位, 计时已开始。"))


@require_POST
@login_required
def obligation_not_required(request, obligation_id: int):
    """SPEC rule 11: not required, with a reason that stays visible to auditors."""
    obligation = _managed_obligation(request.user, obligation_id)
    form = NotRequiredForm(request.POST, auto_id=f"nr{obligation.pk}_%s")

    def write(data):
        obligation_services.obligation_mark_not_required(
            obligation=obligation, reason=data["reason"], actor=request.user, now=timezone.now()
        )

    return _act(
        request, obligation.incident, form, "not_required", write, obligation=obligation, done=_("已标记无需报送。")
    )


@require_POST
@login_required
def obligation_first_known(request, obligation_id: int):
    """SPEC rule 4: correct the first-known time; pending clocks move, decided ones keep their lateness."""
    obligation = _managed_obligation(request.user, obligation_id)
    form = FirstKnownForm(request.POST, auto_id=f"fk{obligation.pk}_%s")

    def write(data):
        obligation_services.obligation_correct_first_known(
            obligation=obligation,
            first_known_at=data["first_known_at"],
            reason=data["reason"],
            actor=request.user,
            now=timezone.now(),
        )

    return _act(
        request, obligation.incident, form, "first_known", write, obligation=obligation, done=_("首次知悉时间已更正。")
    )


@require_POST
@login_required
def incident_edit(request, incident_id: int):
    """修改事件信息: figures, grade, title, place, summary (the API's PATCH); the service logs each change."""
    if role_of(request.user) not in MANAGE_ROLES:
        raise Http404("no such action")
    incident = _incident_for(request.user, incident_id)
    form = IncidentEditForm(request.POST, auto_id="edit_%s")

    def write(data):
        services.incident_update(incident=incident, actor=request.user, now=timezone.now(), **form.changes())

    return _act(request, incident, form, "edit", write, done=_("事件信息已修改。"))


@require_POST
@login_required
def obligation_city_report(request, obligation_id: int):
    """SPEC rule 12: a vertical unit (or the duty room for it) records when it reported to the city level."""
    obligation = obligations_visible(request.user).filter(pk=obligation_id).first()
    if obligation is None or not can_file(request.user, obligation):
        raise Http404("no such obligation")
    form = CityReportForm(request.POST, auto_id=f"cr{obligation.pk}_%s")

    def write(data):
        obligation_services.obligation_record_city_report(
            obligation=obligation, reported_at=data["reported_at"], actor=request.user, now=timezone.now()
        )

    return _act(
        request,
        obligation.incident,
        form,
        "city_report",
        write,
        obligation=obligation,
        done=_("已登记向市级报告时间。"),
    )
