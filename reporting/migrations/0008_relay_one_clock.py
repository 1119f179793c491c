"""The duty room's relay (SPEC rule 13) is one clock: any report discharges both of its clocks
(``deadlines.apply_filing``, ``one_clock``). Before that, a relay done by phone left its written clock pending forever
(overdue on the board and in the API, not on time in the figures, a 漏报 after 24 h). This closes those written
clocks with the verbal outcome: same state, time and report.

Data migration, separate from any schema change. Only relays whose verbal clock is decided and written clock still
pending are touched. Reversible: the reverse reopens the written clock of relays whose written clock was closed by a
verbal report, which is exactly what the old code left pending (a written report on a relay always discharged both
clocks itself, so those are left alone). A relay whose pending written clock was since marked not required (the
only way to clear it before) keeps that mark and its reason. No audit event is written: the audit chain is hashed by
application code (``reporting.auditlog``) that a migration should not import.
"""

from django.db import migrations
from django.db.models import F


def close_written_clocks(apps, schema_editor):
    Obligation = apps.get_model("reporting", "Obligation")
    Obligation.objects.filter(kind="relay", written_state="pending").exclude(verbal_state="pending").update(
        written_state=F("verbal_state"),
        written_filed_at=F("verbal_filed_at"),
        written_report=F("verbal_report"),
        # Nothing is left to chase once both clocks are decided (``services._rearm``).
        next_action_at=None,
    )


def reopen_written_clocks(apps, schema_editor):
    Obligation = apps.get_model("reporting", "Obligation")
    Obligation.objects.filter(kind="relay", written_report__isnull=False, written_report__kind="verbal").update(
        written_state="pending",
        written_filed_at=None,
        written_report=None,
        # What the old code's re-arm left: the sweep looks at the pending written deadline.
        next_action_at=F("written_due_at"),
    )


class Migration(migrations.Migration):
    dependencies = [
        ("reporting", "0007_serious_injuries"),
    ]

    operations = [
        migrations.RunPython(close_written_clocks, reopen_written_clocks),
    ]
