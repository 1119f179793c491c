"""Idempotency keys of the API: a creating POST retried with the same ``Idempotency-Key`` gets the first answer again.

Not domain data and not audited: a record only remembers which request a client's key stood for and what it was
answered, for ``IDEMPOTENCY_KEY_TTL_SECONDS`` (``reporting.idempotency_services``).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class IdempotencyRecord(models.Model):
    """One client key of one user. ``response_status`` NULL: the first request is still being processed, by whoever
    holds ``lock_token`` since ``locked_at`` (a lease: a process that died leaves it to be taken over)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(_("幂等键"), max_length=255)
    method = models.CharField(max_length=10)
    path = models.TextField()
    # SHA-256 of method, path and body: a key sent again with another request is refused, never replayed.
    fingerprint = models.CharField(max_length=64)
    # A fencing token: only the holder of the current lease may store the answer or give the key up.
    lock_token = models.CharField(max_length=32, blank=True)
    locked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_content_type = models.CharField(max_length=100, blank=True)
    response_body = models.TextField(blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("幂等键")
        verbose_name_plural = _("幂等键")
        constraints = [
            # Keys are per user: two users may pick the same one. The claim's INSERT races on this constraint, so
            # two requests with one key can never both be processed.
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_one_record_per_user_key"),
            # A completed record has its answer; one in progress has a lease.
            models.CheckConstraint(
                condition=Q(response_status__isnull=True, locked_at__isnull=False)
                | Q(response_status__isnull=False, completed_at__isnull=False),
                name="idempotency_in_progress_or_completed",
            ),
        ]
        indexes = [
            # The purge: DELETE ... WHERE expires_at < now (reporting.idempotency_services.idempotency_purge).
            models.Index(fields=["expires_at"], name="idempotency_expires_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.key} {self.method} {self.path} → {self.response_status or '…'}"
