"""The duty room's actions on an incident page (API: duty room), each a POST back to the page: add a responsible
unit, mark an obligation not required (and undo a mark made by mistake), correct a first-known time, edit the
incident's facts; and a vertical unit's city-level report time (its own staff or the duty room).

Every write goes through the domain services with the server's clock. A refused input shows the page again with the
form in place, each message next to its field (400, 409 for a conflict), and writes nothing.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from reporting import obligation_services, services
from reporting.errors import DomainError
from reporting.models import Incident, Obligation
from reporting.web.access import MANAGE_ROLES, can_file, obligations_visible, role_of
from reporting.web.forms import (
    CityReportForm,
    FirstKnownForm,
    IncidentEditForm,
    NotRequiredForm,
    RestoreForm,
    UnitClockForm,
    add_domain_errors,
)
from reporting.web.incidents import incident_for, render_incident
from reporting.web.throttle import sms_throttled


def _managed_incident(user, incident_id: int) -> Incident:
    """An incident the duty room may act on; 404 for everyone else (as the page shows them no such action)."""
    if role_of(user) not in MANAGE_ROLES:
        raise Http404("no such action")
    return incident_for(user, incident_id)


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
    return render_incident(request, incident, failed=failed, status=status)


@require_POST
@login_required
@sms_throttled
def incident_add_unit(request, incident_id: int):
    """增加责任单位: a new obligation whose clocks start from the unit's first-known time."""
    incident = _managed_incident(request.user, incident_id)
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
def obligation_restore(request, obligation_id: int):
    """撤销无需报送: undo a mark made by mistake; the clocks it stopped run again on their original due times."""
    obligation = _managed_obligation(request.user, obligation_id)
    form = RestoreForm(request.POST, auto_id=f"rs{obligation.pk}_%s")

    def write(data):
        obligation_services.obligation_restore(
            obligation=obligation, reason=data["reason"], actor=request.user, now=timezone.now()
        )

    done = _("已撤销无需报送, 计时恢复。")
    return _act(request, obligation.incident, form, "restore", write, obligation=obligation, done=done)


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
@sms_throttled
def incident_edit(request, incident_id: int):
    """修改事件信息: figures, grade, title, place, summary (the API's PATCH); the service logs each change."""
    incident = _managed_incident(request.user, incident_id)
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
