"""The periodic recompute run by real Celery beat and worker processes (Redis broker, committed rows)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from reporting import services
from reporting.models import Finding
from tests.fixtures.workers import wait_until

pytestmark = pytest.mark.integration


def test_beat_schedules_the_recompute_and_a_worker_records_the_missed_report(units, sijing_officer, celery_procs):
    now = timezone.now()
    known = now - timedelta(hours=26)
    incident = services.incident_create(
        actor=sijing_officer,
        now=now,
        title="泗泾镇某仓库火灾",
        domain="production_safety",
        occurred_at=known - timedelta(minutes=10),
        location="泗泾镇某路2号",
        summary="",
        units=[{"unit": units["sijing"], "first_known_at": known, "channel": "self"}],
    )
    assert not Finding.objects.exists()
    celery_procs.worker(concurrency=1)
    celery_procs.beat(extra_env={"FINDINGS_INTERVAL_SECONDS": "1"})
    finding = wait_until(
        lambda: Finding.objects.filter(kind="missed").first(), timeout=60, message="the beat-driven recompute"
    )
    assert (finding.incident_id, finding.unit_id, finding.detail["rule"]) == (
        incident.pk,
        units["sijing"].pk,
        "no_report",
    )
    assert finding.found_at == incident.obligations.get().written_due_at + timedelta(hours=24)
    worker = celery_procs.processes[0]

    def recomputes_done() -> int:
        return sum(
            1 for line in worker.log_text().splitlines() if "recompute_findings[" in line and "succeeded" in line
        )

    # Beat keeps running it: idempotent, still exactly one finding after several more runs.
    done = recomputes_done()
    wait_until(lambda: recomputes_done() >= done + 2, timeout=30, message="two more recomputes")
    # (The sweep, running under the same beat, may record roster gaps: this unit has no duty roster.)
    assert list(Finding.objects.exclude(kind="roster_gap").values_list("pk", flat=True)) == [finding.pk]
