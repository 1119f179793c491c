"""Which obligation a filed report belongs to, and what a wrong incident/unit pair answers (one query when right;
step by step when not, so the answer names the field at fault without revealing what the user may not see)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from reporting.models import Report
from tests.api.conftest import V1, written_body


def post(client, incident_id, unit, **over):
    body = {"incident": incident_id, "unit": unit, "kind": "written"}
    body.update(written_body(occurred_at=(timezone.now() - timedelta(minutes=20)).isoformat(), **over))
    return client.post(f"{V1}/reports/", body, format="json")


@pytest.mark.parametrize(
    ("who", "incident", "unit", "field", "words"),
    [
        # unit staff: an incident of another unit is unknown to them, whatever unit they name (no oracle)
        ("sijing", "chedun", "chedun", "incident", "unknown incident"),
        ("sijing", "chedun", "sijing", "incident", "unknown incident"),
        ("sijing", "chedun", "nowhere", "incident", "unknown incident"),
        ("sijing", "sijing", "chedun", "unit", "only their own unit"),
        ("sijing", "sijing", "nowhere", "unit", "unknown unit"),
        ("sijing", 99_999_999, "sijing", "incident", "unknown incident"),
        # the duty room sees every incident: the unit is what is wrong
        ("duty", "chedun", "sijing", "unit", "not responsible"),
        ("duty", "chedun", "nowhere", "unit", "unknown unit"),
        ("duty", 99_999_999, "chedun", "incident", "unknown incident"),
    ],
)
def test_a_wrong_pair_names_the_field_at_fault_and_writes_nothing(
    api, world, chedun_incident, sijing_officer, duty_room, who, incident, unit, field, words
):
    client = api(sijing_officer if who == "sijing" else duty_room)
    incident_id = {"sijing": world["incident"].pk, "chedun": chedun_incident.pk}.get(incident, incident)
    before = Report.objects.count()
    response = post(client, incident_id, unit)
    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert words in response.json()[field][0]
    assert Report.objects.count() == before


def test_the_right_pair_files_onto_the_units_obligation_in_one_lookup(api, world, sijing_officer):
    client = api(sijing_officer)
    with CaptureQueriesContext(connection) as queries:
        response = post(client, world["incident"].pk, "sijing")
    assert response.status_code == 201
    report = Report.objects.get(pk=response.json()["id"])
    assert report.obligation_id == world["obligation"].pk and report.sequence == 2
    sql = [q["sql"] for q in queries.captured_queries]
    # (inside the test's own transaction the filing's transaction is a savepoint)
    before_transaction = sql[: next(i for i, q in enumerate(sql) if q.startswith(("BEGIN", "SAVEPOINT")))]
    # token + user; the obligation with its incident and unit. Nothing else before the filing transaction.
    assert len(before_transaction) == 2, before_transaction
