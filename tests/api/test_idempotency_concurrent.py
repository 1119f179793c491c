"""Requests with one ``Idempotency-Key`` at the same moment, each on its own thread and database connection
(committed rows, as two web processes see them): exactly one runs; the others get 409 or, once it has finished,
its answer."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from reporting import services
from reporting.models import AuditEvent, IdempotencyRecord, Incident, Report
from tests.api.conftest import V1, client_for, written_body

THREADS = 6


def race(user, path: str, body: dict, *, key: str) -> list:
    """POST ``body`` to ``path`` from THREADS threads released at once; their responses."""
    barrier = threading.Barrier(THREADS)
    responses: list = []
    errors: list = []

    def work():
        try:
            client = client_for(user)
            barrier.wait(timeout=10)
            responses.append(client.post(f"{V1}{path}", body, format="json", HTTP_IDEMPOTENCY_KEY=key))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert len(responses) == THREADS
    return responses


def assert_one_ran(responses):
    """One fresh 201; every other answer is a 409 (in progress) or a replay of that very 201."""
    fresh = [r for r in responses if r.status_code == 201 and "Idempotent-Replayed" not in r]
    assert len(fresh) == 1, [(r.status_code, r.content[:80]) for r in responses]
    for other in responses:
        if other is fresh[0]:
            continue
        if other.status_code == 409:
            assert "Idempotency-Key" in other.json()
        else:
            assert other.status_code == 201 and other["Idempotent-Replayed"] == "true"
            assert other.content == fresh[0].content
    return fresh[0]


@pytest.mark.django_db(transaction=True)
def test_concurrent_incidents_with_one_key_open_one_incident(units, duty_room, monkeypatch):
    """The first request is slowed down so the others arrive while it runs: they must be told 409, not run."""
    real = services.incident_create

    def slow(**kwargs):
        time.sleep(0.5)
        return real(**kwargs)

    monkeypatch.setattr(services, "incident_create", slow)
    now = timezone.now()
    body = {
        "title": "并发新建",
        "domain": "production_safety",
        "occurred_at": (now - timedelta(minutes=20)).isoformat(),
        "location": "泗泾镇某路1号",
        "units": [{"unit": "sijing", "first_known_at": (now - timedelta(minutes=10)).isoformat(), "channel": "self"}],
    }

    responses = race(duty_room, "/incidents/", body, key="incident-race")

    fresh = assert_one_ran(responses)
    assert any(r.status_code == 409 for r in responses)
    assert Incident.objects.count() == 1
    assert Incident.objects.get().pk == fresh.json()["id"]
    assert AuditEvent.objects.filter(kind="incident_created").count() == 1
    assert IdempotencyRecord.objects.get().response_status == 201


@pytest.mark.django_db(transaction=True)
def test_concurrent_written_reports_with_one_key_file_one_report(units, duty_room, sijing_officer):
    """No slowing down: the claims race on the unique (user, key) itself, round after round."""
    now = timezone.now()
    incident = services.incident_create(
        actor=duty_room,
        now=now,
        title="并发报送",
        domain="production_safety",
        occurred_at=now - timedelta(minutes=20),
        location="泗泾镇某路1号",
        units=[{"unit": units["sijing"], "first_known_at": now - timedelta(minutes=10), "channel": "self"}],
    )
    body = {
        "incident": incident.pk,
        "unit": "sijing",
        "kind": "follow_up",
        **written_body(occurred_at=(now - timedelta(minutes=20)).isoformat()),
    }
    rounds = 4
    for n in range(rounds):
        assert_one_ran(race(sijing_officer, "/reports/", body, key=f"report-race-{n}"))

    assert Report.objects.filter(kind="follow_up").count() == rounds
    assert sorted(Report.objects.filter(kind="follow_up").values_list("sequence", flat=True)) == [1, 2, 3, 4]


@pytest.mark.django_db(transaction=True)
def test_a_request_slower_than_the_lease_is_not_run_again_by_a_retry(units, duty_room, monkeypatch, settings):
    """The lease covers a dead process, not a slow one: a retry arriving after the lease while the first request
    still runs is told 409 (the first still holds its record), and one incident is opened."""
    settings.IDEMPOTENCY_KEY_LEASE_SECONDS = 0.2
    real = services.incident_create
    started = threading.Event()

    def slow(**kwargs):
        started.set()
        time.sleep(1.0)
        return real(**kwargs)

    monkeypatch.setattr(services, "incident_create", slow)
    now = timezone.now()
    body = {
        "title": "慢请求",
        "domain": "production_safety",
        "occurred_at": (now - timedelta(minutes=20)).isoformat(),
        "location": "泗泾镇某路1号",
        "units": [{"unit": "sijing", "first_known_at": (now - timedelta(minutes=10)).isoformat(), "channel": "self"}],
    }
    responses: dict[str, object] = {}

    def first():
        try:
            responses["first"] = client_for(duty_room).post(
                f"{V1}/incidents/", body, format="json", HTTP_IDEMPOTENCY_KEY="slow"
            )
        finally:
            connections.close_all()

    thread = threading.Thread(target=first)
    thread.start()
    assert started.wait(timeout=10)
    time.sleep(0.4)  # the first request's lease has lapsed; it is still running
    retry = client_for(duty_room).post(f"{V1}/incidents/", body, format="json", HTTP_IDEMPOTENCY_KEY="slow")
    thread.join(timeout=30)

    assert responses["first"].status_code == 201, responses["first"].content
    assert retry.status_code == 409, retry.content
    assert Incident.objects.count() == 1
    assert AuditEvent.objects.filter(kind="incident_created").count() == 1
