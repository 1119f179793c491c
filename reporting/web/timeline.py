"""The incident page's timeline: each audit event's detail as a short phrase in the page's language.

The detail is stored as the services wrote it (codes, ISO times, counts); here a unit code becomes the unit's name
in the page's language, a report kind or channel its label, a time Shanghai wall time, a verdict 按时 or 迟报 with
the delay, a figure its label, a reason quoted. A kind this module does not know still reads as a phrase: its unit,
report kind and reason, never ``key=value``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.db.models import QuerySet
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from reporting.models import (
    AuditEvent,
    Channel,
    DeadlineState,
    FindingKind,
    Grade,
    ObligationKind,
    Report,
    ReportKind,
    ReviewState,
    SignalSource,
    Unit,
)
from reporting.web.display import STEP_LABELS, local_short, report_label

SEP = " · "

#: Incident fields as the edit form labels them (the figures as the filing form does).
FIELD_LABELS = {
    "title": gettext_lazy("事件标题"),
    "location": gettext_lazy("地点"),
    "summary": gettext_lazy("简要情况"),
    "deaths": gettext_lazy("死亡人数"),
    "injuries": gettext_lazy("受伤人数"),
    "serious_injuries": gettext_lazy("其中重伤人数"),
    "missing": gettext_lazy("失踪人数"),
    "direct_loss_yuan": gettext_lazy("直接经济损失(元)"),
    "grade": gettext_lazy("等级"),
    "sensitive": gettext_lazy("敏感事件"),
    "exercise": gettext_lazy("演练"),
    "domain": gettext_lazy("领域"),
    "occurred_at": gettext_lazy("发生时间"),
}
FIGURES = ("deaths", "injuries", "serious_injuries", "missing", "direct_loss_yuan")
#: Notification channels (``notifications.models.NotificationChannel``: reporting never imports notifications).
NOTIFICATION_CHANNELS = {"sms": gettext_lazy("短信"), "email": gettext_lazy("邮件"), "voice": gettext_lazy("语音")}
#: Which deadline a ``deadline_passed`` event is about.
DEADLINES = {"verbal": gettext_lazy("口头报"), "written": gettext_lazy("书面报"), "relay": gettext_lazy("转报")}


def unit_labels(events: Iterable[AuditEvent]) -> dict[str, str]:
    """The names, in the page's language, of the units the events name (one query)."""
    codes = set()
    for event in events:
        detail = event.detail or {}
        codes |= {detail[k] for k in ("unit", "delivered_to") if isinstance(detail.get(k), str)}
    return {u.code: u.label for u in Unit.objects.filter(code__in=codes).only("code", "name", "name_en")}


def _label(choices, value) -> str:
    return str(choices(value).label) if value in choices.values else str(value)


def _time(value) -> str:
    parsed = parse_datetime(value) if isinstance(value, str) else None
    return local_short(parsed) if parsed is not None else str(value)


def _quoted(text) -> str:
    text = str(text)
    return f"“{text if len(text) <= 120 else text[:119] + '…'}”"


def _value(field: str, value) -> str:
    if value is None or value == "":
        return "—"
    if field == "grade":
        return _label(Grade, value)
    if isinstance(value, bool):
        return _("是") if value else _("否")
    if field == "occurred_at":
        return _time(value)
    text = str(value)
    return text if len(text) <= 60 else text[:59] + "…"


def _figures(detail: Mapping[str, Any]) -> list[str]:
    return [f"{FIELD_LABELS[f]} {detail[f]}" for f in FIGURES if detail.get(f) is not None]


def _verdict(detail: Mapping[str, Any]) -> str:
    if detail.get("on_time") is None:
        return ""
    if detail["on_time"]:
        return str(DeadlineState.ON_TIME.label)
    minutes, seconds = divmod(int(detail.get("delay_seconds") or 0), 60)
    return _("迟报 %(minutes)d 分 %(seconds)d 秒") % {"minutes": minutes, "seconds": seconds}


