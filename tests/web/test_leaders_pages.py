"""区领导: the duty room keeps the district leaders the event rules tell (portfolio → deaths, notification list →
graded events); the page and the coverage view warn of a domain no active leader covers."""

from __future__ import annotations

import pytest

from reporting.models import AuditEvent, Contact, ContactRole

pytestmark = pytest.mark.django_db

LEADER = {
    "name": "区领导丁",
    "phone": "+8613800000401",
    "email": "ding@example.org",
    "portfolio": ["public_health", "social_security"],
    "notify_on_grade": "on",
    "active": "on",
}


@pytest.fixture
def safety_leader(units):
    return Contact.objects.create(
        unit=units["qfb"],
        name="区领导甲",
        phone="+8613800000400",
        role=ContactRole.DISTRICT_LEADER,
        portfolio=["production_safety"],
    )


def test_the_duty_room_sees_leaders_and_the_domains_no_one_covers(client, duty_room, safety_leader):
    client.force_login(duty_room)
    html = client.get("/roster/leaders/").content.decode()
    assert f'id="leader-{safety_leader.pk}"' in html and "事故灾难" in html
    uncovered = html.split('id="uncovered"', 1)[1].split("</p>", 1)[0]
    assert "自然灾害" in uncovered and "公共卫生事件" in uncovered and "事故灾难" not in uncovered
    assert "总值班室在岗人员" in uncovered  # whom a death in such a domain reaches when nobody is on the list
    assert 'id="no-list"' in html  # no one on the notification list
    assert 'id="leader-form"' in html


def test_adding_a_leader_covers_their_domains_and_is_audited(client, duty_room, units, safety_leader):
    client.force_login(duty_room)
    response = client.post("/roster/leaders/", LEADER)
    assert response.status_code == 302
    leader = Contact.objects.get(name="区领导丁")
    assert leader.role == ContactRole.DISTRICT_LEADER and leader.unit == units["duty-room"]
    assert leader.portfolio == ["public_health", "social_security"] and leader.notify_on_grade and leader.active
    event = AuditEvent.objects.get(kind="contact_added")
    assert event.actor == "duty" and event.detail["portfolio"] == ["public_health", "social_security"]
    html = client.get("/roster/leaders/").content.decode()
    uncovered = html.split('id="uncovered"', 1)[1].split("</p>", 1)[0]
    assert "公共卫生事件" not in uncovered and "自然灾害" in uncovered
    assert 'id="no-list"' not in html


def test_editing_a_leader_changes_the_portfolio_on_record(client, duty_room, safety_leader):
    client.force_login(duty_room)
    assert client.get(f"/roster/leaders/{safety_leader.pk}/").status_code == 200
    body = {**LEADER, "name": "区领导甲", "phone": "+8613800000400", "portfolio": ["natural_disaster"]}
    response = client.post(f"/roster/leaders/{safety_leader.pk}/", body)
    assert response.status_code == 302
    safety_leader.refresh_from_db()
    assert safety_leader.portfolio == ["natural_disaster"] and safety_leader.notify_on_grade
    event = AuditEvent.objects.get(kind="contact_changed")
    assert event.detail["changed"]["portfolio"] == [["production_safety"], ["natural_disaster"]]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("phone", "1380000040"),
        ("phone", "021-57671234"),
        ("name", "  "),
        ("portfolio", "weather"),
        ("email", "not-an-email"),
    ],
)
def test_bad_input_is_400_on_its_field_and_nothing_is_written(client, duty_room, field, value):
    client.force_login(duty_room)
    response = client.post("/roster/leaders/", {**LEADER, field: value})
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert not Contact.objects.exists() and not AuditEvent.objects.exists()


def test_deactivating_the_only_leader_of_a_domain_shows_it_uncovered(client, duty_room, safety_leader):
    client.force_login(duty_room)
    body = {"name": "区领导甲", "phone": "+8613800000400", "portfolio": ["production_safety"]}  # active unticked
    assert client.post(f"/roster/leaders/{safety_leader.pk}/", body).status_code == 302
    html = client.get("/roster/leaders/").content.decode()
    assert "事故灾难" in html.split('id="uncovered"', 1)[1].split("</p>", 1)[0]


@pytest.mark.parametrize("persona", ["leader", "auditor"])
def test_leaders_and_auditors_read_but_do_not_write(client, request, persona, safety_leader):
    client.force_login(request.getfixturevalue(persona))
    html = client.get("/roster/leaders/").content.decode()
    assert "区领导甲" in html and 'id="leader-form"' not in html
    assert client.post("/roster/leaders/", LEADER).status_code == 404
    assert client.get(f"/roster/leaders/{safety_leader.pk}/").status_code == 404
    assert client.post(f"/roster/leaders/{safety_leader.pk}/", LEADER).status_code == 404
    assert Contact.objects.count() == 1 and not AuditEvent.objects.exists()


def test_unit_staff_and_anonymous_do_not_see_the_leaders(client, sijing_officer, safety_leader):
    assert client.get("/roster/leaders/").status_code == 302  # to the login page
    client.force_login(sijing_officer)
    assert client.get("/roster/leaders/").status_code == 404
    assert client.get(f"/roster/leaders/{safety_leader.pk}/").status_code == 404


def test_a_unit_person_is_not_a_leader_here(client, duty_room, sijing_officer):
    client.force_login(duty_room)
    assert client.get(f"/roster/leaders/{sijing_officer.contact.pk}/").status_code == 404


def test_the_coverage_view_warns_of_uncovered_domains(client, duty_room, safety_leader):
    client.force_login(duty_room)
    html = client.get("/roster/").content.decode()
    warning = html.split('id="leaders-uncovered"', 1)[1].split("</p>", 1)[0]
    assert "自然灾害" in warning and "事故灾难" not in warning and "/roster/leaders/" in warning


def test_the_leaders_page_in_english(client, duty_room, safety_leader):
    client.force_login(duty_room)
    client.post("/i18n/setlang/", {"language": "en", "next": "/roster/leaders/"})
    html = client.get("/roster/leaders/").content.decode()
    assert "District leaders" in html and "No active district leader covers" in html
    assert "Accident/disaster" in html.split('id="leaders"', 1)[1] and "事故灾难" not in html


def test_the_duty_room_reaches_a_leader_from_their_units_people(client, duty_room, safety_leader):
    client.force_login(duty_room)
    html = client.get("/roster/qfb/people/").content.decode()
    assert f'href="/roster/leaders/{safety_leader.pk}/"' in html


def test_the_page_warns_of_a_leader_with_no_mobile_number(client, duty_room, safety_leader):
    """Such a leader's event SMS cannot be sent: the duty room is asked to phone them (notifications.events); the
    page says so beforehand, so that the number is added. English too."""
    client.force_login(duty_room)
    assert 'id="no-phone"' not in client.get("/roster/leaders/").content.decode()
    safety_leader.phone = ""
    safety_leader.save()
    html = client.get("/roster/leaders/").content.decode()
    assert 'id="no-phone"' in html and "区领导甲" in html[html.index('id="no-phone"') :].split("</p>")[0]
    client.cookies["django_language"] = "en"
    html = client.get("/roster/leaders/").content.decode()
    banner = html[html.index('id="no-phone"') :].split("</p>")[0]
    assert "no mobile number" in banner and "区领导甲" in banner
