"""The grade follows the figures both ways unless a human raised it (SPEC rule 9); ``"grade": null`` on PATCH asks
for the computed grade, as on creation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from reporting import services
from tests.api.conftest import V1


@pytest.fixture
def incident(units, duty_room):
    now = timezone.now()
    return services.incident_create(
        actor=duty_room,
        now=now,
        title="泗泾镇某厂房坍塌",
        domain="production_safety",
        occurred_at=now - timedelta(minutes=20),
        location="泗泾镇某路1号",
        summary="",
        deaths=3,
        units=[{"unit": units["sijing"], "first_known_at": now - timedelta(minutes=10), "channel": "self"}],
    )


def patch(client, incident, **body):
    response = client.patch(f"{V1}/incidents/{incident.pk}/", body, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def test_a_computed_grade_follows_corrected_figures_down(api, incident, duty_room):
    assert (incident.grade, incident.grade_computed) == ("III", "III")
    body = patch(api(duty_room), incident, deaths=0)
    assert (body["grade"], body["grade_computed"]) == ("below", "below")
    body = patch(api(duty_room), incident, deaths=1)
    assert (body["grade"], body["grade_computed"]) == ("IV", "IV")


def test_a_grade_raised_by_hand_stays_until_reset_with_null(api, incident, duty_room):
    client = api(duty_room)
    assert patch(client, incident, grade="II")["grade"] == "II"
    body = patch(client, incident, deaths=1)
    assert (body["grade"], body["grade_computed"]) == ("II", "IV")  # the duty room's II is its judgement: kept
    body = patch(client, incident, title="泗泾镇某厂房坍塌 (更正)")
    assert body["grade"] == "II"
    body = patch(client, incident, grade=None)
    assert (body["grade"], body["grade_computed"]) == ("IV", "IV")
    timeline = client.get(f"{V1}/incidents/{incident.pk}/timeline/?page_size=500").json()["results"]
    changes = [e["detail"]["changes"].get("grade") for e in timeline if e["kind"] == "incident_changed"]
    assert ["III", "II"] in changes and ["II", "IV"] in changes  # every grade change logged (rule 9)
