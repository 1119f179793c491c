"""Celery tasks of the domain: thin; read the clock once, call one service."""

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from reporting.auditlog import chain_head
from reporting.findings_services import findings_recompute, findings_recompute_incident
from reporting.idempotency_services import idempotency_purge

log = logging.getLogger(__name__)


@shared_task(name="reporting.tasks.recompute_findings", acks_late=True)
def recompute_findings(days: float | None = None) -> dict:
    """The periodic, idempotent recompute of audit findings over the recent window (``FINDINGS_RECOMPUTE_DAYS``,
    default 7 days: older incidents only change through events, which recompute them within seconds)."""
    now = timezone.now()
    window = float(days if days is not None else settings.FINDINGS_RECOMPUTE_DAYS)
    result = findings_recompute(now=now, since=now - timedelta(days=window))
    return {
        "incidents": result.incidents,
        "created": result.created,
        "updated": result.updated,
        "withdrawn": result.withdrawn,
        "reinstated": result.reinstated,
    }


@shared_task(name="reporting.tasks.recompute_incident_findings", ignore_result=True)
def recompute_incident_findings(incident_id: int) -> int:
    """One incident's findings after a change (debounced by ``reporting.receivers``), judged at the task's own
    ``now``: later than the change, so it sees the change and everything committed since."""
    result = findings_recompute_incident(incident_id=incident_id, now=timezone.now())
    return result.created + result.updated + result.withdrawn


@shared_task(name="reporting.tasks.log_audit_chain_head", ignore_result=True)
def log_audit_chain_head() -> str:
    """Log the audit chain's head (``ID:HASH``), so the logs hold anchors for ``verify_audit_chain --anchor``."""
    head = chain_head()
    text = (
        "audit chain head: none (0 events)"
        if head is None
        else f"audit chain head {head[0]}:{head[1]} ({head[2]} events)"
    )
    log.info(text)
    return text


@shared_task(name="reporting.tasks.purge_idempotency_keys", ignore_result=True)
def purge_idempotency_keys() -> int:
    """Delete the ``Idempotency-Key`` records past ``IDEMPOTENCY_KEY_TTL_SECONDS`` (an expired key is new again)."""
    return idempotency_purge(now=timezone.now())
