"""Filing the duty room's relay to 区委办 and 区府办 (SPEC rule 13) through ``POST /api/v1/reports/`` when the duty
room is also a responsible unit of the incident: the optional ``obligation`` field names it; without it, the
obligation whose clock of that kind is still pending is chosen, the unit's report obligation first."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from freezegun import freeze_time

from reporting import services
from reporting.models import DeadlineState, Obligation, ObligationKind, RefusedReport, Report
from tests.api.conftest import V1, written_body

pytestmark = pytest.mark.django_db


@pytest.fixture
def major(units, duty_room):
    """A grade II incident the duty room learned of itself: its own report obligation and its relay, plus 泗泾镇's."""
    now = timezone.now()
    incident = services.incident_create(
        actor=duty_room,
        now=now,
        title="泗泾镇某厂房爆炸",
        domain="production_safety",
        occurred_at=now - timedelta(minutes=20),
        location="泗泾镇某路1号",
        summary="",
        deaths=10,
        units=[
            {"unit": units["duty-room"], "first_known_at": now - timedelta(minutes=5), "channel": "self"},
            {"unit": units["sijing"], "first_known_at": now - timedelta(minutes=10), "channel": "self"},
        ],
    )
    obligations = {(o.unit.code, o.kind): o for o in incident.obligations.select_related("unit")}
    return {
        "incident": incident,
        "report": obligations[("duty-room", ObligationKind.REPORT)],
        "relay": obligations[("duty-room", ObligationKind.RELAY)],
        "sijing": obligations[("sijing", ObligationKind.REPORT)],
    }


def post(client, incident, unit, kind, **over):
    body = {"incident": incident.pk, "unit": unit, "kind": kind}
    body.update(written_body(occurred_at=(timezone.now() - timedelta(minutes=20)).isoformat()))
    body.update(over)
    return client.post(f"{V1}/reports/", body, format="json")


def states(obligation):
    obligation.refresh_from_db()
    return obligation.verbal_state, obligation.written_state


def test_naming_the_relay_files_onto_it_and_discharges_both_its_clocks(api, major, duty_room):
    response = post(api(duty_room), major["incident"], "duty-room", "verbal", obligation=major["relay"].pk)
    assert response.status_code == 201, response.content
    assert response.json()["obligation"] == major["relay"].pk
    assert Report.objects.get(pk=response.json()["id"]).obligation_id == major["relay"].pk
    assert states(major["relay"]) == (DeadlineState.ON_TIME, DeadlineState.ON_TIME)
    assert states(major["report"]) == (DeadlineState.PENDING, DeadlineState.PENDING)
    # The relay is done: no longer open nor overdue in the API, whenever one asks.
    listed = api(duty_room).get(f"{V1}/obligations/", {"incident": major["incident"].pk, "state": "open"}).json()
    assert major["relay"].pk not in [o["id"] for o in listed["results"]]
    detail = api(duty_room).get(f"{V1}/obligations/{major['relay'].pk}/").json()
    assert (detail["verbal_state"], detail["written_state"], detail["overdue"]) == ("on_time", "on_time", False)


def test_naming_the_report_obligation_files_onto_it(api, major, duty_room):
    response = post(api(duty_room), major["incident"], "duty-room", "written", obligation=major["report"].pk)
    assert response.status_code == 201, response.content
    assert response.json()["obligation"] == major["report"].pk
    assert states(major["report"]) == (DeadlineState.ON_TIME, DeadlineState.ON_TIME)
    assert states(major["relay"]) == (DeadlineState.PENDING, DeadlineState.PENDING)


def test_without_obligation_the_pending_clock_of_that_kind_is_chosen_report_first(api, major, duty_room):
    client = api(duty_room)
    first = post(client, major["incident"], "duty-room", "verbal")
    assert first.json()["obligation"] == major["report"].pk  # both pending: the unit's own report first
    second = post(client, major["incident"], "duty-room", "verbal")
    assert second.json()["obligation"] == major["relay"].pk  # its verbal clock is done: the relay's is pending
    assert states(major["relay"]) == (DeadlineState.ON_TIME, DeadlineState.ON_TIME)
    third = post(client, major["incident"], "duty-room", "written")
    assert third.json()["obligation"] == major["report"].pk  # its written clock is still pending
    # Nothing pending any more: today's choice, the report obligation.
    for kind in ("verbal", "written", "follow_up"):
        response = post(client, major["incident"], "duty-room", kind)
        assert (response.status_code, response.json()["obligation"]) == (201, major["report"].pk)


def test_without_obligation_a_written_report_goes_to_the_relay_when_only_its_clock_is_pending(api, major, duty_room):
    client = api(duty_room)
    post(client, major["incident"], "duty-room", "written", obligation=major["report"].pk)
    response = post(client, major["incident"], "duty-room", "written")
    assert response.json()["obligation"] == major["relay"].pk
    assert states(major["relay"]) == (DeadlineState.ON_TIME, DeadlineState.ON_TIME)


