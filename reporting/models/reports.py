"""Reports (append-only, SPEC rule 7), refused report attempts, and signals from external feeds."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from reporting.errors import ConflictError
from reporting.models.choices import Domain, ReportKind, SignalSource
from reporting.models.incidents import Incident, Obligation
from reporting.models.org import Unit


class ReportImmutableError(ConflictError):
    """A filed report was about to be changed or deleted (SPEC rule 7): a 409 where it reaches the API."""

    def __init__(self, message: str):
        super().__init__(f"报告已报送, 不可修改或删除 ({message})")


class ReportQuerySet(models.QuerySet):
    def filed(self):
        return self.filter(filed_at__isnull=False)

    def drafts(self):
        return self.filter(filed_at__isnull=True)

    def update(self, **kwargs):
        if self.filed().exists():
            raise ReportImmutableError("filed reports are never changed")
        return super().update(**kwargs)

    def delete(self):
        if self.filed().exists():
            raise ReportImmutableError("filed reports are never deleted")
        return super().delete()


class Report(models.Model):
    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="reports")
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="reports")
    obligation = models.ForeignKey(Obligation, on_delete=models.PROTECT, related_name="reports")
    kind = models.CharField(_("类型"), max_length=20, choices=ReportKind.choices)
    # 续报一, 续报二…: numbers follow-ups; 1 for every other kind.
    sequence = models.PositiveIntegerField(_("序号"), default=1)
    call_received_at = models.DateTimeField(_("来电时间"), null=True, blank=True)
    filed_at = models.DateTimeField(_("报送时间"), null=True, blank=True)
    counted_at = models.DateTimeField(_("计时时间"), null=True, blank=True)
    due_at = models.DateTimeField(_("截止时间"), null=True, blank=True)
    on_time = models.BooleanField(_("按时"), null=True, blank=True)
    delay_seconds = models.PositiveIntegerField(_("迟报秒数"), null=True, blank=True)
    occurred_at = models.DateTimeField(_("发生时间"), null=True, blank=True)
    location = models.CharField(_("地点"), max_length=300, blank=True)
    account = models.TextField(_("简要经过"), max_length=5000, blank=True)
    deaths = models.PositiveIntegerField(_("死亡"), null=True, blank=True)
    injuries = models.PositiveIntegerField(_("受伤"), null=True, blank=True)
    # Of the injured, those seriously injured (重伤), which grading counts. Not a required element (SPEC rule 8):
    # 0 when the report does not say, so it never lowers or blocks anything.
    serious_injuries = models.PositiveIntegerField(_("其中重伤"), default=0, db_default=0)
    missing = models.PositiveIntegerField(_("失踪"), null=True, blank=True)
    direct_loss_yuan = models.PositiveBigIntegerField(_("直接经济损失(元)"), null=True, blank=True)
    measures = models.TextField(_("已采取措施"), max_length=5000, blank=True)
    contact_name = models.CharField(_("联系人"), max_length=50, blank=True)
    contact_phone = models.CharField(_("联系电话"), max_length=20, blank=True)
    references = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="corrections", verbose_name=_("更正")
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    # Who filed it: the unit's own staff, or the duty room logging a phoned-in verbal report.
    filed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("草稿保存时间"))

    objects = ReportQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        verbose_name = _("报告")
        verbose_name_plural = _("报告")
        constraints = [
            # The seriously injured are among the injured (the services refuse it with a 400 first).
            models.CheckConstraint(
                condition=Q(serious_injuries=0) | Q(injuries__isnull=False, serious_injuries__lte=F("injuries")),
                name="report_serious_within_injuries",
            ),
            # A filed report always carries the time that counts.
            models.CheckConstraint(
                condition=Q(filed_at__isnull=True) | Q(counted_at__isnull=False), name="report_filed_has_counted_at"
            ),
            # 续报一, 续报二…: a sequence number is given once per obligation and kind among filed reports.
            models.UniqueConstraint(
                fields=["obligation", "kind", "sequence"],
                condition=Q(filed_at__isnull=False),
                name="report_sequence_once_filed",
            ),
        ]
        indexes = [models.Index(fields=["incident", "unit", "kind"], name="report_incident_unit_kind_idx")]

    def __str__(self) -> str:
        return f"{self.incident.number} {self.unit.code} {self.kind}#{self.sequence}"

    def save(self, *args, **kwargs):
        if self.pk is not None and Report.objects.filter(pk=self.pk, filed_at__isnull=False).exists():
            raise ReportImmutableError("filed reports are never changed")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if self.pk is not None and Report.objects.filter(pk=self.pk, filed_at__isnull=False).exists():
            raise ReportImmutableError("filed reports are never deleted")
        return super().delete(*args, **kwargs)


class RefusedReport(models.Model):
    """A report refused for missing required elements (rule 8). Kept: nothing a user sends is lost,
    and a deadline that passes with only refused reports is 漏报."""

    obligation = models.ForeignKey(Obligation, on_delete=models.PROTECT, related_name="refused_reports")
    kind = models.CharField(max_length=20, choices=ReportKind.choices)
    attempted_at = models.DateTimeField()
    missing_elements = models.JSONField(default=list)
    payload = models.JSONField(default=dict)
    attempted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["id"]
        verbose_name = _("被退回的报告")
        verbose_name_plural = _("被退回的报告")

    def __str__(self) -> str:
        return f"{self.obligation_id} {self.kind} {self.attempted_at:%Y-%m-%d %H:%M}"


class Signal(models.Model):
    """An incident signal pushed by an external feed; delivery to a unit is evidence of first knowledge (rule 5)."""

    source = models.CharField(_("来源"), max_length=20, choices=SignalSource.choices)
    external_id = models.CharField(_("外部编号"), max_length=100)
    received_at = models.DateTimeField(_("接收时间"))
    delivered_to = models.ForeignKey(
        Unit, on_delete=models.PROTECT, null=True, blank=True, related_name="signals", verbose_name=_("派送单位")
    )
    delivered_at = models.DateTimeField(_("派送时间"), null=True, blank=True)
    domain = models.CharField(_("领域"), max_length=30, choices=Domain.choices, blank=True)
    summary = models.TextField(_("摘要"), max_length=5000, blank=True)
    location = models.CharField(_("地点"), max_length=300, blank=True)
    deaths = models.PositiveIntegerField(_("死亡"), default=0)
    injuries = models.PositiveIntegerField(_("受伤"), default=0)
    incident = models.ForeignKey(
        Incident, on_delete=models.PROTECT, null=True, blank=True, related_name="signals", verbose_name=_("事件")
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        verbose_name = _("信息线索")
        verbose_name_plural = _("信息线索")
        constraints = [
            # POST /signals/ is idempotent on (source, external_id).
            models.UniqueConstraint(fields=["source", "external_id"], name="signal_unique_external_id"),
        ]

    def __str__(self) -> str:
        return f"{self.source}:{self.external_id}"
