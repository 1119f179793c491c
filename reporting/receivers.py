"""Audit findings produced as events happen: receivers of ``reporting.hooks`` (connected in ``ReportingConfig.ready``).

Each receiver recomputes the one incident concerned right after the transaction that made the change commits
(``on_commit``), in the same process: the filing transaction holds the audit chain's lock, and the recompute must
not lengthen it (docs/benchmarks.md, "API: report filing"). A rolled-back change schedules nothing. The periodic
recompute (``reporting.tasks.recompute_findings``) produces the same findings and catches up after a crash.
"""

from functools import partial

from django.db import transaction
from django.dispatch import receiver

from reporting import hooks
from reporting.findings_services import findings_recompute_incident


def _after_commit(incident_id: int, now) -> None:
    # Idempotent: two events of one transaction (report filed + clocks changed) recompute twice, changing nothing
    # the second time.
    transaction.on_commit(partial(findings_recompute_incident, incident_id=incident_id, now=now), robust=True)


@receiver(hooks.report_filed, dispatch_uid="findings_on_report_filed")
def findings_on_report_filed(sender, report, now, **kwargs):
    _after_commit(report.incident_id, now)


@receiver(hooks.obligation_changed, dispatch_uid="findings_on_obligation_changed")
def findings_on_obligation_changed(sender, obligation, now, **kwargs):
    _after_commit(obligation.incident_id, now)
