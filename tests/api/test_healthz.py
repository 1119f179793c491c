"""/healthz (API.md "Health"): 200 ``{"db": "ok", "broker": "ok", "sweeper_age_seconds": …}`` when all is well;
503 naming the failing part when the database or the broker is down or the sweeper is older than 120 s.

Nothing here stops the shared PostgreSQL or Redis: the broker is pointed at a closed port, and the database
"fails" by making every query of the request raise ``OperationalError`` before it reaches the server.
"""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta

import pytest
from django.db import OperationalError
from django.db.backends.utils import CursorWrapper
from django.test import Client
from django.utils import timezone
from freezegun import freeze_time

from notifications import views
from notifications.models import SweepHeartbeat
from notifications.sweep import heartbeat_record

pytestmark = pytest.mark.django_db

T = datetime(2026, 11, 28, 1, 0, tzinfo=UTC)


def healthz() -> tuple[int, dict]:
    """Anonymous, as a load balancer asks."""
    response = Client().get("/healthz")
    assert response["Content-Type"] == "application/json"
    return response.status_code, response.json()


@pytest.fixture
def broker_up(monkeypatch):
    """Isolate the part under test: the broker answers (the real check is exercised by the tests that say so)."""
    monkeypatch.setattr(views, "_broker_ok", lambda: True)


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- healthy ---------------------------------------------------------------------------------------------------------


def test_healthy_with_a_fresh_heartbeat_and_the_real_broker():
    heartbeat_record(now=timezone.now() - timedelta(seconds=4))

    status, body = healthz()

    assert status == 200, body
    assert body["db"] == "ok"
    assert body["broker"] == "ok"
    assert 4 <= body["sweeper_age_seconds"] < 60
    assert "sweeper" not in body


def test_healthz_needs_no_credentials_and_reports_the_age_to_a_tenth_of_a_second(broker_up):
    with freeze_time(T):
        heartbeat_record(now=T - timedelta(seconds=4, milliseconds=240))
        status, body = healthz()
    assert status == 200
    assert body["sweeper_age_seconds"] == 4.2


# --- the sweeper -----------------------------------------------------------------------------------------------------


def test_sweeper_exactly_120_seconds_old_is_still_healthy(broker_up):
    with freeze_time(T):
        heartbeat_record(now=T - timedelta(seconds=120))
        status, body = healthz()
    assert status == 200, body
    assert body["sweeper_age_seconds"] == 120.0
    assert "sweeper" not in body


def test_sweeper_older_than_120_seconds_is_503_stale(broker_up):
    with freeze_time(T):
        heartbeat_record(now=T - timedelta(seconds=121))
        status, body = healthz()
    assert status == 503
    assert body["sweeper"] == "stale"
    assert body["sweeper_age_seconds"] == 121.0
    # Only the sweeper is failing.
    assert (body["db"], body["broker"]) == ("ok", "ok")


def test_heartbeat_goes_stale_as_time_passes_without_a_sweep(broker_up):
    """The same heartbeat row: healthy at first, 503 once the clock moves past the threshold."""
    with freeze_time(T) as clock:
        heartbeat_record(now=T)
        assert healthz()[0] == 200
        clock.tick(timedelta(seconds=120, milliseconds=500))
        status, body = healthz()
    assert status == 503
    assert (body["sweeper"], body["sweeper_age_seconds"]) == ("stale", 120.5)


def test_a_sweeper_that_never_ran_is_503(broker_up):
    assert not SweepHeartbeat.objects.exists()
    status, body = healthz()
    assert status == 503
    assert body["sweeper"] == "never ran"
    assert body["sweeper_age_seconds"] is None
    assert (body["db"], body["broker"]) == ("ok", "ok")


def test_only_the_sweep_heartbeat_counts(broker_up):
    """A fresh row under another name is not the sweeper's."""
    with freeze_time(T):
        SweepHeartbeat.objects.create(name="other", beat_at=T)
        heartbeat_record(now=T - timedelta(minutes=10))
        status, body = healthz()
    assert status == 503
    assert (body["sweeper"], body["sweeper_age_seconds"]) == ("stale", 600.0)


# --- the broker ------------------------------------------------------------------------------------------------------


def test_broker_unreachable_is_503_broker_down(monkeypatch):
    """The Celery app reads its broker URL once, at configuration (so ``override_settings(CELERY_BROKER_URL=…)``
    would not reach it); Celery lets ``CELERY_BROKER_WRITE_URL`` in the environment override the URL it writes to,
    which is the connection /healthz opens."""
    monkeypatch.setenv("CELERY_BROKER_WRITE_URL", f"redis://127.0.0.1:{closed_port()}/12")
    heartbeat_record(now=timezone.now())

    status, body = healthz()

    assert status == 503, body
    assert body["broker"] == "down"
    assert body["db"] == "ok"
    assert body["sweeper_age_seconds"] is not None and body["sweeper_age_seconds"] < 60
    assert "sweeper" not in body


def test_broker_check_is_back_to_ok_with_the_real_url(monkeypatch):
    """The closed port above is what failed, not the check: the real broker answers in the same process."""
    heartbeat_record(now=timezone.now())
    with monkeypatch.context() as patched:
        patched.setenv("CELERY_BROKER_WRITE_URL", f"redis://127.0.0.1:{closed_port()}/12")
        assert healthz()[1]["broker"] == "down"
    status, body = healthz()
    assert (status, body["broker"]) == (200, "ok")


# --- the database ----------------------------------------------------------------------------------------------------


@pytest.fixture
def database_down(monkeypatch):
    """Every query the request sends raises OperationalError, as when PostgreSQL is unreachable. Nothing reaches the
    server, so the test's transaction stays usable for teardown."""

    def refuse(self, sql, params=None):
        raise OperationalError("connection to server at 127.0.0.1, port 5432 failed: Connection refused")

    def activate():
        monkeypatch.setattr(CursorWrapper, "execute", refuse)

    return activate


def test_database_down_is_503_db_down(broker_up, database_down):
    heartbeat_record(now=timezone.now())  # fresh, but unreadable once the database is down
    database_down()

    status, body = healthz()

    assert status == 503
    assert body["db"] == "down"
    assert body["broker"] == "ok"
    # Without the database the heartbeat cannot be read: no age, and the sweeper is reported too.
    assert body["sweeper_age_seconds"] is None
    assert body["sweeper"] == "never ran"


def test_database_and_broker_down_together(database_down, monkeypatch):
    monkeypatch.setenv("CELERY_BROKER_WRITE_URL", f"redis://127.0.0.1:{closed_port()}/12")
    database_down()

    status, body = healthz()

    assert status == 503
    assert (body["db"], body["broker"]) == ("down", "down")
