"""The data migration that closes the written clock of relays done by phone before the relay was one clock."""

from __future__ import annotations

import importlib
from datetime import timedelta

import pytest
from django.apps import apps

from reporting.models import DeadlineState, Obligation, ObligationKind
from tests.reporting.test_services import KNOWN, file_at, open_incident

pytestmark = pytest.mark.django_db

migration = importlib.import_module("reporting.migrations.0008_relay_one_clock")


def legacy_relay_done_by_phone(units, sijing_officer, duty_room, *, minutes: int) -> tuple[Obligation, Obligation]:
    """A grade II incident whose relay was phoned ``minutes`` after it opened, as the old code stored it: the verbal
    clock decided, the written one left pending (and re-armed at its due time). Also returns 泗泾镇's obligation."""
    incident = open_incident(sijing_officer, units["sijing"], deaths=10)
    relay = incident.obligations.get(kind=ObligationKind.RELAY)
    report = file_at(KNOWN + timedelta(minutes=minutes), relay, "verbal", duty_room)
    Obligation.objects.filter(pk=relay.pk).update(
        written_state=DeadlineState.PENDING,
        written_filed_at=None,
        written_report=None,
        next_action_at=relay.written_due_at,
    )
    relay.refresh_from_db()
    assert relay.verbal_report_id == report.pk
    return relay, incident.obligations.get(kind=ObligationKind.REPORT)


@pytest.mark.parametrize(("minutes", "state"), [(15, DeadlineState.ON_TIME), (16, DeadlineState.LATE)])
def test_forward_copies_the_verbal_outcome_onto_the_pending_written_clock(
    units, sijing_officer, duty_room, minutes, state
):
    relay, report_obligation = legacy_relay_done_by_phone(units, sijing_officer, duty_room, minutes=minutes)
    file_at(KNOWN + timedelta(minutes=5), report_obligation, "verbal", sijing_officer)
    migration.close_written_clocks(apps, None)
    relay.refresh_from_db()
    assert (relay.verbal_state, relay.written_state) == (state, state)
    assert relay.written_filed_at == relay.verbal_filed_at == KNOWN + timedelta(minutes=minutes)
    assert relay.written_report_id == relay.verbal_report_id
    assert relay.next_action_at is None
    # A unit's report obligation keeps its pending written clock: only the relay is one clock.
    report_obligation.refresh_from_db()
    assert (report_obligation.verbal_state, report_obligation.written_state) == (
        DeadlineState.ON_TIME,
        DeadlineState.PENDING,
    )


def test_forward_leaves_a_pending_relay_and_a_not_required_one_alone(units, sijing_officer, duty_room):
    pending = open_incident(sijing_officer, units["sijing"], deaths=10).obligations.get(kind=ObligationKind.RELAY)
    marked, _ = legacy_relay_done_by_phone(units, sijing_officer, duty_room, minutes=10)
    Obligation.objects.filter(pk=marked.pk).update(
        written_state=DeadlineState.NOT_REQUIRED, not_required_reason="已电话转报", next_action_at=None
    )
    before = {o.pk: o for o in Obligation.objects.filter(pk__in=[pending.pk, marked.pk])}
    migration.close_written_clocks(apps, None)
    for obligation in Obligation.objects.filter(pk__in=[pending.pk, marked.pk]):
        old = before[obligation.pk]
        assert (obligation.verbal_state, obligation.written_state, obligation.written_report_id) == (
            old.verbal_state,
            old.written_state,
            old.written_report_id,
        )


def test_reverse_reopens_only_written_clocks_closed_by_a_verbal_report(units, sijing_officer, duty_room):
    phoned, _ = legacy_relay_done_by_phone(units, sijing_officer, duty_room, minutes=10)
    migration.close_written_clocks(apps, None)
    written = open_incident(sijing_officer, units["sijing"], deaths=10).obligations.get(kind=ObligationKind.RELAY)
    file_at(KNOWN + timedelta(minutes=12), written, "written", duty_room)
    migration.reopen_written_clocks(apps, None)
    phoned.refresh_from_db()
    assert (phoned.verbal_state, phoned.written_state) == (DeadlineState.ON_TIME, DeadlineState.PENDING)
    assert (phoned.written_filed_at, phoned.written_report_id) == (None, None)
    assert phoned.next_action_at == phoned.written_due_at
    written.refresh_from_db()
    assert (written.verbal_state, written.written_state) == (DeadlineState.ON_TIME, DeadlineState.ON_TIME)
    assert written.written_report_id is not None
