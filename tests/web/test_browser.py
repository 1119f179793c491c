"""The pages in a real browser: Debian's chromium driven by Playwright against pytest-django's live server.

Screenshots go to a temporary directory; with ``UPDATE_SCREENSHOTS=1`` they are written to docs/screenshots/ too.
"""

import os
import re
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.utils import timezone
from playwright.sync_api import expect

from notifications.models import SweepHeartbeat
from reporting import report_services, services, signal_services
from reporting.links import filing_token
from reporting.models import Finding, Incident, RefusedReport, Report, Signal
from reporting.web.display import local_input
from tests.web.conftest import WRITTEN, login, open_incident, sign_in_here

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]

SCREENSHOTS = Path(django_settings.BASE_DIR) / "docs" / "screenshots"


def keep_screenshot(tmp_path: Path, page, name: str, **options) -> Path:
    path = tmp_path / name
    page.screenshot(path=str(path), **options)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, SCREENSHOTS / name)
    return path


def test_login_and_role_redirect(page, live_server, duty_room, sijing_officer):
    page.goto(f"{live_server.url}/")
    assert page.url == f"{live_server.url}/login/?next=/"
    expect(page.locator("h1")).to_have_text("登录")
    page.fill("#id_username", "duty")
    page.fill("#id_password", "wrong")
    page.click("button[type=submit].primary")
    expect(page.locator("p.error")).to_contain_text("用户名或密码不正确")
    login(page, live_server, "duty")
    assert page.url == f"{live_server.url}/board/"
    page.click("text=退出")
    page.wait_for_url(f"{live_server.url}/login/")
    login(page, live_server, "sijing-officer")
    assert page.url == f"{live_server.url}/obligations/"


def test_board_highlights_overdue_and_shows_the_sweeper_banner(
    page, live_server, settings, units, duty_room, sijing_officer, outsider, tmp_path
):
    settings.BOARD_POLL_SECONDS = 1
    overdue = open_incident(outsider, units["chedun"], known_minutes_ago=70, title="车墩镇某仓库火灾")
    open_incident(sijing_officer, units["sijing"], known_minutes_ago=40, title="泗泾镇道路塌陷", deaths=1)
    open_incident(duty_room, units["police"], known_minutes_ago=8, title="防汛应急演练", exercise=True)
    open_incident(duty_room, units["emergency"], known_minutes_ago=3, title="某化工企业爆炸", deaths=3, injuries=12)
    login(page, live_server, "duty", next_path="/board/")
    banner = page.locator("#sweeper-banner")
    expect(banner).to_be_visible()  # the sweeper never ran
    expect(banner).to_contain_text("催报巡检已停止")
    row = page.locator(f"#ob-{overdue.obligations.get().pk}")
    expect(row).to_have_class("overdue alarm")
    expect(row.locator(".alarm-marker")).to_be_visible()
    expect(row).to_contain_text("超时")
    expect(page.locator("#board-rows")).to_contain_text(re.compile(r"【演练】SJ-\d{4}-\d{6} 防汛应急演练"))
    assert page.evaluate("getComputedStyle(document.querySelector('tr.overdue td')).backgroundColor") != (
        page.evaluate("getComputedStyle(document.querySelector('tr:not(.overdue):not(.empty) td')).backgroundColor")
    )
    page.evaluate("window.__sameDocument = true")

    SweepHeartbeat.objects.create(name="sweep", beat_at=timezone.now())
    expect(banner).to_be_hidden(timeout=10_000)
    later = open_incident(outsider, units["chedun"], known_minutes_ago=1, title="新报来的事件")
    expect(page.locator(f"#ob-{later.obligations.get().pk}")).to_contain_text("新报来的事件", timeout=10_000)
    page.set_viewport_size({"width": 1600, "height": 900})
    keep_screenshot(tmp_path, page, "board.png")

    SweepHeartbeat.objects.filter(name="sweep").update(beat_at=timezone.now() - timedelta(minutes=3))
    expect(banner).to_be_visible(timeout=10_000)
    assert page.evaluate("window.__sameDocument") is True  # polled, never reloaded


