"""The incident page's timeline is the API's, scoped by the same selector: unit staff see the incident's own events
and their unit's, never another unit's nor an auditor's review; the duty room and auditors see every event."""

import pytest

from tests.fixtures.timeline import REVIEW_REASON

pytestmark = pytest.mark.django_db


def page_timeline(client, user, incident):
    client.force_login(user)
    response = client.get(f"/incidents/{incident.pk}/")
    assert response.status_code == 200
    return response.context["timeline"], response.content.decode()


@pytest.mark.parametrize(("persona", "own"), [("sijing_officer", "sijing"), ("outsider", "chedun")])
def test_unit_staff_see_the_incident_and_their_own_units_events_only(request, client, shared_incident, persona, own):
    timeline, html = page_timeline(client, request.getfixturevalue(persona), shared_incident.incident)
    assert [e["kind"] for e in timeline] == shared_incident.kinds_of("incident", own)
    # A correction of their own clock names no unit in its detail: it is theirs through its obligation.
    assert "first_known_corrected" in [e["kind"] for e in timeline]
    assert REVIEW_REASON not in html and "ev-finding_reviewed" not in html
    other = "chedun" if own == "sijing" else "sijing"
    assert not any(f"unit={other}" in e["summary"] for e in timeline)


@pytest.mark.parametrize("persona", ["duty_room", "auditor"])
def test_duty_room_and_auditors_see_every_event_on_the_page(request, client, shared_incident, persona):
    timeline, html = page_timeline(client, request.getfixturevalue(persona), shared_incident.incident)
    assert [e["kind"] for e in timeline] == shared_incident.kinds_of(
        "incident", "sijing", "chedun", "review", "leaders"
    )
    assert html.count("ev-finding_reviewed") == 2
