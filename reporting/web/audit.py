"""The auditor page (督查审计): per-unit on-time rates (及时率) with a chart, findings, and the corrections and
not-required marks (更正与无需报送), for one filter: period, unit, and for the findings kind, review state and
whether the system withdrew them (``withdrawn``).

Findings the data no longer supports (``withdrawn_at``) count in no figure, so by default the list leaves them out
too, and says how many it left out (and how many of those an auditor had reviewed: their review stands on evidence
that changed, worth a second look) with a link that lists them. ``withdrawn=true`` lists only them, marked
"依据已变化, 系统撤销"; ``withdrawn=all`` both.

Exercises are left out of everything (SPEC rule 10). The figures are ``reporting.stats``' and the findings
``stats.findings_visible()`` with the API's filters, so the CSV/XLSX links (the API's ``?format=``, with the same
filters) download exactly what the page shows; the chart is inline SVG drawn server-side: no script, no CDN.
"""

from __future__ import annotations

import unicodedata
from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from reporting import audit_selectors, findings_services, selectors, stats
from reporting.errors import DomainError
from reporting.finding_text import finding_summary
from reporting.models import Finding, FindingKind, ReviewState, Role, Unit
from reporting.web.access import AUDIT_ROLES, role_of
from reporting.web.bilingual import localize
from reporting.web.display import LOCAL_TZ, local_short

FINDINGS_SHOWN = 200
BAR_MAX_WIDTH = 420
#: The chart's unit names sit left of the bars, in 150 px of 14 px text: about 20 Latin letters or 10 Chinese
#: characters. Longer names (English ones mostly) are cut, or they would run into the bars.
LABEL_MAX_WIDTH = 20
#: SPEC roles: auditors review findings (admins too); leaders and the duty room only read them.
REVIEW_ROLES = frozenset({Role.AUDITOR, Role.ADMIN})
#: The page's ``withdrawn`` filter: "" the findings still supported (the default: what the figures count), "true"
#: the withdrawn ones only, "all" both; and the API's ``withdrawn`` for each, so the downloads list the same.
WITHDRAWN_API = {"": "false", "true": "true", "all": ""}


def unit_rates(*, since: datetime | None, until: datetime | None, unit: Unit | None = None) -> list[dict]:
    """The per-unit timeliness rows of ``reporting.stats`` (the same figures as the CSV/XLSX export), for the
    units with obligations or findings in the period (``unit`` only, when given), each with ``name``: the unit's
    name in the active language (``Unit.label``), else its code."""
    rows = stats.timeliness_rows(since=since, until=until, unit=unit)
    rows = [r for r in rows if r["obligations"] or _findings_in(r)]
    names = selectors.unit_labels(codes=[r["unit"] for r in rows])
    return [r | {"name": names.get(r["unit"], r["unit"])} for r in rows]


def _findings_in(row: dict) -> int:
    return row["late"] + row["missed"] + row["held_back"] + row["concealed"] + row["roster_gaps"]


def chart_rows(rates: list[dict]) -> list[dict]:
    """Bar geometry for the SVG chart: one group per unit, a verbal and a written bar, widths in px; ``unit`` is the
    unit's name, ``label`` the same cut to fit left of the bars."""
    rows = []
    for index, rate in enumerate(rates):
        bars = []
        for kind in ("verbal", "written"):
            value = rate[f"{kind}_on_time_rate"]
            bars.append(
                {
                    "kind": kind,
                    "rate": value,
                    "percent": None if value is None else round(value * 100, 1),
                    "width": 0 if value is None else round(value * BAR_MAX_WIDTH, 1),
                }
            )
        rows.append(
            {
                "unit": rate["name"],
                "label": _fit(rate["name"], LABEL_MAX_WIDTH),
                "obligations": rate["obligations"],
                "bars": bars,
                "y": index * 56,
            }
        )
    return rows


def _width(char: str) -> int:
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def _fit(text: str, width: int) -> str:
    """``text`` unchanged when it is at most ``width`` columns wide (a Chinese character takes two), else cut to
    fit with "…" at the end."""
    if sum(map(_width, text)) <= width:
        return text
    kept, used = [], 1  # the ellipsis
    for char in text:
        used += _width(char)
        if used > width:
            break
        kept.append(char)
    return "".join(kept).rstrip() + "…"


def _parse_day(raw: str, field: str, errors: dict) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors[field] = _("日期格式应为 YYYY-MM-DD, 如 2026-11-28")
        return None


def _day_start(day: date | None) -> datetime | None:
    return datetime.combine(day, time.min, tzinfo=LOCAL_TZ) if day is not None else None


