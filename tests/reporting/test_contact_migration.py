"""The data migration that fills in when people were made inactive (and active again) from the audit chain."""

from __future__ import annotations

import importlib
from datetime import timedelta

import pytest
from django.apps import apps

from reporting import roster_services
from reporting.models import Contact
from tests.conftest import NOW

pytestmark = pytest.mark.django_db

migration = importlib.import_module("reporting.migrations.0013_contact_deactivated_at_backfill")


def test_the_moments_come_from_the_last_recorded_changes(units):
    left = Contact.objects.create(unit=units["sijing"], name="离职", phone="+8613800000701", role="duty_officer")
    back = Contact.objects.create(unit=units["sijing"], name="复岗", phone="+8613800000702", role="duty_officer")
    never = Contact.objects.create(unit=units["sijing"], name="在岗", phone="+8613800000703", role="duty_officer")
    steps = [(left, False), (back, False), (left, True), (left, False), (back, True)]
    for minutes, (person, active) in enumerate(steps):
        at = NOW + timedelta(minutes=minutes)
        roster_services.contact_update(contact=person, changes={"active": active}, actor=None, now=at)
    Contact.objects.update(deactivated_at=None, reactivated_at=None)  # as before the migration
    migration.from_the_audit_chain(apps, None)
    got = {c.name: (c.deactivated_at, c.reactivated_at) for c in Contact.objects.filter(pk__in=[left.pk, back.pk])}
    minute = timedelta(minutes=1)
    assert got == {"离职": (NOW + 3 * minute, NOW + 2 * minute), "复岗": (NOW + minute, NOW + 4 * minute)}
    never.refresh_from_db()
    assert (never.deactivated_at, never.reactivated_at) == (None, None)
