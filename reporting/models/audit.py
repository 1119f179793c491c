"""The append-only audit log: every state change, in a SHA-256 hash chain."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditEvent(models.Model):
    at = models.DateTimeField(_("时间"))
    kind = models.CharField(_("事件"), max_length=50)
    actor = models.CharField(_("操作人"), max_length=150, blank=True)
    incident = models.ForeignKey(
        "reporting.Incident", on_delete=models.PROTECT, null=True, blank=True, related_name="events"
    )
    object_type = models.CharField(max_length=50, blank=True)
    object_id = models.CharField(max_length=50, blank=True)
    detail = models.JSONField(default=dict)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("审计事件")
        verbose_name_plural = _("审计事件")
        indexes = [
            models.Index(fields=["incident", "id"], name="auditevent_incident_idx"),
            # Events that belong to no incident, by kind, newest first: the roster page's change log
            # (shift_added/removed, contact_added/changed), read among every notification and report event.
            models.Index(
                fields=["kind", "-id"], name="auditevent_kind_noinc_idx", condition=models.Q(incident__isnull=True)
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind} {self.at:%Y-%m-%d %H:%M:%S}"