@require_GET
@login_required
def audit(request):
    if role_of(request.user) not in AUDIT_ROLES:
        raise Http404("no audit page for this role")
    context = _audit_context(request)
    return render(request, "web/audit.html", context, status=400 if context["errors"] else 200)


@require_POST
@login_required
def finding_review(request, finding_id: int):
    """An auditor confirms or dismisses a finding with a reason (SPEC "Audit findings"); both stay on record.

    A refused review (no reason, unknown decision) re-renders the page with the message next to that finding and
    the typed reason kept; success returns to the same filtered page.
    """
    if role_of(request.user) not in REVIEW_ROLES:
        raise Http404("only auditors review findings")
    finding = stats.findings_visible().filter(pk=finding_id).first()  # an exercise's is not reviewed (rule 10)
    if finding is None:
        raise Http404("no such finding")
    decision = request.POST.get("decision", "")
    reason = request.POST.get("reason", "")
    try:
        findings_services.finding_review(
            finding=finding, decision=decision, reason=reason, actor=request.user, now=timezone.now()
        )
    except DomainError as exc:
        context = _audit_context(request)
        context["review_errors"] = {
            "id": finding.pk,
            "messages": [localize(m) for msgs in exc.errors.values() for m in msgs],
            "decision": decision,
            "reason": reason,
        }
        return render(request, "web/audit.html", context, status=400)
    messages.success(request, _("审核结论已记录"))
    query = request.GET.urlencode()
    return redirect(f"{reverse('web:audit')}{'?' + query if query else ''}#finding-{finding.pk}")


def _audit_context(request) -> dict:
    """The page's figures, findings and corrections for the filters in the query string (``errors`` names bad
    filters; with any, nothing is filtered, so the page and its download links still agree)."""
    errors: dict[str, str] = {}
    since_day = _parse_day(request.GET.get("since", ""), "since", errors)
    until_day = _parse_day(request.GET.get("until", ""), "until", errors)
    kind = request.GET.get("kind", "")
    review = request.GET.get("review", "")
    withdrawn = request.GET.get("withdrawn", "")
    unit_code = request.GET.get("unit", "")
    if kind and kind not in FindingKind.values:
        errors["kind"] = _("未知的类型")
    if review and review not in ReviewState.values:
        errors["review"] = _("未知的审核状态")
    if withdrawn not in WITHDRAWN_API:
        errors["withdrawn"] = _("未知的依据状态")
    units = list(Unit.objects.order_by("code"))
    unit = next((u for u in units if u.code == unit_code), None) if unit_code else None
    if unit_code and unit is None:
        errors["unit"] = _("未知的单位")
    since = _day_start(since_day)
    # "until" is a whole day, inclusive.
    until = _day_start(until_day + timedelta(days=1)) if until_day else None
    if since is not None and until is not None and since >= until:
        errors["until"] = _("截止日期不能早于起始日期")
    if errors:
        since = until = unit = None
        kind = review = withdrawn = ""

    # The API's /findings/ selection (reporting.api.audit.FindingViewSet.get_queryset), so the export is this list.
    findings = stats.findings_visible().select_related("incident", "reviewed_by")
    if review:
        findings = findings.filter(review=review)
    if unit is not None:
        findings = findings.filter(unit=unit)
    if since:
        findings = findings.filter(found_at__gte=since)
    if until:
        findings = findings.filter(found_at__lt=until)
    # Counted before the kind filter, so each kind's link shows how many choosing it would list; the withdrawn ones
    # apart, so the page can say how many the default leaves out.
    gone = Q(withdrawn_at__isnull=False)
    by_kind = {
        row["kind"]: row
        for row in findings.order_by()
        .values("kind")
        .annotate(
            live=Count("id", filter=~gone),
            gone=Count("id", filter=gone),
            gone_reviewed=Count("id", filter=gone & ~Q(review=ReviewState.OPEN)),
        )
    }
    listed = {"": ("live",), "true": ("gone",), "all": ("live", "gone")}[withdrawn]
    counts = {k: sum(row[n] for n in listed) for k, row in by_kind.items()}
    in_kind = [row for k, row in by_kind.items() if not kind or k == kind]
    hidden = sum(row["gone"] for row in in_kind) if not withdrawn else 0
    hidden_reviewed = sum(row["gone_reviewed"] for row in in_kind) if not withdrawn else 0
    if not withdrawn:
        findings = findings.filter(withdrawn_at__isnull=True)
    elif withdrawn == "true":
        findings = findings.filter(withdrawn_at__isnull=False)
    if kind:
        findings = findings.filter(kind=kind)
    total = counts.get(kind, 0) if kind else sum(counts.values())
    rates = unit_rates(since=since, until=until, unit=unit)
    chart = chart_rows(rates)

    period = {key: value.isoformat() for key, value in (("since", since), ("until", until)) if value is not None}
    scope = period | ({"unit": unit.code} if unit is not None else {})
    page_filters = {
        key: value
        for key, value in (
            ("kind", kind),
            ("review", review),
            ("withdrawn", withdrawn),
            ("unit", unit.code if unit is not None else ""),
            ("since", request.GET.get("since", "") if not errors else ""),
            ("until", request.GET.get("until", "") if not errors else ""),
        )
        if value
    }
    context = {
        "findings": [
            {
                "finding": f,
                "found_at": local_short(f.found_at),
                "summary": finding_summary(f),
                "delay_minutes": _delay_minutes(f),
                "withdrawn_at": local_short(f.withdrawn_at) if f.withdrawn_at else "",
            }
            for f in findings[:FINDINGS_SHOWN]
        ],
        "total": total,
        "shown": min(total, FINDINGS_SHOWN),
        "counts": [
            (k, label, counts.get(k, 0), urlencode(page_filters | {"kind": k})) for k, label in FindingKind.choices
        ],
        "kinds": FindingKind.choices,
        "reviews": ReviewState.choices,
        "withdrawn_choices": [
            ("", _("有效 (计入统计)")),
            ("true", _("依据已变化, 系统撤销")),
            ("all", _("全部")),
        ],
        "withdrawn": withdrawn,
        "hidden": hidden,
        "hidden_reviewed": hidden_reviewed,
        "hidden_query": urlencode(page_filters | {"withdrawn": "true"}),
        "units": [(u.code, u.label) for u in units],
        "kind": kind,
        "review": review,
        "unit": unit_code,
        "since": request.GET.get("since", ""),
        "until": request.GET.get("until", ""),
        "errors": errors,
        "chart": chart,
        "rates": rates,
        "chart_height": max(len(chart), 1) * 56 + 10,
        "bar_max": BAR_MAX_WIDTH,
        # The timeliness export takes the period and unit; the findings export the whole findings filter.
        "export_query": urlencode(scope),
        "findings_export_query": urlencode(
            scope
            | {
                key: value
                for key, value in (("kind", kind), ("review", review), ("withdrawn", WITHDRAWN_API[withdrawn]))
                if value
            }
        ),
        "marks": [_mark_row(o) for o in audit_selectors.not_required_marks(since=since, until=until, unit=unit)],
        "restores": [_restore_row(r) for r in audit_selectors.obligation_restores(since=since, until=until, unit=unit)],
        "corrections": [
            _correction_row(c) for c in audit_selectors.first_known_corrections(since=since, until=until, unit=unit)
        ],
        "may_review": role_of(request.user) in REVIEW_ROLES,
        "filter_query": request.GET.urlencode(),
        "review_errors": {},
    }
    return context


