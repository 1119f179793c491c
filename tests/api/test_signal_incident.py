"""``POST /api/v1/signals/{id}/incident/``: the duty room opens an incident from a signal and links it, in one
transaction (additive to API.md, which leaves "opening one" to the duty room)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from reporting import signal_services
from reporting.models import AuditEvent, Incident, Obligation
from tests.api.conftest import V1
from tests.web.conftest import open_incident
from tests.web.test_signal_pages import make_signal

pytestmark = pytest.mark.django_db


@pytest.fixture
def signal(units):
    return make_signal(units, source="120", external_id="E-77", minutes_ago=8, summary="一人受伤")


def body(**overrides):
    now = timezone.now()
    data = {
        "title": "泗泾镇某厂房火灾",
        "domain": "production_safety",
        "occurred_at": (now - timedelta(minutes=10)).isoformat(),
        "location": "泗泾镇某路1号",
        "injuries": 1,
        "units": [{"unit": "emergency", "first_known_at": (now - timedelta(minutes=5)).isoformat(), "channel": "120"}],
    }
    data.update(overrides)
    return data


def test_the_duty_room_opens_an_incident_from_a_signal(api, duty_room, signal):
    response = api(duty_room).post(f"{V1}/signals/{signal.pk}/incident/", body(), format="json")
    assert response.status_code == 201, response.json()
    incident = Incident.objects.get()
    assert response.json()["id"] == incident.pk and response.json()["number"] == incident.number
    signal.refresh_from_db()
    assert signal.incident == incident
    # The named unit, and the unit the signal was delivered to (its delivery is evidence: SPEC rule 5).
    units = {o["unit"]: o for o in response.json()["obligations"]}
    assert set(units) == {"emergency", "sijing"}
    sijing = Obligation.objects.get(incident=incident, unit__code="sijing")
    assert sijing.first_known_at == signal.delivered_at and sijing.first_known_channel == "120"
    again = api(duty_room).post(f"{V1}/signals/{signal.pk}/incident/", body(), format="json")
    assert again.status_code == 409 and "signal" in again.json()
    assert Incident.objects.count() == 1


def test_a_signal_linked_elsewhere_is_a_conflict_and_nothing_is_written(api, duty_room, units, sijing_officer, signal):
    other = open_incident(sijing_officer, units["sijing"], known_minutes_ago=3, title="甲")
    signal_services.signal_link(signal=signal, incident=other, actor=duty_room, now=timezone.now())
    before = (Incident.objects.count(), AuditEvent.objects.count())
    response = api(duty_room).post(f"{V1}/signals/{signal.pk}/incident/", body(), format="json")
    assert response.status_code == 409
    assert (Incident.objects.count(), AuditEvent.objects.count()) == before


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"title": ""}, "title"),
        ({"units": []}, "units"),
        ({"occurred_at": "2026-11-28T09:00:00"}, "occurred_at"),
        ({"units": [{"unit": "atlantis", "first_known_at": "2026-11-28T09:00:00+08:00", "channel": "120"}]}, "units"),
        ({"grade": "V"}, "grade"),
        ({"serious_injuries": 2}, "serious_injuries"),  # more seriously injured than the 1 injured
        ({"serious_injuries": -1}, "serious_injuries"),
    ],
)
def test_bad_input_is_a_400_and_the_signal_stays_unlinked(api, duty_room, signal, overrides, field):
    response = api(duty_room).post(f"{V1}/signals/{signal.pk}/incident/", body(**overrides), format="json")
    assert response.status_code == 400 and field in response.json()
    signal.refresh_from_db()
    assert signal.incident is None and Incident.objects.count() == 0
