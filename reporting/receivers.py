"""Audit findings produced as events happen: receivers of ``reporting.hooks`` (connected in ``ReportingConfig.ready``).

Each receiver recomputes the one incident concerned, inside the transaction that made the change (in a savepoint
that can fail alone). The periodic recompute (``reporting.tasks.recompute_findings``) produces the same findings.
"""

from django.dispatch import receiver

from reporting import hooks
from reporting.findings_services import findings_recompute_incident


@receiver(hooks.report_filed, dispatch_uid="findings_on_report_filed")
def findings_on_report_filed(sender, report, now, **kwargs):
    findings_recompute_incident(incident_id=report.incident_id, now=now)


@receiver(hooks.obligation_changed, dispatch_uid="findings_on_obligation_changed")
def findings_on_obligation_changed(sender, obligation, now, **kwargs):
    findings_recompute_incident(incident_id=obligation.incident_id, now=now)
