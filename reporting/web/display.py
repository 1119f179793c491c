"""Formatting for the pages: times are stored in UTC and always shown in Asia/Shanghai (SPEC rule 6)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from reporting.models import Report, ReportKind

#: The district's wall clock, whatever the server's TIME_ZONE says.
LOCAL_TZ = ZoneInfo("Asia/Shanghai")

#: Audit event kinds as the timeline shows them; an unknown kind is shown as stored.
EVENT_LABELS = {
    "incident_created": _("事件创建"),
    "incident_changed": _("事件信息变更"),
    "obligation_created": _("责任单位开始计时"),
    "obligation_not_required": _("标记无需报送"),
    "obligation_restored": _("撤销无需报送"),
    "first_known_corrected": _("更正首次知悉时间"),
    "first_known_evidence": _("知悉证据使计时提前"),
    "city_report_recorded": _("登记向市级报告时间"),
    "deadline_passed": _("超过报送时限"),
    "report_filed": _("报告已报送"),
    "report_refused": _("报告缺少要素被退回"),
    "report_draft_saved": _("保存草稿"),
    "signal_received": _("收到信息线索"),
    "signal_linked": _("线索关联事件"),
    "signal_unlinked": _("线索取消关联"),
    "notification_sent": _("通知已发送"),
    "notification_delivered": _("通知已送达"),
    "notification_acknowledged": _("通知已确认收到"),
    "notification_failed": _("通知发送失败"),
    "notification_cancelled": _("通知已取消 (已报送)"),
    "finding_reviewed": _("督查发现已审核"),
    "finding_withdrawn": _("督查发现依据已变化, 系统撤销"),
    "finding_reinstated": _("督查发现依据恢复, 系统重新计入"),
    "shift_added": _("排班"),
    "shift_removed": _("删除班次"),
    "shift_ended": _("提前结束班次"),
    "contact_added": _("添加人员"),
    "contact_changed": _("人员信息变更"),
    "contact_removed": _("删除人员"),
    "unit_added": _("新建单位"),
    "unit_changed": _("单位信息变更"),
    "unit_removed": _("删除单位"),
    "user_added": _("新建用户"),
    "user_changed": _("用户信息变更"),
    "user_removed": _("删除用户"),
    "token_created": _("生成 API 令牌"),
    "token_replaced": _("更换 API 令牌"),
    "token_removed": _("吊销 API 令牌"),
    "group_added": _("新建权限组"),
    "group_changed": _("权限组变更"),
    "group_removed": _("删除权限组"),
    "reporting_policy_added": _("新建报送时限规则"),
    "reporting_policy_changed": _("报送时限规则变更"),
    "reporting_policy_removed": _("删除报送时限规则"),
    "escalation_policy_added": _("新建催报规则"),
    "escalation_policy_changed": _("催报规则变更"),
    "escalation_policy_removed": _("删除催报规则"),
}


#: Chasing steps (the escalation ladder's keys and the event rules) as the timeline shows them.
STEP_LABELS = {
    "verbal_reminder": _("口头报临近截止提醒"),
    "verbal_overdue": _("口头报超时催报"),
    "verbal_escalate": _("口头报超时升级"),
    "written_reminder": _("书面报临近截止提醒"),
    "written_overdue": _("书面报超时催报"),
    "written_escalate": _("书面报超时升级"),
    "event_deaths": _("有人员死亡, 通知分管区领导"),
    "event_grade_IV": _("一般及以上事件, 通知区领导"),
    "event_grade_III": _("达到较大事件, 通知区领导"),
    "event_grade_II": _("达到重大事件, 通知区领导"),
    "event_grade_I": _("达到特别重大事件, 通知区领导"),
}


def local(value: datetime | None) -> datetime | None:
    return value.astimezone(LOCAL_TZ) if value is not None else None


def local_short(value: datetime | None, *, seconds: bool = False) -> str:
    """``2026-11-28 09:30`` in Asia/Shanghai (with seconds on request); empty for None."""
    if value is None:
        return ""
    return value.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def local_input(value: datetime | None) -> str:
    """The value of an ``<input type="datetime-local">``: Asia/Shanghai wall time to the minute."""
    if value is None:
        return ""
    return value.astimezone(LOCAL_TZ).strftime("%Y-%m-%dT%H:%M")


def delay_text(seconds: int | None) -> str:
    """A delay as ``minutes:seconds``, e.g. ``12:05``; the success page shows it next to the unit '分钟'."""
    if not seconds:
        return "0"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}:{secs:02d}"


def report_label(report: Report) -> str:
    """续报 (第 2 份): the kind, and the sequence number of a follow-up or a second report of a kind."""
    label = str(report.get_kind_display())
    if report.kind == ReportKind.FOLLOW_UP or report.sequence > 1:
        label += gettext(" (第 %(n)s 份)") % {"n": report.sequence}
    return label
