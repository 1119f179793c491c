"""Redis down (it is both the broker and, in production, the cache): a unit must still sign in and file its report,
through the API and the page, with no 500 and nothing lost; the sweep chases from the database once Redis is back.

Nothing here stops the shared Redis: the cache, the broker's write connection and the wake-up client are pointed at
a loopback port nothing listens on, which is what a stopped Redis looks like to a client (connection refused), or
at a port that accepts connections and never answers, which is what a hung Redis looks like (``kill -STOP``, a
failover or a firewall that drops the packets of an open connection).
"""

from __future__ import annotations

import socket
import threading
import time
from datetime import timedelta

import pytest
import redis
from django.db import connection
from django.utils import timezone

from config.celery_app import app
from config.settings import base
from notifications import wakeups
from notifications.models import Notification
from reporting.models import ContactRole, Incident, Report
from reporting.web.display import local_input
from tests.api.conftest import client_for, written_body
from tests.notifications import test_webhooks as webhooks_test
from tests.notifications.conftest import person
from tests.notifications.test_webhooks import sent  # noqa: F401 (a fixture)
from tests.web.conftest import WRITTEN, open_incident

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "Officer-Pass-2026"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def point_everything_at(url: str, settings, monkeypatch) -> None:
    """The production cache (config.cache.RedisCache), the broker and the wake-up client all on ``url``."""
    assert base.CACHES["default"]["BACKEND"] == "config.cache.RedisCache"  # REDIS_URL is set for the tests
    settings.CACHES = {"default": {**base.CACHES["default"], "LOCATION": url}}  # production's, timeouts and all
    settings.FINDINGS_DEFER_SECONDS = 5  # the production path: a debounce key in the cache, a task on the broker
    monkeypatch.setenv("CELERY_BROKER_WRITE_URL", url)
    monkeypatch.setattr(app, "_pool", None)  # the producer pool is built on the next send, on the dead URL
    settings.CELERY_BROKER_URL = url
    monkeypatch.setattr(wakeups, "_client", None)  # built on the next use, on ``url``


@pytest.fixture
def redis_down(settings, monkeypatch):
    url = f"redis://127.0.0.1:{closed_port()}/12"
    point_everything_at(url, settings, monkeypatch)
    with pytest.raises(redis.exceptions.ConnectionError):
        redis.Redis.from_url(url).ping()
    yield url
    app._pool = None


@pytest.fixture
def redis_hung(settings, monkeypatch):
    """A Redis that accepts connections and never answers: the kernel completes the handshakes of the listening
    socket's backlog, nothing ever reads. Closing it at the end resets every connection still waiting."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(128)
    url = f"redis://127.0.0.1:{server.getsockname()[1]}/12"
    point_everything_at(url, settings, monkeypatch)
    yield url
    server.close()
    app._pool = None


def answered_within(seconds: float, call):
    """``call()``'s result if it returns within ``seconds`` (else the test fails; the call is left to the fixture's
    teardown, which resets its connection). gunicorn kills a request after 30 s (its default ``--timeout``)."""
    outcome: list = []

    def run() -> None:
        try:
            outcome.append(call())
        finally:
            connection.close()  # this thread's own

    thread = threading.Thread(target=run, daemon=True)
    started = time.monotonic()
    thread.start()
    thread.join(seconds)
    assert outcome, f"no answer within {seconds} s"
    return outcome[0], time.monotonic() - started


@pytest.fixture
def incident(units, sijing_officer):
    return open_incident(sijing_officer, units["sijing"], known_minutes_ago=10, title="泗泾镇某厂房火灾")


def test_a_report_is_filed_through_the_api_while_redis_is_down(redis_down, incident, sijing_officer, caplog):
    now = timezone.now()
    body = written_body(incident=incident.pk, unit="sijing", kind="written", occurred_at=now - timedelta(minutes=20))

    response = client_for(sijing_officer).post("/api/v1/reports/", body, format="json")

    assert response.status_code == 201, response.content[:500]
    assert Report.objects.filed().filter(pk=response.json()["id"]).exists()
    # The findings recompute it could not schedule is named in the log, for the operator.
    assert any(f"findings recompute of incident {incident.pk}" in r.getMessage() for r in caplog.records)


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


def test_healthz_says_the_broker_is_down_promptly_when_redis_hangs(redis_hung):
    """A load balancer's probe needs an answer, and a probe that waits forever holds one of the few web processes."""
    from django.test import Client

    response, took = answered_within(20, lambda: Client().get("/healthz"))

    assert response.status_code == 503 and response.json()["broker"] == "down"
    assert took < 10