def test_filing_through_the_signed_link(phone_page, live_server, units, sijing_officer, tmp_path):
    page = phone_page
    incident = open_incident(sijing_officer, units["sijing"], known_minutes_ago=10, title="泗泾镇某厂房火灾")
    obligation = incident.obligations.get()
    page.goto(f"{live_server.url}/f/{filing_token(obligation.pk)}")
    assert "/login/?next=/f/" in page.url
    sign_in_here(page, "sijing-officer")
    page.wait_for_url(f"{live_server.url}/f/**")
    expect(page.locator("h1")).to_contain_text("泗泾镇某厂房火灾")
    expect(page.locator("#id_kind_0")).to_be_checked()  # written first: it also discharges the verbal report
    expect(page.locator("#id_contact_name")).to_have_value("王某")

    page.fill("#id_account", "厂房起火, 明火已扑灭, 一人轻伤送医")
    page.fill("#id_deaths", "0")
    page.fill("#id_injuries", "1")
    page.fill("#id_missing", "0")
    page.click("button[value=file]")
    measures = page.locator('.field[data-field="measures"]')
    expect(measures.locator(".field-error")).to_contain_text("缺少必报要素: 已采取措施")
    expect(page.locator("#error-summary")).to_be_visible()
    expect(page.locator("#id_account")).to_have_value("厂房起火, 明火已扑灭, 一人轻伤送医")
    expect(page.locator("#id_injuries")).to_have_value("1")
    assert RefusedReport.objects.filter(obligation=obligation).count() == 1
    keep_screenshot(tmp_path, page, "filing-form.png", full_page=True)

    page.fill("#id_measures", "消防到场处置, 街道工作人员在现场")
    page.click("button[value=file]")
    page.wait_for_url(f"{live_server.url}/reports/**")
    expect(page.locator("#verdict")).to_contain_text("按时报送")
    report = Report.objects.filed().get(obligation=obligation)
    assert report.on_time is True and report.measures == "消防到场处置, 街道工作人员在现场"


def test_late_filing_says_late(page, live_server, units, sijing_officer):
    obligation = open_incident(
        sijing_officer, units["sijing"], known_minutes_ago=70, title="迟报测试"
    ).obligations.get()
    login(page, live_server, "sijing-officer", next_path=f"/obligations/{obligation.pk}/file/")
    for field, value in {"account": "经过", "deaths": "0", "injuries": "0", "missing": "0", "measures": "处置"}.items():
        page.fill(f"#id_{field}", value)
    page.fill("#id_contact_phone", "+8617000000001")
    page.click("button[value=file]")
    expect(page.locator("#verdict")).to_contain_text("迟报")
    expect(page.locator("#verdict")).to_contain_text("超时 10 分")


def test_forged_token_shows_the_error_page(page, live_server, units, sijing_officer):
    obligation = open_incident(sijing_officer, units["sijing"], known_minutes_ago=10, title="事件").obligations.get()
    token = filing_token(obligation.pk)
    response = page.goto(f"{live_server.url}/f/{token[:-2]}xx")
    assert response.status == 404
    expect(page.locator("h1")).to_have_text("链接无效或已过期")


def test_other_units_officer_gets_404(page, live_server, units, sijing_officer, outsider):
    obligation = open_incident(sijing_officer, units["sijing"], known_minutes_ago=10, title="事件").obligations.get()
    login(page, live_server, "chedun-officer")
    response = page.goto(f"{live_server.url}/f/{filing_token(obligation.pk)}")
    assert response.status == 404
    expect(page.locator("h1")).to_have_text("页面不存在")


def test_audit_page_renders_chart_and_findings(page, live_server, units, auditor, sijing_officer, outsider):
    late = open_incident(sijing_officer, units["sijing"], known_minutes_ago=70, title="迟报").obligations.get()
    open_incident(outsider, units["chedun"], known_minutes_ago=5, title="未到期")
    Finding.objects.create(
        kind="late",
        key="late-1",
        unit=units["sijing"],
        incident=late.incident,
        obligation=late,
        detail={"delay_seconds": 600},
        found_at=timezone.now(),
    )
    Finding.objects.create(kind="roster_gap", key="gap-1", unit=units["chedun"], found_at=timezone.now())
    login(page, live_server, "auditor")
    assert page.url == f"{live_server.url}/audit/"
    chart = page.locator("#rate-chart")
    expect(chart).to_be_visible()
    expect(chart.locator('g.unit-bars[data-unit="泗泾镇"]')).to_contain_text("口头报 0.0%")
    expect(chart.locator('g.unit-bars[data-unit="车墩镇"]')).to_contain_text("口头报 0.0%")
    expect(page.locator("#findings tbody tr")).to_have_count(2)
    page.select_option("select[name=kind]", "roster_gap")
    page.click("#audit-filters button")
    expect(page.locator("#findings tbody tr")).to_have_count(1)
    expect(page.locator("#findings")).to_contain_text("双人在岗缺口")
    gap = Finding.objects.get(key="gap-1")
    row = page.locator(f"#finding-{gap.pk}")
    row.locator("select[name=decision]").select_option("dismissed")
    row.locator("button[type=submit]").click()
    expect(row.locator(".field-error")).to_contain_text("必须填写审核理由")
    row = page.locator(f"#finding-{gap.pk}")
    row.locator("input[name=reason]").fill("当日值班表已补录, 两人在岗")
    row.locator("button[type=submit]").click()
    expect(page.locator(f"#finding-{gap.pk}")).to_contain_text("已排除")
    expect(page.locator(f"#finding-{gap.pk}")).to_contain_text("当日值班表已补录, 两人在岗")
    assert "kind=roster_gap" in page.url