def _incident_created(d, unit):
    parts = [d.get("number") or ""]
    if d.get("grade"):
        parts.append(f"{FIELD_LABELS['grade']}: {_label(Grade, d['grade'])}")
    parts += _figures(d)
    if d.get("exercise"):
        parts.append(str(FIELD_LABELS["exercise"]))
    return parts


def _incident_changed(d, unit):
    parts = []
    for field, change in (d.get("changes") or {}).items():
        before, after = change if isinstance(change, list) and len(change) == 2 else (None, change)
        parts.append(f"{FIELD_LABELS.get(field, field)}: {_value(field, before)} → {_value(field, after)}")
    return parts


def _obligation_created(d, unit):
    parts = [unit]
    if d.get("kind") == ObligationKind.RELAY:
        parts.append(str(ObligationKind.RELAY.label))
    if d.get("channel"):
        parts.append(_("知悉途径: %(channel)s") % {"channel": _label(Channel, d["channel"])})
    if d.get("first_known_at"):
        parts.append(_("首次知悉 %(at)s") % {"at": _time(d["first_known_at"])})
    if d.get("verbal_due_at"):
        parts.append(_("口头报截止 %(at)s") % {"at": _time(d["verbal_due_at"])})
    if d.get("written_due_at"):
        parts.append(_("书面报截止 %(at)s") % {"at": _time(d["written_due_at"])})
    return parts


def _report(d, unit):
    """report_filed, report_draft_saved, report_refused."""
    parts = [unit, _label(ReportKind, d.get("kind", ""))]
    if d.get("sequence"):
        parts[-1] += _(" (第 %(n)s 份)") % {"n": d["sequence"]}
    parts.append(_verdict(d))
    if d.get("call_received_at"):
        # SPEC rule 2: a report the duty room logged from a phone call counts from the call, not from this event.
        parts.append(_("电话报告, 来电时间 %(at)s") % {"at": _time(d["call_received_at"])})
    if d.get("missing"):
        labels = [str(FIELD_LABELS.get(f) or f) for f in d["missing"]] if isinstance(d["missing"], list) else []
        parts.append(_("缺少: %(elements)s") % {"elements": _("、").join(labels) or d["missing"]})
    parts += _figures(d.get("figures") or {})
    return parts


def _not_required(d, unit):
    return [unit, _("原因: %(reason)s") % {"reason": _quoted(d.get("reason", ""))}]


def _restored(d, unit):
    """obligation_restored: the restore's reason, then the mark it undid (its reason, who and when)."""
    parts = [unit, _("原因: %(reason)s") % {"reason": _quoted(d.get("reason", ""))}]
    mark = _("撤销的标记: %(reason)s") % {"reason": _quoted(d.get("mark_reason", ""))}
    if d.get("marked_by") or d.get("marked_at"):
        mark += _(" (%(by)s 于 %(at)s 标记)") % {"by": d.get("marked_by") or "—", "at": _time(d.get("marked_at"))}
    return [*parts, mark]


def _first_known(d, unit):
    before = (d.get("before") or {}).get("first_known_at") if isinstance(d.get("before"), dict) else d.get("before")
    after = (d.get("after") or {}).get("first_known_at") if isinstance(d.get("after"), dict) else d.get("after")
    parts = [unit, _("首次知悉 %(before)s → %(after)s") % {"before": _time(before), "after": _time(after)}]
    if d.get("source"):
        parts.append(_("依据 %(source)s 线索") % {"source": _label(SignalSource, d["source"])})
    if d.get("reason"):
        parts.append(_("原因: %(reason)s") % {"reason": _quoted(d["reason"])})
    return parts


def _city_report(d, unit):
    return [unit, _("向市级部门报告于 %(at)s") % {"at": _time(d.get("reported_at"))}]


def _deadline_passed(d, unit):
    deadline = str(DEADLINES.get(d.get("deadline"), d.get("deadline", "")))
    return [unit, _("%(deadline)s截止 %(at)s") % {"deadline": deadline, "at": _time(d.get("due_at"))}]


