"""Services racing on one incident: row locks, the audit chain's lock and deferred foreign-key checks never end
in an error (schemathesis once found a deadlock between a figures change and a not-required mark)."""

import threading
from datetime import timedelta

import pytest
from django.db import OperationalError, connections
from psycopg import errors as pg_errors

from reporting import obligation_services, report_services, services
from reporting.auditlog import DEADLOCK_RETRIES, audited, chain_verify
from reporting.models import AuditEvent, Role, Unit, UnitKind, User
from tests.conftest import NOW


@pytest.mark.django_db(transaction=True)
def test_racing_services_on_one_incident_all_succeed_and_keep_one_chain():
    units = [Unit.objects.create(code=f"u{i}", name=f"单位{i}", kind=UnitKind.TOWN) for i in range(6)]
    duty = User.objects.create_user(username="duty", password="x", role=Role.DUTY_ROOM)
    incident = services.incident_create(
        actor=duty,
        now=NOW,
        title="并发",
        domain="production_safety",
        occurred_at=NOW - timedelta(minutes=30),
        location="某处",
        units=[{"unit": u, "first_known_at": NOW - timedelta(minutes=20)} for u in units],
    )
    obligations = list(incident.obligations.order_by("id"))
    barrier = threading.Barrier(6)
    errors = []

    def work(n):
        try:
            barrier.wait(timeout=10)
            for i in range(4):
                now = NOW + timedelta(seconds=n * 10 + i)
                if n % 2 == 0:
                    services.incident_update(incident=incident, actor=duty, now=now, injuries=n * 10 + i)
                else:
                    report_services.report_create(
                        obligation=obligations[n],
                        kind="follow_up",
                        actor=duty,
                        now=now,
                        account="续报",
                        deaths=0,
                        injuries=0,
                        missing=0,
                    )
            obligation_services.obligation_mark_not_required(
                obligation=obligations[n], reason="误加", actor=duty, now=NOW + timedelta(minutes=1)
            )
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert AuditEvent.objects.filter(kind="obligation_not_required").count() == 6
    assert AuditEvent.objects.filter(kind="report_filed").count() == 12
    assert chain_verify() is None


def _deadlock() -> OperationalError:
    error = OperationalError("deadlock detected")
    error.__cause__ = pg_errors.DeadlockDetected("deadlock detected")
    return error


@pytest.mark.django_db(transaction=True)
def test_an_outermost_service_is_rerun_after_a_deadlock():
    calls = []

    @audited
    def service():
        calls.append(1)
        if len(calls) < 3:
            raise _deadlock()
        return "done"

    assert service() == "done" and len(calls) == 3


@pytest.mark.django_db(transaction=True)
def test_retries_give_up_and_other_errors_are_not_retried():
    calls = []

    @audited
    def always_deadlocks():
        calls.append(1)
        raise _deadlock()

    with pytest.raises(OperationalError):
        always_deadlocks()
    assert len(calls) == DEADLOCK_RETRIES + 1

    @audited
    def broken():
        calls.append(2)
        raise OperationalError("connection lost")

    with pytest.raises(OperationalError):
        broken()
    assert calls.count(2) == 1


@pytest.mark.django_db(transaction=True)
def test_two_duty_officers_adding_the_same_unit_at_once_get_one_obligation_and_a_conflict():
    """The existence check and the insert are not atomic across transactions: the one that commits second meets the
    unique constraint, which must be a 409 conflict (ConflictError), never an IntegrityError (a 500)."""
    import time

    from django.db import transaction

    from reporting.errors import ConflictError

    town = Unit.objects.create(code="t", name="某镇", kind=UnitKind.TOWN)
    police = Unit.objects.create(code="police", name="区公安分局", kind=UnitKind.DEPARTMENT)
    duty = User.objects.create_user(username="duty", password="x", role=Role.DUTY_ROOM)
    incident = services.incident_create(
        actor=duty,
        now=NOW,
        title="并发增加单位",
        domain="social_security",
        occurred_at=NOW - timedelta(minutes=30),
        location="某处",
        units=[{"unit": town, "first_known_at": NOW - timedelta(minutes=20)}],
    )

    def add():
        return services.incident_add_unit(
            incident=incident,
            unit=police,
            first_known_at=NOW - timedelta(minutes=5),
            channel="110",
            actor=duty,
            now=NOW,
        )

    outcome = []

    def second():
        try:
            add()
            outcome.append("added")
        except ConflictError as exc:
            outcome.append(exc.errors)
        except Exception as exc:  # noqa: BLE001 - the assertion shows it
            outcome.append(repr(exc))
        finally:
            connections.close_all()

    # The first add is inserted but not committed when the second one checks (and finds nothing) and inserts.
    with transaction.atomic():
        add()
        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(1.0)  # the second add is now waiting on the unique index
    thread.join(timeout=60)
    assert outcome == [{"unit": ["该单位已是本事件的责任单位: police (already responsible)"]}]
    assert incident.obligations.filter(unit=police).count() == 1
    assert chain_verify() is None


@pytest.mark.django_db(transaction=True)
def test_a_signal_linked_while_its_unit_is_being_added_moves_that_obligations_clock():
    """The link finds no obligation for the delivered-to unit and creates one, while the duty room's add of the same
    unit is not yet committed: the link must apply its evidence to that obligation, not fail."""
    import time

    from django.db import transaction

    from reporting import signal_services

    town = Unit.objects.create(code="t", name="某镇", kind=UnitKind.TOWN)
    police = Unit.objects.create(code="police", name="区公安分局", kind=UnitKind.DEPARTMENT)
    duty = User.objects.create_user(username="duty", password="x", role=Role.DUTY_ROOM)
    incident = services.incident_create(
        actor=duty,
        now=NOW,
        title="并发关联线索",
        domain="social_security",
        occurred_at=NOW - timedelta(minutes=30),
        location="某处",
        units=[{"unit": town, "first_known_at": NOW - timedelta(minutes=20)}],
    )
    signal, _ = signal_services.signal_ingest(
        actor=duty,
        now=NOW,
        source="110",
        external_id="A-1",
        received_at=NOW - timedelta(minutes=16),
        delivered_to=police,
        delivered_at=NOW - timedelta(minutes=15),
    )
    outcome = []

    def link():
        try:
            signal_services.signal_link(signal=signal, incident=incident, actor=duty, now=NOW)
            outcome.append("linked")
        except Exception as exc:  # noqa: BLE001 - the assertion shows it
            outcome.append(repr(exc))
        finally:
            connections.close_all()

    with transaction.atomic():
        services.incident_add_unit(
            incident=incident,
            unit=police,
            first_known_at=NOW - timedelta(minutes=5),
            channel="duty_room",
            actor=duty,
            now=NOW,
        )
        thread = threading.Thread(target=link)
        thread.start()
        time.sleep(1.0)  # the link is now waiting on the unique index
    thread.join(timeout=60)
    assert outcome == ["linked"]
    obligation = incident.obligations.get(unit=police)
    assert obligation.first_known_at == NOW - timedelta(minutes=15)  # the delivery, earlier than the declared time
    assert obligation.first_known_channel == "110"
    assert chain_verify() is None