def test_switching_to_english(page, live_server, duty_room):
    login(page, live_server, "duty")
    expect(page.locator("header nav")).to_contain_text("值班大屏")
    page.select_option("#lang-select", "en")
    page.wait_for_load_state()
    expect(page.locator("header nav")).to_contain_text("Live board")
    expect(page.locator("h1")).to_contain_text("Open reporting clocks")
    assert page.evaluate("document.documentElement.lang") == "en"
    assert page.url == f"{live_server.url}/board/"
    page.select_option("#lang-select", "zh-hans")
    expect(page.locator("header nav")).to_contain_text("值班大屏")


def test_unit_officer_reports_a_new_incident_from_the_phone(phone_page, live_server, units, sijing_officer, tmp_path):
    page = phone_page
    login(page, live_server, "sijing-officer")
    page.click("#new-incident")
    page.wait_for_url(f"{live_server.url}/incidents/new/")
    expect(page.locator("h1")).to_contain_text("泗泾镇")
    now = timezone.now()
    page.fill("#id_title", "泗泾镇某小区燃气泄漏")
    page.select_option("#id_domain", "city_operation")
    page.fill("#id_occurred_at", local_input(now - timedelta(minutes=12)))
    page.fill("#id_location", "泗泾镇某小区3号楼")
    page.fill("#id_injuries", "1")
    page.fill("#id_first_known_at", local_input(now + timedelta(minutes=30)))  # a slip: in the future
    page.click("#incident-form button[type=submit]")
    expect(page.locator('.field[data-field="first_known_at"] .field-error')).to_contain_text("不能晚于当前时间")
    expect(page.locator("#error-summary")).to_be_visible()
    expect(page.locator("#id_title")).to_have_value("泗泾镇某小区燃气泄漏")
    assert Incident.objects.count() == 0
    keep_screenshot(tmp_path, page, "incident-new-phone.png", full_page=True)

    page.fill("#id_first_known_at", local_input(now - timedelta(minutes=8)))
    page.click("#incident-form button[type=submit]")
    # Straight on to the report, with what the incident already says.
    page.wait_for_url(re.compile(r".*/obligations/\d+/file/$"))
    expect(page.locator(".msg")).to_contain_text("事件已建立")
    expect(page.locator("h1")).to_contain_text("泗泾镇某小区燃气泄漏")
    expect(page.locator("#id_location")).to_have_value("泗泾镇某小区3号楼")
    expect(page.locator("#id_injuries")).to_have_value("1")
    incident = Incident.objects.get()
    assert (incident.title, incident.domain, incident.injuries) == ("泗泾镇某小区燃气泄漏", "city_operation", 1)
    page.fill("#id_account", "燃气管道泄漏, 已关阀, 一人轻微不适送医")
    page.fill("#id_measures", "燃气公司抢修, 周边住户疏散")
    page.click("button[value=file]")
    page.wait_for_url(f"{live_server.url}/reports/**")
    expect(page.locator("#verdict")).to_contain_text("按时报送")


