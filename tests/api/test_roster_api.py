"""The duty roster through the API: as API.md says, the duty room and admin write people and shifts (units keep
their own on the pages); every change is on record."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from freezegun import freeze_time

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


def test_the_duty_room_puts_someone_on_a_units_roster_and_it_is_audited(api, duty_room, sijing_officer, body):
    response = api(duty_room).post(f"{V1}/shifts/", body, format="json")
    assert response.status_code == 201, response.json()
    shift = Shift.objects.get(pk=response.json()["id"])
    assert shift.unit.code == "sijing" and shift.contact == sijing_officer.contact
    event = AuditEvent.objects.get(kind="shift_added")
    assert event.actor == "duty" and event.object_id == str(shift.pk)
    assert event.detail["unit"] == "sijing" and event.detail["role"] == "duty_officer"


def test_unit_staff_write_no_roster_through_the_api(api, sijing_officer, body):
    """API.md: "duty room and admin may write" (the pages let a unit keep its own)."""
    client = api(sijing_officer)
    assert client.post(f"{V1}/shifts/", body, format="json").status_code == 403
    contact = sijing_officer.contact
    assert client.patch(f"{V1}/contacts/{contact.pk}/", {"phone": "+8613800000456"}, format="json").status_code == 403
    assert client.post(f"{V1}/contacts/", {**PERSON}, format="json").status_code == 403
    contact.refresh_from_db()
    assert contact.phone == "+8617000000001" and not Shift.objects.exists() and not AuditEvent.objects.exists()


def test_another_units_person_is_refused_on_the_contact(api, duty_room, units, body):
    other = Contact.objects.create(unit=units["chedun"], name="陈某", phone="+8617000000077", role="duty_officer")
    response = api(duty_room).post(f"{V1}/shifts/", {**body, "contact": other.pk}, format="json")
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


@pytest.mark.parametrize("role", ["unit_head", "district_leader", "duty_room_staff"])
def test_a_shift_is_for_one_of_the_units_posts(api, duty_room, body, role):
    """A town's shifts are for its 值班员, 值班长 and 带班领导 (the pages offer only these); a unit head or a district
    leader "on shift" would count as one of the two on post while the chasing never asks them."""
    response = api(duty_room).post(f"{V1}/shifts/", {**body, "role": role}, format="json")
    assert response.status_code == 400 and list(response.json()) == ["role"]
    assert not Shift.objects.exists() and not AuditEvent.objects.exists()


def test_the_duty_rooms_shifts_may_be_for_its_staff(api, duty_room, units, body):
    staff = Contact.objects.create(unit=units["duty-room"], name="钱某", phone="+8617000000066", role="duty_room_staff")
    response = api(duty_room).post(
        f"{V1}/shifts/", {**body, "unit": "duty-room", "contact": staff.pk, "role": "duty_room_staff"}, format="json"
    )
    assert response.status_code == 201, response.json()


@pytest.mark.parametrize(
    ("starts_at", "ends_at"),
    [("9999-12-31T20:00:00+08:00", "9999-12-31T23:00:00Z"), ("2100-12-31T20:00:00+08:00", "2101-01-01T00:01:00+08:00")],
)
def test_a_shift_beyond_the_rosters_calendar_is_refused(api, duty_room, body, starts_at, ends_at):
    response = api(duty_room).post(f"{V1}/shifts/", {**body, "starts_at": starts_at, "ends_at": ends_at}, format="json")
    assert response.status_code == 400 and "2100" in response.json()["ends_at"][0]
    assert not Shift.objects.exists()
    at_the_end = {**body, "starts_at": "2100-12-31T08:30:00+08:00", "ends_at": "2101-01-01T00:00:00+08:00"}
    assert api(duty_room).post(f"{V1}/shifts/", at_the_end, format="json").status_code == 201


def test_ends_at_equal_to_starts_at_is_refused(api, duty_room, body):
    response = api(duty_room).post(f"{V1}/shifts/", {**body, "ends_at": body["starts_at"]}, format="json")
    assert response.status_code == 400 and "ends_at" in response.json()


def test_removing_a_shift_keeps_it_on_record(api, duty_room, sijing_officer, units):
    contact = sijing_officer.contact
    start = timezone.now() + timedelta(hours=2)
    shift = Shift.objects.create(
        unit=units["sijing"],
        contact=contact,
        role=ContactRole.SHIFT_LEADER,
        starts_at=start,
        ends_at=start + timedelta(1),
    )
    response = api(duty_room).delete(f"{V1}/shifts/{shift.pk}/")
    assert response.status_code == 204 and not Shift.objects.filter(pk=shift.pk).exists()
    event = AuditEvent.objects.get(kind="shift_removed")
    assert event.object_id == str(shift.pk) and event.detail["role"] == "shift_leader"
    assert event.detail["name"] == contact.name and event.detail["starts_at"].startswith(start.date().isoformat())


PERSON = {"unit": "sijing", "name": "赵新", "phone": "+8613800000123", "role": "shift_leader"}


def test_the_duty_room_adds_a_person_and_it_is_audited(api, duty_room):
    response = api(duty_room).post(f"{V1}/contacts/", PERSON, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["unit"] == "sijing" and response.json()["role"] == "shift_leader"
    event = AuditEvent.objects.get(kind="contact_added")
    assert event.actor == "duty" and event.detail["phone"] == "+8613800000123"


def test_the_duty_room_still_keeps_district_leaders(api, duty_room):
    body = {**PERSON, "unit": "qwb", "role": "district_leader", "portfolio": ["public_health"], "notify_on_grade": True}
    response = api(duty_room).post(f"{V1}/contacts/", body, format="json")
    assert response.status_code == 201 and response.json()["portfolio"] == ["public_health"]
    assert AuditEvent.objects.get(kind="contact_added").detail["notify_on_grade"] is True


def test_a_changed_phone_is_recorded_before_and_after(api, duty_room, sijing_officer):
    contact = sijing_officer.contact
    response = api(duty_room).patch(f"{V1}/contacts/{contact.pk}/", {"phone": "+8613800000456"}, format="json")
    assert response.status_code == 200 and response.json()["phone"] == "+8613800000456"
    event = AuditEvent.objects.get(kind="contact_changed")
    assert event.detail["changed"] == {"phone": ["+8617000000001", "+8613800000456"]}


def test_a_contact_moved_to_another_unit_is_recorded_by_unit_code(api, duty_room, sijing_officer):
    contact = sijing_officer.contact
    response = api(duty_room).patch(f"{V1}/contacts/{contact.pk}/", {"unit": "chedun"}, format="json")
    assert response.status_code == 200 and response.json()["unit"] == "chedun"
    event = AuditEvent.objects.get(kind="contact_changed")
    assert event.detail["unit"] == "chedun" and event.detail["changed"] == {"unit": ["sijing", "chedun"]}


@pytest.mark.parametrize(
    ("starts", "ends", "status"),
    [(-2, 1, 409), (24, 48, 409), (-48, -24, 200), (-24, 0, 200)],
    ids=["running", "future", "ended", "ends-now"],
)
def test_a_person_with_shifts_not_ended_is_not_moved(api, duty_room, units, starts, ends, status):
    """A shift belongs to its unit's roster: moving its person away would count another unit's person on post."""
    person = Contact.objects.create(unit=units["sijing"], name="调动", phone="+8613800000778", role="duty_officer")
    now = timezone.now().replace(microsecond=0)
    Shift.objects.create(
        unit=units["sijing"],
        contact=person,
        role="duty_officer",
        starts_at=now + timedelta(hours=starts),
        ends_at=now + timedelta(hours=ends),
    )
    with freeze_time(now):
        response = api(duty_room).patch(f"{V1}/contacts/{person.pk}/", {"unit": "chedun"}, format="json")
    assert response.status_code == status, response.json()
    person.refresh_from_db()
    if status == 409:
        assert list(response.json()) == ["unit"] and "班次" in response.json()["unit"][0]
        assert person.unit.code == "sijing" and not AuditEvent.objects.exists()
    else:
        assert person.unit.code == "chedun" and AuditEvent.objects.get().kind == "contact_changed"


def test_deleting_a_person_records_them_and_their_shifts(api, duty_room, units):
    person = Contact.objects.create(unit=units["sijing"], name="误录", phone="+8613800000777", role="duty_officer")
    now = timezone.now()
    Shift.objects.create(
        unit=units["sijing"], contact=person, role="duty_officer", starts_at=now, ends_at=now + timedelta(1)
    )
    assert api(duty_room).delete(f"{V1}/contacts/{person.pk}/").status_code == 204
    assert not Contact.objects.filter(pk=person.pk).exists() and not Shift.objects.exists()
    kinds = list(AuditEvent.objects.order_by("id").values_list("kind", flat=True))
    assert kinds == ["shift_removed", "contact_removed"]


def test_a_person_a_notification_names_is_409_and_nothing_is_written(api, world, duty_room):
    contact = world["contact"]
    events = AuditEvent.objects.count()
    response = api(duty_room).delete(f"{V1}/contacts/{contact.pk}/")
    assert response.status_code == 409
    assert Contact.objects.filter(pk=contact.pk).exists() and Shift.objects.filter(contact=contact).exists()
    assert AuditEvent.objects.count() == events


def test_a_removed_person_shows_in_the_units_roster_change_log(api, client, duty_room, units):
    person = Contact.objects.create(unit=units["sijing"], name="误录", phone="+8613800000777", role="duty_officer")
    assert api(duty_room).delete(f"{V1}/contacts/{person.pk}/").status_code == 204
    client.force_login(duty_room)
    (change,) = client.get("/roster/sijing/").context["changes"]
    assert change["label"] == "删除人员" and change["what"] == "误录 · 值班员" and change["actor"] == "duty"


def test_when_a_person_was_made_inactive_is_kept_and_read_only(api, duty_room, sijing_officer):
    """Making a person inactive records when (``deactivated_at``, read-only): the coverage counts them on post before
    it. A client cannot set it."""
    contact = sijing_officer.contact
    client = api(duty_room)
    assert client.get(f"{V1}/contacts/{contact.pk}/").json()["deactivated_at"] is None
    now = timezone.now().replace(microsecond=0)
    with freeze_time(now):
        body = {"active": False, "deactivated_at": "2020-01-01T00:00:00+08:00", "reactivated_at": "2020-01-01T00:00Z"}
        response = client.patch(f"{V1}/contacts/{contact.pk}/", body, format="json")
    assert response.status_code == 200, response.json()
    stamp = now.isoformat().replace("+00:00", "Z")
    assert response.json()["deactivated_at"] == stamp and response.json()["reactivated_at"] is None
    contact.refresh_from_db()
    assert contact.deactivated_at == now and contact.reactivated_at is None
    assert AuditEvent.objects.get(kind="contact_changed").detail["deactivated_at"] == stamp
