"""Filed reports and audit events are append-only in PostgreSQL itself (migration 0004's triggers)."""

from datetime import timedelta

import psycopg
import pytest
from django.db import IntegrityError, connection, transaction

from reporting import report_services, services
from reporting.models import AuditEvent, Report
from tests.conftest import NOW


def _incident_and_obligation(units, actor):
    incident = services.incident_create(
        actor=actor,
        now=NOW,
        title="泗泾镇某厂房火灾",
        domain="production_safety",
        occurred_at=NOW - timedelta(minutes=20),
        location="泗泾镇某路1号",
        summary="",
        units=[{"unit": units["sijing"], "first_known_at": NOW - timedelta(minutes=10), "channel": "self"}],
    )
    return incident, incident.obligations.get()


def _raw(sql, params):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def test_raw_sql_cannot_change_or_delete_a_filed_report(units, sijing_officer):
    _incident, obligation = _incident_and_obligation(units, sijing_officer)
    report = report_services.report_create(
        obligation=obligation,
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
    with pytest.raises(IntegrityError, match="never changed or deleted"):
        _raw("UPDATE reporting_report SET deaths = 5 WHERE id = %s", [report.pk])
    with pytest.raises(IntegrityError, match="never changed or deleted"):
        _raw("DELETE FROM reporting_report WHERE id = %s", [report.pk])
    assert Report.objects.get(pk=report.pk).deaths == 0


def test_a_draft_may_still_be_edited_and_filed(units, sijing_officer):
    _incident, obligation = _incident_and_obligation(units, sijing_officer)
    draft = report_services.report_create(
        obligation=obligation, kind="verbal", actor=sijing_officer, now=NOW, draft=True, account="厂房起火"
    )
    assert _raw("UPDATE reporting_report SET location = %s WHERE id = %s", ["泗泾镇某路1号", draft.pk]) == 1


def test_raw_sql_cannot_change_or_delete_an_audit_event(units, sijing_officer):
    _incident_and_obligation(units, sijing_officer)
    event = AuditEvent.objects.order_by("id").first()
    with pytest.raises(IntegrityError, match="never changed or deleted"):
        _raw("UPDATE reporting_auditevent SET actor = 'mallory' WHERE id = %s", [event.pk])
    with pytest.raises(IntegrityError, match="never changed or deleted"):
        _raw("DELETE FROM reporting_auditevent WHERE id = %s", [event.pk])
    assert AuditEvent.objects.get(pk=event.pk).actor == "sijing-officer"


def _connect(**options):
    """A connection of our own, opened as production opens it (without the tests' ``allow_truncate``)."""
    settings_dict = connection.settings_dict
    return psycopg.connect(
        dbname=settings_dict["NAME"],
        user=settings_dict["USER"],
        host=settings_dict["HOST"],
        port=settings_dict["PORT"] or 5432,
        autocommit=True,
        **options,
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("table", ["reporting_auditevent", "reporting_report", "reporting_incident"])
def test_truncate_cannot_empty_the_audit_trail_or_the_reports(units, sijing_officer, table):
    """TRUNCATE fires no row trigger: a statement trigger refuses it, also when it cascades from the incidents."""
    _incident_and_obligation(units, sijing_officer)
    before = AuditEvent.objects.count()
    assert before > 0
    with _connect() as conn:
        with pytest.raises(psycopg.errors.IntegrityConstraintViolation, match="append-only: TRUNCATE is refused"):
            conn.execute(f"TRUNCATE {table} CASCADE")
    assert AuditEvent.objects.count() == before


@pytest.mark.django_db(transaction=True)
def test_only_a_connection_that_says_so_may_truncate(units, sijing_officer):
    """The tests' own switch (Django empties tables between transactional tests with TRUNCATE) works as intended."""
    _incident_and_obligation(units, sijing_officer)
    with _connect(options="-c reporting.allow_truncate=on") as conn:
        conn.execute("TRUNCATE reporting_auditevent CASCADE")
    assert AuditEvent.objects.count() == 0
