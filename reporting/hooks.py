"""How `reporting` tells the outside world (notifications) about changes, without importing it.

Each signal is sent inside the transaction that made the change; receivers that talk to the outside world
must defer that work with ``transaction.on_commit``.
"""

from django.dispatch import Signal

#: sender=Obligation, obligation=..., now=...: a new obligation exists (freeze the escalation plan, arm the sweep).
obligation_created = Signal()
#: sender=Obligation, obligation=..., now=...: its clocks changed (a report filed, not required, corrected).
obligation_changed = Signal()
#: sender=Incident, incident=..., now=...: an incident was created or its figures or grade changed (event rules).
incident_changed = Signal()
#: sender=Report, report=..., now=...: a report was filed.
report_filed = Signal()
#: sender=Signal (the model), instance=..., now=...: a signal was linked to an incident (``instance.incident``).
signal_linked = Signal()
#: sender=Signal (the model), instance=..., incident=..., now=...: a signal was unlinked from ``incident`` (its
#: evidence withdrawn).
signal_unlinked = Signal()
