"""Incidents and their obligations: one (incident, responsible unit) pair, two clocks."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from reporting.models.choices import Channel, DeadlineState, Domain, Grade, ObligationKind
from reporting.models.org import Unit


class ReportingPolicy(models.Model):
    """Reporting minutes as data (SPEC rule 1). A row with no grade is the default for every grade.

    The minutes are copied onto each obligation when it is created: editing a policy never moves a running clock.
    """

    grade = models.CharField(_("事件等级"), max_length=10, choices=Grade.choices, null=True, blank=True)
    verbal_minutes = models.PositiveIntegerField(_("口头报时限(分钟)"), default=30)
    written_minutes = models.PositiveIntegerField(_("书面报时限(分钟)"), default=60)
    relay_minutes = models.PositiveIntegerField(_("转报区委办区府办时限(分钟)"), default=15)

    class Meta:
        verbose_name = _("报送时限规则")
        verbose_name_plural = _("报送时限规则")
        constraints = [
            # One row per grade, and one default row (grade NULL): NULLS NOT DISTINCT.
            models.UniqueConstraint(fields=["grade"], name="policy_one_row_per_grade", nulls_distinct=False),
            models.CheckConstraint(
                condition=Q(written_minutes__gte=F("verbal_minutes")), name="policy_written_not_before_verbal"
            ),
            models.CheckConstraint(condition=Q(verbal_minutes__gt=0), name="policy_verbal_minutes_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.grade or _('默认')}: {self.verbal_minutes}/{self.written_minutes}"


class Incident(models.Model):
    number = models.CharField(_("编号"), max_length=30, unique=True)
    title = models.CharField(_("标题"), max_length=200)
    domain = models.CharField(_("领域"), max_length=30, choices=Domain.choices)
    occurred_at = models.DateTimeField(_("发生时间"))
    location = models.CharField(_("地点"), max_length=300)
    summary = models.TextField(_("简要情况"), max_length=5000, blank=True)
    deaths = models.PositiveIntegerField(_("死亡"), default=0)
    injuries = models.PositiveIntegerField(_("受伤"), default=0)
    # Of the injured, those seriously injured (重伤): what Regulation 493 Art. 3 grades by (SPEC rule 9). Never more
    # than ``injuries``. The database default keeps rows written without it (older code, raw inserts) at 0.
    serious_injuries = models.PositiveIntegerField(_("其中重伤"), default=0, db_default=0)
    missing = models.PositiveIntegerField(_("失踪"), default=0)
    direct_loss_yuan = models.PositiveBigIntegerField(_("直接经济损失(元)"), default=0)
    grade = models.CharField(_("等级"), max_length=10, choices=Grade.choices)
    grade_computed = models.CharField(_("计算等级"), max_length=10, choices=Grade.choices)
    exercise = models.BooleanField(_("演练"), default=False)
    sensitive = models.BooleanField(_("敏感"), default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("创建时间"))
    updated_at = models.DateTimeField(_("更新时间"))

    class Meta:
        ordering = ["-id"]
        verbose_name = _("突发事件")
        verbose_name_plural = _("突发事件")
        indexes = [models.Index(fields=["occurred_at"], name="incident_occurred_idx")]
        constraints = [
            # The seriously injured are among the injured (the services refuse it with a 400 first).
            models.CheckConstraint(
                condition=Q(serious_injuries__lte=F("injuries")), name="incident_serious_within_injuries"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"


class ObligationQuerySet(models.QuerySet):
    def open(self):
        """Obligations with at least one clock still running (neither filed nor marked not required)."""
        return self.filter(Q(verbal_state=DeadlineState.PENDING) | Q(written_state=DeadlineState.PENDING))

    def overdue(self, now):
        return self.filter(
            Q(verbal_state=DeadlineState.PENDING, verbal_due_at__lt=now)
            | Q(written_state=DeadlineState.PENDING, written_due_at__lt=now)
        )

    def done(self):
        return self.exclude(verbal_state=DeadlineState.PENDING).exclude(written_state=DeadlineState.PENDING)

    def due_before(self, now):
        """What the sweep must look at: served by the partial index obligation_next_action_idx."""
        return self.filter(next_action_at__isnull=False, next_action_at__lte=now)

    def counted(self):
        """Obligations that count in audit figures: exercises are left out (SPEC rule 10)."""
        return self.filter(incident__exercise=False)


class Obligation(models.Model):
    """One responsible unit's duty to report one incident (SPEC rule 1), with both clocks copied at creation."""

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="obligations")
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="obligations")
    kind = models.CharField(_("类型"), max_length=10, choices=ObligationKind.choices, default=ObligationKind.REPORT)
    first_known_at = models.DateTimeField(_("首次知悉时间"))
    first_known_channel = models.CharField(_("知悉渠道"), max_length=20, choices=Channel.choices)
    # What the unit itself declared; first_known_at may be earlier when evidence (a signal) says so.
    declared_first_known_at = models.DateTimeField(_("单位申报知悉时间"), null=True, blank=True)
    # Set when no one declared a time: the obligation was opened by this signal's delivery (SPEC rule 5) and rests on
    # it alone (``declared_first_known_at`` is then only a copy of its delivery time). Unlinking the signal leaves
    # such an obligation with no knowledge on record (``signal_services.signal_unlink``); a correction, which
    # declares a time, clears it.
    opened_by_signal = models.ForeignKey(
        "reporting.Signal", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    verbal_minutes = models.PositiveIntegerField(_("口头报时限(分钟)"))
    written_minutes = models.PositiveIntegerField(_("书面报时限(分钟)"))
    verbal_due_at = models.DateTimeField(_("口头报截止"))
    written_due_at = models.DateTimeField(_("书面报截止"))
    verbal_state = models.CharField(max_length=20, choices=DeadlineState.choices, default=DeadlineState.PENDING)
    written_state = models.CharField(max_length=20, choices=DeadlineState.choices, default=DeadlineState.PENDING)
    verbal_filed_at = models.DateTimeField(_("口头报计时时间"), null=True, blank=True)
    written_filed_at = models.DateTimeField(_("书面报计时时间"), null=True, blank=True)
    verbal_report = models.ForeignKey(
        "reporting.Report", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    written_report = models.ForeignKey(
        "reporting.Report", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    not_required_reason = models.TextField(_("无需报送原因"), blank=True)
    not_required_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    not_required_at = models.DateTimeField(null=True, blank=True)
    # 拉条: when a vertical unit reported to its city-level department.
    city_reported_at = models.DateTimeField(_("向市级部门报告时间"), null=True, blank=True)
    # The escalation ladder frozen at creation (SPEC "Escalation"): later policy edits never change a running case.
    escalation_plan = models.JSONField(default=list, blank=True)
    # When the sweep must next look at this obligation; null when nothing is left to do.
    next_action_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    objects = ObligationQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        verbose_name = _("报送义务")
        verbose_name_plural = _("报送义务")
        constraints = [
            models.UniqueConstraint(fields=["incident", "unit", "kind"], name="obligation_unique_per_unit"),
            # A correction after the verbal report keeps the verbal due time it was judged against while the
            # pending written one moves (deadlines.corrected_due_times): only then may written come first.
            models.CheckConstraint(
                condition=Q(written_due_at__gte=F("verbal_due_at")) | ~Q(verbal_state="pending"),
                name="obligation_written_due_after_verbal",
            ),
        ]
        indexes = [
            # The sweep: WHERE next_action_at <= now ORDER BY next_action_at ... FOR UPDATE SKIP LOCKED.
            # Partial, so closed obligations (the vast majority) cost nothing to the sweep.
            models.Index(
                fields=["next_action_at"], name="obligation_next_action_idx", condition=Q(next_action_at__isnull=False)
            ),
            # Unit dashboards and audit figures by unit and period.
            models.Index(fields=["unit", "first_known_at"], name="obligation_unit_known_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.incident.number} / {self.unit.code}"

    @property
    def is_not_required(self) -> bool:
        return self.verbal_state == DeadlineState.NOT_REQUIRED and self.written_state == DeadlineState.NOT_REQUIRED


class DeadlineBreach(models.Model):
    """A deadline that passed with nothing filed, written once, dated to the deadline (the sweep's transition)."""

    obligation = models.ForeignKey(Obligation, on_delete=models.PROTECT, related_name="breaches")
    deadline = models.CharField(max_length=10, choices=[("verbal", _("口头报")), ("written", _("书面报"))])
    due_at = models.DateTimeField()
    recorded_at = models.DateTimeField()

    class Meta:
        verbose_name = _("超时记录")
        verbose_name_plural = _("超时记录")
        constraints = [
            # Exactly once: two sweeps racing on the same obligation can only write one row.
            models.UniqueConstraint(fields=["obligation", "deadline"], name="breach_once_per_deadline"),
        ]

    def __str__(self) -> str:
        return f"{self.obligation_id} {self.deadline} {self.due_at:%Y-%m-%d %H:%M}"