def _signal(d, unit, units):
    parts = [f"{_label(SignalSource, d.get('source', ''))} {d.get('external_id', '')}".strip()]
    if d.get("delivered_to"):
        parts.append(_("派送至 %(unit)s") % {"unit": units.get(d["delivered_to"], d["delivered_to"])})
    if d.get("reason"):
        parts.append(_quoted(d["reason"]))
    return parts


def _finding_reviewed(d, unit):
    return [
        unit,
        _label(FindingKind, d.get("kind", "")),
        _label(ReviewState, d.get("decision", "")),
        _quoted(d["reason"]) if d.get("reason") else "",
    ]


def _finding_withdrawn(d, unit):
    """The system's withdrawal or reinstatement: which finding, and the review it keeps (so an auditor re-reviews)."""
    review = d.get("review")
    return [
        unit,
        _label(FindingKind, d.get("kind", "")),
        _label(ReviewState, review) if review and review != ReviewState.OPEN else "",
    ]


def _notification(d, unit):
    step = str(STEP_LABELS.get(d.get("step"), d.get("step", "")))
    repeat = f" #{d['repeat']}" if d.get("repeat") else ""
    channel = str(NOTIFICATION_CHANNELS.get(d.get("channel"), d.get("channel", "")))
    parts = [f"{step}{repeat}", f"{channel} → {d.get('to', '')}"]
    parts += [_quoted(d[key]) for key in ("error", "reason") if d.get(key)]
    return parts


def _fallback(d, unit):
    """A kind without its own phrase: who, which report, why."""
    parts = [unit]
    if d.get("kind") in ReportKind.values:
        parts.append(_label(ReportKind, d["kind"]))
    if d.get("reason"):
        parts.append(_quoted(d["reason"]))
    return parts


PHRASES: dict[str, Callable[[Mapping[str, Any], str], list[str]]] = {
    "incident_created": _incident_created,
    "incident_changed": _incident_changed,
    "obligation_created": _obligation_created,
    "obligation_not_required": _not_required,
    "obligation_restored": _restored,
    "first_known_corrected": _first_known,
    "first_known_evidence": _first_known,
    "city_report_recorded": _city_report,
    "deadline_passed": _deadline_passed,
    "report_filed": _report,
    "report_refused": _report,
    "report_draft_saved": _report,
    "finding_reviewed": _finding_reviewed,
    "finding_withdrawn": _finding_withdrawn,
    "finding_reinstated": _finding_withdrawn,
}


def corrected_labels(events: Iterable[AuditEvent], reports: QuerySet[Report]) -> dict[int, str]:
    """The labels (续报 (第 2 份)) of the reports the events' corrections reference (SPEC rule 7), among ``reports``
    (those the user may read), in one query."""
    ids = {e.detail["references"] for e in events if isinstance((e.detail or {}).get("references"), int)}
    return {r.pk: report_label(r) for r in reports.filter(pk__in=ids)} if ids else {}


def describe(event: AuditEvent, *, units: Mapping[str, str], corrected: Mapping[int, str] | None = None) -> str:
    """``event``'s detail as a phrase in the active language; ``units`` maps unit codes to names (``unit_labels``),
    ``corrected`` report ids to their labels (``corrected_labels``)."""
    detail = event.detail or {}
    code = detail.get("unit")
    unit = units.get(code, code) if isinstance(code, str) else ""
    if event.kind.startswith("notification_") and "step" in detail:
        parts = _notification(detail, unit)
    elif event.kind in ("signal_received", "signal_linked", "signal_unlinked"):
        parts = _signal(detail, unit, units)
    else:
        parts = PHRASES.get(event.kind, _fallback)(detail, unit)
    references = detail.get("references")
    if isinstance(references, int):
        # A correction: the report it corrects (which stays as filed), after the correction's own kind.
        label = (corrected or {}).get(references) or f"#{references}"
        parts.insert(2, _("更正 %(report)s") % {"report": label})
    return SEP.join(str(p) for p in parts if p)
