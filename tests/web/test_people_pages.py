"""人员名单: a unit keeps its own people (for its roster and as default contacts); every change is on record."""

from datetime import timedelta

import pytest
from django.utils import timezone

from reporting.models import AuditEvent, Contact, Shift

pytestmark = pytest.mark.django_db

PERSON = {
    "name": "赵新",
    "role": "shift_leader",
    "phone": "+8613800000123",
    "email": "zhao@example.org",
    "is_default": "on",
    "active": "on",
}


def test_unit_staff_add_one_of_their_people_and_can_roster_them(client, units, sijing_officer):
    client.force_login(sijing_officer)
    response = client.post("/roster/sijing/people/", PERSON)
    assert response.status_code == 302 and response["Location"] == "/roster/sijing/people/"
    person = Contact.objects.get(name="赵新")
    assert (person.unit.code, person.role, person.phone, person.is_default, person.active) == (
        "sijing",
        "shift_leader",
        "+8613800000123",
        True,
        True,
    )
    event = AuditEvent.objects.get(kind="contact_added")
    assert event.actor == "sijing-officer" and event.detail["phone"] == "+8613800000123"
    roster = client.get("/roster/sijing/")
    assert person in roster.context["form"].fields["contact"].queryset


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("phone", "1380000012"),  # a digit short
        ("phone", ""),
        ("phone", "1380000012a"),
        ("phone", "021-5767 1234"),  # a landline: the chasing SMS could not reach it
        ("name", "   "),
        ("name", "赵" * 51),
        ("name", "赵\x07新"),
        ("email", "not-an-email"),
        ("role", "district_leader"),
        ("role", "duty_room_staff"),
    ],
)
def test_a_refused_person_keeps_what_was_typed_and_writes_nothing(client, units, sijing_officer, field, value):
    client.force_login(sijing_officer)
    before = Contact.objects.count()
    response = client.post("/roster/sijing/people/", {**PERSON, field: value})
    assert response.status_code == 400 and field in response.context["form"].errors
    assert response.context["form"].data["phone"] == (value if field == "phone" else PERSON["phone"])
    assert Contact.objects.count() == before and not AuditEvent.objects.exists()


@pytest.mark.parametrize("typed", ["13800000123", "138 0000 0123", "+86 138-0000-0123", "+8613800000123"])
def test_a_mobile_typed_as_people_type_it_is_stored_in_e164(client, units, sijing_officer, typed):
    client.force_login(sijing_officer)
    response = client.post("/roster/sijing/people/", {**PERSON, "phone": typed})
    assert response.status_code == 302
    assert Contact.objects.get(name=PERSON["name"]).phone == "+8613800000123"


def test_making_someone_inactive_takes_them_off_the_roster_and_records_the_change(
    client, units, sijing_officer, duty_room
):
    person = Contact.objects.create(unit=units["sijing"], name="钱某", phone="+8613800000999", role="duty_officer")
    now = timezone.now()
    Shift.objects.create(
        unit=units["sijing"], contact=person, role="duty_officer", starts_at=now, ends_at=now + timedelta(1)
    )
    client.force_login(sijing_officer)
    page = client.get(f"/roster/people/{person.pk}/")
    assert page.status_code == 200 and page.context["form"].initial["phone"] == "+8613800000999"
    body = {"name": "钱某", "role": "duty_officer", "phone": "+8613800000888", "email": ""}  # active unticked
    response = client.post(f"/roster/people/{person.pk}/", body)
    assert response.status_code == 302
    person.refresh_from_db()
    assert person.active is False and person.phone == "+8613800000888"
    event = AuditEvent.objects.get(kind="contact_changed")
    assert event.detail["changed"] == {"phone": ["+8613800000999", "+8613800000888"], "active": [True, False]}
    assert person.deactivated_at == event.at  # when, kept: the coverage counts their hours on post before it
    stamp = timezone.localtime(person.deactivated_at).strftime("%Y-%m-%d %H:%M")
    assert f"不在用 ({stamp} 起)" in client.get("/roster/sijing/people/").content.decode()
    client.force_login(duty_room)
    rows = {r["unit"].code: r for r in client.get("/roster/").context["rows"]}
    assert rows["sijing"]["on_post"] == []


def test_saving_without_a_change_records_nothing(client, units, sijing_officer):
    person = sijing_officer.contact
    client.force_login(sijing_officer)
    body = {"name": person.name, "role": person.role, "phone": person.phone, "email": person.email, "active": "on"}
    assert client.post(f"/roster/people/{person.pk}/", body).status_code == 302
    assert not AuditEvent.objects.exists()


def test_another_units_people_are_404(client, units, sijing_officer, outsider):
    client.force_login(outsider)
    assert client.get("/roster/sijing/people/").status_code == 404
    assert client.post("/roster/sijing/people/", PERSON).status_code == 404
    person = sijing_officer.contact
    assert client.post(f"/roster/people/{person.pk}/", {**PERSON, "name": "改名"}).status_code == 404
    person.refresh_from_db()
    assert person.name == "王某" and not Contact.objects.filter(name="赵新").exists()


def test_a_district_leaders_record_is_not_edited_here(client, units, duty_room):
    leader = Contact.objects.create(
        unit=units["qwb"], name="区领导甲", phone="+8613800000555", role="district_leader", portfolio=["public_health"]
    )
    client.force_login(duty_room)
    assert client.get(f"/roster/people/{leader.pk}/").status_code == 404
    assert client.post(f"/roster/people/{leader.pk}/", {**PERSON, "role": "unit_head"}).status_code == 404
    leader.refresh_from_db()
    assert leader.role == "district_leader" and leader.portfolio == ["public_health"]


def test_readers_see_the_people_but_cannot_change_them(client, units, auditor, sijing_officer):
    client.force_login(auditor)
    page = client.get("/roster/sijing/people/")
    assert page.status_code == 200 and "王某" in page.content.decode() and page.context["form"] is None
    assert client.post("/roster/sijing/people/", PERSON).status_code == 404
    assert client.get(f"/roster/people/{sijing_officer.contact.pk}/").status_code == 404


def test_the_duty_room_adds_its_own_staff(client, units, duty_room):
    client.force_login(duty_room)
    response = client.post("/roster/duty-room/people/", {**PERSON, "role": "duty_room_staff"})
    assert response.status_code == 302
    assert Contact.objects.get(name="赵新").unit.code == "duty-room"


def test_a_refused_form_says_so_above_it_with_links_to_the_fields(client, units, sijing_officer):
    client.force_login(sijing_officer)
    html = client.post("/roster/sijing/people/", {**PERSON, "phone": "123"}).content.decode()
    assert "<h2>未能保存, 请修改以下内容后重新提交</h2>" in html and 'href="#id_phone"' in html
    html = client.post(f"/roster/people/{sijing_officer.contact.pk}/", {**PERSON, "name": ""}).content.decode()
    assert "<h2>未能保存, 请修改以下内容后重新提交</h2>" in html and 'href="#id_name"' in html
    html = client.post("/roster/sijing/shifts/", {"contact": "", "role": "duty_officer"}).content.decode()
    assert "<h2>未能排班, 请修改以下内容后重新提交</h2>" in html and 'href="#id_contact"' in html
