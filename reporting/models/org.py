"""Organisation: units (报送单位), users, contacts and duty shifts (值班表)."""

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models import F, Q
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from reporting.models.choices import ContactRole, Role, UnitKind


class Unit(models.Model):
    code = models.SlugField(_("代码"), max_length=40, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    name_en = models.CharField(_("英文名称"), max_length=200, blank=True)
    kind = models.CharField(_("类型"), max_length=20, choices=UnitKind.choices)
    # 拉条的部门: reports to its city-level department and, at the same time, to the district duty room.
    vertical = models.BooleanField(_("垂直管理(拉条)"), default=False)
    domains = models.JSONField(_("负责领域"), default=list, blank=True)
    active = models.BooleanField(_("启用"), default=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("报送单位")
        verbose_name_plural = _("报送单位")

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        """The name to show: the English one when the page is in English and the unit has one, else the Chinese."""
        if self.name_en and (get_language() or "").startswith("en"):
            return self.name_en
        return self.name


class Contact(models.Model):
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="contacts", verbose_name=_("单位"))
    name = models.CharField(_("姓名"), max_length=50)
    phone = models.CharField(_("手机"), max_length=20, blank=True)
    email = models.EmailField(_("邮箱"), blank=True)
    role = models.CharField(_("职务"), max_length=20, choices=ContactRole.choices)
    # For district leaders: the domains (Domain values) they are in charge of.
    portfolio = models.JSONField(_("分管领域"), default=list, blank=True)
    # Default contacts are the fallback when no shift covers the moment (roster gap).
    is_default = models.BooleanField(_("默认联系人"), default=False)
    # District leaders on the notification list for grade IV and above.
    notify_on_grade = models.BooleanField(_("一般及以上事件通知"), default=False)
    active = models.BooleanField(_("启用"), default=True)
    # When the person was last made inactive, and last made active again after that (set by
    # ``roster_services.contact_update``): the coverage counts their shifts on post outside that stretch
    # (``reporting.coverage.active_spans``). Null for one never made inactive, or made so before these were kept.
    deactivated_at = models.DateTimeField(_("停用时间"), null=True, blank=True, editable=False)
    reactivated_at = models.DateTimeField(_("重新启用时间"), null=True, blank=True, editable=False)

    class Meta:
        ordering = ["id"]
        verbose_name = _("联系人")
        verbose_name_plural = _("联系人")

    def __str__(self) -> str:
        return f"{self.name} ({self.unit.code})"


class Shift(models.Model):
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="shifts", verbose_name=_("单位"))
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="shifts", verbose_name=_("人员"))
    role = models.CharField(_("岗位"), max_length=20, choices=ContactRole.choices)
    starts_at = models.DateTimeField(_("开始"))
    ends_at = models.DateTimeField(_("结束"))

    class Meta:
        ordering = ["starts_at", "id"]
        verbose_name = _("值班")
        verbose_name_plural = _("值班表")
        constraints = [
            # A shift with no duration would never cover a moment and hide a roster gap.
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="shift_ends_after_start"),
        ]
        indexes = [
            # "Who is on post at <now> for <unit>": unit + starts_at <= now, filtered on ends_at.
            models.Index(fields=["unit", "starts_at", "ends_at"], name="shift_unit_window_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.contact} {self.role} {self.starts_at:%Y-%m-%d %H:%M}"


class TrackerUserManager(UserManager):
    def create_superuser(self, username, email=None, password=None, **extra_fields):
        extra_fields.setdefault("role", Role.ADMIN)
        return super().create_superuser(username, email, password, **extra_fields)


class User(AbstractUser):
    role = models.CharField(_("角色"), max_length=20, choices=Role.choices, default=Role.UNIT_STAFF)
    unit = models.ForeignKey(
        Unit, on_delete=models.PROTECT, null=True, blank=True, related_name="users", verbose_name=_("单位")
    )
    contact = models.ForeignKey(
        Contact, on_delete=models.SET_NULL, null=True, blank=True, related_name="users", verbose_name=_("联系人")
    )

    objects = TrackerUserManager()

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        constraints = [
            # Unit staff belong to exactly one unit; the other roles are not tied to a unit.
            models.CheckConstraint(
                condition=(Q(role="unit_staff", unit__isnull=False) | (~Q(role="unit_staff") & Q(unit__isnull=True))),
                name="user_unit_matches_role",
            ),
        ]

    @property
    def effective_role(self) -> str:
        """A Django superuser acts with the admin role (API.md)."""
        return Role.ADMIN if self.is_superuser else self.role
