"""Findings are recomputed once per incident and transaction, after commit."""

from datetime import datetime, timedelta

from reporting import report_services, services
from reporting.receivers import _Recompute
from tests.conftest import NOW


def test_a_filing_schedules_one_recompute_of_its_incident(units, sijing_officer, django_capture_on_commit_callbacks):
    incident = services.incident_create(
        actor=sijing_officer,
        now=NOW,
        title="泗泾镇某厂房火灾",
        domain="production_safety",
        occurred_at=NOW - timedelta(minutes=20),
        location="泗泾镇某路1号",
        units=[{"unit": units["sijing"], "first_known_at": NOW - timedelta(minutes=10), "channel": "self"}],
    )
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        # Filing sends report_filed and obligation_changed; each asks for the incident's recompute.
        report_services.report_create(
            obligation=incident.obligations.get(),
            kind="verbal",
            actor=sijing_officer,
            now=NOW,
            account="厂房起火",
            location="泗泾镇某路1号",
            occurred_at=NOW - timedelta(minutes=20),
            deaths=0,
            injuries=0,
            missing=0,
        )
    recomputes = [c for c in callbacks if isinstance(c, _Recompute)]
    assert [(c.incident_id, c.ran) for c in recomputes] == [(incident.pk, True)]


def _file_verbal(obligation, officer, now):
    return report_services.report_create(
        obligation=obligation,
        kind="verbal",
        actor=officer,
        now=now,
        account="厂房起火",
        location="泗泾镇某路1号",
        occurred_at=now - timedelta(hours=2),
        deaths=0,
        injuries=0,
        missing=0,
    )


def _open(units, officer, now, n):
    return services.incident_create(
        actor=officer,
        now=now,
        title=f"泗泾镇某厂房火灾 {n}",
        domain="production_safety",
        occurred_at=now - timedelta(hours=2),
        location="泗泾镇某路1号",
        units=[{"unit": units["sijing"], "first_known_at": now - timedelta(hours=1), "channel": "self"}],
    )


def test_deferred_recompute_is_one_task_per_incident_and_window(
    units, sijing_officer, settings, django_capture_on_commit_callbacks
):
    """FINDINGS_DEFER_SECONDS > 0 (production): the recompute goes to a worker, debounced per incident. Three
    changes of one incident within the window publish one task (to the real Redis broker); another incident gets
    its own; after the window a change publishes again. Nothing is recomputed in the filing's process."""
    from celery.signals import before_task_publish
    from django.core.cache import cache
    from freezegun import freeze_time

    from reporting.models import Finding

    settings.FINDINGS_DEFER_SECONDS = 5
    cache.clear()
    published = []

    def seen(sender=None, headers=None, **kwargs):
        if sender == "reporting.tasks.recompute_incident_findings":
            published.append((headers["argsrepr"], headers["eta"]))

    before_task_publish.connect(seen, weak=False)
    try:
        with freeze_time(NOW) as clock:
            first, second = _open(units, sijing_officer, NOW, 1), _open(units, sijing_officer, NOW, 2)
            with django_capture_on_commit_callbacks(execute=True):
                _file_verbal(first.obligations.get(), sijing_officer, NOW)
            with django_capture_on_commit_callbacks(execute=True):
                _file_verbal(first.obligations.get(), sijing_officer, NOW)
            with django_capture_on_commit_callbacks(execute=True):
                _file_verbal(second.obligations.get(), sijing_officer, NOW)
            clock.tick(timedelta(seconds=4))
            with django_capture_on_commit_callbacks(execute=True):
                _file_verbal(first.obligations.get(), sijing_officer, NOW)
            assert [args for args, _eta in published] == [f"({first.pk},)", f"({second.pk},)"]
            # The task starts a second after its debounce key expires: nothing committed before then is missed.
            assert datetime.fromisoformat(published[0][1]) == NOW + timedelta(seconds=6)
            clock.tick(timedelta(seconds=2))  # the window is over
            with django_capture_on_commit_callbacks(execute=True):
                _file_verbal(first.obligations.get(), sijing_officer, NOW)
    finally:
        before_task_publish.disconnect(seen)
    assert [args for args, _eta in published] == [f"({first.pk},)", f"({second.pk},)", f"({first.pk},)"]
    assert not Finding.objects.filter(kind="late").exists()  # the late verbal reports wait for the worker