def test_duty_room_opens_an_incident_and_adjusts_it(page, live_server, units, duty_room, tmp_path):
    login(page, live_server, "duty")
    page.click("#new-incident")
    now = timezone.now()
    page.fill("#id_title", "某化工企业储罐起火")
    page.select_option("#id_domain", "production_safety")
    page.fill("#id_occurred_at", local_input(now - timedelta(minutes=6)))
    page.fill("#id_location", "经开区某路8号")
    page.fill("#id_deaths", "1")
    page.check("label.unit-choice:has-text('泗泾镇') input")
    page.check("label.unit-choice:has-text('区应急局') input")
    page.fill("#id_first_known_at", local_input(now - timedelta(minutes=5)))
    keep_screenshot(tmp_path, page, "incident-new.png", full_page=True)
    page.click("#incident-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/incidents/\d+/$"))
    rows = page.locator("#incident-obligations tbody tr")
    expect(rows).to_have_count(2)
    incident = Incident.objects.get()
    assert sorted(incident.obligations.values_list("unit__code", flat=True)) == ["emergency", "sijing"]

    sijing = incident.obligations.get(unit__code="sijing")
    row = page.locator(f"#ob-{sijing.pk}")
    row.locator("summary").click()
    row.locator(f"form[action$='/obligations/{sijing.pk}/not-required/'] button").click()
    expect(page.locator(f"#ob-{sijing.pk} .field-error")).to_be_visible()  # no reason given
    page.locator(f"#nr{sijing.pk}_reason").fill("事发地不在泗泾镇, 误派")
    page.locator(f"form[action$='/obligations/{sijing.pk}/not-required/'] button").click()
    expect(page.locator(".msg")).to_contain_text("已标记无需报送")
    expect(page.locator(f"#ob-{sijing.pk}")).to_contain_text("事发地不在泗泾镇, 误派")

    page.select_option("#add_unit", "police")
    page.fill("#add_first_known_at", local_input(timezone.now() - timedelta(minutes=2)))
    page.select_option("#add_channel", "110")
    page.click("#add-unit button[type=submit]")
    expect(page.locator(".msg")).to_contain_text("已增加责任单位")
    expect(rows).to_have_count(3)
    keep_screenshot(tmp_path, page, "incident-page.png", full_page=True)


def test_duty_room_opens_an_incident_from_a_signal(page, live_server, units, duty_room, tmp_path):
    now = timezone.now()
    signal, _ = signal_services.signal_ingest(
        actor=None,
        now=now,
        source="119",
        external_id="F-2026-1128-07",
        received_at=now - timedelta(minutes=9),
        delivered_to=units["sijing"],
        delivered_at=now - timedelta(minutes=8),
        domain="production_safety",
        summary="泗泾镇某仓库起火, 有浓烟",
        location="泗泾镇某路12号",
        injuries=2,
    )
    login(page, live_server, "duty")
    page.click("nav >> text=信息线索")
    expect(page.locator(f"#signal-{signal.pk}")).to_contain_text("F-2026-1128-07")
    keep_screenshot(tmp_path, page, "signals.png", full_page=True)
    page.locator(f"#signal-{signal.pk} a.button").click()
    expect(page.locator("#from-signal")).to_contain_text("F-2026-1128-07")
    expect(page.locator("#id_title")).to_have_value("泗泾镇某仓库起火, 有浓烟")
    expect(page.locator("label.unit-choice:has-text('泗泾镇') input")).to_be_checked()
    page.click("#incident-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/incidents/\d+/$"))
    expect(page.locator("#timeline")).to_contain_text("线索关联事件")
    signal.refresh_from_db()
    obligation = signal.incident.obligations.get()
    assert (obligation.unit.code, obligation.first_known_channel) == ("sijing", "119")
    assert obligation.first_known_at <= signal.delivered_at


