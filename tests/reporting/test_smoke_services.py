from datetime import timedelta

from freezegun import freeze_time

from reporting import services
from reporting.models import DeadlineState
from tests.conftest import NOW


def written_fields(**over):
    base = dict(
        occurred_at=NOW - timedelta(minutes=20),
        location="泗泾镇某路1号",
        account="厂房起火",
        deaths=0,
        injuries=1,
        missing=0,
        measures="消防到场",
        contact_name="王某",
        contact_phone="+8617000000001",
    )
    base.update(over)
    return base


def test_written_report_at_due_time_is_on_time_and_discharges_verbal(units, sijing_officer):
    incident = services.incident_create(
        actor=sijing_officer,
        now=NOW,
        title="泗泾镇某厂房火灾",
        domain="production_safety",
        occurred_at=NOW - timedelta(minutes=20),
        location="泗泾镇某路1号",
        summary="",
        units=[{"unit": units["sijing"], "first_known_at": NOW - timedelta(minutes=10), "channel": "self"}],
    )
    obligation = incident.obligations.get()
    with freeze_time(obligation.written_due_at):
        report = services.report_create(
            obligation=obligation,
            kind="written",
            actor=sijing_officer,
            now=obligation.written_due_at,
            **written_fields(),
        )
    obligation.refresh_from_db()
    assert report.on_time is True and report.delay_seconds == 0
    assert obligation.written_state == DeadlineState.ON_TIME
    assert obligation.verbal_state == DeadlineState.LATE
    assert incident.number.startswith("SJ-2026-")
