"""A district leader's journey in a real browser (Debian's chromium through Playwright), on a phone: the SMS of a
death, sent by the real twilio SDK to the Prism mock, and the incident page its link opens, read-only."""

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from notifications.delivery import notification_send
from notifications.models import Notification
from reporting.models import Contact, ContactRole, Role
from tests.conftest import make_user
from tests.web.conftest import open_incident, sign_in_here

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]


@pytest.fixture
def safety_leader(units):
    contact = Contact.objects.create(
        unit=units["duty-room"],
        name="区领导甲",
        role=ContactRole.DISTRICT_LEADER,
        phone="+8617000000040",
        email="leader@example.org",
        portfolio=["production_safety"],
    )
    return make_user("safety-leader", Role.DISTRICT_LEADER, contact=contact)


def test_the_leaders_sms_of_a_death_leads_to_the_incident_page(
    phone_page, live_server, units, duty_room, safety_leader, twilio_settings, twilio_recorder, settings
):
    settings.PUBLIC_BASE_URL = live_server.url
    settings.SMS_RATE_PER_SECOND = 0
    incident = open_incident(duty_room, units["sijing"], known_minutes_ago=3, title="泗泾镇某厂房火灾", deaths=1)
    sms = Notification.objects.get(incident=incident, step="event_deaths", channel="sms")
    assert notification_send(notification_id=sms.pk, token="t", now=timezone.now()) == "sent"
    [request] = twilio_recorder.messages()
    assert request.status == 201 and request.form["To"] == "+8617000000040"
    link = re.search(r"https?://\S+", request.form["Body"])[0]
    assert request.form["Body"].startswith(f"{incident.number} 泗泾镇某厂房火灾（") and link in request.form["Body"]
    page = phone_page
    page.goto(link)
    page.wait_for_url(f"{live_server.url}/login/**")
    sign_in_here(page, "safety-leader")
    page.wait_for_url(link)
    expect(page.locator("h1")).to_contain_text("泗泾镇某厂房火灾")
    # Read-only: nothing to submit on the page but the language switch and signing out.
    forms = page.locator("main form")
    assert forms.count() == 0, [forms.nth(i).get_attribute("action") for i in range(forms.count())]
