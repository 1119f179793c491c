"""Drafts edited from the filing form (SPEC rule 7: drafts may be saved before filing; only filing counts).

A draft keeps its first save time (``created_at``) however often it is edited, and the form files *that* row with
``services.report_file``: the audit rule "a draft saved before the deadline but filed after it" (suspected 压报)
compares the row's save and filing times, so filing a fresh copy instead would hide the held-back draft.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction

from reporting import deadlines, services
from reporting.auditlog import event_append
from reporting.errors import ConflictError, DomainError
from reporting.models import Obligation, Report, ReportKind, Role


def draft_for_form(*, obligation: Obligation, draft_id: int | None) -> Report | None:
    """The still unfiled draft of this obligation the form was editing, if any (a filed or foreign id is ignored)."""
    if not draft_id:
        return None
    return Report.objects.drafts().filter(pk=draft_id, obligation=obligation).first()


def latest_draft(*, obligation: Obligation, user) -> Report | None:
    return Report.objects.drafts().filter(obligation=obligation, created_by=user).order_by("-created_at", "-id").first()


@transaction.atomic
def draft_update(
    *,
    report: Report,
    kind: str,
    actor,
    now: datetime,
    call_received_at: datetime | None = None,
    **fields: Any,
) -> Report:
    """Replace a draft's kind and elements with what the form holds; the save time stays the first one.

    The same checks as ``services.report_create`` apply to the times (never in the future; a call time only on a
    verbal report logged by the duty room). Raises ``ConflictError`` when the draft was filed meanwhile.
    """
    if call_received_at is not None and kind != ReportKind.VERBAL:
        raise DomainError({"call_received_at": ["仅口头报可填写来电时间 (only for verbal reports)"]})
    if call_received_at is not None and getattr(actor, "effective_role", None) not in (Role.DUTY_ROOM, Role.ADMIN):
        raise DomainError({"call_received_at": ["仅总值班室登记口头报时可填写 (duty room only)"]})
    try:
        if fields.get("occurred_at") is not None:
            deadlines.check_past("occurred_at", fields["occurred_at"], now=now)
        deadlines.counted_time(filed_at=now, call_received_at=call_received_at)
    except deadlines.TimeError as exc:
        raise DomainError({exc.field: [exc.message]}) from exc
    report = (
        Report.objects.select_for_update(no_key=True).select_related("obligation__unit", "incident").get(pk=report.pk)
    )
    if report.filed_at is not None:
        raise ConflictError("该报告已报送 (this report is already filed)")
    report.kind = kind
    report.call_received_at = call_received_at
    for name in services.REPORT_FIELDS:
        value = fields.get(name)
        # Text elements are blank, never NULL, when the user left them empty.
        setattr(report, name, "" if value is None and not Report._meta.get_field(name).null else value)
    report.save()
    event_append(
        at=now,
        kind="report_draft_saved",
        actor=services.actor_name(actor),
        incident=report.incident,
        obj=report,
        detail={"unit": report.obligation.unit.code, "kind": kind, "updated": True},
    )
    return report
