"""The unit duty officer's journey in a real browser (Debian's chromium through Playwright), on a phone: the SMS
link, sending the form twice, a session that ended while typing, the language switch in the middle of a report."""

import pytest
from playwright.sync_api import expect

from reporting.links import filing_token
from reporting.models import Report
from tests.web.conftest import login, open_incident, sign_in_here

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


def test_a_report_typed_while_the_session_ended_comes_back_after_login(phone_page, live_server, units, sijing_officer):
    page = phone_page
    incident = open_incident(sijing_officer, units["sijing"], known_minutes_ago=20, title="泗泾镇某厂房火灾")
    obligation = incident.obligations.get()
    link = f"{live_server.url}/f/{filing_token(obligation.pk)}"
    login(page, live_server, "sijing-officer", next_path=f"/f/{filing_token(obligation.pk)}")
    typed = {**WRITTEN_TYPED, "account": "三号厂房起火, 一人轻伤, 已送医" * 20, "contact_phone": "13800138000"}
    fill(page, typed)
    page.context.clear_cookies(name="sessionid")  # the session ended while the officer was typing
    page.click("button[value=file]")
    page.wait_for_url(f"{live_server.url}/login/**")
    expect(page.locator(".messages")).to_contain_text("报告尚未报送")
    sign_in_here(page, "sijing-officer")
    page.wait_for_url(link)
    expect(page.locator(".messages")).to_contain_text("已恢复")
    for name, value in typed.items():
        expect(page.locator(f"#id_{name}")).to_have_value(value)
    assert not Report.objects.exists()  # nothing filed behind the officer's back
    page.click("button[value=file]")
    page.wait_for_url(f"{live_server.url}/reports/**")
    report = Report.objects.filed().get()
    assert report.account == typed["account"] and report.contact_phone == "+8613800138000"


def test_a_refused_csrf_submission_leads_back_to_the_form_with_the_text(phone_page, live_server, units, sijing_officer):
    page = phone_page
    incident = open_incident(sijing_officer, units["sijing"], known_minutes_ago=20, title="泗泾镇某厂房火灾")
    obligation = incident.obligations.get()
    login(page, live_server, "sijing-officer", next_path=f"/f/{filing_token(obligation.pk)}")
    fill(page, WRITTEN_TYPED)
    page.context.clear_cookies(name="csrftoken")
    page.click("button[value=file]")
    expect(page.locator("h1")).to_have_text("页面已过期, 未能提交")
    page.click("#back-to-form")
    for name, value in WRITTEN_TYPED.items():
        expect(page.locator(f"#id_{name}")).to_have_value(value)
    page.click("button[value=file]")
    page.wait_for_url(f"{live_server.url}/reports/**")
    assert Report.objects.filed().get().account == WRITTEN_TYPED["account"]


def test_switching_to_english_in_the_middle_of_a_report_keeps_what_was_typed(
    phone_page, live_server, units, sijing_officer
):
    page = phone_page
    incident = open_incident(sijing_officer, units["sijing"], known_minutes_ago=20, title="泗泾镇某厂房火灾")
    obligation = incident.obligations.get()
    login(page, live_server, "sijing-officer", next_path=f"/f/{filing_token(obligation.pk)}")
    fill(page, WRITTEN_TYPED)
    page.select_option("#lang-select", "en")
    expect(page.locator("button[value=file]")).to_have_text("File report")
    for name, value in WRITTEN_TYPED.items():
        expect(page.locator(f"#id_{name}")).to_have_value(value)
    expect(page.locator("#id_kind_0")).to_be_checked()
    page.select_option("#lang-select", "zh-hans")
    expect(page.locator("button[value=file]")).to_have_text("报送")
    expect(page.locator("#id_account")).to_have_value(WRITTEN_TYPED["account"])
    # Shown again later (not a language switch), the form starts from the record, not from the old typing.
    page.reload()
    expect(page.locator("#id_account")).to_have_value("")