def test_duty_room_links_a_signal_from_the_shared_incident_list_without_javascript(
    browser, live_server, units, duty_room, sijing_officer
):
    """The incidents are listed once for the page (one <datalist>); each row's labelled field picks from it. Linking
    needs no JavaScript, as with the <select> per row before; a number not in the list is refused on the server."""
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1400, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    incident = open_incident(sijing_officer, units["sijing"], known_minutes_ago=5, title="泗泾镇某仓库火灾")
    open_incident(sijing_officer, units["chedun"], known_minutes_ago=5, title="车墩镇某路口交通事故")
    now = timezone.now()
    signals = [
        signal_services.signal_ingest(
            actor=None, now=now, source="110", external_id=f"A-{n}", received_at=now, summary=f"报警{n}"
        )[0]
        for n in range(2)
    ]
    login(page, live_server, "duty", next_path="/signals/")
    expect(page.locator("datalist#linkable-incidents option")).to_have_count(2)
    row = page.locator(f"#signal-{signals[0].pk}")
    field = row.get_by_label("关联到事件")
    expect(field).to_have_attribute("list", "linkable-incidents")
    field.fill("SJ-1999-000001")
    row.get_by_role("button", name="关联").click()
    row = page.locator(f"#signal-{signals[0].pk}")
    expect(row.locator(".field-error")).to_contain_text("未知事件")
    expect(row.get_by_label("关联到事件")).to_have_value("SJ-1999-000001")
    row.get_by_label("关联到事件").fill(incident.number)
    row.get_by_role("button", name="关联").click()
    expect(page.locator(".msg")).to_contain_text(f"线索已关联到事件 {incident.number}")
    expect(page.locator(f"#signal-{signals[0].pk}")).to_have_count(0)
    signals[0].refresh_from_db()
    assert signals[0].incident == incident and Signal.objects.get(pk=signals[1].pk).incident is None
    context.close()


def test_unit_officer_fills_the_rosters_gaps_and_the_duty_room_sees_it(
    page, live_server, units, sijing_officer, duty_room, tmp_path
):
    from reporting.models import Contact, Shift

    Contact.objects.create(unit=units["sijing"], name="李值班", phone="+8617000000011", role="shift_leader")
    login(page, live_server, "sijing-officer")
    page.click("nav >> text=值班表")
    page.wait_for_url(f"{live_server.url}/roster/sijing/")
    expect(page.locator("#gaps")).to_contain_text("无人值班")
    # Two people around the clock from the next handover for the rest of the week: the form starts there.
    for name, role in (("王某", "duty_officer"), ("李值班", "shift_leader")):
        page.select_option("#id_contact", label=f"{name} ({'值班员' if role == 'duty_officer' else '值班长'})")
        page.select_option("#id_role", role)
        page.fill("#id_days", "8")
        page.click("#shift-form button[type=submit]")
        expect(page.locator(".msg")).to_contain_text("已排班 8 个班次")
    assert Shift.objects.count() == 16
    expect(page.locator("#shifts tbody tr")).to_have_count(14)  # the week shown: 7 days × 2 people
    keep_screenshot(tmp_path, page, "roster-unit.png", full_page=True)
    # A slip: a shift that ends when it starts keeps what was typed and says why.
    page.select_option("#id_contact", label="王某 (值班员)")
    starts = page.input_value("#id_starts_at")
    page.fill("#id_ends_at", starts)
    page.click("#shift-form button[type=submit]")
    expect(page.locator('.field[data-field="ends_at"] .field-error')).to_contain_text("晚于开始")
    expect(page.locator("#id_ends_at")).to_have_value(starts)
    assert Shift.objects.count() == 16
    page.click("text=退出")
    login(page, live_server, "duty")
    page.goto(f"{live_server.url}/roster/")
    # 泗泾镇 is covered from the next handover on, so it sorts after every unit with no roster at all.
    expect(page.locator("#coverage tbody tr").last).to_have_id("unit-sijing")
    expect(page.locator("#coverage tbody tr").first).to_have_class(re.compile("overdue"))
    keep_screenshot(tmp_path, page, "roster-overview.png", full_page=True)


def test_a_week_entered_twice_is_refused_and_someone_taken_off_post_keeps_their_hours(
    page, live_server, units, sijing_officer
):
    from reporting.models import Contact, Shift

    second = Contact.objects.create(unit=units["sijing"], name="李值班", phone="+8617000000011", role="shift_leader")
    now = timezone.now()
    started = now - timedelta(hours=2)
    on_post = Shift.objects.create(
        unit=units["sijing"], contact=second, role="shift_leader", starts_at=started, ends_at=now + timedelta(hours=20)
    )
    login(page, live_server, "sijing-officer")
    page.goto(f"{live_server.url}/roster/sijing/")
    page.select_option("#id_contact", label="王某 (值班员)")
    page.select_option("#id_role", "duty_officer")
    page.fill("#id_days", "7")
    page.click("#shift-form button[type=submit]")
    expect(page.locator(".msg")).to_contain_text("已排班 7 个班次")
    # The same week again (the officer forgot it was in): refused, what was typed kept, nothing added.
    page.select_option("#id_contact", label="王某 (值班员)")
    page.select_option("#id_role", "duty_officer")
    page.fill("#id_days", "7")
    page.click("#shift-form button[type=submit]")
    expect(page.locator('.field[data-field="starts_at"] .field-error')).to_contain_text("同一岗位")
    expect(page.locator("#id_days")).to_have_value("7")
    assert Shift.objects.filter(contact=sijing_officer.contact).count() == 7
    # 李值班 goes home: the shift under way ends now; the two hours on post stay on the roster.
    page.click("button[aria-label^='提前结束 李值班']")
    expect(page.locator(".msg")).to_contain_text("班次已提前结束")
    on_post.refresh_from_db()
    assert on_post.starts_at == started and started < on_post.ends_at <= timezone.now()


