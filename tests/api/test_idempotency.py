"""``Idempotency-Key`` on the creating POSTs (docs/api-beyond-the-contract.md): a retried request with the same key
gets the first answer again and writes nothing; the same key for another request, or while the first still runs,
is refused; without the header nothing changes."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.db import DatabaseError
from django.utils import timezone
from rest_framework.exceptions import APIException

from notifications.models import Notification
from reporting import idempotency_services, services
from reporting.idempotency import REPLAYED_HEADER, fingerprint
from reporting.models import (
    AuditEvent,
    Contact,
    ContactRole,
    IdempotencyRecord,
    Incident,
    Obligation,
    RefusedReport,
    Report,
)
from tests.api.conftest import V1, client_for, written_body
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

KEY = "8e03978e-40d5-43e8-bc93-6894a57f9324"


def iso(dt) -> str:
    return dt.isoformat()


def incident_body(units, **over):
    now = timezone.now()
    body = {
        "title": "泗泾镇某厂房火灾",
        "domain": "production_safety",
        "occurred_at": iso(now - timedelta(minutes=20)),
        "location": "泗泾镇某路1号",
        "summary": "",
        "deaths": 1,
        "injuries": 2,
        "units": [{"unit": "sijing", "first_known_at": iso(now - timedelta(minutes=10)), "channel": "self"}],
    }
    body.update(over)
    return body


def post(client, path, body=None, key=KEY, **extra):
    if key is not None:
        extra["HTTP_IDEMPOTENCY_KEY"] = key
    return client.post(f"{V1}{path}", body, format="json", **extra)


def writes() -> dict[str, int]:
    """Everything a creating request can write."""
    return {
        "incidents": Incident.objects.count(),
        "obligations": Obligation.objects.count(),
        "reports": Report.objects.count(),
        "refused": RefusedReport.objects.count(),
        "audit": AuditEvent.objects.count(),
        "notifications": Notification.objects.count(),
        "contacts": Contact.objects.count(),
    }


@pytest.fixture
def leader_on_call(units):
    """A district leader for production safety: an incident with a death tells them (a notification row)."""
    contact = Contact.objects.create(
        unit=units["duty-room"],
        name="区领导",
        phone="+8617000000077",
        role=ContactRole.DISTRICT_LEADER,
        portfolio=["production_safety"],
    )
    return contact


def assert_replay_of(first, again):
    assert again.status_code == first.status_code
    assert again.content == first.content
    assert again["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first


def posted_twice(client, path, body):
    """POST with one key twice: the second answer is the first's, marked replayed, and nothing more is written."""
    first = post(client, path, body)
    assert first.status_code == 201, first.content
    before = writes()
    again = post(client, path, body)
    assert_replay_of(first, again)
    assert writes() == before
    return first


# --- replays ---------------------------------------------------------------------------------------------------


def test_a_retried_incident_gets_the_first_answer_and_writes_nothing(
    units, duty_room, leader_on_call, django_capture_on_commit_callbacks
):
    client, body = client_for(duty_room), incident_body(units)
    with django_capture_on_commit_callbacks() as first_effects:
        first = post(client, "/incidents/", body)
    assert first.status_code == 201, first.content
    assert first_effects, "creating an incident enqueues its side effects (chasing, findings)"
    before = writes()
    assert before["notifications"] >= 1, "the death tells the leader: a notification the replay must not repeat"

    with django_capture_on_commit_callbacks() as replay_effects:
        again = post(client, "/incidents/", body)

    assert_replay_of(first, again)
    assert writes() == before
    assert replay_effects == []  # no SMS, no findings recompute enqueued
    assert again.json()["id"] == first.json()["id"]


def test_a_retried_written_report_is_filed_once(world, sijing_officer):
    client = client_for(sijing_officer)
    body = {
        "incident": world["incident"].pk,
        "unit": "sijing",
        "kind": "follow_up",
        **written_body(occurred_at=iso(timezone.now() - timedelta(minutes=20))),
    }
    posted_twice(client, "/reports/", body)
    assert Report.objects.filter(kind="follow_up", filed_at__isnull=False).count() == 1


def test_filing_a_draft_twice_with_one_key_replays_the_filing(world, sijing_officer):
    client = client_for(sijing_officer)
    first = post(client, f"/reports/{world['draft'].pk}/file/")
    assert first.status_code == 200, first.content
    before = writes()

    again = post(client, f"/reports/{world['draft'].pk}/file/")

    assert_replay_of(first, again)  # without the key: 409, the draft is filed already
    assert writes() == before
    assert post(client, f"/reports/{world['draft'].pk}/file/", key=None).status_code == 409


