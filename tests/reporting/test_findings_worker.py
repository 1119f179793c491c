"""The periodic recompute run by real Celery beat and worker processes (Redis broker, committed rows)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from reporting import report_services, services
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


def test_a_filing_hands_its_findings_to_a_worker_once_per_window(units, sijing_officer, celery_procs, settings):
    """The production path (FINDINGS_DEFER_SECONDS > 0): two late filings of one incident commit without
    recomputing anything; one debounced task on the real worker records both as late findings."""
    settings.FINDINGS_DEFER_SECONDS = 1
    from django.core.cache import cache

    cache.clear()
    now = timezone.now()
    incident = services.incident_create(
        actor=sijing_officer,
        now=now,
        title="泗泾镇某厂房火灾",
        domain="production_safety",
        occurred_at=now - timedelta(hours=2),
        location="泗泾镇某路1号",
        summary="",
        units=[{"unit": units["sijing"], "first_known_at": now - timedelta(hours=2), "channel": "self"}],
    )
    common = {
        "actor": sijing_officer,
        "occurred_at": now - timedelta(hours=2),
        "location": "泗泾镇某路1号",
        "deaths": 0,
        "injuries": 0,
        "missing": 0,
    }
    obligation = incident.obligations.get()
    report_services.report_create(
        obligation=obligation, kind="verbal", now=timezone.now(), account="厂房起火", **common
    )
    report_services.report_create(
        obligation=obligation,
        kind="written",
        now=timezone.now(),
        account="厂房起火, 明火已扑灭",
        measures="消防到场处置",
        contact_name="王某",
        contact_phone="+8617000000001",
        **common,
    )
    assert not Finding.objects.exists()  # nothing recomputed in the filing's process
    worker = celery_procs.worker(concurrency=1)
    late = wait_until(
        lambda: list(Finding.objects.filter(kind="late").order_by("detail__deadline")),
        timeout=30,
        message="the deferred recompute",
    )
    assert sorted(f.detail["deadline"] for f in late) == ["verbal", "written"]
    runs = [
        line
        for line in worker.log_text().splitlines()
        if "recompute_incident_findings[" in line and "succeeded" in line
    ]
    assert len(runs) == 1
