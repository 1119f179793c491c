"""Audit benchmark: the timeliness stats endpoint and the findings list at one year of data.

One year of synthetic data for 39 units (100,000 incidents, 300,000 reports, ~120,000 obligations) is bulk-loaded
into a separate PostgreSQL database (default ``tracker_bench_c``; ``BENCH_DATABASE_URL`` to change it); the findings
are produced by the real recompute (``reporting.findings_services.findings_recompute``). Then each endpoint is
requested through Django's test client with a token: the number of SQL queries and the time (median of several
runs) are measured and written to ``docs/benchmarks.md`` under "Audit: stats and findings at one year of data".

    .venv/bin/python -m bench.audit_stats [--reload] [--runs 15] [--no-write]

The data is loaded once; later runs reuse it unless ``--reload``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench import DOCS, database_ensure, docs_section_write

BENCH_DB = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tracker_bench_c")
os.environ["DATABASE_URL"] = BENCH_DB
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SECTION = "## Audit: stats and findings at one year of data"
UNITS = 39
INCIDENTS = 100_000
REPORTS = 300_000
START = datetime(2025, 11, 28, 16, 0, tzinfo=UTC)  # 2025-11-29 00:00 Asia/Shanghai
END = START + timedelta(days=365)
BATCH = 10_000


def ensure_database() -> None:
    database_ensure(BENCH_DB)


def load(rng: random.Random) -> dict:
    """Bulk-load the year; returns what was loaded. One transaction: the obligation <-> report links are
    assigned ids up front and checked at commit (Django's foreign keys are DEFERRABLE INITIALLY DEFERRED)."""
    from django.db import connection, transaction

    from reporting.models import Finding, Incident, Obligation, Report, Signal, Unit, UnitKind

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE reporting_finding, reporting_report, reporting_refusedreport, reporting_signal, "
            "reporting_obligation, reporting_deadlinebreach, reporting_incident, reporting_unit, "
            "reporting_auditevent RESTART IDENTITY CASCADE"
        )
    kinds = [UnitKind.STREET] * 6 + [UnitKind.TOWN] * 11 + [UnitKind.ZONE] + [UnitKind.DEPARTMENT] * 21
    units = [
        Unit(id=i + 1, code=f"u{i + 1:02d}", name=f"单位{i + 1:02d}", kind=kind, vertical=(i % 10 == 9))
        for i, kind in enumerate(kinds)
    ]
    incidents, obligations, reports, signals = [], [], [], []
    report_id = 0
    obligation_id = 0
    span = (END - START).total_seconds()
    for n in range(1, INCIDENTS + 1):
        occurred = START + timedelta(seconds=rng.uniform(0, span - 3 * 86400))
        exercise = rng.random() < 0.02
        incidents.append(
            Incident(
                id=n,
                number=f"SJ-B-{n:06d}",
                title=f"合成事件 {n}",
                domain="production_safety",
                occurred_at=occurred,
                location="松江区",
                grade="below",
                grade_computed="below",
                exercise=exercise,
                created_at=occurred,
                updated_at=occurred,
            )
        )
        chosen = rng.sample(units, 2 if rng.random() < 0.2 else 1)
        for unit in chosen:
            obligation_id += 1
            known = occurred + timedelta(seconds=rng.uniform(0, 1800))
            declared = known
            if rng.random() < 0.04:  # first known from a signal; the unit declared later
                declared = known + timedelta(seconds=rng.choice([120, 299, 300, 301, 900]))
                signals.append(
                    Signal(
                        source="110",
                        external_id=f"B-{obligation_id}",
                        received_at=known,
                        delivered_to=unit,
                        delivered_at=known,
                        incident_id=n,
                        created_at=known,
                    )
                )
            verbal_due, written_due = known + timedelta(minutes=30), known + timedelta(minutes=60)
            o = Obligation(
                id=obligation_id,
                incident_id=n,
                unit=unit,
                first_known_at=known,
                first_known_channel="self",
                declared_first_known_at=declared,
                verbal_minutes=30,
                written_minutes=60,
                verbal_due_at=verbal_due,
                written_due_at=written_due,
                created_at=declared,
            )
            r = rng.random()
            verbal_at = written_at = None
            if r < 0.80:
                verbal_at = known + timedelta(seconds=rng.uniform(60, 1800))
                written_at = known + timedelta(seconds=rng.uniform(1900, 3600))
            elif r < 0.88:
                verbal_at = verbal_due + timedelta(seconds=rng.uniform(1, 900))
                written_at = written_due + timedelta(seconds=rng.uniform(-600, 1200))
            elif r < 0.94:
                written_at = written_due + timedelta(seconds=rng.uniform(1, 3600))
            elif r < 0.97:
                pass  # never reported: 漏报
            elif r < 0.99:
                written_at = written_due + timedelta(hours=24, seconds=rng.uniform(1, 86400))
            else:
                o.verbal_state = o.written_state = "not_required"
                o.not_required_reason, o.not_required_at = "误加单位", declared
            for kind, at in (("verbal", verbal_at), ("written", written_at)):
                if at is None:
                    continue
                report_id += 1
                due = verbal_due if kind == "verbal" else written_due
                late = at > due
                reports.append(
                    Report(
                        id=report_id,
                        incident_id=n,
                        unit=unit,
                        obligation_id=obligation_id,
                        kind=kind,
                        filed_at=at,
                        counted_at=at,
                        created_at=at,
                        due_at=due,
                        on_time=not late,
                        delay_seconds=int((at - due).total_seconds()) + 1 if late else 0,
                        deaths=0,
                        injuries=0,
                        missing=0,
                    )
                )
                state = "late" if late else "on_time"
                if kind == "written":
                    o.written_state, o.written_filed_at, o.written_report_id = state, at, report_id
                    if o.verbal_state == "pending":
                        o.verbal_state = "late" if at > verbal_due else "on_time"
                        o.verbal_filed_at, o.verbal_report_id = at, report_id
                else:
                    o.verbal_state, o.verbal_filed_at, o.verbal_report_id = state, at, report_id
            obligations.append(o)
    written = [r for r in reports if r.kind == "written"]
    follow_ups: dict[int, int] = {}  # per obligation: 续报 #1, #2, ... (report_sequence_once_filed)
    while len(reports) < REPORTS:  # follow-ups (续报) up to the target
        base = rng.choice(written)
        follow_ups[base.obligation_id] = follow_ups.get(base.obligation_id, 0) + 1
        report_id += 1
        at = base.filed_at + timedelta(minutes=rng.uniform(10, 600))
        reports.append(
            Report(
                id=report_id,
                incident_id=base.incident_id,
                unit_id=base.unit_id,
                obligation_id=base.obligation_id,
                kind="follow_up",
                sequence=follow_ups[base.obligation_id],
                filed_at=at,
                counted_at=at,
                created_at=at,
                deaths=0,
                injuries=0,
                missing=0,
            )
        )
    with transaction.atomic():
        Unit.objects.bulk_create(units)
        Incident.objects.bulk_create(incidents, batch_size=BATCH)
        Obligation.objects.bulk_create(obligations, batch_size=BATCH)
        Report.objects.bulk_create(reports, batch_size=BATCH)
        Signal.objects.bulk_create(signals, batch_size=BATCH)
    with connection.cursor() as cursor:
        for table in ("reporting_unit", "reporting_incident", "reporting_obligation", "reporting_report"):
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")
        cursor.execute("ANALYZE")
    assert Finding.objects.count() == 0
    return {
        "units": len(units),
        "incidents": len(incidents),
        "obligations": len(obligations),
        "reports": len(reports),
        "signals": len(signals),
    }


