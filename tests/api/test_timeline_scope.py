"""``GET /incidents/{id}/timeline/`` is scoped like every other read (SPEC "Integrity and access"): unit staff see the
incident's own events and their unit's, never another unit's clock, reports or chasing nor an auditor's review; the
reading roles see every event. Checked against ``tests.fixtures.timeline``, which writes down each event's owner."""

import pytest

from tests.api.conftest import V1
from tests.fixtures.timeline import REVIEW_REASON

pytestmark = pytest.mark.django_db


def timeline(api, user, incident) -> list[dict]:
    response = api(user).get(f"{V1}/incidents/{incident.pk}/timeline/?page_size=500")
    assert response.status_code == 200
    return response.json()["results"]


@pytest.mark.parametrize(("persona", "own"), [("sijing_officer", "sijing"), ("outsider", "chedun")])
def test_unit_staff_see_the_incident_and_their_own_units_events_only(request, api, shared_incident, persona, own):
    user = request.getfixturevalue(persona)
    events = timeline(api, user, shared_incident.incident)
    assert [e["id"] for e in events] == shared_incident.ids_of("incident", own)
    # Their own unit's clock, reports, signals and chasing are all there, not just the incident's events.
    assert {e["kind"] for e in events} >= set(shared_incident.kinds_of(own))
    assert REVIEW_REASON not in str(events)
    assert not any(e["kind"] == "finding_reviewed" for e in events)


def test_another_units_report_figures_and_clock_are_not_in_the_timeline(api, shared_incident, sijing_officer):
    events = timeline(api, sijing_officer, shared_incident.incident)
    units = {e["detail"].get("unit") for e in events} - {None}
    assert units == {"sijing"}
    filed = [e for e in events if e["kind"] == "report_filed"]
    assert len(filed) == 1 and filed[0]["detail"]["unit"] == "sijing"


@pytest.mark.parametrize("persona", ["duty_room", "auditor", "leader", "admin_user"])
def test_reading_roles_see_every_event_of_the_incident(request, api, shared_incident, persona):
    events = timeline(api, request.getfixturevalue(persona), shared_incident.incident)
    assert [e["id"] for e in events] == list(shared_incident.owners)
    assert sum(e["kind"] == "finding_reviewed" for e in events) == 2