def test_the_roster_and_people_pages_fit_a_phone(phone_page, live_server, units, sijing_officer, tmp_path):
    from reporting.models import Contact, Shift

    page = phone_page
    person = Contact.objects.create(
        unit=units["sijing"],
        name="李值班",
        phone="+8617000000011",
        email="li.zhiban.long-address@example.org",
        role="shift_leader",
    )
    now = timezone.now()
    Shift.objects.create(
        unit=units["sijing"], contact=person, role="shift_leader", starts_at=now, ends_at=now + timedelta(hours=10)
    )
    login(page, live_server, "sijing-officer")
    expect(page.locator("#roster-gap")).to_contain_text("不足两人在岗")
    lines = (
        "(td) => { const r = document.createRange(); r.selectNodeContents(td);"
        " return new Set([...r.getClientRects()].map((b) => Math.round(b.bottom))).size; }"
    )
    for path, cells in (("/roster/sijing/", "#shifts td"), ("/roster/sijing/people/", "#people td")):
        page.goto(f"{live_server.url}{path}")
        expect(page.locator(cells).first).to_be_visible()
        # The page itself never scrolls sideways (the table scrolls inside its frame), and no cell (a time, a
        # name, a phone number) is broken over lines.
        assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth"), path
        texts = [c for c in page.locator(cells).all() if c.inner_text().strip() and not c.locator("form, a").count()]
        assert texts and all(cell.evaluate(lines) == 1 for cell in texts), path
    keep_screenshot(tmp_path, page, "people-phone.png", full_page=True)


def test_english_pages_fit_a_phone(browser, live_server, units, duty_room, sijing_officer, tmp_path):
    """At 390 px in English (longer words, long unit names) the page itself never scrolls sideways: wide tables
    scroll inside their frame and dropdowns shrink to the screen."""
    for unit in units.values():
        unit.name_en = f"Songjiang District {unit.code.title()} Administration and Emergency Coordination Office"
        unit.save()
    now = timezone.now()
    incident = open_incident(sijing_officer, units["sijing"], known_minutes_ago=10, title="泗泾镇某厂房火灾")
    done = open_incident(sijing_officer, units["sijing"], known_minutes_ago=20, title="泗泾镇某仓库起火冒烟事件")
    report_services.report_create(
        obligation=done.obligations.get(),
        kind="written",
        actor=sijing_officer,
        now=now,
        occurred_at=now - timedelta(minutes=25),
        **WRITTEN,
    )
    for extra in ("chedun", "police", "emergency"):
        services.incident_add_unit(
            incident=incident, unit=units[extra], first_known_at=now, channel="12345", actor=duty_room, now=now
        )
    context = browser.new_context(locale="en-US", viewport={"width": 390, "height": 844}, is_mobile=True)
    context.add_cookies([{"name": "django_language", "value": "en", "url": live_server.url}])
    page = context.new_page()
    try:
        for username, paths in (
            ("duty", [f"/incidents/{incident.pk}/", "/audit/"]),
            ("sijing-officer", ["/obligations/"]),
        ):
            page.context.clear_cookies()
            context.add_cookies([{"name": "django_language", "value": "en", "url": live_server.url}])
            page.goto(f"{live_server.url}/login/")
            page.fill("#id_username", username)
            page.fill("#id_password", "pw-" + username)
            page.get_by_role("button", name="Log in").click()
            page.wait_for_load_state()
            for path in paths:
                page.goto(f"{live_server.url}{path}")
                assert page.evaluate("document.documentElement.lang") == "en"
                width = page.evaluate("document.documentElement.scrollWidth")
                keep_screenshot(tmp_path, page, f"en-390-{path.strip('/').replace('/', '-')}.png", full_page=True)
                assert width <= 390, (path, width)
    finally:
        context.close()
