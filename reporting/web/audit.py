"""The auditor page (督查审计): findings with kind/review filters and a per-unit on-time rate (及时率) chart.

Exercises are left out of every figure (SPEC rule 10). The chart is inline SVG drawn server-side: no script, no CDN.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from reporting.models import DeadlineState, Finding, FindingKind, Obligation, ObligationKind, ReviewState
from reporting.web.access import AUDIT_ROLES, role_of
from reporting.web.display import LOCAL_TZ, local_short

FINDINGS_SHOWN = 200
BAR_MAX_WIDTH = 420


@dataclass(frozen=True)
class UnitRate:
    unit: str
    obligations: int
    verbal_on_time: int
    verbal_judged: int
    written_on_time: int
    written_judged: int

    @property
    def verbal_rate(self) -> float | None:
        return self.verbal_on_time / self.verbal_judged if self.verbal_judged else None

    @property
    def written_rate(self) -> float | None:
        return self.written_on_time / self.written_judged if self.written_judged else None


def _judged(prefix: str, now: datetime) -> Q:
    """A clock that can be judged: filed (on time or late) or still pending past its due time (already late)."""
    return Q(**{f"{prefix}_state__in": [DeadlineState.ON_TIME, DeadlineState.LATE]}) | Q(
        **{f"{prefix}_state": DeadlineState.PENDING, f"{prefix}_due_at__lt": now}
    )


def unit_rates(*, now: datetime, since: datetime | None, until: datetime | None) -> list[UnitRate]:
    """On-time rate per unit over report obligations first known in [since, until), exercises excluded.

    A clock still pending past its due time counts against the unit (it can no longer be on time); a clock marked
    not required, or not yet due, is not judged.
    """
    qs = Obligation.objects.counted().filter(kind=ObligationKind.REPORT)
    if since is not None:
        qs = qs.filter(first_known_at__gte=since)
    if until is not None:
        qs = qs.filter(first_known_at__lt=until)
    rows = (
        qs.values("unit__name", "unit_id")
        .annotate(
            obligations=Count("id"),
            verbal_on_time=Count("id", filter=Q(verbal_state=DeadlineState.ON_TIME)),
            verbal_judged=Count("id", filter=_judged("verbal", now)),
            written_on_time=Count("id", filter=Q(written_state=DeadlineState.ON_TIME)),
            written_judged=Count("id", filter=_judged("written", now)),
        )
        .order_by("unit_id")
    )
    return [
        UnitRate(
            unit=r["unit__name"],
            obligations=r["obligations"],
            verbal_on_time=r["verbal_on_time"],
            verbal_judged=r["verbal_judged"],
            written_on_time=r["written_on_time"],
            written_judged=r["written_judged"],
        )
        for r in rows
    ]


def chart_rows(rates: list[UnitRate]) -> list[dict]:
    """Bar geometry for the SVG chart: one group per unit, a verbal and a written bar, widths in px."""
    rows = []
    for index, rate in enumerate(rates):
        bars = []
        for kind, value in (("verbal", rate.verbal_rate), ("written", rate.written_rate)):
            bars.append(
                {
                    "kind": kind,
                    "rate": value,
                    "percent": None if value is None else round(value * 100, 1),
                    "width": 0 if value is None else round(value * BAR_MAX_WIDTH, 1),
                }
            )
        rows.append({"unit": rate.unit, "obligations": rate.obligations, "bars": bars, "y": index * 56})
    return rows


def _parse_day(raw: str, field: str, errors: dict) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors[field] = _("日期格式应为 YYYY-MM-DD (a date like 2026-11-28)")
        return None


def _day_start(day: date | None) -> datetime | None:
    return datetime.combine(day, time.min, tzinfo=LOCAL_TZ) if day is not None else None


@require_GET
@login_required
def audit(request):
    if role_of(request.user) not in AUDIT_ROLES:
        raise Http404("no audit page for this role")
    errors: dict[str, str] = {}
    since_day = _parse_day(request.GET.get("since", ""), "since", errors)
    until_day = _parse_day(request.GET.get("until", ""), "until", errors)
    kind = request.GET.get("kind", "")
    review = request.GET.get("review", "")
    if kind and kind not in FindingKind.values:
        errors["kind"] = _("未知的类型 (unknown kind)")
    if review and review not in ReviewState.values:
        errors["review"] = _("未知的审核状态 (unknown review state)")
    since = _day_start(since_day)
    # "until" is a whole day, inclusive.
    until = _day_start(until_day + timedelta(days=1)) if until_day else None

    findings = Finding.objects.select_related("unit", "incident", "reviewed_by").filter(exercise=False)
    if not errors:
        if kind:
            findings = findings.filter(kind=kind)
        if review:
            findings = findings.filter(review=review)
        if since:
            findings = findings.filter(found_at__gte=since)
        if until:
            findings = findings.filter(found_at__lt=until)
    total = findings.count()
    counts = {row["kind"]: row["n"] for row in findings.order_by().values("kind").annotate(n=Count("id"))}
    rates = unit_rates(now=timezone.now(), since=since, until=until)
    chart = chart_rows(rates)
    export_query = urlencode(
        {key: value.isoformat() for key, value in (("since", since), ("until", until)) if value is not None}
    )
    context = {
        "findings": [
            {"finding": f, "found_at": local_short(f.found_at), "delay_minutes": _delay_minutes(f)}
            for f in findings.order_by("-found_at", "-id")[:FINDINGS_SHOWN]
        ],
        "total": total,
        "shown": min(total, FINDINGS_SHOWN),
        "counts": [(k, label, counts.get(k, 0)) for k, label in FindingKind.choices],
        "kinds": FindingKind.choices,
        "reviews": ReviewState.choices,
        "kind": kind,
        "review": review,
        "since": request.GET.get("since", ""),
        "until": request.GET.get("until", ""),
        "errors": errors,
        "chart": chart,
        "chart_height": max(len(chart), 1) * 56 + 10,
        "bar_max": BAR_MAX_WIDTH,
        "export_query": export_query,
    }
    return render(request, "web/audit.html", context, status=400 if errors else 200)


def _delay_minutes(finding: Finding) -> int | None:
    seconds = (finding.detail or {}).get("delay_seconds")
    return int(seconds) // 60 if isinstance(seconds, int | float) else None
