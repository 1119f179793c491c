"""Which draft the filing form edits (SPEC rule 7: drafts may be saved before filing; only filing counts).

A draft keeps its first save time (``created_at``) however often it is edited
(``report_services.report_draft_update``), and the form files *that* row with ``report_services.report_file``: the
audit rule "a draft saved before the deadline but filed after it" (suspected 压报) compares the row's save and filing
times, so filing a fresh copy instead would hide the held-back draft.
"""

from __future__ import annotations

from reporting.models import Obligation, Report


def draft_for_form(*, obligation: Obligation, draft_id: int | None) -> Report | None:
    """The still unfiled draft of this obligation the form was editing, if any (a filed or foreign id is ignored)."""
    if not draft_id:
        return None
    return Report.objects.drafts().filter(pk=draft_id, obligation=obligation).first()


def latest_draft(*, obligation: Obligation, user) -> Report | None:
    return Report.objects.drafts().filter(obligation=obligation, created_by=user).order_by("-created_at", "-id").first()