def no_horizontal_overflow(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_correcting_a_filed_report_on_a_phone(phone_page, live_server, units, sijing_officer):
    """SPEC rule 7: the officer opens the correction from the filed list, finds the form filled in from the report,
    changes the wrong place only and files a follow-up that references it; each report's page links the other."""
    page = phone_page
    page.set_viewport_size({"width": 360, "height": 780})
    obligation = open_incident(
        sijing_officer, units["sijing"], known_minutes_ago=20, title="泗泾镇某厂房火灾"
    ).obligations.get()
    login(page, live_server, "sijing-officer", next_path=f"/f/{filing_token(obligation.pk)}")
    fill(page, {**WRITTEN_TYPED, "location": "泗泾镇某路1号"})
    page.click("button[value=file]")
    page.wait_for_url(f"{live_server.url}/reports/**")
    written = Report.objects.filed().get()
    page.click("#correct-this")
    expect(page.locator("#correcting-notice")).to_contain_text("正在更正: 书面报")
    expect(page.locator("input[name=kind][value=follow_up]")).to_be_checked()
    expect(page.locator("#id_references")).to_have_value(str(written.pk))
    expect(page.locator("#id_location")).to_have_value("泗泾镇某路1号")
    expect(page.locator("#id_account")).to_have_value(WRITTEN_TYPED["account"])
    assert no_horizontal_overflow(page)
    page.fill("#id_location", "泗泾镇某路11号")
    page.click("button[value=file]")
    page.wait_for_url(f"{live_server.url}/reports/**")
    expect(page.locator("#corrects")).to_contain_text("书面报")
    assert no_horizontal_overflow(page)
    page.click("#corrects a")
    expect(page.locator("#corrected-by")).to_contain_text("续报 (第 1 份)")
    correction = Report.objects.filed().get(kind="follow_up")
    assert correction.references_id == written.pk and correction.location == "泗泾镇某路11号"
    assert Report.objects.get(pk=written.pk).location == "泗泾镇某路1号"  # the original stays as filed


def test_choosing_a_report_to_correct_makes_the_report_a_follow_up(phone_page, live_server, units, sijing_officer):
    page = phone_page
    obligation = open_incident(
        sijing_officer, units["sijing"], known_minutes_ago=10, title="泗泾镇某厂房火灾"
    ).obligations.get()
    login(page, live_server, "sijing-officer", next_path=f"/f/{filing_token(obligation.pk)}")
    page.check("input[name=kind][value=verbal]")
    fill(page, {"location": "泗泾镇某路1号", "account": "厂房起火", "deaths": "0", "injuries": "0", "missing": "0"})
    page.click("button[value=file]")
    page.wait_for_url(f"{live_server.url}/reports/**")
    page.goto(f"{live_server.url}/obligations/{obligation.pk}/file/")
    expect(page.locator("input[name=kind][value=written]")).to_be_checked()  # still due
    verbal = Report.objects.filed().get()
    page.select_option("#id_references", str(verbal.pk))
    expect(page.locator("input[name=kind][value=follow_up]")).to_be_checked()
    page.select_option("#id_references", "")
    page.check("input[name=kind][value=written]")
    expect(page.locator("#id_references")).to_have_value("")


def test_long_text_fields_count_what_is_left_in_both_languages(phone_page, live_server, units, sijing_officer):
    """A browser silently cuts a paste at maxlength: the field says how much is used, warns near and at the limit,
    and announces each change of warning once; nothing overflows a 360 px phone."""
    page = phone_page
    page.set_viewport_size({"width": 360, "height": 780})
    obligation = open_incident(
        sijing_officer, units["sijing"], known_minutes_ago=10, title="泗泾镇某厂房火灾"
    ).obligations.get()
    login(page, live_server, "sijing-officer", next_path=f"/obligations/{obligation.pk}/file/")
    counter = page.locator("#id_account_count")
    expect(counter).to_contain_text("0/5000")
    assert "id_account_count" in page.get_attribute("#id_account", "aria-describedby")
    page.fill("#id_account", "火" * 4400)
    expect(counter).to_contain_text("4400/5000")
    expect(counter).not_to_have_class("char-count near")
    page.fill("#id_account", "火" * 4600)
    expect(counter).to_have_class("char-count near")
    expect(counter).to_contain_text("还可输入 400 字")
    expect(counter.locator("[aria-live=polite]")).to_have_text("还可输入 400 字")
    page.fill("#id_account", "火" * 4800 + "\n" * 100 + "火" * 1000)  # a paste longer than the field takes
    expect(counter).to_have_class("char-count full")
    expect(counter).to_contain_text("5000/5000")
    expect(counter).to_contain_text("已达 5000 字上限")
    assert page.input_value("#id_account").count("\n") == 100
    expect(page.locator("#id_measures_count")).to_contain_text("0/5000")
    assert no_horizontal_overflow(page)
    fill(page, {"location": "泗泾镇某路1号", "injuries": "0", "measures": "消防到场", "contact_phone": "13800138000"})
    for name in ("deaths", "missing"):
        page.fill(f"#id_{name}", "0")
    page.click("button[value=file]")
    page.wait_for_url(f"{live_server.url}/reports/**")  # what the counter allowed, line breaks and all, is filed
    assert len(Report.objects.filed().get().account) == 5000

    page.goto(f"{live_server.url}/incidents/new/")
    page.select_option("#lang-select", "en")
    page.wait_for_load_state()
    summary = page.locator("#id_summary_count")
    expect(summary).to_contain_text("0/5000")
    page.fill("#id_summary", "f" * 4990)
    expect(summary).to_contain_text("10 characters left")
    page.fill("#id_summary", "f" * 5000)
    expect(summary).to_contain_text("Limit of 5000 characters reached")
    assert no_horizontal_overflow(page)


def test_text_kept_for_a_language_switch_is_not_put_into_another_users_form(
    phone_page, live_server, units, sijing_officer
):
    """A shared duty-room PC: the officer's session ends while typing, he switches the language (the page goes to
    the login page) and leaves; a colleague signs in in that tab and lands on the form: it must not come filled
    with the officer's text (kept in the tab's sessionStorage for the language switch)."""
    from reporting.models import Role
    from tests.conftest import make_user

    make_user("sijing-colleague", Role.UNIT_STAFF, units["sijing"])
    page = phone_page
    incident = open_incident(sijing_officer, units["sijing"], known_minutes_ago=20, title="泗泾镇某厂房火灾")
    obligation = incident.obligations.get()
    link = f"{live_server.url}/f/{filing_token(obligation.pk)}"
    login(page, live_server, "sijing-officer", next_path=f"/f/{filing_token(obligation.pk)}")
    fill(page, WRITTEN_TYPED)
    page.context.clear_cookies(name="sessionid")  # the session ended while the officer was typing
    page.select_option("#lang-select", "en")
    page.wait_for_url(f"{live_server.url}/login/**")
    sign_in_here(page, "sijing-colleague")
    page.wait_for_url(link)
    expect(page.locator("button[value=file]")).to_have_text("File report")
    expect(page.locator("#id_account")).to_have_value("")
    expect(page.locator("#id_measures")).to_have_value("")
    assert page.evaluate("Object.keys(window.sessionStorage).filter(k => k.startsWith('typed-report:'))") == []


def test_signing_out_leaves_no_typed_report_in_the_tab(phone_page, live_server, units, sijing_officer):
    """Text kept for a language switch stays in the tab's sessionStorage until shown; signing out clears it."""
    page = phone_page
    incident = open_incident(sijing_officer, units["sijing"], known_minutes_ago=20, title="泗泾镇某厂房火灾")
    obligation = incident.obligations.get()
    login(page, live_server, "sijing-officer", next_path=f"/f/{filing_token(obligation.pk)}")
    fill(page, WRITTEN_TYPED)
    page.evaluate("window.sessionStorage.setItem('typed-report:/elsewhere/', '[[\"account\", \"x\"]]')")
    page.click("form.logout button[type=submit]")
    page.wait_for_url(f"{live_server.url}/login/**")
    assert page.evaluate("Object.keys(window.sessionStorage).filter(k => k.startsWith('typed-report:'))") == []