@pytest.mark.parametrize(
    ("who", "unit", "names", "field"),
    [
        # the duty room names an obligation of another unit, or of another incident
        ("duty", "duty-room", "sijing", "obligation"),
        ("duty", "duty-room", "other-incident", "obligation"),
        ("duty", "sijing", "relay", "obligation"),
        ("duty", "duty-room", "unknown", "obligation"),
        # unit staff cannot name the duty room's relay, however they try
        ("sijing", "sijing", "relay", "obligation"),
        ("sijing", "duty-room", "relay", "unit"),
        ("outsider", "chedun", "relay", "incident"),
    ],
)
def test_an_obligation_not_of_that_incident_and_unit_is_a_400_and_nothing_written(
    api, major, units, duty_room, sijing_officer, outsider, who, unit, names, field
):
    other = services.incident_create(
        actor=duty_room,
        now=timezone.now(),
        title="另一事件",
        domain="production_safety",
        occurred_at=timezone.now() - timedelta(minutes=20),
        location="车墩镇",
        summary="",
        units=[{"unit": units["duty-room"], "first_known_at": timezone.now(), "channel": "self"}],
    )
    ids = {
        "sijing": major["sijing"].pk,
        "relay": major["relay"].pk,
        "other-incident": other.obligations.get().pk,
        "unknown": 99_999_999,
    }
    client = api({"duty": duty_room, "sijing": sijing_officer, "outsider": outsider}[who])
    before = (Report.objects.count(), RefusedReport.objects.count())
    response = post(client, major["incident"], unit, "verbal", obligation=ids[names])
    assert response.status_code == 400, response.content
    assert list(response.json()) == [field]
    assert (Report.objects.count(), RefusedReport.objects.count()) == before
    assert Obligation.objects.filter(pk=major["relay"].pk, verbal_state=DeadlineState.PENDING).exists()


def test_unit_staff_may_name_their_own_obligation(api, major, sijing_officer):
    response = post(api(sijing_officer), major["incident"], "sijing", "verbal", obligation=major["sijing"].pk)
    assert (response.status_code, response.json()["obligation"]) == (201, major["sijing"].pk)


def test_a_relay_phoned_late_is_done_not_overdue_nor_open_hours_later(api, units, sijing_officer, duty_room):
    start = timezone.now()
    with freeze_time(start):
        incident = services.incident_create(
            actor=sijing_officer,
            now=start,
            title="泗泾镇某厂房爆炸",
            domain="production_safety",
            occurred_at=start - timedelta(minutes=20),
            location="泗泾镇某路1号",
            summary="",
            deaths=10,
            units=[{"unit": units["sijing"], "first_known_at": start - timedelta(minutes=10), "channel": "self"}],
        )
        assert post(api(sijing_officer), incident, "sijing", "written", deaths=10).status_code == 201
    relay = incident.obligations.get(kind=ObligationKind.RELAY)
    with freeze_time(start + timedelta(minutes=16)):
        response = post(api(duty_room), incident, "duty-room", "verbal", deaths=10)  # the relay is all there is
        assert (response.json()["obligation"], response.json()["on_time"]) == (relay.pk, False)
    with freeze_time(start + timedelta(hours=3)):
        client = api(duty_room)
        overdue = client.get(f"{V1}/obligations/", {"state": "overdue", "incident": incident.pk}).json()
        assert overdue["count"] == 0
        done = client.get(f"{V1}/obligations/", {"state": "done", "incident": incident.pk}).json()
        assert sorted(o["id"] for o in done["results"]) == sorted(incident.obligations.values_list("pk", flat=True))
        assert incident.pk not in [i["id"] for i in client.get(f"{V1}/incidents/", {"open": "true"}).json()["results"]]
        relay_out = client.get(f"{V1}/incidents/{incident.pk}/").json()["obligations"]
        relay_out = next(o for o in relay_out if o["kind"] == "relay")
        assert (relay_out["verbal_state"], relay_out["written_state"], relay_out["overdue"]) == ("late", "late", False)
        assert relay_out["written_filed_at"] == relay_out["verbal_filed_at"] is not None


def test_a_relays_clock_has_no_first_known_time_to_correct(api, major, duty_room):
    relay = major["relay"]
    before = (relay.first_known_at, relay.verbal_due_at)
    body = {"first_known_at": (timezone.now() - timedelta(minutes=15)).isoformat(), "reason": "值班记录"}
    response = api(duty_room).post(f"{V1}/obligations/{relay.pk}/first-known/", body, format="json")
    assert response.status_code == 400
    assert "relay's clock runs from the first report" in response.json()["first_known_at"][0]
    relay.refresh_from_db()
    assert (relay.first_known_at, relay.verbal_due_at) == before
    # The duty room's own report obligation on the same incident is corrected as any other.
    own = api(duty_room).post(f"{V1}/obligations/{major['report'].pk}/first-known/", body, format="json")
    assert own.status_code == 200
