"""PostgreSQL drops the connections (a restart, a failover, ``pg_terminate_backend``): the web and the worker go on
with new ones, without a restart and without failing the first request or task after the drop.

Connections are kept for ``CONN_MAX_AGE`` seconds in production (``DB_CONN_MAX_AGE``, 60 by default); the test
settings keep none, so each test here sets the production value on its connection. The drop is real: the server
ends the backend of this very connection.
"""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import psycopg
import pytest
from django.core.signals import request_started
from django.db import connection
from django.utils import timezone

from config.celery_app import close_old_connections
from notifications.models import SweepHeartbeat
from notifications.sweep import sweep_run
from tests.api.conftest import client_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def persistent_connection(monkeypatch):
    """The production setting: the connection outlives a request or a task."""
    connection.close()
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)
    yield
    connection.close()


def server_drops_the_connection() -> None:
    """Ends this process's backend from another session, as ``pg_terminate_backend`` or a server restart does."""
    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params, autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone() == (True,)


def request(api):
    """A request as gunicorn serves it: Django's WSGI handler sends ``request_started`` first, whose receiver
    ``close_old_connections`` decides whether the kept connection is reused (the test client leaves it out)."""
    request_started.send(sender=None)
    return api.get("/api/v1/incidents/")


def test_the_first_request_after_the_database_dropped_the_connection_is_served(persistent_connection, duty_room):
    api = client_for(duty_room)
    api.raise_request_exception = False
    assert request(api).status_code == 200

    server_drops_the_connection()

    assert request(api).status_code == 200


def test_the_first_task_after_the_database_dropped_the_connection_runs(persistent_connection):
    """What the worker does around each task (``config.celery_app``'s task_prerun), then a sweep."""
    task = SimpleNamespace(request=SimpleNamespace(is_eager=False))
    now = timezone.now()
    sweep_run(now=now - timedelta(seconds=1))

    server_drops_the_connection()
    close_old_connections(sender=task)
    sweep_run(now=now)

    assert SweepHeartbeat.objects.get(name="sweep").beat_at == now
