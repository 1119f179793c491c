"""The unit duty officer's journey in a real browser (Debian's chromium through Playwright), on a phone: the SMS
link, sending the form twice, a session that ended while typing, the language switch in the middle of a report."""

import pytest
from playwright.sync_api import expect

from reporting.links import filing_token
from reporting.models import Report
from tests.web.conftest import login, open_incident

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]

WRITTEN_TYPED = {"account": "厂房起火, 明火已扑灭", "measures": "消防到场处置", "injuries": "1"}


def fill(page, values: dict[str, str]) -> None:
    for name, value in values.items():
        page.fill(f"#id_{name}", value)


def test_back_and_report_again_after_filing_files_nothing_twice(phone_page, live_server, units, sijing_officer):
    page = phone_page
    obligation = open_incident(
        sijing_officer, units["sijing"], known_minutes_ago=20, title="泗泾镇某厂房火灾"
    ).obligations.get()
    login(page, live_server, "sijing-officer", next_path=f"/f/{filing_token(obligation.pk)}")
    fill(page, WRITTEN_TYPED)
    page.click("button[value=file]")
    page.wait_for_url(f"{live_server.url}/reports/**")
    page.goto(f"{live_server.url}/obligations/{obligation.pk}/file/")
    expect(page.locator("#filed-reports")).to_contain_text("书面报")
    page.check("input[name=kind][value=follow_up]")
    page.fill("#id_account", "伤员已送医, 无生命危险")
    page.click("button[value=file]")
    page.wait_for_url(f"{live_server.url}/reports/**")
    first_url = page.url
    page.go_back()
    page.wait_for_url(f"{live_server.url}/obligations/**")
    button = page.locator("button[value=file]")
    expect(button).to_be_enabled()
    button.click()
    page.wait_for_url(f"{live_server.url}/reports/**")
    assert page.url == first_url
    expect(page.locator(".messages")).to_contain_text("重复提交未再报送")
    assert obligation.reports.filed().filter(kind="follow_up").count() == 1
    assert Report.objects.filed().count() == 2
