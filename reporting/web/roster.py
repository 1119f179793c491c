"""值班表: a unit's duty roster, kept by its own staff, and the duty room's view of every unit's coverage.

SPEC: 24-hour duty, two people on post (双人在岗). The chasing reads the roster at the moment it sends; a gap then
falls back to the default contacts and becomes a finding. These pages show the gaps *before* that moment
(``reporting.coverage``), so a unit fills them and the duty room can see which units have not.

Unit staff see and edit their own unit's roster only (another unit's is a 404); the duty room and admins edit any
unit's; leaders and auditors read. Shifts that have ended are history (the chasing already used them): the pages
neither add nor remove them; one under way is ended now rather than removed, for the same reason.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from reporting import roster_services, selectors
from reporting.coverage import MIN_ON_POST, Gap, coverage_gaps
from reporting.errors import DomainError
from reporting.models import Contact, ContactRole, Role, Shift, Unit
from reporting.web.access import BOARD_ROLES, MANAGE_ROLES, role_of
from reporting.web.bilingual import LocalizedErrorsForm
from reporting.web.display import EVENT_LABELS, LOCAL_TZ, local_short
from reporting.web.forms import LocalDateTimeField, add_domain_errors, error_summary
from reporting.web.leaders import uncovered_domains

#: A unit's page shows one week; the duty room's overview looks this far ahead.
WEEK = timedelta(days=7)
DAY = timedelta(days=1)
#: Duty usually changes over at 08:30: the add form starts there.
HANDOVER = time(8, 30)


#: The roster adds no history: a shift must not have ended yet (the page's form and the spreadsheet import).
ENDED_SHIFT = gettext_lazy("只能安排尚未结束的班次")


class ShiftForm(LocalizedErrorsForm):
    contact = forms.ModelChoiceField(
        label=gettext_lazy("人员"),
        queryset=Contact.objects.none(),
        empty_label=gettext_lazy("请选择"),
        error_messages={
            "required": gettext_lazy("请选择人员"),
            "invalid_choice": gettext_lazy("不是本单位在用的人员"),
        },
    )
    role = forms.ChoiceField(label=gettext_lazy("岗位"))
    starts_at = LocalDateTimeField(label=gettext_lazy("开始"))
    ends_at = LocalDateTimeField(label=gettext_lazy("结束"))
    days = forms.IntegerField(
        label=gettext_lazy("班次数"),
        min_value=1,
        max_value=roster_services.MAX_REPEAT_DAYS,
        initial=1,
        help_text=gettext_lazy("同一时段排几个班次, 如每天一班排一周: 7"),
    )
    every = forms.IntegerField(
        label=gettext_lazy("每隔几天"),
        min_value=1,
        max_value=roster_services.MAX_EVERY_DAYS,
        initial=1,
        help_text=gettext_lazy("1: 每天; 2: 隔天 (两班轮换); 3: 三班轮换"),
    )

    def __init__(self, *args, unit: Unit, now: datetime, **kwargs):
        super().__init__(*args, **kwargs)
        self.now = now
        self.fields["contact"].queryset = Contact.objects.filter(unit=unit, active=True).order_by("name", "id")
        self.fields["contact"].label_from_instance = lambda c: f"{c.name} ({c.get_role_display()})"
        self.fields["role"].choices = [(r.value, r.label) for r in roster_services.shift_roles(unit)]

    def clean_ends_at(self):
        ends_at = self.cleaned_data["ends_at"]
        if ends_at <= self.now:
            raise forms.ValidationError(ENDED_SHIFT)
        return ends_at


def initial_shift(now: datetime) -> dict:
    """The next 08:30 handover, for 24 hours."""
    local_now = now.astimezone(LOCAL_TZ)
    start = datetime.combine(local_now.date(), HANDOVER, tzinfo=LOCAL_TZ)
    if start <= local_now:
        start += DAY
    return {"starts_at": start, "ends_at": start + DAY, "days": 1, "every": 1}


def may_edit(user, unit: Unit) -> bool:
    role = role_of(user)
    return role in MANAGE_ROLES or (role == Role.UNIT_STAFF and user.unit_id == unit.pk)


def readable_unit(user, code: str) -> Unit:
    """The unit whose roster ``user`` may read, or 404 (unit staff: only their own)."""
    role = role_of(user)
    unit = get_object_or_404(Unit, code=code)
    if role in BOARD_ROLES or (role == Role.UNIT_STAFF and user.unit_id == unit.pk):
        return unit
    raise Http404("no such roster")


def gaps_ahead(unit: Unit, *, now: datetime, within: timedelta = DAY) -> list[Gap]:
    """``unit``'s 双人在岗 gaps from ``now`` for ``within`` (the unit's home page warns of them)."""
    return selectors.roster_gaps(units=[unit], start=now, end=now + within)[unit.pk]


def _gap_rows(gaps: list[Gap]) -> list[dict]:
    return [
        {
            "starts_at": local_short(g.starts_at),
            "ends_at": local_short(g.ends_at),
            "hours": round(g.seconds / 3600, 1),
            "on_post": g.on_post,
        }
        for g in gaps
    ]


def _change_rows(unit: Unit) -> list[dict]:
    """The roster's change log as the page shows it: when, who, what (the whole shift, or the changed fields)."""
    rows = []
    for event in selectors.roster_changes(unit=unit):
        d = event.detail
        late = False
        if event.kind.startswith("shift_"):
            what = f"{d.get('name', '')} · {_role_label(d.get('role'))}"
            span = f"{_iso_local(d.get('starts_at'))} — {_iso_local(d.get('ends_at'))}"
            # A shift put on the roster after it had started (through the API: the pages refuse ended ones) makes
            # the past look covered: the auditors' cue to compare with the roster-gap findings of that time.
            late = event.kind == "shift_added" and _parsed(d.get("starts_at")) < event.at
        elif event.kind == "contact_changed":
            what = d.get("name", "")
            span = ", ".join(
                f"{_field_label(field)}: {before} → {after}" for field, (before, after) in d.get("changed", {}).items()
            )
        else:
            what, span = f"{d.get('name', '')} · {_role_label(d.get('role'))}", d.get("phone", "")
        rows.append(
            {
                "at": local_short(event.at),
                "actor": event.actor,
                "label": EVENT_LABELS.get(event.kind, event.kind),
                "what": what,
                "span": span,
                "retroactive": late,
            }
        )
    return rows