def test_adding_a_unit_twice_with_one_key_replays_the_obligation(world, duty_room, units):
    client = client_for(duty_room)
    body = {"unit": "police", "first_known_at": iso(timezone.now() - timedelta(minutes=5)), "channel": "110"}
    path = f"/incidents/{world['incident'].pk}/units/"
    posted_twice(client, path, body)


def test_a_retried_contact_is_created_once(units, duty_room):
    client = client_for(duty_room)
    body = {"unit": "sijing", "name": "赵某", "phone": "+8617000000055", "role": "duty_officer"}
    posted_twice(client, "/contacts/", body)


def test_a_refused_request_is_replayed_as_refused(units, duty_room):
    """A 400 stays a 400: the retry of a bad request is told the same, and is not run again."""
    client = client_for(duty_room)
    body = incident_body(units, title="")
    first = post(client, "/incidents/", body)
    assert first.status_code == 400 and "title" in first.json()
    before = writes()

    again = post(client, "/incidents/", body)

    assert_replay_of(first, again)
    assert writes() == before


def test_an_incomplete_report_is_kept_once_and_its_400_replayed(world, sijing_officer):
    """The refused attempt is kept (SPEC rule 8) by the first request only."""
    client = client_for(sijing_officer)
    body = {"incident": world["incident"].pk, "unit": "sijing", "kind": "written", **written_body(measures="")}
    first = post(client, "/reports/", body)
    assert first.status_code == 400 and "measures" in first.json()
    before = writes()
    assert before["refused"] == 1

    again = post(client, "/reports/", body)

    assert_replay_of(first, again)
    assert writes() == before


# --- refusals ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda path, body: (path, {**body, "title": "另一起事件"}), id="another body"),
        pytest.param(lambda path, body: (path + "?x=1", body), id="another query"),
        pytest.param(lambda path, body: ("/contacts/", body), id="another path"),
    ],
)
def test_the_same_key_for_another_request_is_422_and_runs_nothing(units, duty_room, change):
    client, body = client_for(duty_room), incident_body(units)
    assert post(client, "/incidents/", body).status_code == 201
    before = writes()

    path, other = change("/incidents/", body)
    response = post(client, path, other)

    assert response.status_code == 422
    [message] = response.json()["Idempotency-Key"]
    assert message.startswith("此 Idempotency-Key 已用于另一个请求") and "different request" in message
    assert "Idempotent-Replayed" not in response
    assert writes() == before


@pytest.mark.parametrize(
    "key",
    [
        pytest.param("", id="empty"),
        pytest.param("k" * 256, id="256 characters"),
        pytest.param("键", id="not ASCII"),
        pytest.param("a\x01b", id="control character"),
        pytest.param("a\tb", id="tab"),
    ],
)
def test_a_malformed_key_is_400_naming_the_header_and_runs_nothing(units, duty_room, key):
    before = writes()
    response = post(client_for(duty_room), "/incidents/", incident_body(units), key=key)

    assert response.status_code == 400
    [message] = response.json()["Idempotency-Key"]
    assert "Idempotency-Key" in message and "printable ASCII" in message
    assert writes() == before
    assert not IdempotencyRecord.objects.exists()


@pytest.mark.parametrize("key", ["k" * 255, "a", 'with spaces and "quotes" ~!@#$%^&*()'])
def test_any_printable_ascii_key_of_up_to_255_characters_is_accepted(units, duty_room, key):
    response = post(client_for(duty_room), "/incidents/", incident_body(units), key=key)
    assert response.status_code == 201, response.content
    assert IdempotencyRecord.objects.get().key == key


def _in_progress(user, *, body, path="/incidents/", locked_seconds_ago: float):
    """A record as a request still running (or a process that died) leaves it."""
    now = timezone.now()
    claim = idempotency_services.idempotency_claim(
        user=user,
        key=KEY,
        method="POST",
        path=f"{V1}{path}",
        fingerprint=fingerprint(method="POST", path=f"{V1}{path}", body=body),
        now=now - timedelta(seconds=locked_seconds_ago),
    )
    assert isinstance(claim, idempotency_services.Claim)
    return claim


def _json(body) -> bytes:
    from rest_framework.renderers import JSONRenderer

    return JSONRenderer().render(body)


def test_the_same_key_while_the_first_is_in_progress_is_409(units, duty_room):
    body = incident_body(units)
    _in_progress(duty_room, body=_json(body), locked_seconds_ago=5)
    before = writes()

    response = post(client_for(duty_room), "/incidents/", body)

    assert response.status_code == 409
    assert response["Retry-After"] == "1"
    [message] = response.json()["Idempotency-Key"]
    assert message.startswith("使用此 Idempotency-Key 的请求仍在处理中") and "still being processed" in message
    assert writes() == before
    assert IdempotencyRecord.objects.get().response_status is None  # still the first request's


