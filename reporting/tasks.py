"""Celery tasks of the domain: thin; read the clock once, call one service."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from reporting.findings_services import findings_recompute, findings_recompute_incident


@shared_task(name="reporting.tasks.recompute_findings", acks_late=True)
def recompute_findings(days: float | None = None) -> dict:
    """The periodic, idempotent recompute of audit findings over the recent window (``FINDINGS_RECOMPUTE_DAYS``,
    default 7 days: older incidents only change through events, which recompute them within seconds)."""
    now = timezone.now()
    window = float(days if days is not None else settings.FINDINGS_RECOMPUTE_DAYS)
    result = findings_recompute(now=now, since=now - timedelta(days=window))
    return {"incidents": result.incidents, "created": result.created, "updated": result.updated}


@shared_task(name="reporting.tasks.recompute_incident_findings", ignore_result=True)
def recompute_incident_findings(incident_id: int) -> int:
    """One incident's findings after a change (debounced by ``reporting.receivers``), judged at the task's own
    ``now``: later than the change, so it sees the change and everything committed since."""
    result = findings_recompute_incident(incident_id=incident_id, now=timezone.now())
    return result.created + result.updated
