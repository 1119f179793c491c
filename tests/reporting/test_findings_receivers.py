"""Findings are recomputed once per incident and transaction, after commit."""

from datetime import timedelta

from reporting import services
from reporting.receivers import _Recompute
from tests.conftest import NOW


def test_a_filing_schedules_one_recompute_of_its_incident(units, sijing_officer, django_capture_on_commit_callbacks):
    incident = services.incident_create(
        actor=sijing_officer,
        now=NOW,
        title="泗泾镇某厂房火灾",
        domain="production_safety",
        occurred_at=NOW - timedelta(minutes=20),
        location="泗泾镇某路1号",
        units=[{"unit": units["sijing"], "first_known_at": NOW - timedelta(minutes=10), "channel": "self"}],
    )
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        # Filing sends report_filed and obligation_changed; each asks for the incident's recompute.
        services.report_create(
            obligation=incident.obligations.get(),
            kind="verbal",
            actor=sijing_officer,
            now=NOW,
            account="厂房起火",
            location="泗泾镇某路1号",
            occurred_at=NOW - timedelta(minutes=20),
            deaths=0,
            injuries=0,
            missing=0,
        )
    recomputes = [c for c in callbacks if isinstance(c, _Recompute)]
    assert [(c.incident_id, c.ran) for c in recomputes] == [(incident.pk, True)]