def test_a_key_left_in_progress_by_a_dead_process_is_taken_over_after_its_lease(units, duty_room, settings):
    settings.IDEMPOTENCY_KEY_LEASE_SECONDS = 60
    body = incident_body(units)
    dead = _in_progress(duty_room, body=_json(body), locked_seconds_ago=61)

    response = post(client_for(duty_room), "/incidents/", body)

    assert response.status_code == 201, response.content
    assert "Idempotent-Replayed" not in response
    assert Incident.objects.count() == 1
    record = IdempotencyRecord.objects.get()
    assert record.response_status == 201 and record.pk == dead.record_id
    # The dead holder's token is void: it can neither overwrite the answer nor give the key away.
    assert not idempotency_services.idempotency_complete(
        claim=dead, status=500, content_type="text/plain", body="late", now=timezone.now()
    )
    idempotency_services.idempotency_release(claim=dead)
    assert IdempotencyRecord.objects.get().response_status == 201


def test_a_key_is_new_again_after_it_expires(units, duty_room, settings):
    client, body = client_for(duty_room), incident_body(units)
    assert post(client, "/incidents/", body).status_code == 201
    IdempotencyRecord.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    again = post(client, "/incidents/", incident_body(units, title="一天后的另一起"))

    assert again.status_code == 201 and "Idempotent-Replayed" not in again
    assert Incident.objects.count() == 2


# --- scope and the contract --------------------------------------------------------------------------------------


def test_keys_are_per_user(units, duty_room):
    other_duty = make_user("duty-2", "duty_room")
    body = incident_body(units)

    first = post(client_for(duty_room), "/incidents/", body)
    second = post(client_for(other_duty), "/incidents/", body)

    assert first.status_code == second.status_code == 201
    assert "Idempotent-Replayed" not in second
    assert first.json()["id"] != second.json()["id"]
    assert IdempotencyRecord.objects.count() == 2


def test_without_the_header_every_request_runs_as_before(units, duty_room):
    client, body = client_for(duty_room), incident_body(units)

    first = post(client, "/incidents/", body, key=None)
    second = post(client, "/incidents/", body, key=None)

    assert first.status_code == second.status_code == 201
    assert "Idempotent-Replayed" not in second
    assert Incident.objects.count() == 2
    assert not IdempotencyRecord.objects.exists()


def test_the_header_is_ignored_where_it_is_not_offered(world, duty_room):
    """Linking a signal creates nothing: a key there is neither checked nor stored."""
    client = client_for(duty_room)
    path = f"/signals/{world['signal'].pk}/link/"
    response = post(client, path, {"incident": world["incident"].pk}, key="键")
    assert response.status_code == 200, response.content
    assert not IdempotencyRecord.objects.exists()


def test_refusals_before_the_view_runs_are_not_stored(units, sijing_officer, outsider):
    """401/403 come before the key is looked at: the key stays free for the request that is allowed."""
    assert post(client_for(None), "/incidents/", incident_body(units)).status_code == 401
    assert post(client_for(sijing_officer), "/units/", {"code": "x", "name": "x", "kind": "town"}).status_code == 403
    assert not IdempotencyRecord.objects.exists()


# --- failures on the server's side ------------------------------------------------------------------------------


def test_a_crash_is_not_stored_and_the_key_can_be_retried(units, duty_room):
    client, body = client_for(duty_room), incident_body(units)
    with mock.patch.object(services, "incident_create", side_effect=RuntimeError("boom")):
        with pytest.raises(RuntimeError):
            post(client, "/incidents/", body)
    assert not IdempotencyRecord.objects.exists()

    response = post(client, "/incidents/", body)
    assert response.status_code == 201 and "Idempotent-Replayed" not in response
    assert Incident.objects.count() == 1


class Unavailable(APIException):
    status_code = 503
    default_detail = "暂不可用 (unavailable)"


def test_a_5xx_answer_is_not_stored(units, duty_room):
    client, body = client_for(duty_room), incident_body(units)
    with mock.patch.object(services, "incident_create", side_effect=Unavailable()):
        assert post(client, "/incidents/", body).status_code == 503
    assert not IdempotencyRecord.objects.exists()

    assert post(client, "/incidents/", body).status_code == 201


