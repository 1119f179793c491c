"""Audit findings (迟报、漏报、压报、瞒报/谎报, roster gaps) and auditors' reviews."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from reporting.models.choices import FindingKind, ReviewState
from reporting.models.incidents import Incident, Obligation
from reporting.models.org import Unit
from reporting.models.reports import Report, Signal


class Finding(models.Model):
    kind = models.CharField(_("类型"), max_length=20, choices=FindingKind.choices)
    # Idempotency: the recompute derives the same key from the same evidence, so running it twice changes nothing.
    key = models.CharField(max_length=200, unique=True)
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="findings")
    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, null=True, blank=True, related_name="findings")
    obligation = models.ForeignKey(Obligation, on_delete=models.PROTECT, null=True, blank=True, related_name="findings")
    report = models.ForeignKey(Report, on_delete=models.PROTECT, null=True, blank=True, related_name="findings")
    signal = models.ForeignKey(Signal, on_delete=models.PROTECT, null=True, blank=True, related_name="findings")
    detail = models.JSONField(default=dict)
    suspected = models.BooleanField(_("疑似"), default=False)
    exercise = models.BooleanField(_("演练"), default=False)
    # A later event can supersede a finding (a late filing after 漏报); both stay in the history.
    superseded_by = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="supersedes"
    )
    review = models.CharField(_("审核"), max_length=20, choices=ReviewState.choices, default=ReviewState.OPEN)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField(_("审核理由"), blank=True)
    found_at = models.DateTimeField(_("发现时间"))
    # Set by the recompute when the data no longer supports the finding (a signal linked to an incident the unit
    # reported on in time, a corrected first-known time...); cleared when the data supports it again. A withdrawn
    # finding stays on record with its review and its evidence as it was, and counts in no figure.
    withdrawn_at = models.DateTimeField(_("系统撤销时间"), null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("督查发现")
        verbose_name_plural = _("督查发现")
        indexes = [
            # The findings list and timeliness stats filter by kind, unit and period.
            models.Index(fields=["kind", "unit", "found_at"], name="finding_kind_unit_found_idx"),
            # GET /findings/ pages newest first (ORDER BY found_at DESC, id DESC LIMIT n): an index scan, no sort.
            models.Index(F("found_at").desc(), F("id").desc(), name="finding_found_desc_idx"),
        ]
        constraints = [
            # A decision always carries its reason, who and when (SPEC: confirm or dismiss, with a reason).
            models.CheckConstraint(
                condition=Q(review=ReviewState.OPEN)
                | (~Q(reason="") & Q(reviewed_by__isnull=False) & Q(reviewed_at__isnull=False)),
                name="finding_review_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.unit_id} {self.key}"