def _mark_row(obligation) -> dict:
    return {
        "obligation": obligation,
        "incident": obligation.incident,
        "unit": obligation.unit.label,
        "marked_at": local_short(obligation.not_required_at),
        "marked_by": obligation.not_required_by.username if obligation.not_required_by_id else "",
        "reason": obligation.not_required_reason,
        "first_known_at": local_short(obligation.first_known_at),
        "verbal_due_at": local_short(obligation.verbal_due_at),
        "after_verbal_due": obligation.marked_after_verbal_due,
    }


def _restore_row(restore: audit_selectors.Restore) -> dict:
    return {
        "restore": restore,
        "incident": restore.incident,
        "unit": restore.obligation.unit.label,
        "first_known_at": local_short(restore.obligation.first_known_at),
        "marked_at": local_short(restore.marked_at),
        "marked_by": restore.marked_by,
        "mark_reason": restore.mark_reason,
        "at": local_short(restore.at),
        "actor": restore.actor,
        "reason": restore.reason,
    }


def _correction_row(correction: audit_selectors.Correction) -> dict:
    declared = correction.declared
    return {
        "correction": correction,
        "incident": correction.incident,
        "unit": correction.unit.label,
        "before": local_short(correction.before),
        "after": local_short(correction.after),
        # Shown only when evidence made the clock start earlier than the time the corrector gave (SPEC rule 5).
        "declared": local_short(declared) if declared is not None and declared != correction.after else "",
        # Later gives the unit more time on its pending clocks; earlier takes time away.
        "shift_minutes": abs(correction.shift_minutes or 0),
        "shift_later": (correction.shift_minutes or 0) > 0,
        "at": local_short(correction.at),
        "actor": correction.actor,
        "reason": correction.reason,
    }


def _delay_minutes(finding: Finding) -> int | None:
    seconds = (finding.detail or {}).get("delay_seconds")
    return int(seconds) // 60 if isinstance(seconds, int | float) else None
