"""``/incidents/``: every incident the user may see, newest first, with how many clocks are still running or overdue
(the board shows only open clocks; this is where the duty room, leaders and auditors find an older incident)."""

from __future__ import annotations

import django_filters as filters
from django import forms
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Prefetch, Q
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django.views.decorators.http import require_GET

from reporting.models import DeadlineState, Domain, Grade, Incident, Obligation, Role
from reporting.web.access import BOARD_ROLES, OPEN_INCIDENT_ROLES, incidents_visible, role_of
from reporting.web.display import local_short

PAGE_SIZE = 50
PENDING = Q(obligations__verbal_state=DeadlineState.PENDING) | Q(obligations__written_state=DeadlineState.PENDING)


class IncidentListFilter(filters.FilterSet):
    q = filters.CharFilter(
        method="filter_q", label=_("编号或标题"), max_length=100, widget=forms.TextInput(attrs={"type": "search"})
    )
    domain = filters.ChoiceFilter(choices=Domain.choices, label=_("领域"), empty_label=_("全部"))
    grade = filters.ChoiceFilter(
        method="filter_grade",
        label=_("等级"),
        choices=[("graded", _("一般及以上")), *Grade.choices],
        empty_label=_("全部"),
    )
    state = filters.ChoiceFilter(
        method="filter_state",
        label=_("状态"),
        choices=[("open", _("仍在计时")), ("done", _("已了结"))],
        empty_label=_("全部"),
    )
    exercise = filters.ChoiceFilter(
        method="filter_exercise",
        label=pgettext_lazy("incident filter", "演练"),
        choices=[("no", _("不含演练")), ("only", _("只看演练"))],
        empty_label=_("全部"),
    )

    class Meta:
        model = Incident
        fields = ["q", "domain", "grade", "state", "exercise"]

    def filter_q(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(Q(number__icontains=value) | Q(title__icontains=value)) if value else queryset

    def filter_grade(self, queryset, name, value):
        """One grade, or every graded incident (一般 IV and above: what district leaders are told of)."""
        if value == "graded":
            return queryset.exclude(grade=Grade.BELOW)
        return queryset.filter(grade=value)

    def filter_state(self, queryset, name, value):
        running = Obligation.objects.open().values("incident_id")
        return queryset.filter(pk__in=running) if value == "open" else queryset.exclude(pk__in=running)

    def filter_exercise(self, queryset, name, value):
        return queryset.filter(exercise=(value == "only"))


@require_GET
@login_required
def incident_list(request):
    role = role_of(request.user)
    if role not in BOARD_ROLES | {Role.UNIT_STAFF}:
        raise Http404("no pages for this role")
    now = timezone.now()
    visible = incidents_visible(request.user)
    obligations = Obligation.objects.select_related("unit").order_by("kind", "id")
    if role == Role.UNIT_STAFF:
        obligations = obligations.filter(unit_id=request.user.unit_id)
    listed = IncidentListFilter(request.GET, queryset=Incident.objects.filter(pk__in=visible.values("pk")))
    qs = listed.qs if listed.is_valid() else Incident.objects.none()
    qs = qs.annotate(
        running=Count("obligations", filter=PENDING, distinct=True),
        overdue=Count(
            "obligations",
            filter=Q(obligations__verbal_state=DeadlineState.PENDING, obligations__verbal_due_at__lt=now)
            | Q(obligations__written_state=DeadlineState.PENDING, obligations__written_due_at__lt=now),
            distinct=True,
        ),
    ).prefetch_related(Prefetch("obligations", queryset=obligations))
    page = Paginator(qs.order_by("-occurred_at", "-id"), PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [
        {
            "incident": incident,
            "occurred_at": local_short(incident.occurred_at),
            "units": ", ".join(o.unit.label for o in incident.obligations.all()),
        }
        for incident in page
    ]
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "filter": listed,
        "rows": rows,
        "page": page,
        "query": query.urlencode(),
        "may_open": role in OPEN_INCIDENT_ROLES,
    }
    return render(request, "web/incident_list.html", context, status=200 if listed.is_valid() else 400)
