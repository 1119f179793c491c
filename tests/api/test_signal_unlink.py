"""``POST /api/v1/signals/{id}/unlink/`` ``{"reason"}``: the duty room undoes a wrong link (additive to API.md; the
rules are in ``tests/reporting/test_signal_unlink.py``). Which roles may is in the permission matrix
(``test_permissions.py``)."""

import pytest
from django.utils import timezone

from reporting import signal_services
from reporting.models import AuditEvent, Signal
from tests.api.conftest import V1
from tests.web.conftest import open_incident
from tests.web.test_signal_pages import make_signal

pytestmark = pytest.mark.django_db


@pytest.fixture
def linked(units, sijing_officer):
    """A signal delivered to 泗泾镇 5 minutes ago, linked to an incident sijing declared it knew of 3 minutes ago."""
    incident = open_incident(sijing_officer, units["sijing"], known_minutes_ago=3, title="甲")
    return make_signal(units, minutes_ago=5, incident=incident)


def test_the_duty_room_unlinks_a_signal(api, duty_room, linked):
    incident = linked.incident
    obligation = incident.obligations.get()
    assert obligation.first_known_at == linked.delivered_at
    response = api(duty_room).post(f"{V1}/signals/{linked.pk}/unlink/", {"reason": "关联错了"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["id"] == linked.pk and response.json()["incident"] is None
    obligation.refresh_from_db()
    assert obligation.first_known_at == obligation.declared_first_known_at  # back to the declared time
    [event] = AuditEvent.objects.filter(kind="signal_unlinked")
    assert (event.incident, event.detail["reason"], event.detail["outcome"]) == (
        incident,
        "关联错了",
        "first_known_corrected",
    )
    # Waiting again: the existing link action takes it to the right incident.
    right = open_incident(duty_room, linked.delivered_to, known_minutes_ago=2, title="乙")
    again = api(duty_room).post(f"{V1}/signals/{linked.pk}/link/", {"incident": right.pk}, format="json")
    assert again.status_code == 200 and again.json()["incident"] == right.pk


@pytest.mark.parametrize(
    "body",
    [{}, {"reason": ""}, {"reason": "   "}, {"reason": None}, {"reason": 7 * [1]}, {"reason": "x" * 2001}],
    ids=["missing", "empty", "blank", "null", "list", "overlong"],
)
def test_a_bad_reason_is_a_400_and_the_signal_stays_linked(api, duty_room, linked, body):
    before = AuditEvent.objects.count()
    response = api(duty_room).post(f"{V1}/signals/{linked.pk}/unlink/", body, format="json")
    assert response.status_code == 400 and "reason" in response.json(), response.json()
    assert Signal.objects.get(pk=linked.pk).incident_id is not None
    assert AuditEvent.objects.count() == before


def test_a_signal_that_is_not_linked_is_a_409_with_a_clear_message(api, duty_room, units):
    signal = make_signal(units)
    response = api(duty_room).post(f"{V1}/signals/{signal.pk}/unlink/", {"reason": "关联错了"}, format="json")
    assert response.status_code == 409
    assert "not linked" in response.json()["incident"][0]
    assert not AuditEvent.objects.filter(kind="signal_unlinked").exists()


def test_an_unknown_signal_is_a_404(api, duty_room):
    response = api(duty_room).post(f"{V1}/signals/999999/unlink/", {"reason": "关联错了"}, format="json")
    assert response.status_code == 404


def test_linking_an_already_linked_signal_is_still_a_409(api, duty_room, linked, units):
    """API.md's answer stays: moving a signal is unlink, then link."""
    other = open_incident(duty_room, units["chedun"], known_minutes_ago=1, title="乙")
    response = api(duty_room).post(f"{V1}/signals/{linked.pk}/link/", {"incident": other.pk}, format="json")
    assert response.status_code == 409


def test_unit_staff_cannot_unlink_even_their_own_units_signal(api, sijing_officer, linked):
    response = api(sijing_officer).post(f"{V1}/signals/{linked.pk}/unlink/", {"reason": "x"}, format="json")
    assert response.status_code == 403
    linked.refresh_from_db()
    assert linked.incident_id is not None


def test_the_unlink_is_on_the_incident_timeline(api, duty_room, linked):
    incident = linked.incident
    signal_services.signal_unlink(signal=linked, reason="关联错了", actor=duty_room, now=timezone.now())
    response = api(duty_room).get(f"{V1}/incidents/{incident.pk}/timeline/")
    kinds = [e["kind"] for e in response.json()["results"]]
    assert "signal_unlinked" in kinds and kinds.index("signal_unlinked") < kinds.index("first_known_corrected")


def test_the_schema_documents_the_endpoint_with_every_response(api, duty_room):
    schema = api(duty_room).get("/api/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/v1/signals/{id}/unlink/"]["post"]
    assert {"200", "400", "401", "403", "404", "409", "429"} <= set(operation["responses"])
    body = schema["components"]["schemas"]["SignalUnlinkInputRequest"]
    assert body["required"] == ["reason"] and body["properties"]["reason"]["maxLength"] == 2000
