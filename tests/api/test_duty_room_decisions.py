"""An exercise is left out of every audit figure (SPEC rule 10), so only the duty room marks one; the grade and
sensitivity are the duty room's judgement too. A reporting unit opening its own incident cannot set them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from reporting.models import AuditEvent, Incident, Obligation
from tests.api.conftest import V1


def body(**over):
    now = timezone.now()
    data = {
        "title": "泗泾镇某厂房火灾",
        "domain": "production_safety",
        "occurred_at": (now - timedelta(minutes=20)).isoformat(),
        "location": "泗泾镇某路1号",
        "summary": "",
        "deaths": 2,
        "injuries": 0,
        "missing": 0,
        "direct_loss_yuan": 0,
        "units": [{"unit": "sijing", "first_known_at": (now - timedelta(minutes=10)).isoformat(), "channel": "self"}],
    }
    data.update(over)
    return data


def counts():
    return Incident.objects.count(), Obligation.objects.count(), AuditEvent.objects.count()


@pytest.mark.parametrize(
    "decision", [{"exercise": True}, {"grade": "I"}, {"sensitive": True}, {"exercise": True, "grade": "I"}]
)
def test_a_unit_cannot_mark_its_own_incident_an_exercise_or_grade_it(api, units, sijing_officer, decision):
    before = counts()
    response = api(sijing_officer).post(f"{V1}/incidents/", body(**decision), format="json")
    assert response.status_code == 400
    assert set(response.json()) == set(decision)
    assert "duty room decides" in response.json()[next(iter(decision))][0]
    assert counts() == before


def test_the_defaults_are_fine_for_a_unit_and_the_duty_room_decides(api, units, sijing_officer, duty_room):
    mine = api(sijing_officer).post(
        f"{V1}/incidents/", body(exercise=False, grade=None, sensitive=False), format="json"
    )
    assert mine.status_code == 201 and mine.json()["exercise"] is False
    drill = api(duty_room).post(f"{V1}/incidents/", body(exercise=True, grade="I", sensitive=True), format="json")
    assert drill.status_code == 201
    assert (drill.json()["exercise"], drill.json()["grade"], drill.json()["sensitive"]) == (True, "I", True)