def _role_label(role: str | None) -> str:
    return str(ContactRole(role).label) if role in ContactRole.values else (role or "")


def _field_label(field: str) -> str:
    return str(Contact._meta.get_field(field).verbose_name)


def _parsed(value: str | None) -> datetime:
    try:
        return datetime.fromisoformat(value) if value else datetime.max.replace(tzinfo=LOCAL_TZ)
    except ValueError:
        return datetime.max.replace(tzinfo=LOCAL_TZ)


def _iso_local(value: str | None) -> str:
    parsed = _parsed(value)
    return local_short(parsed) if parsed.year < 9999 else (value or "")


def _week_start(request, now: datetime) -> date:
    """``?from=YYYY-MM-DD`` (Asia/Shanghai), else today; a malformed or far-off date is today too, never an error
    page (the year 9999 would overflow the week's end)."""
    try:
        first = date.fromisoformat(request.GET.get("from", ""))
    except ValueError:
        first = None
    if first is None or not 2000 <= first.year <= 2100:
        first = now.astimezone(LOCAL_TZ).date()
    return first


def _unit_page(request, unit: Unit, *, form: ShiftForm | None = None, status: int = 200, refused: str = ""):
    now = timezone.now()
    first = _week_start(request, now)
    start = datetime.combine(first, time(0), tzinfo=LOCAL_TZ)
    end = start + WEEK
    shifts = list(selectors.roster_shifts(units=[unit], start=start, end=end))
    gaps = coverage_gaps(selectors.on_post_spans(shifts), start=start, end=end)
    editable = may_edit(request.user, unit)
    if editable and form is None:
        form = ShiftForm(unit=unit, now=now, initial=initial_shift(now))
    rows = [
        {
            "shift": s,
            "starts_at": local_short(s.starts_at),
            "ends_at": local_short(s.ends_at),
            "state": "ended" if s.ends_at <= now else ("on" if s.starts_at <= now else "later"),
            # Made inactive since it began: on post until then only (the coverage counts it so).
            "inactive_since": "" if s.contact.active else local_short(s.contact.deactivated_at),
        }
        for s in shifts
    ]
    week_url = reverse("web:roster-unit", args=[unit.code])
    context = {
        "unit": unit,
        "rows": rows,
        "gaps": _gap_rows(gaps),
        "gap_hours": round(sum(g.seconds for g in gaps) / 3600, 1),
        "first": first,
        "last": first + WEEK - DAY,
        "prev_url": f"{week_url}?from={(first - WEEK).isoformat()}",
        "next_url": f"{week_url}?from={(first + WEEK).isoformat()}",
        "this_week_url": week_url,
        "editable": editable,
        "form": form if editable else None,
        "errors": error_summary(form) if form is not None and form.is_bound else [],
        "refused": refused,
        "overview": role_of(request.user) in BOARD_ROLES,
        "min_on_post": MIN_ON_POST,
        "has_people": editable and form.fields["contact"].queryset.exists(),
        "changes": _change_rows(unit),
    }
    return render(request, "web/roster.html", context, status=status)


