"""重伤 (serious_injuries) through the API, as a client would walk it: an optional, additive figure on incidents and
reports; grading counts it, not the injured (SPEC rule 9); never more than the injured."""

from __future__ import annotations

from datetime import timedelta

import pytest
from freezegun import freeze_time

from reporting.models import AuditEvent, Incident, RefusedReport, Report
from tests.api.conftest import V1, client_for, written_body
from tests.conftest import NOW

pytestmark = pytest.mark.django_db


def shanghai(dt) -> str:
    return (dt + timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M:%S+08:00")


def written_counts():
    return (
        Incident.objects.count(),
        Report.objects.count(),
        RefusedReport.objects.count(),
        AuditEvent.objects.count(),
    )


def test_serious_injuries_walkthrough(units, duty_room, sijing_officer):
    duty, officer = client_for(duty_room), client_for(sijing_officer)
    occurred, known = NOW - timedelta(minutes=20), NOW - timedelta(minutes=10)
    incident_body = {
        "title": "泗泾镇某厂房坍塌",
        "domain": "production_safety",
        "occurred_at": shanghai(occurred),
        "location": "泗泾镇某路某号",
        "injuries": 50,
        "units": [{"unit": "sijing", "first_known_at": shanghai(known), "channel": "self"}],
    }

    with freeze_time(NOW):
        # More seriously injured than injured: 400 naming the field, nothing written.
        before = written_counts()
        response = duty.post(f"{V1}/incidents/", {**incident_body, "serious_injuries": 51}, format="json")
        assert response.status_code == 400
        assert list(response.json()) == ["serious_injuries"]
        assert "不能多于受伤人数" in response.json()["serious_injuries"][0]
        assert "serious_injuries must not exceed injuries" in response.json()["serious_injuries"][0]
        assert written_counts() == before

        # 50 injured, the field left out: 0 seriously injured, 一般 (IV), no relay obligation (II would owe one).
        response = duty.post(f"{V1}/incidents/", incident_body, format="json")
        assert response.status_code == 201, response.content
        incident = response.json()
        assert (incident["injuries"], incident["serious_injuries"]) == (50, 0)
        assert (incident["grade"], incident["grade_computed"]) == ("IV", "IV")
        assert [o["kind"] for o in incident["obligations"]] == ["report"]
        url = f"{V1}/incidents/{incident['id']}/"

    # The verbal report does not say how many are seriously injured (null is "not said"): 0, nothing raised.
    with freeze_time(NOW + timedelta(minutes=5)):
        verbal = {
            "incident": incident["id"],
            "unit": "sijing",
            "kind": "verbal",
            "occurred_at": shanghai(occurred),
            "location": "泗泾镇某路某号",
            "account": "厂房坍塌",
            "deaths": 0,
            "injuries": 50,
            "serious_injuries": None,
            "missing": 0,
        }
        response = officer.post(f"{V1}/reports/", verbal, format="json")
        assert response.status_code == 201, response.content
        assert response.json()["serious_injuries"] == 0

    # The written report: 52 injured, 10 of them seriously: the incident's figures rise and it is 较大 (III).
    with freeze_time(NOW + timedelta(minutes=30)):
        written = {
            "incident": incident["id"],
            "unit": "sijing",
            "kind": "written",
            **written_body(occurred_at=shanghai(occurred), injuries=52, serious_injuries=10),
        }
        before = written_counts()
        response = officer.post(f"{V1}/reports/", {**written, "serious_injuries": 53}, format="json")
        assert response.status_code == 400 and list(response.json()) == ["serious_injuries"]
        assert written_counts() == before
        response = officer.post(f"{V1}/reports/", written, format="json")
        assert response.status_code == 201, response.content
        report = response.json()
        assert (report["injuries"], report["serious_injuries"]) == (52, 10)
        assert duty.get(f"{V1}/reports/{report['id']}/").json()["serious_injuries"] == 10
        current = duty.get(url).json()
        assert (current["injuries"], current["serious_injuries"]) == (52, 10)
        assert (current["grade"], current["grade_computed"]) == ("III", "III")
        assert [o["kind"] for o in current["obligations"]] == ["report"]  # III owes no relay
        timeline = duty.get(f"{url}timeline/", {"page_size": 500}).json()["results"]
        changed = [e for e in timeline if e["kind"] == "incident_changed"][-1]
        assert changed["detail"]["changes"] == {
            "injuries": [50, 52],
            "serious_injuries": [0, 10],
            "grade": ["IV", "III"],
        }

    # The duty room's corrections: never fewer injured than seriously injured, never below the computed grade.
    with freeze_time(NOW + timedelta(minutes=35)):
        before = written_counts()
        for body in ({"serious_injuries": 53}, {"injuries": 9}, {"serious_injuries": -1}, {"serious_injuries": "x"}):
            response = duty.patch(url, body, format="json")
            assert response.status_code == 400, body
            assert list(response.json()) == ["serious_injuries"], response.json()
        assert duty.patch(url, {"grade": "IV"}, format="json").status_code == 400
        assert written_counts() == before
        # 50 seriously injured: 重大 (II), and the duty room owes the relay to 区委办 and 区府办 (SPEC rule 13).
        response = duty.patch(url, {"serious_injuries": 50}, format="json")
        assert response.status_code == 200, response.content
        assert (response.json()["serious_injuries"], response.json()["grade"]) == (50, "II")
        relay = [o for o in response.json()["obligations"] if o["kind"] == "relay"]
        assert [o["unit"] for o in relay] == ["duty-room"]

    # A follow-up stating fewer lowers nothing.
    with freeze_time(NOW + timedelta(minutes=40)):
        response = officer.post(
            f"{V1}/reports/",
            {**verbal, "kind": "follow_up", "injuries": 3, "serious_injuries": 1},
            format="json",
        )
        assert response.status_code == 201
        current = duty.get(url).json()
        assert (current["injuries"], current["serious_injuries"], current["grade"]) == (52, 50, "II")


def test_the_schema_describes_serious_injuries(duty_room):
    schema = client_for(duty_room).get("/api/schema/", {"format": "json"}).json()["components"]["schemas"]
    inputs = ("IncidentCreateInputRequest", "PatchedIncidentUpdateInputRequest", "ReportCreateInputRequest")
    for name in ("Incident", "Report", *inputs):
        assert schema[name]["properties"]["serious_injuries"]["type"] == "integer", name
    for name in inputs:  # additive: optional in every input
        assert "serious_injuries" not in schema[name].get("required", []), name
        assert schema[name]["properties"]["serious_injuries"]["minimum"] == 0, name
    for name in ("Incident", "Report"):  # always present in outputs
        assert "serious_injuries" in schema[name]["required"], name
    assert schema["ReportCreateInputRequest"]["properties"]["serious_injuries"]["nullable"] is True
    assert schema["Signal"]["properties"].get("serious_injuries") is None  # feeds count the injured only
