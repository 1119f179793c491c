"""Board benchmark: what the duty room's wall screen costs per poll of ``/board/data.json`` at 300 open clocks.

A separate PostgreSQL database (default ``tracker_bench_board``; ``BENCH_DATABASE_URL`` to change it) is migrated and
filled through the real services with ``--rows`` open obligations (one unit each, first known 0 to 110 minutes ago:
pending, overdue and alarmed rows; a few exercises; two major incidents, each adding the duty room's relay row).
Each poll goes through Django's test client as the duty room, with ``Accept-Encoding: gzip``:

1. a poll without a validator (a fresh screen): status, bytes on the wire, SQL queries, server time (median and
   minimum of ``--runs`` after one warm-up);
2. the same poll again with the ``ETag`` of the first answer (nothing changed): the same figures (both at one
   frozen moment, the moment the rows were loaded at);
3. a simulated ``--minutes`` of polling every 5 s (freezegun moves the clock; the sweeper's heartbeat beats before
   each poll, as it does every few seconds): how many polls were answered in full, and the bytes sent per hour.

    .venv/bin/python -m bench board [--rows 300] [--runs 15] [--minutes 10] [--label after] [--no-write]

The figures of each ``--label`` (e.g. ``before`` on the code before a change, ``after`` on the code after it) are
kept in ``var/bench_board.json``; the printout and the section "Board: poll payload at 300 open clocks" of
docs/benchmarks.md show every label kept, side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench import database_ensure, docs_section_write

BENCH_DB = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tracker_bench_board")
os.environ["DATABASE_URL"] = BENCH_DB
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "var" / "bench_board.json"
SECTION = "## Board: poll payload at 300 open clocks"
URL = "/board/data.json"
POLL_SECONDS = 5


def load(rows: int, now: datetime):
    """Empty the incident tables and open ``rows`` obligations through ``services.incident_create``; returns the duty
    room's user."""
    from django.db import connection

    from reporting import services
    from reporting.models import Role, Unit, UnitKind, User

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE reporting_report, reporting_refusedreport, reporting_signal, reporting_obligation, "
            "reporting_deadlinebreach, reporting_incident, reporting_auditevent RESTART IDENTITY CASCADE"
        )
    fixed = [
        ("duty-room", "区政府总值班室", UnitKind.DUTY_ROOM),
        ("qwb", "区委办公室", UnitKind.LEADERSHIP_OFFICE),
        ("qfb", "区政府办公室", UnitKind.LEADERSHIP_OFFICE),
    ]
    for code, name, kind in fixed:
        Unit.objects.get_or_create(code=code, defaults={"name": name, "kind": kind})
    units = [
        Unit.objects.get_or_create(code=f"u{i:02d}", defaults={"name": f"单位{i:02d}镇", "kind": UnitKind.TOWN})[0]
        for i in range(1, 40)
    ]
    duty, _ = User.objects.get_or_create(username="bench-duty", defaults={"role": Role.DUTY_ROOM})
    majors = 2  # grade II (10 deaths): the duty room's relay to 区委办 and 区府办 opens too
    for n in range(rows):
        major = n >= rows - majors
        known = now - (timedelta(minutes=3 + n % majors) if major else timedelta(minutes=(n * 7) % 110, seconds=n % 60))
        services.incident_create(
            actor=duty,
            now=now,
            title=f"某化工企业爆炸{n}" if major else f"松江区某路口第{n}起事件",
            domain="production_safety",
            occurred_at=known - timedelta(minutes=5),
            location="松江区某路1号",
            summary="",
            exercise=n % 40 == 0 and not major,
            deaths=10 if major else 0,
            units=[{"unit": units[n % len(units)], "first_known_at": known, "channel": "self"}],
        )
    return duty


