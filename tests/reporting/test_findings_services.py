"""The recompute task's window, and that an audit failure never fails a filing."""

from __future__ import annotations

from datetime import timedelta

from freezegun import freeze_time

from reporting import findings as rules
from reporting.models import Finding, Report
from reporting.tasks import recompute_findings
from tests.reporting.test_findings import DAY, WRITTEN_DUE, file, found, open_incident


def test_task_recomputes_the_recent_window_only(units, sijing_officer):
    open_incident(units, sijing_officer)
    with freeze_time(WRITTEN_DUE + DAY + timedelta(seconds=1)):
        assert recompute_findings() == {"incidents": 1, "created": 1, "updated": 0, "withdrawn": 0, "reinstated": 0}
        assert recompute_findings() == {"incidents": 1, "created": 0, "updated": 0, "withdrawn": 0, "reinstated": 0}
    assert found() == {("missed", "no_report", False)}
    Finding.objects.all().delete()
    with freeze_time(WRITTEN_DUE + 10 * DAY):
        # Older than the 7-day window: only events (or a wider window) recompute it.
        assert recompute_findings()["incidents"] == 0
        assert recompute_findings(days=30) == {
            "incidents": 1,
            "created": 1,
            "updated": 0,
            "withdrawn": 0,
            "reinstated": 0,
        }


def test_a_missed_horizon_longer_than_the_window_still_gives_its_missed(units, sijing_officer, settings):
    """MISSED_AFTER_HOURS longer than the task's window: the 漏报 falls due with no event, so the window must reach
    back to the deadline whose horizon ends in it (it used to look only at first-known and filing times)."""
    settings.MISSED_AFTER_HOURS = 8 * 24
    settings.FINDINGS_RECOMPUTE_DAYS = 7
    open_incident(units, sijing_officer)
    with freeze_time(WRITTEN_DUE + 8 * DAY):
        assert recompute_findings()["created"] == 0
    with freeze_time(WRITTEN_DUE + 8 * DAY + timedelta(seconds=1)):
        assert recompute_findings()["created"] == 1
    assert found() == {("missed", "no_report", False)}


def test_a_failing_recompute_never_fails_the_filing(units, sijing_officer, monkeypatch):
    obligation = open_incident(units, sijing_officer).obligations.get()

    def broken(*args, **kwargs):
        raise RuntimeError("rule bug")

    monkeypatch.setattr(rules, "incident_findings", broken)
    report = file(obligation, "written", WRITTEN_DUE + timedelta(seconds=30), sijing_officer)
    assert Report.objects.filter(pk=report.pk, filed_at__isnull=False).exists()
    assert found() == set()
    monkeypatch.undo()
    with freeze_time(WRITTEN_DUE + DAY):
        recompute_findings()
    assert found() == {("late", "verbal", False), ("late", "written", False)}


def test_event_findings_are_computed_after_the_commit_not_inside_the_filing(units, sijing_officer):
    from django.test import TestCase

    from reporting import report_services
    from tests.reporting.test_findings import report_fields

    obligation = open_incident(units, sijing_officer).obligations.get()
    at = WRITTEN_DUE + timedelta(seconds=30)
    with freeze_time(at), TestCase.captureOnCommitCallbacks(execute=False) as callbacks:
        report_services.report_create(
            obligation=obligation, kind="written", actor=sijing_officer, now=at, **report_fields()
        )
    assert found() == set()  # nothing yet: the filing transaction has not committed
    assert callbacks
    for callback in callbacks:
        callback()
    assert found() == {("late", "verbal", False), ("late", "written", False)}
