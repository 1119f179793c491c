"""Audit findings produced as events happen: receivers of ``reporting.hooks`` (connected in ``ReportingConfig.ready``).

A change (report filed, clocks changed) asks for the recompute of the one incident concerned, after the
transaction that made it commits (``on_commit``; a rolled-back change schedules nothing), once per incident and
transaction. How it runs depends on ``FINDINGS_DEFER_SECONDS``:

- ``0``: in the same process, right after commit (the test settings; simple to reason about in a test).
- ``> 0`` (production, default 5): handed to a Celery worker and **debounced** per incident. The first change
  claims a cache key for the incident (``cache.add``, atomic in Redis) that lives ``FINDINGS_DEFER_SECONDS`` and
  enqueues one ``reporting.tasks.recompute_incident_findings`` with a countdown one second longer; further changes
  while the key lives enqueue nothing. Every change is covered: it committed before its key expired, hence before
  the task (which starts after the key is gone) reads anything, or it comes after and claims a new key and task.
  A filing then costs one cache round trip instead of a recompute (half a filing's time; docs/benchmarks.md, "API:
  report filing"), and ten filings on one incident within the window cost one recompute.

Findings are auditors' evidence, not a live clock: seconds of delay change nothing for anyone. The periodic
recompute (``reporting.tasks.recompute_findings``) produces the same findings and catches up after a lost task.
"""

import logging

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.dispatch import receiver

from reporting import hooks
from reporting.findings_services import findings_recompute_incident

logger = logging.getLogger(__name__)


def _debounce_key(incident_id: int) -> str:
    return f"findings:recompute:{incident_id}"


class _Recompute:
    """One pending recompute of an incident's findings, run after commit (inline or handed to a worker)."""

    def __init__(self, incident_id: int, now):
        self.incident_id, self.now, self.ran = incident_id, now, False

    def __call__(self) -> None:
        self.ran = True
        defer = float(settings.FINDINGS_DEFER_SECONDS)
        if defer <= 0:
            findings_recompute_incident(incident_id=self.incident_id, now=self.now)
            return
        from reporting.tasks import recompute_incident_findings

        try:
            if not cache.add(_debounce_key(self.incident_id), 1, timeout=defer):
                return  # a recompute of this incident is already scheduled and has not started reading yet
            recompute_incident_findings.apply_async((self.incident_id,), countdown=defer + 1)
        except Exception:  # Redis down: the periodic recompute catches up; a filing must never fail for an audit
            logger.exception(
                "could not schedule the findings recompute of incident %s; the periodic recompute will do it",
                self.incident_id,
            )


def _after_commit(incident_id: int, now) -> None:
    """Once per incident and transaction: a filing sends both report_filed and obligation_changed. Callbacks of a
    rolled-back transaction or savepoint are dropped by Django."""
    for _savepoints, func, *_rest in transaction.get_connection().run_on_commit:
        if isinstance(func, _Recompute) and func.incident_id == incident_id and not func.ran:
            return
    transaction.on_commit(_Recompute(incident_id, now), robust=True)


@receiver(hooks.report_filed, dispatch_uid="findings_on_report_filed")
def findings_on_report_filed(sender, report, now, **kwargs):
    _after_commit(report.incident_id, now)


@receiver(hooks.obligation_changed, dispatch_uid="findings_on_obligation_changed")
def findings_on_obligation_changed(sender, obligation, now, **kwargs):
    _after_commit(obligation.incident_id, now)


@receiver(hooks.signal_linked, dispatch_uid="findings_on_signal_linked")
def findings_on_signal_linked(sender, instance, now, **kwargs):
    """A signal linked to an incident is judged with it from now on: its 漏报 found while it was linked to nothing
    is withdrawn when the unit did report on the incident in time (and the incident's evidence may change)."""
    _after_commit(instance.incident_id, now)


@receiver(hooks.signal_unlinked, dispatch_uid="findings_on_signal_unlinked")
def findings_on_signal_unlinked(sender, instance, incident, now, **kwargs):
    """The incident a signal was unlinked from is judged without it: findings that rested on its evidence (a 压报
    against its delivery time, a 瞒报 against its figures) are withdrawn."""
    _after_commit(incident.pk, now)