def poll(client, etag: str | None = None):
    """One poll: (response, seconds, SQL queries)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    extra = {"HTTP_ACCEPT_ENCODING": "gzip, deflate, br", "HTTP_ACCEPT": "application/json"}
    if etag:
        extra["HTTP_IF_NONE_MATCH"] = etag
    from freezegun.api import real_perf_counter  # the real clock, also while the bench freezes time

    with CaptureQueriesContext(connection) as ctx:
        started, cpu = real_perf_counter(), time.process_time()
        response = client.get(URL, **extra)
        elapsed, cpu = real_perf_counter() - started, time.process_time() - cpu
    assert response.status_code in (200, 304), (response.status_code, response.content[:300])
    return response, (elapsed, cpu), len(ctx.captured_queries)


def wire_bytes(response) -> int:
    """The body as sent (compressed when the response is) plus the header lines (as the test client sees them)."""
    head = sum(len(k) + len(v) + 4 for k, v in response.headers.items()) + len("HTTP/1.1 200 OK\r\n\r\n")
    return len(response.content) + head


def measure(client, runs: int, etag: str | None) -> dict:
    timings, cpu, statuses = [], [], set()
    response = queries = None
    for _ in range(runs + 1):  # the first is a warm-up, not timed
        response, (seconds, cpu_seconds), queries = poll(client, etag)
        timings.append(seconds * 1000)
        cpu.append(cpu_seconds * 1000)
        statuses.add(response.status_code)
    timed = timings[1:]
    return {
        "status": "/".join(str(s) for s in sorted(statuses)),
        "body_bytes": len(response.content),
        "wire_bytes": wire_bytes(response),
        "encoding": response.get("Content-Encoding", "identity"),
        "queries": queries,
        "median_ms": statistics.median(timed),
        "min_ms": min(timed),
        "cpu_ms": statistics.median(cpu[1:]),
        "etag": response.get("ETag"),
    }


def simulate(client, minutes: float, start: datetime) -> dict:
    """Poll every ``POLL_SECONDS`` for ``minutes`` of frozen, moving time, sending the last ETag as a browser
    would; the heartbeat beats before each poll."""
    from freezegun import freeze_time

    from notifications.models import SweepHeartbeat

    polls = full = total = 0
    etag = None
    steps = int(minutes * 60 / POLL_SECONDS)
    with freeze_time(start) as frozen:
        for _ in range(steps):
            frozen.tick(timedelta(seconds=POLL_SECONDS))
            SweepHeartbeat.objects.update_or_create(
                name="sweep", defaults={"beat_at": datetime.now(UTC) - timedelta(seconds=2)}
            )
            response, _seconds, _queries = poll(client, etag)
            polls += 1
            total += wire_bytes(response)
            if response.status_code == 200:
                full += 1
                etag = response.get("ETag")
    return {
        "minutes": minutes,
        "polls": polls,
        "full": full,
        "bytes_per_poll": total / polls,
        "bytes_per_hour": total / polls * 3600 / POLL_SECONDS,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="bench board", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--label", default="after", help="the name these figures are kept under (before, after)")
    parser.add_argument("--no-write", action="store_true", help="do not write docs/benchmarks.md")
    args = parser.parse_args(argv)

    database_ensure(BENCH_DB)
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    from notifications.models import SweepHeartbeat
    from reporting.models import Obligation

    call_command("migrate", verbosity=0)
    now = datetime.now(UTC).replace(microsecond=0)
    started = time.perf_counter()
    duty = load(args.rows, now)
    SweepHeartbeat.objects.update_or_create(name="sweep", defaults={"beat_at": datetime.now(UTC)})
    open_rows = Obligation.objects.open().count()
    print(f"loaded {open_rows} open obligations in {time.perf_counter() - started:.1f} s", flush=True)

    client = Client()
    client.force_login(duty)
    from freezegun import freeze_time

    # The two single-poll measures at one frozen moment: on a loaded machine a deadline could otherwise pass
    # between the polls and make "nothing changed" untrue.
    with freeze_time(now):
        fresh = measure(client, args.runs, None)
        again = measure(client, args.runs, fresh["etag"])
    day = simulate(client, args.minutes, datetime.now(UTC))
    figures = {
        "label": args.label,
        "at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "rows": open_rows,
        "load": os.getloadavg()[0],
        "runs": args.runs,
        "fresh": fresh,
        "again": again,
        "day": day,
    }
    kept = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    kept[args.label] = figures
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(kept, indent=1))
    table = render(kept)
    print(table)
    if not args.no_write:
        docs_section_write(SECTION, section(table))
        print("wrote docs/benchmarks.md")
    return 0


def render(kept: dict) -> str:
    """A Markdown table, one column per label kept."""
    labels = list(kept)
    lines = ["| | " + " | ".join(labels) + " |", "|---|" + "---:|" * len(labels)]

    def row(name: str, value) -> None:
        lines.append(f"| {name} | " + " | ".join(value(kept[label]) for label in labels) + " |")

    row("measured", lambda f: f["at"])
    row("machine's load average at the end (2 CPUs)", lambda f: f"{f['load']:.1f}" if "load" in f else "—")
    row("open rows", lambda f: str(f["rows"]))
    for key, name in (("fresh", "poll without a validator"), ("again", "poll again, nothing changed")):
        row(f"{name}: status", lambda f, key=key: f[key]["status"])
        row(f"{name}: body bytes (encoding)", lambda f, key=key: f"{f[key]['body_bytes']:,} ({f[key]['encoding']})")
        row(f"{name}: bytes with headers", lambda f, key=key: f"{f[key]['wire_bytes']:,}")
        row(f"{name}: SQL queries", lambda f, key=key: str(f[key]["queries"]))
        row(
            f"{name}: server ms, median / min", lambda f, key=key: f"{f[key]['median_ms']:.1f} / {f[key]['min_ms']:.1f}"
        )
        row(
            f"{name}: web process CPU ms, median",
            lambda f, key=key: f"{f[key]['cpu_ms']:.1f}" if "cpu_ms" in f[key] else "—",
        )
    row(
        "polling every 5 s: polls answered in full",
        lambda f: f"{f['day']['full']} of {f['day']['polls']} ({f['day']['minutes']:g} min)",
    )
    row("polling every 5 s: bytes per poll, average", lambda f: f"{f['day']['bytes_per_poll']:,.0f}")
    row("polling every 5 s: MB per hour", lambda f: f"{f['day']['bytes_per_hour'] / 1e6:.2f}")
    return "\n".join(lines)


def section(table: str) -> str:
    return "\n".join(
        [
            SECTION,
            "",
            "Command (its own database `tracker_bench_board`, emptied and refilled each run; `--label` names the "
            "column, the other columns are earlier runs kept in `var/bench_board.json`):",
            "",
            "    .venv/bin/python -m bench board --rows 300 --label after",
            "",
            f"On this machine ({os.cpu_count()} CPUs, shared with other work), in-process through Django's test "
            "client as the duty room with `Accept-Encoding: gzip`: server time is the whole request (session, SQL, "
            "rendering, compression), not the network; on a loaded machine it includes waiting for a CPU, so the "
            "web process's CPU time (PostgreSQL's not included; the SQL is the same six queries in every column) "
            "compares the columns better. Bytes with headers: the body plus the response's header lines.",
            "",
            table,
            "",
            "`before`: the code up to d7541f8 (this module run in a checkout of it, right before `after`), where each "
            "poll sent every row twice (as data, JSON with `\\u` escapes, "
            "and as rendered HTML), uncompressed, in full every time. `after`: each row once, as HTML; the JSON in "
            "UTF-8 and gzip-compressed (the answer holds no CSRF token, signed link or other secret, so BREACH has "
            "nothing to recover); a weak ETag on everything the answer shows except what ticks, and 304 with an "
            "empty body for a poll that sends it back while nothing changed. What ticks goes in headers of every "
            "answer: the server's time (`X-Board-Now`, from which the screen recounts each row's minutes left or "
            "overdue) and the sweeper's age (`X-Board-Heartbeat-Age`); the rows are ordered by their due times to "
            "the second, so the order changes only when a row's state does. The board page carries its ETag, so the "
            "first poll after it loads is a 304 too.",
            "",
            "A 304 still reads the rows and works out their states (that is how it knows nothing changed): its server "
            "time is the SQL and `board_row` for every row, without the rendering and compression. In the simulated "
            "polling the synthetic rows' deadlines and alarm steps (four per row, 5 minutes after each deadline) "
            "fall every few seconds across 300 rows, so about every other poll shows a change and is answered in "
            "full; a board whose rows are mostly long overdue (nothing left to pass) answers nearly every poll 304.",
            "",
        ]
    )


if __name__ == "__main__":
    raise SystemExit(main())
