"""Redis down (it is both the broker and, in production, the cache): a unit must still sign in and file its report,
through the API and the page, with no 500 and nothing lost; the sweep chases from the database once Redis is back.

Nothing here stops the shared Redis: the cache, the broker's write connection and the wake-up client are pointed at
a loopback port nothing listens on, which is what a stopped Redis looks like to a client (connection refused).
"""

from __future__ import annotations

import socket
from datetime import timedelta

import pytest
import redis
from django.utils import timezone

from config.celery_app import app
from notifications import wakeups
from reporting.models import Report
from reporting.web.display import local_input
from tests.api.conftest import client_for, written_body
from tests.web.conftest import WRITTEN, open_incident

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "Officer-Pass-2026"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def redis_down(settings, monkeypatch):
    """The production cache (config.cache.RedisCache), the broker and the wake-up client all on a dead Redis."""
    url = f"redis://127.0.0.1:{closed_port()}/12"
    settings.CACHES = {"default": {"BACKEND": "config.cache.RedisCache", "LOCATION": url, "KEY_PREFIX": "tracker"}}
    settings.FINDINGS_DEFER_SECONDS = 5  # the production path: a debounce key in the cache, a task on the broker
    monkeypatch.setenv("CELERY_BROKER_WRITE_URL", url)
    monkeypatch.setattr(app, "_pool", None)  # the producer pool is built on the next send, on the dead URL
    monkeypatch.setattr(wakeups, "_client", redis.Redis.from_url(url))
    with pytest.raises(redis.exceptions.ConnectionError):
        redis.Redis.from_url(url).ping()
    yield url
    app._pool = None


@pytest.fixture
def incident(units, sijing_officer):
    return open_incident(sijing_officer, units["sijing"], known_minutes_ago=10, title="泗泾镇某厂房火灾")


def test_a_report_is_filed_through_the_api_while_redis_is_down(redis_down, incident, sijing_officer):
    now = timezone.now()
    body = written_body(incident=incident.pk, unit="sijing", kind="written", occurred_at=now - timedelta(minutes=20))

    response = client_for(sijing_officer).post("/api/v1/reports/", body, format="json")

    assert response.status_code == 201, response.content[:500]
    assert Report.objects.filed().filter(pk=response.json()["id"]).exists()


def test_a_report_is_filed_through_the_page_while_redis_is_down(redis_down, client, incident, sijing_officer):
    obligation = incident.obligations.get()
    client.force_login(sijing_officer)
    post = {"kind": "written", "occurred_at": local_input(incident.occurred_at), **WRITTEN}

    response = client.post(f"/obligations/{obligation.pk}/file/", post)

    assert response.status_code == 302
    assert Report.objects.filed().filter(obligation=obligation).count() == 1


def test_signing_in_works_while_redis_is_down(redis_down, client, sijing_officer):
    sijing_officer.set_password(PASSWORD)
    sijing_officer.save()

    assert client.post("/login/", {"username": sijing_officer.username, "password": "wrong"}).status_code == 200
    response = client.post("/login/", {"username": sijing_officer.username, "password": PASSWORD})

    assert response.status_code == 302
    assert client.get("/obligations/").status_code == 200


def test_a_worker_waits_for_the_broker_however_long_it_is_down():
    """Celery's default (100 attempts, about 46 minutes at its back-off) ends the worker with "Unrecoverable error"
    and exit status 0 when Redis stays down that long, and nothing sends again once it is back."""
    assert app.conf.broker_connection_max_retries is None
    assert app.conf.broker_connection_retry_on_startup is True
