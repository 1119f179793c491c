"""The duty roster through the API: a unit keeps its own, the duty room anyone's, and every change is on record."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from reporting.models import AuditEvent, Contact, ContactRole, Shift
from tests.api.conftest import V1

pytestmark = pytest.mark.django_db


def shanghai(dt) -> str:
    return timezone.localtime(dt, timezone.get_fixed_timezone(480)).isoformat()


@pytest.fixture
def body(sijing_officer):
    start = timezone.now() + timedelta(days=1)
    return {
        "unit": "sijing",
        "contact": sijing_officer.contact.pk,
        "role": "duty_officer",
        "starts_at": shanghai(start),
        "ends_at": shanghai(start + timedelta(hours=24)),
    }


def test_unit_staff_put_one_of_their_people_on_their_roster_and_it_is_audited(api, sijing_officer, body):
    response = api(sijing_officer).post(f"{V1}/shifts/", body, format="json")
    assert response.status_code == 201, response.json()
    shift = Shift.objects.get(pk=response.json()["id"])
    assert shift.unit.code == "sijing" and shift.contact == sijing_officer.contact
    event = AuditEvent.objects.get(kind="shift_added")
    assert event.actor == "sijing-officer" and event.object_id == str(shift.pk)
    assert event.detail["unit"] == "sijing" and event.detail["role"] == "duty_officer"


def test_unit_staff_cannot_name_another_unit(api, sijing_officer, units, body):
    other = Contact.objects.create(unit=units["chedun"], name="陈某", phone="+8617000000077", role="duty_officer")
    response = api(sijing_officer).post(f"{V1}/shifts/", {**body, "unit": "chedun", "contact": other.pk}, format="json")
    assert response.status_code == 400 and "unit" in response.json()
    assert "本单位" in response.json()["unit"][0]
    assert not Shift.objects.exists() and not AuditEvent.objects.filter(kind="shift_added").exists()


def test_another_units_person_is_refused_on_the_contact(api, sijing_officer, units, body):
    other = Contact.objects.create(unit=units["chedun"], name="陈某", phone="+8617000000077", role="duty_officer")
    response = api(sijing_officer).post(f"{V1}/shifts/", {**body, "contact": other.pk}, format="json")
    assert response.status_code == 400 and list(response.json()) == ["contact"]
    assert not Shift.objects.exists()


def test_an_inactive_person_cannot_be_put_on_duty(api, duty_room, sijing_officer, body):
    Contact.objects.filter(pk=sijing_officer.contact.pk).update(active=False)
    response = api(duty_room).post(f"{V1}/shifts/", body, format="json")
    assert response.status_code == 400 and "停用" in response.json()["contact"][0]


@pytest.mark.parametrize(("length", "status"), [(timedelta(days=7), 201), (timedelta(days=7, minutes=1), 400)])
def test_a_shift_lasts_at_most_seven_days(api, duty_room, body, length, status):
    start = timezone.now() + timedelta(days=1)
    response = api(duty_room).post(
        f"{V1}/shifts/", {**body, "starts_at": shanghai(start), "ends_at": shanghai(start + length)}, format="json"
    )
    assert response.status_code == status
    if status == 400:
        assert "7" in response.json()["ends_at"][0] and not Shift.objects.exists()


def test_ends_at_equal_to_starts_at_is_refused(api, duty_room, body):
    response = api(duty_room).post(f"{V1}/shifts/", {**body, "ends_at": body["starts_at"]}, format="json")
    assert response.status_code == 400 and "ends_at" in response.json()


def test_unit_staff_remove_their_units_shift_and_the_record_keeps_it(api, sijing_officer, units):
    contact = sijing_officer.contact
    start = timezone.now() + timedelta(hours=2)
    shift = Shift.objects.create(
        unit=units["sijing"],
        contact=contact,
        role=ContactRole.SHIFT_LEADER,
        starts_at=start,
        ends_at=start + timedelta(1),
    )
    response = api(sijing_officer).delete(f"{V1}/shifts/{shift.pk}/")
    assert response.status_code == 204 and not Shift.objects.filter(pk=shift.pk).exists()
    event = AuditEvent.objects.get(kind="shift_removed")
    assert event.object_id == str(shift.pk) and event.detail["role"] == "shift_leader"
    assert event.detail["name"] == contact.name and event.detail["starts_at"].startswith(start.date().isoformat())


def test_another_units_shift_is_404_and_stays(api, outsider, sijing_officer, units):
    now = timezone.now()
    shift = Shift.objects.create(
        unit=units["sijing"],
        contact=sijing_officer.contact,
        role="duty_officer",
        starts_at=now,
        ends_at=now + timedelta(1),
    )
    assert api(outsider).delete(f"{V1}/shifts/{shift.pk}/").status_code == 404
    assert Shift.objects.filter(pk=shift.pk).exists() and not AuditEvent.objects.exists()
