"""Audit findings produced as events happen: receivers of ``reporting.hooks`` (connected in ``ReportingConfig.ready``).

Each receiver recomputes the one incident concerned right after the transaction that made the change commits
(``on_commit``), in the same process: the filing transaction holds the audit chain's lock, and the recompute must
not lengthen it (docs/benchmarks.md, "API: report filing"). A rolled-back change schedules nothing. The periodic
recompute (``reporting.tasks.recompute_findings``) produces the same findings and catches up after a crash.
"""

from django.db import transaction
from django.dispatch import receiver

from reporting import hooks
from reporting.findings_services import findings_recompute_incident


class _Recompute:
    """One pending recompute of an incident's findings, run after commit."""

    def __init__(self, incident_id: int, now):
        self.incident_id, self.now, self.ran = incident_id, now, False

    def __call__(self) -> None:
        self.ran = True
        findings_recompute_incident(incident_id=self.incident_id, now=self.now)


def _after_commit(incident_id: int, now) -> None:
    """Once per incident and transaction: a filing sends both report_filed and obligation_changed, and a recompute
    is half the cost of a filing. Callbacks of a rolled-back transaction or savepoint are dropped by Django."""
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
