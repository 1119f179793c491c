"""The duty room's signal inbox (信息线索): what 110/119/120, 12345, 随身拍 and city notices pushed in, the unlinked
ones first. The duty room links a signal to an incident or opens an incident from it (API.md: "the duty room's
choice"); a signal delivered to a unit is then first-known evidence for that unit (SPEC rule 5)."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from reporting import signal_services
from reporting.errors import DomainError
from reporting.models import AuditEvent, Incident, Signal
from reporting.signal_services import UNLINK_REASON_MAX_LENGTH
from reporting.web.access import BOARD_ROLES, MANAGE_ROLES, role_of
from reporting.web.bilingual import LocalizedErrorsForm, localize
from reporting.web.display import local_short
from reporting.web.forms import TextForm
from reporting.web.throttle import sms_throttled

#: Incidents offered for linking: those opened in the last few days (older ones are linked through the API).
LINKABLE_DAYS = 7
#: Signals shown on the page, newest first within each group.
PAGE_SIZE = 100


#: The id of the page's one list of linkable incidents, which every row's incident field refers to.
DATALIST_ID = "linkable-incidents"


def _incident_field(label, *, required: bool) -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=200,
        required=required,
        error_messages={"required": gettext_lazy("请选择事件")},
        widget=forms.TextInput(
            attrs={"list": DATALIST_ID, "autocomplete": "off", "placeholder": gettext_lazy("事件编号或名称")}
        ),
    )


class _ChoosesIncident(LocalizedErrorsForm):
    """A form naming an incident opened in the last ``LINKABLE_DAYS`` days by its number (or its id).

    The page lists those incidents once, in one ``<datalist>`` (``link_choices``), and each row's field refers to
    it: a ``<select>`` per row listed every incident again in every row, so the page grew as rows × incidents. The
    list only offers; what is sent is checked here. It works without JavaScript, as before."""

    def __init__(self, *args, now, **kwargs):
        super().__init__(*args, **kwargs)
        self.now = now

    def clean_incident(self) -> Incident | None:
        # As the list shows it ("SJ-2026-000007 title" when pasted whole): the number is the first word. A bare
        # integer is an incident's id (what the form sent before; a page open across an update still links).
        words = self.cleaned_data["incident"].split()
        if not words:
            return None  # left empty where that is allowed (a required field refused it already)
        key = words[0]
        linkable = linkable_incidents(self.now)
        if key.isdigit():
            incident = linkable.filter(pk=int(key)).first() if len(key) <= 18 else None
        else:
            incident = linkable.filter(number=key).first()
        if incident is None:  # not one of the list: unknown, too old, or gone since the page was shown
            raise forms.ValidationError(gettext_lazy("未知事件"), code="invalid_choice")
        return incident


class LinkForm(_ChoosesIncident):
    """Link a waiting signal to one of the offered incidents."""

    incident = _incident_field(gettext_lazy("关联到事件"), required=True)


class UnlinkForm(_ChoosesIncident, TextForm):
    """Undo a wrong link, with the reason auditors will see (``signal_services.signal_unlink``); with an incident
    named, the signal is linked there in the same step (``signal_move``)."""

    reason = forms.CharField(
        label=gettext_lazy("取消关联原因"), max_length=UNLINK_REASON_MAX_LENGTH, widget=forms.TextInput()
    )
    incident = _incident_field(gettext_lazy("改关联到事件 (可不填)"), required=False)


def linkable_incidents(now):
    return Incident.objects.filter(created_at__gte=now - timedelta(days=LINKABLE_DAYS)).order_by("-id")


def link_choices(now) -> list[tuple[str, str]]:
    """(number, title) of the incidents a signal may be linked to from the page, in one query."""
    return list(linkable_incidents(now).values_list("number", "title"))


def _rows(now, *, manage: bool, show_all: bool, failed: tuple[int, forms.Form] | None = None) -> list[dict]:
    qs = Signal.objects.select_related("delivered_to", "incident")
    if not show_all:
        qs = qs.filter(incident__isnull=True)
    rows = []
    for signal in qs.order_by("incident_id", "-received_at", "-id")[:PAGE_SIZE]:
        row = {
            "signal": signal,
            "received_at": local_short(signal.received_at),
            "delivered_at": local_short(signal.delivered_at),
        }
        form = failed[1] if failed is not None and failed[0] == signal.pk else None
        if manage and signal.incident_id is None:
            if not isinstance(form, LinkForm):
                form = LinkForm(auto_id=f"link{signal.pk}_%s", now=now)
            row["link_form"] = form
        elif manage:
            if not isinstance(form, UnlinkForm):
                form = UnlinkForm(auto_id=f"unlink{signal.pk}_%s", now=now)
            row["unlink_form"] = form
        rows.append(row)
    return rows


def _page(request, *, failed=None, status=200, errors=()):
    role = role_of(request.user)
    if role not in BOARD_ROLES:
        raise Http404("no pages for this role")
    now = timezone.now()
    show_all = request.GET.get("show") == "all"
    manage = role in MANAGE_ROLES
    rows = _rows(now, manage=manage, show_all=show_all, failed=failed)
    context = {
        "rows": rows,
        # One list for every row's incident field (DATALIST_ID), read only when some row offers one.
        "link_choices": link_choices(now) if any("link_form" in row or "unlink_form" in row for row in rows) else [],
        "datalist_id": DATALIST_ID,
        "show_all": show_all,
        "manage": manage,
        "unlinked": Signal.objects.filter(incident__isnull=True).count(),
        "errors": list(errors),
    }
    return render(request, "web/signals.html", context, status=status)


@require_GET
@login_required
def signals(request):
    return _page(request)


@require_POST
@login_required
@sms_throttled
def signal_link(request, signal_id: int):
    signal = _managed_signal(request, signal_id)
    now = timezone.now()
    form = LinkForm(request.POST, auto_id=f"link{signal.pk}_%s", now=now)
    if form.is_valid():
        incident = form.cleaned_data["incident"]
        try:
            signal_services.signal_link(signal=signal, incident=incident, actor=request.user, now=now)
        except DomainError as exc:
            return _refused(request, signal, exc)
        messages.success(request, _("线索已关联到事件 %(number)s。") % {"number": incident.number})
        return redirect("web:signals")
    return _page(request, failed=(signal.pk, form), status=400)


def _managed_signal(request, signal_id: int) -> Signal:
    """The signal a duty-room action is about; 404 for other roles (as on the duty room's other actions) and for an
    unknown id."""
    if role_of(request.user) not in MANAGE_ROLES:
        raise Http404("no such action")
    signal = Signal.objects.filter(pk=signal_id).first()
    if signal is None:
        raise Http404("no such signal")
    return signal


def _refused(request, signal: Signal, exc: DomainError):
    """A service refused a valid form (linked or unlinked by someone else meanwhile): the row no longer offers that
    form, so the message goes above the table."""
    errors = [f"{signal.source} {signal.external_id}: {localize(m)}" for msgs in exc.errors.values() for m in msgs]
    return _page(request, status=exc.status_code, errors=errors)


@require_POST
@login_required
@sms_throttled
def signal_unlink(request, signal_id: int):
    """The duty room undoes a wrong link (with a reason), and may link the signal to the right incident in the same
    step. Shown on the list of every signal (``?show=all``), where linked ones are."""
    signal = _managed_signal(request, signal_id)
    now = timezone.now()
    form = UnlinkForm(request.POST, auto_id=f"unlink{signal.pk}_%s", now=now)
    if not form.is_valid():
        return _page(request, failed=(signal.pk, form), status=400)
    reason, target = form.cleaned_data["reason"], form.cleaned_data["incident"]
    try:
        if target is None:
            signal_services.signal_unlink(signal=signal, reason=reason, actor=request.user, now=now)
        else:
            signal_services.signal_move(signal=signal, incident=target, reason=reason, actor=request.user, now=now)
    except DomainError as exc:
        return _refused(request, signal, exc)
    messages.success(request, _unlinked_message(signal, target))
    return redirect("web:signals")


def _unlinked_message(signal: Signal, target: Incident | None) -> str:
    """What the unlink did, from its ``signal_unlinked`` event: the signal, and the unit's clock."""
    event = (
        AuditEvent.objects.filter(kind="signal_unlinked", object_type="signal", object_id=str(signal.pk))
        .order_by("-id")
        .first()
    )
    detail = event.detail if event is not None and isinstance(event.detail, dict) else {}
    name = f"{signal.get_source_display()} {signal.external_id}"
    if target is None:
        parts = [_("线索 %(signal)s 已取消关联, 重新等待处理。") % {"signal": name}]
    else:
        parts = [_("线索 %(signal)s 已改关联到事件 %(number)s。") % {"signal": name, "number": target.number}]
    unit = signal.delivered_to.label if signal.delivered_to else ""
    outcome = detail.get("outcome")
    if outcome == "first_known_corrected":
        after = parse_datetime(detail.get("first_known_after") or "")
        parts.append(
            _("%(unit)s 的首次知悉时间已改为 %(time)s (已报送的迟报、按时不变)。")
            % {"unit": unit, "time": local_short(after)}
        )
    elif outcome == "not_required":
        parts.append(_("%(unit)s 仅因此线索计时, 已标记为无需报送。") % {"unit": unit})
    elif outcome == "kept_reports_filed":
        parts.append(_("%(unit)s 仅因此线索计时, 但已有报告, 其报送义务保留。") % {"unit": unit})
    return " ".join(str(p) for p in parts)