def test_opening_an_incident_is_answered_while_redis_hangs(redis_hung, units, sijing_officer):
    """The incident is committed before its first SMS (grade IV: the leaders on the notification list) is handed to
    the broker: a request that then waits on the broker until gunicorn kills it says 500 for an incident that
    exists, and the officer opens it again."""
    person(units["qfb"], "区领导丙", ContactRole.DISTRICT_LEADER, 42, notify_on_grade=True)
    now = timezone.now()
    body = {
        "title": "泗泾镇某厂房火灾",
        "domain": "production_safety",
        "occurred_at": (now - timedelta(minutes=5)).isoformat(),
        "location": "泗泾镇某路1号",
        "summary": "",
        "deaths": 0,
        "injuries": 2,
        "missing": 0,
        "units": [{"unit": "sijing", "first_known_at": (now - timedelta(minutes=3)).isoformat(), "channel": "self"}],
    }
    api = client_for(sijing_officer)

    response, took = answered_within(28, lambda: api.post("/api/v1/incidents/", body, format="json"))

    assert response.status_code == 201, response.content[:500]
    assert Incident.objects.count() == 1
    assert Notification.objects.filter(obligation__isnull=True).exists()  # the rule's SMS, left for the sweep
    assert took < 25


def test_an_undelivered_callback_is_taken_while_redis_is_down(redis_down, client, sent, settings):  # noqa: F811
    """Twilio says an SMS was not delivered: the fallback rows are written, and their send tasks cannot be handed
    to the broker; the sweep re-drives them later. Twilio must get its 2xx, not a 500 for what was recorded."""
    settings.TWILIO_AUTH_TOKEN = webhooks_test.TOKEN
    settings.PUBLIC_BASE_URL = webhooks_test.BASE
    n = sent()
    params = {"MessageSid": webhooks_test.SID, "MessageStatus": "undelivered", "ErrorCode": "30003"}
    client.raise_request_exception = False

    response = webhooks_test.signed_post(client, webhooks_test.STATUS_URL, params)

    assert response.status_code == 204
    assert Notification.objects.filter(fallback_of=n, status="pending").count() == 2


def test_a_reply_acknowledges_while_redis_is_down(redis_down, client, sent, settings):  # noqa: F811
    """An officer's 收到 is taken with Redis down: its replay guard is in the database, not the cache (Twilio does
    not retry an inbound message it got a 500 for, so the reply would be lost and the repeats would go on)."""
    settings.TWILIO_AUTH_TOKEN = webhooks_test.TOKEN
    settings.PUBLIC_BASE_URL = webhooks_test.BASE
    n = sent()
    reply = {"From": "+8617000000001", "Body": "收到", "MessageSid": "SM" + "d" * 32}
    client.raise_request_exception = False

    response = webhooks_test.signed_post(client, webhooks_test.INBOUND_URL, reply)

    assert response.status_code == 200 and "已确认收到催报" in response.content.decode()
    n.refresh_from_db()
    assert n.status == "acknowledged"
    again = webhooks_test.signed_post(client, webhooks_test.INBOUND_URL, reply)
    assert again.status_code == 200 and "已确认收到催报" not in again.content.decode()
