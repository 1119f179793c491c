"""The data migration that fills ``Obligation.opened_by_signal`` for obligations opened before the field existed."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from freezegun import freeze_time

from reporting import signal_services
from reporting.models import Obligation
from tests.reporting.test_findings import ingest
from tests.reporting.test_services import OCCURRED, open_incident
from tests.reporting.test_signal_unlink import DELIVERED, LINKED_AT, delivered_signal, link

pytestmark = pytest.mark.django_db

migration = importlib.import_module("reporting.migrations.0015_obligation_opened_by_signal_backfill")


def test_backfill_finds_the_obligations_a_signals_delivery_opened_and_only_those(units, sijing_officer, duty_room):
    incident = open_incident(sijing_officer, units["chedun"])
    linked = delivered_signal(units)
    link(linked, incident, duty_room)
    by_link = incident.obligations.get(unit=units["sijing"])
    pushed = ingest(
        units,
        external_id="120-9",
        at=LINKED_AT,
        unit="emergency",
        incident=incident,
        source="120",
        delivered_at=DELIVERED,
    )
    by_ingest = incident.obligations.get(unit=units["emergency"])
    # The duty room names the unit itself, with the signal's channel and time: a declaration, not the signal's.
    named_signal = delivered_signal(units, external_id="110-7", unit="chedun")
    with freeze_time(LINKED_AT):
        named = signal_services.incident_create_from_signal(
            signal=named_signal,
            actor=duty_room,
            now=LINKED_AT,
            units=[{"unit": units["chedun"], "first_known_at": DELIVERED, "channel": "110"}],
            title="车墩镇某仓库火灾",
            domain="production_safety",
            occurred_at=OCCURRED,
            location="车墩镇",
        ).obligations.get()
    declared = incident.obligations.get(unit=units["chedun"])
    assert (by_link.opened_by_signal, by_ingest.opened_by_signal) == (linked, pushed)  # the code sets it now
    Obligation.objects.update(opened_by_signal=None)  # as before the field existed

    migration.backfill(apps, None)
    opened = dict(Obligation.objects.values_list("pk", "opened_by_signal"))
    assert opened == {by_link.pk: linked.pk, by_ingest.pk: pushed.pk, named.pk: None, declared.pk: None}

    migration.clear(apps, None)
    assert set(Obligation.objects.values_list("opened_by_signal", flat=True)) == {None}
