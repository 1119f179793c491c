"""Issue 2, must-show 1: the embedded defaults bring up web, worker and beat from the real Procfile.

This is the one test that runs on SQLite and kombu's filesystem transport, on purpose: it is what a newcomer gets
with no ``DATABASE_URL`` and no ``REDIS_URL``/``CELERY_BROKER_URL``. In a temporary ``VAR_DIR`` it runs ``migrate``
and ``seed_demo``, starts ``honcho start web worker beat`` (gunicorn, ``celery worker``, ``celery beat`` exactly as
the Procfile says), waits for ``/healthz`` to answer 200 with a fresh sweeper heartbeat, logs in to the admin as
the demo admin and counts the 39 demo units. It then opens overdue obligations from a separate process while
the web is being used, and checks that the worker's sweep records every breach with no "database is locked"
anywhere: web, worker, beat and a management command share one SQLite file.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
PORT = 8105
BASE = f"http://127.0.0.1:{PORT}"
PASSWORD = "embedded-demo-pass-1"
HEALTHY_WITHIN_SECONDS = 90

pytestmark = pytest.mark.integration

# Opens 8 incidents whose clocks ran out long ago, 3 units each: 24 obligations, 48 deadlines passed.
OPEN_OVERDUE = """
from datetime import timedelta
from django.utils import timezone
from reporting import services
from reporting.models import Unit, User
actor = User.objects.get(username="duty")
units = list(Unit.objects.filter(kind="town").order_by("code")[:3])
for i in range(8):
    now = timezone.now()
    services.incident_create(
        actor=actor, now=now, title=f"embedded {i}", domain="production_safety",
        occurred_at=now - timedelta(hours=3), location="松江区", summary="",
        units=[{"unit": u, "first_known_at": now - timedelta(hours=2), "channel": "self"} for u in units],
    )
print("opened", len(units) * 8)
"""

COUNT_BREACHES = """
from reporting.models import DeadlineBreach
print("breaches", DeadlineBreach.objects.filter(obligation__incident__title__startswith="embedded").count())
"""


def embedded_env(var_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL")}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.base",
        VAR_DIR=str(var_dir),
        DEMO_PASSWORD=PASSWORD,
        PORT=str(PORT),
        PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
        WEB_CONCURRENCY="2",
        WORKER_CONCURRENCY="2",
        PYTHONUNBUFFERED="1",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
        # Other gunicorns on this machine use the default control socket under ~/.gunicorn: do not take it over.
        GUNICORN_CMD_ARGS="--no-control-socket",
    )
    return env


def manage(env: dict[str, str], *args: str, timeout: float = 120) -> str:
    result = subprocess.run(
        [str(VENV_BIN / "python"), "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def healthz() -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"{BASE}/healthz", timeout=5) as response:  # noqa: S310 - loopback only
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")
    except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError):
        return 0, {}


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (from /proc), so that children honcho put in their own process groups
    can be reached even if honcho itself is gone."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def stop(process: subprocess.Popen) -> None:
    """SIGTERM honcho, which stops web, worker and beat (each in its own process group) and SIGKILLs what does
    not stop within its grace period; then SIGKILL anything of ours that is still alive."""
    below = descendants(process.pid)
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    for pid in below:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


@pytest.fixture
def embedded(tmp_path):
    """Migrated and seeded embedded deployment, started with honcho; yields (env, log path)."""
    assert port_is_free(PORT), f"port {PORT} is already in use"
    var_dir = tmp_path / "var"
    env = embedded_env(var_dir)
    manage(env, "migrate", "--noinput")
    seeded = manage(env, "seed_demo")
    assert "demo: 39 units" in seeded
    log_path = tmp_path / "honcho.log"
    log = log_path.open("w")
    process = subprocess.Popen(
        [str(VENV_BIN / "honcho"), "start", "web", "worker", "beat"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, so stop() reaches every child
    )
    try:
        yield env, log_path, process
    finally:
        stop(process)
        log.close()
        assert port_is_free(PORT), f"something still listens on {PORT} after stopping"


def test_embedded_defaults_bring_up_web_worker_and_beat(embedded):
    env, log_path, process = embedded
    try:
        # 1. /healthz answers 200 with a sweeper heartbeat younger than 15 s.
        deadline = time.monotonic() + HEALTHY_WITHIN_SECONDS
        status, body = 0, {}
        while time.monotonic() < deadline:
            assert process.poll() is None, "honcho exited early"
            status, body = healthz()
            if status == 200 and body.get("sweeper_age_seconds") is not None and body["sweeper_age_seconds"] < 15:
                break
            time.sleep(1)
        assert status == 200, body
        assert body["db"] == "ok" and body["broker"] == "ok"
        assert 0 <= body["sweeper_age_seconds"] < 15

        # 2. The demo admin logs in and the Unit changelist lists the 39 demo units.
        session = requests.Session()
        session.trust_env = False
        login_page = session.get(f"{BASE}/admin/login/", timeout=10)
        assert login_page.status_code == 200
        response = session.post(
            f"{BASE}/admin/login/?next=/admin/",
            data={
                "username": "admin",
                "password": PASSWORD,
                "csrfmiddlewaretoken": session.cookies["csrftoken"],
                "next": "/admin/",
            },
            headers={"Referer": f"{BASE}/admin/login/"},
            timeout=10,
        )
        assert response.status_code == 200 and response.url.rstrip("/").endswith("/admin"), response.url
        units_page = session.get(f"{BASE}/admin/reporting/unit/", timeout=10)
        assert units_page.status_code == 200
        assert len(re.findall(r'name="_selected_action"', units_page.text)) == 39
        assert "区政府总值班室" in units_page.text and "泗泾镇" in units_page.text

        # 3. Light concurrent use on the one SQLite file: a management command writes 24 overdue obligations while
        #    the web is used; the worker's sweep must record all 48 breaches.
        writer = subprocess.Popen(
            [str(VENV_BIN / "python"), "manage.py", "shell", "-c", OPEN_OVERDUE],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        while writer.poll() is None:
            assert session.get(f"{BASE}/admin/reporting/obligation/", timeout=30).status_code == 200
            assert healthz()[0] == 200
        out = writer.communicate()[0]
        assert writer.returncode == 0 and "opened 24" in out, out
        deadline = time.monotonic() + 60
        counted = ""
        while time.monotonic() < deadline:
            assert session.get(f"{BASE}/admin/reporting/deadlinebreach/", timeout=30).status_code == 200
            counted = manage(env, "shell", "-c", COUNT_BREACHES)
            if "breaches 48" in counted:
                break
            time.sleep(2)
        assert "breaches 48" in counted, counted
        status, body = healthz()
        assert status == 200 and body["sweeper_age_seconds"] < 15, body
        assert "audit chain OK" in manage(env, "verify_audit_chain")

        log_text = log_path.read_text(errors="replace")
        assert "database is locked" not in log_text
        assert not re.search(r"Task notifications\.tasks\.sweep\[[^\]]+\] raised", log_text)
        assert re.search(r"Task notifications\.tasks\.sweep\[[^\]]+\] succeeded", log_text)
    except BaseException:
        sys.stdout.write(f"\n----- honcho log ({log_path}) -----\n{log_path.read_text(errors='replace')[-20000:]}\n")
        raise
