"""District leaders (区领导): who is told of a death in their domain and who of every graded event.

The event rules (SPEC "Escalation": deaths ≥ 1 → the leader whose portfolio covers the domain; grade IV and above →
the leaders on the notification list) read these people. The duty room keeps them here; leaders and auditors read
the list. The page warns of a domain no active leader covers, and of an empty notification list: a death there
would reach only the leaders on the list (``notifications.events``; with the list empty too, only the duty room on
post), a graded event no one.

Leaders added here are kept with the duty room's contacts; one already in another unit (区府办 in the demo) stays
there. Every change goes through ``reporting.roster_services`` and is an audit event, as for any person.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from reporting import roster_services, selectors
from reporting.coverage import domains_without_leader
from reporting.models import Contact, ContactRole, Domain, Unit, UnitKind
from reporting.web.access import BOARD_ROLES, MANAGE_ROLES, role_of
from reporting.web.forms import ContactFieldsForm, error_summary

#: What the page edits of a leader.
LEADER_FIELDS = ("name", "phone", "email", "portfolio", "notify_on_grade", "active")


class LeaderForm(ContactFieldsForm):
    portfolio = forms.MultipleChoiceField(
        label=gettext_lazy("分管领域 (有人死亡时通知并赶赴现场)"),
        choices=Domain.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    notify_on_grade = forms.BooleanField(label=gettext_lazy("一般及以上事件通知名单"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["phone"].help_text = gettext_lazy("E.164 格式, 如 +8613800000000; 通知短信发到这里")


def _readable(user) -> bool:
    return role_of(user) in BOARD_ROLES


def _editable(user) -> bool:
    return role_of(user) in MANAGE_ROLES


def _leaders_page(request, *, form: LeaderForm | None = None, status: int = 200):
    editable = _editable(request.user)
    if editable and form is None:
        form = LeaderForm(initial={"active": True})
    leaders = list(selectors.district_leaders())
    labels = dict(Domain.choices)
    context = {
        "leaders": [{"person": p, "portfolio": [labels.get(d, d) for d in p.portfolio or []]} for p in leaders],
        "uncovered": uncovered_domains(leaders),
        "no_list": not any(p.active and p.notify_on_grade for p in leaders),
        # Told of nothing by SMS (notifications.events asks the duty room to phone them instead).
        "no_phone": [p.name for p in leaders if p.active and not p.phone and (p.portfolio or p.notify_on_grade)],
        "editable": editable,
        "form": form if editable else None,
        "errors": error_summary(form) if form is not None and form.is_bound else [],
    }
    return render(request, "web/roster_leaders.html", context, status=status)


def uncovered_domains(leaders: list[Contact] | None = None) -> list[str]:
    """The names of the domains no active district leader covers (the leaders page and the coverage view warn)."""
    if leaders is None:
        leaders = list(selectors.district_leaders())
    labels = dict(Domain.choices)
    pairs = [(p.active, p.portfolio or []) for p in leaders]
    return [labels[d] for d in domains_without_leader(Domain.values, pairs)]


def _home_unit() -> Unit:
    """Where a leader added here is kept: the duty room's unit (its people are the duty room's to keep)."""
    unit = Unit.objects.filter(kind=UnitKind.DUTY_ROOM, active=True).order_by("id").first()
    if unit is None:
        raise Http404("no duty room unit")
    return unit


@require_http_methods(["GET", "POST"])
@login_required
def leaders(request):
    if not _readable(request.user):
        raise Http404("no such page")
    if request.method == "GET":
        return _leaders_page(request)
    if not _editable(request.user):
        raise Http404("no such action")
    form = LeaderForm(request.POST)
    if not form.is_valid():
        return _leaders_page(request, form=form, status=400)
    leader = roster_services.contact_create(
        unit=_home_unit(),
        role=ContactRole.DISTRICT_LEADER,
        **{f: form.cleaned_data[f] for f in LEADER_FIELDS},
        actor=request.user,
        now=timezone.now(),
    )
    messages.success(request, _("已添加 %(name)s。") % {"name": leader.name})
    return redirect("web:leaders")


@require_http_methods(["GET", "POST"])
@login_required
def leader_edit(request, contact_id: int):
    leader = Contact.objects.filter(pk=contact_id, role=ContactRole.DISTRICT_LEADER).first()
    if leader is None or not _editable(request.user):
        raise Http404("no such leader")
    if request.method == "POST":
        form = LeaderForm(request.POST)
        if form.is_valid():
            roster_services.contact_update(
                contact=leader,
                changes={f: form.cleaned_data[f] for f in LEADER_FIELDS},
                actor=request.user,
                now=timezone.now(),
            )
            messages.success(request, _("已保存 %(name)s。") % {"name": form.cleaned_data["name"]})
            return redirect("web:leaders")
        status = 400
    else:
        form = LeaderForm(initial={f: getattr(leader, f) for f in LEADER_FIELDS})
        status = 200
    context = {"person": leader, "form": form, "errors": error_summary(form) if form.is_bound else []}
    return render(request, "web/roster_leader.html", context, status=status)
