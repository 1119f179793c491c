"""A finding in one line for people (the audit page, the findings exports), in the active language, with times in
Asia/Shanghai. The finding's ``detail`` (what the rules in ``reporting.findings`` stored) stays the evidence; this
only reads it, and a detail it does not recognise gives an empty line rather than an error."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.utils.translation import gettext as _

from reporting.models import FindingKind, Grade, ReportKind, SignalSource

LOCAL_TZ = ZoneInfo("Asia/Shanghai")


def finding_summary(finding) -> str:
    """What the finding says, e.g. 书面报迟报 61 分 10 秒 / Written report late by 61 min 10 s."""
    detail: dict[str, Any] = finding.detail or {}
    try:
        return _SUMMARIES.get(finding.kind, _nothing)(detail)
    except (KeyError, TypeError, ValueError):
        return ""  # a detail written by an older rule: the JSON detail still has it


def _nothing(detail: dict[str, Any]) -> str:
    return ""


def _when(value: str | None) -> str:
    if not value:
        return ""
    return datetime.fromisoformat(value).astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M:%S")


def _duration(seconds: int | float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    if minutes and secs:
        return _("%(m)d 分 %(s)d 秒") % {"m": minutes, "s": secs}
    if minutes:
        return _("%(m)d 分钟") % {"m": minutes}
    return _("%(s)d 秒") % {"s": secs}


def _deadline(name: str) -> str:
    return str(ReportKind(name).label)


def _source(value: str) -> str:
    return str(SignalSource(value).label) if value in SignalSource.values else value


def _grade(value: str | None) -> str:
    return str(Grade(value).label) if value in Grade.values else (value or "")


def _late(d: dict[str, Any]) -> str:
    text = _("%(deadline)s迟报 %(delay)s (时限 %(due)s)") % {
        "deadline": _deadline(d["deadline"]),
        "delay": _duration(d["delay_seconds"]),
        "due": _when(d.get("due_at")),
    }
    if d.get("discharged_by"):
        text += _(", 由%(kind)s履行") % {"kind": _deadline(d["discharged_by"])}
    return text


def _missed(d: dict[str, Any]) -> str:
    rule = d.get("rule")
    if rule == "no_report":
        hours = int(d["missed_after_seconds"]) // 3600
        values = {"due": _when(d.get("due_at")), "hours": hours}
        if d["deadline"] == "verbal":  # the last deadline is the verbal one only for the duty room's relay (rule 13)
            return _("转报区委办区府办时限 (%(due)s) 过后 %(hours)d 小时仍未转报") % values
        return _("书面报时限 (%(due)s) 过后 %(hours)d 小时仍未报送") % values
    if rule == "refused_only":
        count = len(d.get("refused", []))
        return _("%(deadline)s时限 (%(due)s) 前只有要素不全被退回的报告 (%(n)d 份)") % {
            "deadline": _deadline(d["deadline"]),
            "due": _when(d.get("due_at")),
            "n": count,
        }
    if rule == "signal_not_reported":
        return _("%(source)s线索 %(at)s 派送本单位后未见报告") % {
            "source": _source(d["source"]),
            "at": _when(d.get("delivered_at")),
        }
    return ""


def _held_back(d: dict[str, Any]) -> str:
    rule = d.get("rule")
    if rule == "declared_after_evidence":
        return _("申报的知悉时间 %(declared)s 比%(source)s线索派送 (%(evidence)s) 晚 %(gap)s") % {
            "declared": _when(d.get("declared_first_known_at")),
            "source": _source(d.get("evidence_source", "")),
            "evidence": _when(d.get("evidence_at")),
            "gap": _duration(d["gap_seconds"]),
        }
    if rule == "draft_filed_after_deadline":
        return _("草稿 %(saved)s 已保存, 却在%(deadline)s时限 %(due)s 之后才报送") % {
            "saved": _when(d.get("draft_saved_at")),
            "deadline": _deadline(d["deadline"]),
            "due": _when(d.get("due_at")),
        }
    if rule == "city_before_district":
        if d.get("verbal_filed_at"):
            return _("%(city)s 已报市级部门, 区口头报 %(verbal)s 才报") % {
                "city": _when(d.get("city_reported_at")),
                "verbal": _when(d.get("verbal_filed_at")),
            }
        return _("%(city)s 已报市级部门, 未向区里口头报") % {"city": _when(d.get("city_reported_at"))}
    return ""


def _concealed(d: dict[str, Any]) -> str:
    if d.get("rule") != "raised_after_evidence":
        return ""
    return _("首报死亡 %(first)d 人 (%(first_grade)s), 后报 %(later)d 人 (%(later_grade)s); 首报时已有证据显示更多") % {
        "first": d.get("stated_deaths") or 0,
        "first_grade": _grade(d.get("stated_grade")),
        "later": d.get("later_deaths") or 0,
        "later_grade": _grade(d.get("later_grade")),
    }


def _roster_gap(d: dict[str, Any]) -> str:
    if d.get("reason") == "no_shift":
        return _("需要值班人员时无人排班")
    return _("需要值班人员时在岗仅 %(n)d 人") % {"n": int(d.get("on_post", 0))}


_SUMMARIES = {
    FindingKind.LATE: _late,
    FindingKind.MISSED: _missed,
    FindingKind.HELD_BACK: _held_back,
    FindingKind.CONCEALED: _concealed,
    FindingKind.ROSTER_GAP: _roster_gap,
}
