"""The district general duty room's (区政府总值班室) shift in a real browser (Debian's chromium through Playwright):
logging phoned-in reports, the relay to 区委办 and 区府办, the live board's poll."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from reporting import obligation_services, report_services
from reporting.models import AuditEvent, Report, Signal
from reporting.web.display import local_input
from tests.web.conftest import WRITTEN, login, open_incident
from tests.web.test_officer_browser import fill
from tests.web.test_signal_pages import make_signal

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]


def test_a_call_time_typed_for_a_verbal_report_does_not_block_the_written_one_chosen_instead(
    page, live_server, units, duty_room, sijing_officer
):
    """The unit calls; the duty officer starts logging a verbal report with the time of the call, then the caller
    dictates the full written report and the officer switches to 书面报. The call-time field is hidden for a written
    report: what was typed in it must not be sent (it was, and the report was refused on a field nobody could see)."""
    incident = open_incident(sijing_officer, units["sijing"], known_minutes_ago=20, title="泗泾镇某厂房火灾")
    obligation = incident.obligations.get()
    login(page, live_server, "duty", next_path=f"/obligations/{obligation.pk}/file/")
    page.check("input[name=kind][value=verbal]")
    expect(page.locator("#id_call_received_at")).to_be_visible()
    # The bounds of SPEC rule 2 are said where the time is typed, and the field is tied to them for screen readers.
    expect(page.locator("#id_call_received_at_helptext")).to_contain_text("最早为 30 分钟前")
    expect(page.locator("#id_call_received_at")).to_have_attribute("aria-describedby", "id_call_received_at_helptext")
    page.fill("#id_call_received_at", local_input(timezone.now() - timedelta(minutes=3)))
    page.check("input[name=kind][value=written]")
    expect(page.locator("#id_call_received_at")).to_be_hidden()
    expect(page.locator("#id_call_received_at_helptext")).to_be_hidden()
    fill(page, {name: str(value) for name, value in WRITTEN.items()})
    page.click("button[name=action][value=file]")
    page.wait_for_url(f"{live_server.url}/reports/*/")
    report = Report.objects.filed().get(obligation=obligation)
    assert (report.kind, report.call_received_at) == ("written", None)
    assert report.filed_by == duty_room

    # Back to verbal on another unit's form: the field is sent again, and counts (SPEC rule 2).
    other = open_incident(duty_room, units["police"], known_minutes_ago=20, title="某路口交通事故")
    page.goto(f"{live_server.url}/obligations/{other.obligations.get().pk}/file/")
    page.check("input[name=kind][value=written]")
    page.check("input[name=kind][value=verbal]")
    call = (timezone.now() - timedelta(minutes=4)).replace(second=0, microsecond=0)
    page.fill("#id_call_received_at", local_input(call))
    fill(page, {"location": "某路口", "account": "两车相撞", "deaths": "0", "injuries": "0", "missing": "0"})
    page.click("button[name=action][value=file]")
    page.wait_for_url(f"{live_server.url}/reports/*/")
    verbal = Report.objects.filed().get(obligation__incident=other)
    assert (verbal.kind, verbal.call_received_at, verbal.counted_at) == ("verbal", call, call)


def test_a_poll_that_never_answers_shows_the_board_is_stale_and_polling_goes_on(
    page, live_server, settings, units, duty_room, sijing_officer
):
    """A wall screen left on all night: a poll whose connection hangs (a proxy or network that drops the answer
    without closing) must not freeze the board on old rows with nothing said; it gives up, says the board may be
    stale, and polls again."""
    settings.BOARD_POLL_SECONDS = 1
    open_incident(sijing_officer, units["sijing"], known_minutes_ago=5, title="泗泾镇某厂房火灾")
    login(page, live_server, "duty", next_path="/board/")
    hung = []
    page.route("**/board/data.json", lambda route: hung.append(route))  # never answered
    offline = page.locator("#board-offline")
    expect(offline).to_be_visible(timeout=20_000)
    page.unroute("**/board/data.json")
    later = open_incident(sijing_officer, units["chedun"], known_minutes_ago=1, title="车墩镇某仓库火灾")
    expect(page.locator(f"#ob-{later.obligations.get().pk}")).to_be_visible(timeout=20_000)
    expect(offline).to_be_hidden()
    assert hung


def test_the_board_polls_with_its_etag_counts_down_on_a_304_and_shows_a_change_and_a_failure(
    page, live_server, settings, units, duty_room, sijing_officer
):
    """A wall screen polling all day gets 304 with no body while nothing changed; its countdowns still run (from the
    server's time in each answer's headers), a report filed meanwhile shows on the next poll, and a failed poll says
    the board may be stale."""
    settings.BOARD_POLL_SECONDS = 1
    incident = open_incident(sijing_officer, units["sijing"], known_minutes_ago=10, title="泗泾镇某厂房火灾")
    obligation = incident.obligations.get()
    statuses = []
    page.on("response", lambda r: statuses.append(r.status) if "/board/data.json" in r.url else None)
    login(page, live_server, "duty", next_path="/board/")
    row = page.locator(f"#ob-{obligation.pk}")
    expect(row.locator(".clock")).to_contain_text("剩余 20 分钟")
    page.wait_for_function("() => document.getElementById('board-now').textContent.length === 19")

    def later(route):  # the server's clock three minutes on: nothing changed but the countdown
        response = route.fetch()
        now = datetime.fromisoformat(response.headers["x-board-now"]) + timedelta(minutes=3)
        headers = {**response.headers, "x-board-now": now.isoformat(timespec="milliseconds")}
        route.fulfill(response=response, headers=headers)

    page.route("**/board/data.json", later)
    expect(row.locator(".clock")).to_contain_text("剩余 17 分钟", timeout=10_000)
    page.unroute("**/board/data.json")
    assert 304 in statuses and 200 not in statuses  # the page's own rows were current: no poll sent them again

    report_services.report_create(
        obligation=obligation,
        kind="verbal",
        actor=sijing_officer,
        now=timezone.now(),
        **{**WRITTEN, "occurred_at": incident.occurred_at},
    )
    expect(row.locator(".state-on_time")).to_be_visible(timeout=10_000)
    assert 200 in statuses

    offline = page.locator("#board-offline")
    expect(offline).to_be_hidden()
    page.route("**/board/data.json", lambda route: route.fulfill(status=503, body="down"))
    expect(offline).to_be_visible(timeout=10_000)
    page.unroute("**/board/data.json")
    expect(offline).to_be_hidden(timeout=10_000)
    expect(row).to_be_visible()


def test_editing_the_title_keeps_figures_a_report_raised_meanwhile(page, live_server, units, duty_room, sijing_officer):
    """The duty officer opens the incident to correct its title; meanwhile the unit files a report with one death.
    Saving the title must not put back the figures the page showed when it was opened (they went 1 → 0, the grade
    down with them, and the district leaders were told of a death the record then denied)."""
    incident = open_incident(sijing_officer, units["sijing"], known_minutes_ago=10, title="泗泾镇某厂房火灾")
    login(page, live_server, "duty", next_path=f"/incidents/{incident.pk}/")
    page.click("#edit-incident summary")
    expect(page.locator("#edit_deaths")).to_have_value("0")
    report_services.report_create(
        obligation=incident.obligations.get(),
        kind="written",
        actor=sijing_officer,
        now=timezone.now(),
        **{**WRITTEN, "occurred_at": incident.occurred_at, "deaths": 1},
    )
    page.fill("#edit_title", "泗泾镇某化工厂房火灾")
    page.click("#edit-incident button[type=submit]")
    expect(page.locator("#incident-casualties")).to_contain_text("1 /")
    incident.refresh_from_db()
    assert (incident.title, incident.deaths, incident.grade) == ("泗泾镇某化工厂房火灾", 1, "IV")

    # A figure the officer does change is changed (and logged, SPEC rule 9).
    page.click("#edit-incident summary")
    page.fill("#edit_injuries", "3")
    page.click("#edit-incident button[type=submit]")
    expect(page.locator("#incident-casualties")).to_contain_text("1 / 3")
    incident.refresh_from_db()
    assert (incident.deaths, incident.injuries) == (1, 3)


def test_the_duty_room_unlinks_a_wrongly_linked_signal_and_links_it_to_the_right_incident(
    page, live_server, units, duty_room, sijing_officer
):
    """A 110 signal for 车墩镇's fire was linked to 泗泾镇's incident by mistake: 泗泾镇's clock ran from its delivery.
    The duty room unlinks it with a reason on the signal list; the clock goes back to 泗泾镇's own declared time and
    the signal waits again, to be linked to the right incident."""
    wrong = open_incident(sijing_officer, units["sijing"], known_minutes_ago=3, title="泗泾镇某厂房火灾")
    right = open_incident(duty_room, units["chedun"], known_minutes_ago=4, title="车墩镇某仓库火灾")
    signal = make_signal(units, minutes_ago=6, incident=wrong)
    obligation = wrong.obligations.get()
    assert obligation.first_known_at == signal.delivered_at
    login(page, live_server, "duty", next_path="/signals/?show=all")
    row = page.locator(f"#signal-{signal.pk}")
    row.locator("summary").click()
    # The reason is required: submitting without one keeps the link and says so on the row.
    row.locator("button[type=submit]").click()
    row = page.locator(f"#signal-{signal.pk}")
    expect(row.locator(".field-error")).to_be_visible()
    assert Signal.objects.get(pk=signal.pk).incident_id == wrong.pk
    row.locator(f"#unlink{signal.pk}_reason").fill("误关联: 该警情是车墩镇仓库火灾")
    row.locator("button[type=submit]").click()
    page.wait_for_url(f"{live_server.url}/signals/")
    expect(page.locator(".messages")).to_contain_text("已取消关联")
    obligation.refresh_from_db()
    assert obligation.first_known_at == obligation.declared_first_known_at
    assert AuditEvent.objects.get(kind="signal_unlinked").detail["reason"] == "误关联: 该警情是车墩镇仓库火灾"
    # Waiting again: linked to the right incident with the usual form.
    waiting = page.locator(f"#signal-{signal.pk}")
    waiting.locator(f"#link{signal.pk}_incident").fill(right.number)
    waiting.locator("button[type=submit]").click()
    page.wait_for_url(f"{live_server.url}/signals/")
    assert Signal.objects.get(pk=signal.pk).incident_id == right.pk


def test_the_duty_room_undoes_a_not_required_mark_made_on_the_wrong_unit(
    page, live_server, units, duty_room, sijing_officer
):
    """The duty room marked 泗泾镇 not required instead of another unit, 70 minutes after it knew: both deadlines
    have passed meanwhile. On the incident page, where the mark shows, it undoes the mark with a reason: the clocks
    run again on their original due times, overdue at once, and the sweep is due to chase the unit now."""
    incident = open_incident(sijing_officer, units["sijing"], known_minutes_ago=70, title="泗泾镇某厂房火灾")
    obligation = incident.obligations.get()
    due = (obligation.verbal_due_at, obligation.written_due_at)
    obligation_services.obligation_mark_not_required(
        obligation=obligation, reason="误标: 应为车墩镇", actor=duty_room, now=timezone.now()
    )
    login(page, live_server, "duty", next_path=f"/incidents/{incident.pk}/")
    row = page.locator(f"#ob-{obligation.pk}")
    expect(row).to_contain_text("误标: 应为车墩镇")
    row.locator("summary").click()
    restore = row.locator(f"form[action$='/obligations/{obligation.pk}/restore/']")
    # The reason is required: without one the mark stays and the form says so, open where it was.
    restore.locator("button[type=submit]").click()
    row = page.locator(f"#ob-{obligation.pk}")
    expect(row.locator(".field-error")).to_be_visible()
    obligation.refresh_from_db()
    assert obligation.is_not_required
    row.locator(f"#rs{obligation.pk}_reason").fill("标错单位, 泗泾镇确属责任单位")
    row.locator(f"form[action$='/obligations/{obligation.pk}/restore/'] button[type=submit]").click()
    expect(page.locator(".msg")).to_contain_text("已撤销无需报送")
    row = page.locator(f"#ob-{obligation.pk}")
    expect(row).to_have_class("overdue")
    expect(row).not_to_contain_text("误标: 应为车墩镇")
    expect(row.locator(f"a[href='/obligations/{obligation.pk}/file/']")).to_be_visible()
    expect(page.locator("#timeline")).to_contain_text("标错单位, 泗泾镇确属责任单位")
    obligation.refresh_from_db()
    assert (obligation.verbal_state, obligation.written_state) == ("pending", "pending")
    assert (obligation.verbal_due_at, obligation.written_due_at) == due
    assert obligation.next_action_at is not None and obligation.next_action_at <= timezone.now()