@require_GET
@login_required
def roster_home(request):
    """Unit staff go to their unit's roster; the reading roles get every unit's coverage, worst first."""
    role = role_of(request.user)
    if role == Role.UNIT_STAFF and request.user.unit_id:
        return redirect("web:roster-unit", request.user.unit.code)
    if role not in BOARD_ROLES:
        raise Http404("no pages for this role")
    now = timezone.now()
    units = list(selectors.rostered_units().order_by("id"))
    by_unit: dict[int, list[Shift]] = {u.pk: [] for u in units}
    for shift in selectors.roster_shifts(units=units, start=now, end=now + WEEK):
        by_unit[shift.unit_id].append(shift)
    rows = []
    for unit in units:
        spans = selectors.on_post_spans(by_unit[unit.pk])
        day_gaps = coverage_gaps(spans, start=now, end=now + DAY)
        week_gaps = coverage_gaps(spans, start=now, end=now + WEEK)
        # By person, not by name: two people may share a name and are still two on post.
        names = {s.contact_id: s.contact.name for s in by_unit[unit.pk]}
        on_post = {who: names[who] for s, e, who in spans if s <= now < e}
        rows.append(
            {
                "unit": unit,
                "on_post": sorted(on_post.values()),
                "short_now": len(on_post) < MIN_ON_POST,
                "day_hours": round(sum(g.seconds for g in day_gaps) / 3600, 1),
                "week_hours": round(sum(g.seconds for g in week_gaps) / 3600, 1),
                "next_gap": local_short(week_gaps[0].starts_at) if week_gaps else "",
            }
        )
    rows.sort(key=lambda r: (not r["short_now"], -r["day_hours"], -r["week_hours"], r["unit"].pk))
    context = {
        "rows": rows,
        "short_now": sum(r["short_now"] for r in rows),
        "min_on_post": MIN_ON_POST,
        "leaders_uncovered": uncovered_domains(),
        # 区委办, 区府办: relay recipients, no roster here (said on the page, so their absence is not a mistake).
        "not_rostered": list(Unit.objects.filter(active=True, kind__in=selectors.NOT_ROSTERED_KINDS).order_by("id")),
    }
    return render(request, "web/roster_overview.html", context)


@require_GET
@login_required
def roster_unit(request, code: str):
    return _unit_page(request, readable_unit(request.user, code))


@require_POST
@login_required
def shift_add(request, code: str):
    unit = readable_unit(request.user, code)
    if not may_edit(request.user, unit):
        raise Http404("no such action")
    now = timezone.now()
    form = ShiftForm(request.POST, unit=unit, now=now)
    if not form.is_valid():
        return _unit_page(request, unit, form=form, status=400)
    data = form.cleaned_data
    try:
        shifts = roster_services.shifts_create(
            unit=unit,
            contact=data["contact"],
            role=data["role"],
            starts_at=data["starts_at"],
            ends_at=data["ends_at"],
            days=data["days"],
            every=data["every"],
            actor=request.user,
            now=now,
        )
    except DomainError as exc:
        add_domain_errors(form, exc)
        return _unit_page(request, unit, form=form, status=exc.status_code)
    messages.success(request, _("已排班 %(n)d 个班次。") % {"n": len(shifts)})
    first = shifts[0].starts_at.astimezone(LOCAL_TZ).date()
    return redirect(f"{reverse('web:roster-unit', args=[unit.code])}?from={first.isoformat()}")


@require_POST
@login_required
def shift_delete(request, shift_id: int):
    shift = Shift.objects.select_related("unit").filter(pk=shift_id).first()
    if shift is None or not may_edit(request.user, shift.unit):
        raise Http404("no such shift")
    unit = shift.unit
    now = timezone.now()
    if shift.ends_at <= now:
        return _unit_page(request, unit, status=409, refused=_("已结束的班次是值班记录, 不能删除。"))
    if shift.starts_at < now:
        # Under way: the chasing has counted this person on post so far; ending the shift now keeps that record.
        roster_services.shift_end(shift=shift, actor=request.user, now=now)
        messages.success(request, _("班次已提前结束, 此前的在岗记录保留。"))
    else:
        roster_services.shift_delete(shift=shift, actor=request.user, now=now)
        messages.success(request, _("班次已删除。"))
    first = shift.starts_at.astimezone(LOCAL_TZ).date()
    return redirect(f"{reverse('web:roster-unit', args=[unit.code])}?from={first.isoformat()}")