def measure(client, url: str, runs: int, **extra) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    timings = []
    queries = None
    for _ in range(runs + 1):  # the first run warms caches and is not timed
        with CaptureQueriesContext(connection) as ctx:
            started = time.perf_counter()
            response = client.get(url, **extra)
            elapsed = time.perf_counter() - started
        assert response.status_code == 200, (url, response.status_code, response.content[:300])
        queries = len(ctx.captured_queries) if queries is None else queries
        assert len(ctx.captured_queries) == queries
        timings.append(elapsed * 1000)
    timed = timings[1:]
    return {
        "url": url,
        "queries": queries,
        "median_ms": statistics.median(timed),
        "min_ms": min(timed),
        "max_ms": max(timed),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reload", action="store_true", help="drop and reload the synthetic year")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--no-write", action="store_true", help="do not write docs/benchmarks.md")
    args = parser.parse_args(argv)

    ensure_database()
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.db.models import Count
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    from reporting.findings_services import findings_recompute
    from reporting.models import Finding, Incident, Obligation, Report, Role, User

    call_command("migrate", verbosity=0)
    loaded = None
    load_seconds = recompute_seconds = None
    if args.reload or Incident.objects.count() != INCIDENTS or Report.objects.count() != REPORTS:
        started = time.perf_counter()
        loaded = load(random.Random(20261128))
        load_seconds = time.perf_counter() - started
        print(f"loaded {loaded} in {load_seconds:.1f} s", flush=True)
        started = time.perf_counter()
        result = findings_recompute(now=END)
        recompute_seconds = time.perf_counter() - started
        print(f"recompute: {result} in {recompute_seconds:.1f} s", flush=True)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    started = time.perf_counter()
    again = findings_recompute(now=END)
    rerun_seconds = time.perf_counter() - started
    assert (again.created, again.updated, again.withdrawn, again.reinstated) == (0, 0, 0, 0), again

    auditor, _ = User.objects.get_or_create(username="bench-auditor", defaults={"role": Role.AUDITOR})
    token, _ = Token.objects.get_or_create(user=auditor)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    year = "since=2025-11-29T00:00:00%2B08:00&until=2026-11-29T00:00:00%2B08:00"
    month = "since=2026-06-01T00:00:00%2B08:00&until=2026-07-01T00:00:00%2B08:00"
    cases = [
        ("stats, whole year, 39 units (JSON)", f"/api/v1/stats/timeliness/?{year}", {}),
        ("stats, one month, 39 units (JSON)", f"/api/v1/stats/timeliness/?{month}", {}),
        ("stats, whole year, one unit (JSON)", f"/api/v1/stats/timeliness/?{year}&unit=u07", {}),
        ("stats, whole year (CSV, Accept: text/csv)", f"/api/v1/stats/timeliness/?{year}", {"HTTP_ACCEPT": "text/csv"}),
        ("stats, whole year (XLSX)", f"/api/v1/stats/timeliness/?{year}&format=xlsx", {}),
        ("findings, first page (50)", "/api/v1/findings/", {}),
        ("findings, page 200 (50 per page)", "/api/v1/findings/?page=200", {}),
        ("findings, 500 per page", "/api/v1/findings/?page_size=500", {}),
        ("findings, kind=late&unit=u07", "/api/v1/findings/?kind=late&unit=u07", {}),
        ("findings, one month, kind=missed", f"/api/v1/findings/?kind=missed&{month}", {}),
    ]
    results = []
    for label, url, extra in cases:
        figures = measure(client, url, args.runs, **extra)
        figures["label"] = label
        results.append(figures)
        print(f"{label:45} queries={figures['queries']:2d} median={figures['median_ms']:7.1f} ms", flush=True)

    counts = {
        "incidents": Incident.objects.count(),
        "reports": Report.objects.count(),
        "obligations": Obligation.objects.count(),
        "findings": Finding.objects.count(),
    }
    by_kind = dict(Finding.objects.order_by().values_list("kind").annotate(n=Count("id")))
    if not args.no_write:
        write_section(results, counts, by_kind, load_seconds, recompute_seconds, rerun_seconds, args.runs)
    return 0


