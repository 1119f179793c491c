"""The domain: organisation, incidents and their clocks, reports, signals, findings, audit events."""

from reporting.models.audit import AuditEvent
from reporting.models.choices import (
    Channel,
    ContactRole,
    DeadlineState,
    Domain,
    FindingKind,
    Grade,
    ObligationKind,
    ReportKind,
    ReviewState,
    Role,
    SignalSource,
    UnitKind,
)
from reporting.models.findings import Finding
from reporting.models.idempotency import IdempotencyRecord
from reporting.models.incidents import DeadlineBreach, Incident, Obligation, ReportingPolicy
from reporting.models.org import Contact, Shift, Unit, User
from reporting.models.reports import RefusedReport, Report, Signal

__all__ = [
    "AuditEvent",
    "Channel",
    "Contact",
    "ContactRole",
    "DeadlineBreach",
    "DeadlineState",
    "Domain",
    "Finding",
    "FindingKind",
    "Grade",
    "IdempotencyRecord",
    "Incident",
    "Obligation",
    "ObligationKind",
    "RefusedReport",
    "Report",
    "ReportKind",
    "ReportingPolicy",
    "ReviewState",
    "Role",
    "Shift",
    "Signal",
    "SignalSource",
    "Unit",
    "UnitKind",
    "User",
]