def test_a_request_whose_answer_could_not_be_stored_is_rolled_back_and_runs_once_on_retry(units, duty_room, settings):
    """The service's writes and the stored answer commit together: a request that wrote but could not store its
    answer (the database lost for that statement, or the process killed right then) must not leave an incident
    behind that the retry, once the lease has lapsed, opens a second time."""
    settings.IDEMPOTENCY_KEY_LEASE_SECONDS = 60
    client, body = client_for(duty_room), incident_body(units)
    with mock.patch.object(idempotency_services, "idempotency_complete", side_effect=DatabaseError("gone")):
        try:
            post(client, "/incidents/", body)
        except DatabaseError:
            pass  # a 500: what the request wrote was rolled back with it
    # However the key was left (given back, or in progress until its lease lapses), a retry may now run.
    IdempotencyRecord.objects.update(locked_at=timezone.now() - timedelta(seconds=61))

    response = post(client, "/incidents/", body)

    assert response.status_code == 201, response.content
    assert Incident.objects.count() == 1
    assert AuditEvent.objects.filter(kind="incident_created").count() == 1


# --- expiry -------------------------------------------------------------------------------------------------------


def test_the_purge_deletes_expired_records_only(units, duty_room, settings):
    client = client_for(duty_room)
    for key in ("old", "new"):
        assert (
            post(
                client,
                "/contacts/",
                {"unit": "sijing", "name": key, "phone": "+8617000000056", "role": "duty_officer"},
                key=key,
            ).status_code
            == 201
        )
    IdempotencyRecord.objects.filter(key="old").update(expires_at=timezone.now() - timedelta(minutes=1))

    from reporting.tasks import purge_idempotency_keys

    assert purge_idempotency_keys() == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]
    assert settings.CELERY_BEAT_SCHEDULE["purge-idempotency-keys"]["task"] == "reporting.tasks.purge_idempotency_keys"


def test_records_live_for_the_configured_time(units, duty_room, settings):
    settings.IDEMPOTENCY_KEY_TTL_SECONDS = 24 * 3600
    before = timezone.now()
    assert post(client_for(duty_room), "/incidents/", incident_body(units)).status_code == 201
    record = IdempotencyRecord.objects.get()
    assert record.expires_at - record.created_at == timedelta(hours=24)
    assert record.created_at >= before


# --- the schema ---------------------------------------------------------------------------------------------------


def test_the_schema_documents_the_header_and_its_refusals(client):
    schema = client.get("/api/schema/?format=json").json()
    for path in (
        "/api/v1/incidents/",
        "/api/v1/reports/",
        "/api/v1/reports/{id}/file/",
        "/api/v1/incidents/{id}/units/",
    ):
        operation = schema["paths"][path]["post"]
        [header] = [p for p in operation["parameters"] if p["in"] == "header"]
        assert header["name"] == "Idempotency-Key" and header.get("required", False) is False
        assert "Idempotency-Key" in operation["responses"]["422"]["description"]
        assert "Idempotency-Key" in operation["responses"]["409"]["description"]
    signals = schema["paths"]["/api/v1/signals/"]["post"]
    assert not [p for p in signals.get("parameters", []) if p["in"] == "header"]
    assert "422" not in signals["responses"]


def test_opening_an_incident_from_a_signal_twice_with_one_key_replays_it(world, duty_room, units):
    """Without the key the retry would be a 409 (the signal is linked already): the client lost the incident."""
    client, body = client_for(duty_room), incident_body(units)
    path = f"/signals/{world['signal'].pk}/incident/"
    posted_twice(client, path, body)


def test_no_token_is_kept_under_a_key_a_retry_replaces_it_again(admin_user, sijing_officer):
    """Users and their tokens take no key: a kept answer would be a second copy of an API token for a day. A client
    that lost the answer asks again and gets a new token (both replacements audited); the one it lost is void."""
    client = client_for(admin_user)
    first = post(client, f"/users/{sijing_officer.pk}/token/")
    assert first.status_code == 201, first.content
    again = post(client, f"/users/{sijing_officer.pk}/token/")
    assert again.status_code == 201 and REPLAYED_HEADER not in again
    assert again.json()["token"] != first.json()["token"]
    anonymous = client_for(None)
    assert anonymous.get(f"{V1}/units/", HTTP_AUTHORIZATION=f"Token {first.json()['token']}").status_code == 401
    assert anonymous.get(f"{V1}/units/", HTTP_AUTHORIZATION=f"Token {again.json()['token']}").status_code == 200
    assert not IdempotencyRecord.objects.exists()
    created = post(client, "/users/", {"username": "feed-2", "role": "feed"})
    assert created.status_code == 201 and not IdempotencyRecord.objects.exists()
