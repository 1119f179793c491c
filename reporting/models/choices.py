"""Every enumerated value of the domain, as TextChoices (values are the API's strings)."""

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class UnitKind(models.TextChoices):
    TOWN = "town", _("镇")
    STREET = "street", _("街道")
    ZONE = "zone", _("经开区")
    DEPARTMENT = "department", _("委办局")
    UTILITY = "utility", _("公用事业单位")
    DUTY_ROOM = "duty_room", _("总值班室")
    LEADERSHIP_OFFICE = "leadership_office", _("领导机关办公室")


class Domain(models.TextChoices):
    NATURAL_DISASTER = "natural_disaster", _("自然灾害")
    PRODUCTION_SAFETY = "production_safety", _("事故灾难")
    PUBLIC_HEALTH = "public_health", _("公共卫生事件")
    SOCIAL_SECURITY = "social_security", _("社会安全事件")
    CITY_OPERATION = "city_operation", _("城市运行")


class Role(models.TextChoices):
    UNIT_STAFF = "unit_staff", _("报送单位人员")
    DUTY_ROOM = "duty_room", _("总值班室")
    DISTRICT_LEADER = "district_leader", _("区领导")
    AUDITOR = "auditor", _("督查审计")
    FEED = "feed", _("外部数据源")
    ADMIN = "admin", _("管理员")


class ContactRole(models.TextChoices):
    DUTY_OFFICER = "duty_officer", _("值班员")
    SHIFT_LEADER = "shift_leader", _("值班长")
    LEADER_ON_SHIFT = "leader_on_shift", _("带班领导")
    UNIT_HEAD = "unit_head", _("单位负责人")
    DISTRICT_LEADER = "district_leader", _("区领导")
    DUTY_ROOM_STAFF = "duty_room_staff", _("总值班室值班人员")


class Grade(models.TextChoices):
    """Regulation 493 Art. 3 grades, plus 'below grading' for information reports."""

    I = "I", _("特别重大")  # noqa: E741
    II = "II", _("重大")
    III = "III", _("较大")
    IV = "IV", _("一般")
    BELOW = "below", _("未达分级")


class Channel(models.TextChoices):
    """How a unit first learned of an incident (evidence of first knowledge, SPEC rule 5)."""

    SELF = "self", _("自行发现")
    P110 = "110", _("110")
    P119 = "119", _("119")
    P120 = "120", _("120")
    HOTLINE_12345 = "12345", _("12345热线")
    SUISHENPAI = "suishenpai", _("随身拍")
    CITY = "city", _("市级通报")
    DUTY_ROOM = "duty_room", _("总值班室派单")
    OTHER_UNIT = "other_unit", _("其他单位告知")


class SignalSource(models.TextChoices):
    P110 = "110", _("110")
    P119 = "119", _("119")
    P120 = "120", _("120")
    HOTLINE_12345 = "12345", _("12345热线")
    SUISHENPAI = "suishenpai", _("随身拍")
    CITY = "city", _("市级通报")


class ObligationKind(models.TextChoices):
    # "报送" alone is also the filing form's button ("File report") and the incident list's column ("Reporting"):
    # as the kind of an obligation it is the report owed to the district duty room.
    REPORT = "report", pgettext_lazy("obligation kind", "报送")
    RELAY = "relay", _("向区委办、区府办转报")


class DeadlineState(models.TextChoices):
    PENDING = "pending", _("待报")
    ON_TIME = "on_time", _("按时")
    LATE = "late", _("迟报")
    NOT_REQUIRED = "not_required", _("无需报送")


class ReportKind(models.TextChoices):
    VERBAL = "verbal", _("口头报")
    WRITTEN = "written", _("书面报")
    FOLLOW_UP = "follow_up", _("续报")
    FINAL = "final", _("终报")


class FindingKind(models.TextChoices):
    LATE = "late", _("迟报")
    MISSED = "missed", _("漏报")
    HELD_BACK = "held_back", _("压报")
    CONCEALED = "concealed", _("瞒报/谎报")
    ROSTER_GAP = "roster_gap", _("双人在岗缺口")


class ReviewState(models.TextChoices):
    OPEN = "open", _("待审核")
    CONFIRMED = "confirmed", _("已确认")
    DISMISSED = "dismissed", _("已排除")