def pg_version() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        return cursor.fetchone()[0].split()[0]


def write_section(results, counts, by_kind, load_seconds, recompute_seconds, rerun_seconds, runs) -> None:
    """Replace this benchmark's section of docs/benchmarks.md (appending it the first time); other sections stay."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        SECTION,
        "",
        f"Measured {stamp} on this machine ({os.cpu_count()} CPUs, PostgreSQL {pg_version()} on loopback, shared with "
        f"other work: load average {os.getloadavg()[0]:.1f} at the end of the run, so times are pessimistic).",
        "",
        "Command (loads the data once into its own database `tracker_bench_c`, reused by later runs):",
        "",
        "```",
        ".venv/bin/python -m bench.audit_stats            # add --reload to rebuild the synthetic year",
        "```",
        "",
        f"Data: 39 units, {counts['incidents']:,} incidents, {counts['obligations']:,} obligations, "
        f"{counts['reports']:,} reports (verbal, written, follow-ups) over one year; {counts['findings']:,} findings "
        f"({', '.join(f'{k} {v:,}' for k, v in sorted(by_kind.items()))}) produced by the real recompute.",
        "",
    ]
    load_note = ROOT / "var" / "bench_audit_load.json"
    if load_seconds is not None:
        load_note.parent.mkdir(parents=True, exist_ok=True)
        load_note.write_text(json.dumps({"load": load_seconds, "recompute": recompute_seconds, "at": stamp}))
    elif load_note.exists():
        saved = json.loads(load_note.read_text())
        load_seconds, recompute_seconds = saved["load"], saved["recompute"]
        stamp = saved["at"]
    if load_seconds is not None:
        lines += [
            f"Bulk load {load_seconds:.0f} s; first full recompute (every finding created) {recompute_seconds:.0f} s "
            f"(measured {stamp}).",
            "",
        ]
    lines += [
        f"A second full recompute over the same data changed nothing (idempotent) and took {rerun_seconds:.0f} s.",
        "",
        f"Each request through Django's test client with token auth; times over {runs} runs after one warm-up "
        "(whole request: auth, SQL, serialisation). On this shared machine the minimum is the best estimate of the "
        "cost itself; the median and maximum include waiting for the CPU.",
        "",
        "| request | SQL queries | median ms | min ms | max ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['label']} | {r['queries']} | {r['median_ms']:.1f} | {r['min_ms']:.1f} | {r['max_ms']:.1f} |"
        )
    lines += [
        "",
        "The query counts are the same as in the test suite's small data sets (`tests/api/test_audit_api.py` asserts "
        "they do not grow with the rows): the whole stats table is one SQL statement (percentile_cont per unit), "
        "the findings list is one COUNT plus one page (ORDER BY found_at DESC, id DESC served by "
        "`finding_found_desc_idx`). The others: the token lookup, the unit named by `?unit=`, and the unit names "
        "for the CSV/XLSX headers.",
        "",
    ]
    docs_section_write(SECTION, "\n".join(lines))
    print(f"wrote {DOCS}")


if __name__ == "__main__":
    raise SystemExit(main())
