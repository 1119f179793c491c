"""The web pages through Django's test client: roles, scoping (404 for another unit), the signed link, filing,
the board's JSON, the audit page and the language. The browser tests (test_browser.py) cover the same paths live."""

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation
from freezegun import freeze_time

from notifications.models import SweepHeartbeat
from reporting import report_services
from reporting.links import filing_token
from reporting.models import AuditEvent, DeadlineState, Finding, RefusedReport, Report
from reporting.web.display import local_input, local_short
from tests.web.conftest import WRITTEN, open_incident

pytestmark = pytest.mark.django_db


def client_for(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def sijing_incident(units, sijing_officer):
    return open_incident(sijing_officer, units["sijing"], known_minutes_ago=10, title="泗泾镇某厂房火灾")


@pytest.fixture
def sijing_obligation(sijing_incident):
    return sijing_incident.obligations.get()


# --- home and roles ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "target"),
    [
        ("sijing_officer", "/obligations/"),
        ("duty_room", "/board/"),
        ("admin_user", "/board/"),
        ("leader", "/board/"),
        ("auditor", "/audit/"),
    ],
)
def test_home_redirects_by_role(client, request, persona, target):
    client.force_login(request.getfixturevalue(persona))
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == target


def test_anonymous_goes_to_login(client):
    response = client.get("/board/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/board/"


def test_login_page_logs_in_and_follows_next(client, sijing_officer):
    response = client.post("/login/", {"username": "sijing-officer", "password": "pw-sijing-officer", "next": "/"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").headers["Location"] == "/obligations/"


def test_wrong_password_is_refused_clearly(client, sijing_officer):
    response = client.post("/login/", {"username": "sijing-officer", "password": "nope"})
    assert response.status_code == 200
    assert "用户名或密码不正确" in response.content.decode()


def test_feed_account_has_no_pages(client, feed):
    client.force_login(feed)
    assert client.get("/").status_code == 403
    assert client.get("/board/").status_code == 302
    assert client.get("/audit/").status_code == 404


# --- board ---------------------------------------------------------------------------------------------------


def test_board_data_requires_a_session(client):
    response = client.get("/board/data.json")
    assert response.status_code == 401
    assert response.json()["detail"].startswith("未登录")


def test_board_data_is_not_for_unit_staff(client, sijing_officer):
    client.force_login(sijing_officer)
    assert client.get("/board/data.json").status_code == 403
    assert client.get("/board/").status_code == 302


def test_board_data_lists_open_obligations_and_stale_heartbeat(client, units, duty_room, sijing_officer):
    late = open_incident(sijing_officer, units["sijing"], known_minutes_ago=90, title="迟报的事件")
    fresh = open_incident(duty_room, units["chedun"], known_minutes_ago=5, title="演练事件", exercise=True)
    client.force_login(duty_room)
    data = client.get("/board/data.json").json()
    assert data["heartbeat"] == {"age_seconds": None, "stale": True}
    html = data["html"]  # each row once, as HTML (no longer also as data)
    late_id, fresh_id = f'id="ob-{late.obligations.get().pk}"', f'id="ob-{fresh.obligations.get().pk}"'
    late_row, fresh_row = (html[html.index(i) : html.index("</tr>", html.index(i))] for i in (late_id, fresh_id))
    assert f'{late_id} class="overdue alarm"' in html
    assert re.search(r'超时 <span class="minutes">(59|60)</span>', late_row)
    assert f'{fresh_id} class=""' in html and '剩余 <span class="minutes">25</span>' in fresh_row
    assert html.index(late_id) < html.index(fresh_id)  # alarms first
    assert data["open_count"] == 2 and data["overdue_count"] == 1 and data["alarm_count"] == 1
    assert "【演练】" in fresh_row and str(fresh.number) in fresh_row

    SweepHeartbeat.objects.create(name="sweep", beat_at=timezone.now() - timedelta(seconds=10))
    data = client.get("/board/data.json").json()
    assert data["heartbeat"]["stale"] is False and 9 <= data["heartbeat"]["age_seconds"] <= 15


def test_board_data_takes_the_same_queries_however_many_clocks_are_open(client, units, duty_room, sijing_officer):
    """The wall screen polls every few seconds on a busy shift: its rows (incident, unit, relay) are read in one
    query, never one per row."""
    open_incident(sijing_officer, units["sijing"], known_minutes_ago=40, title="事件0")
    client.force_login(duty_room)

    def queries(path: str) -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(path).status_code == 200
        return len(ctx.captured_queries)

    few = {path: queries(path) for path in ("/board/data.json", "/board/")}
    for n in range(1, 8):
        unit = units["sijing"] if n % 2 else units["chedun"]
        open_incident(duty_room, unit, known_minutes_ago=5 * n, title=f"事件{n}", deaths=10 if n == 3 else 0)
    assert client.get("/board/data.json").json()["open_count"] == 9  # a relay among them (grade II)
    assert {path: queries(path) for path in few} == few


def test_a_relay_row_on_the_board_shows_its_one_clock_once(client, units, duty_room):
    """The relay to 区委办 and 区府办 has one clock (SPEC rule 13): the board showed its due time and state twice,
    under 口头报 and 书面报, as if it were two deadlines."""
    incident = open_incident(duty_room, units["sijing"], known_minutes_ago=5, title="重大事件", deaths=10)
    relay = incident.obligations.get(kind="relay")
    client.force_login(duty_room)
    html = client.get("/board/").content.decode()
    row = html[html.index(f'id="ob-{relay.pk}"') :]
    row = row[: row.index("</tr>")]
    assert row.count('class="due">—</td>') == 1 and row.count('class="state">—</td>') == 1
    assert row.count("state state-pending") == 1


def test_board_page_shows_banner_only_when_stale(client, duty_room):
    client.force_login(duty_room)
    SweepHeartbeat.objects.create(name="sweep", beat_at=timezone.now() - timedelta(minutes=3))
    html = client.get("/board/").content.decode()
    assert re.search(r'id="sweeper-banner" class="banner-red" role="alert" >', html)
    SweepHeartbeat.objects.filter(name="sweep").update(beat_at=timezone.now())
    html = client.get("/board/").content.decode()
    assert re.search(r'id="sweeper-banner" class="banner-red" role="alert" hidden>', html)


def test_leader_board_is_read_only(client, units, leader, sijing_officer):
    ob = open_incident(sijing_officer, units["sijing"], known_minutes_ago=10, title="事件").obligations.get()
    client.force_login(leader)
    html = client.get("/board/").content.decode()
    assert "只读" in html and f"/obligations/{ob.pk}/file/" not in html
    assert client.get(f"/obligations/{ob.pk}/file/").status_code == 404


# --- filing --------------------------------------------------------------------------------------------------


def test_forged_token_is_a_clear_404(client, sijing_obligation):
    token = filing_token(sijing_obligation.pk)
    forged = token[:-1] + ("A" if token[-1] != "A" else "B")
    for bad in (forged, "not-a-token", f"{token}.x"):
        response = client.get(f"/f/{bad}")
        assert response.status_code == 404
        assert "链接无效或已过期" in response.content.decode()


def test_expired_token_is_a_clear_404(client, sijing_obligation):
    old = filing_token(sijing_obligation.pk, at=timezone.now().timestamp() - 8 * 24 * 3600)
    response = client.get(f"/f/{old}")
    assert response.status_code == 404 and "链接无效或已过期" in response.content.decode()


def test_valid_token_asks_for_login_then_comes_back(client, sijing_obligation):
    token = filing_token(sijing_obligation.pk)
    response = client.get(f"/f/{token}")
    assert response.status_code == 302
    assert response["Location"] == f"/login/?next=/f/{token}"


def test_other_units_officer_gets_404(client, sijing_obligation, outsider):
    client.force_login(outsider)
    assert client.get(f"/f/{filing_token(sijing_obligation.pk)}").status_code == 404
    assert client.get(f"/obligations/{sijing_obligation.pk}/file/").status_code == 404
    assert client.get(f"/incidents/{sijing_obligation.incident_id}/").status_code == 404


def test_missing_element_is_refused_next_to_its_field_and_keeps_the_text(client, sijing_officer, sijing_obligation):
    client.force_login(sijing_officer)
    post = {"kind": "written", "occurred_at": local_input(sijing_obligation.incident.occurred_at), **WRITTEN}
    post["measures"] = "  "
    post["account"] = "厂房起火, 独特的描述文字"
    response = client.post(f"/f/{filing_token(sijing_obligation.pk)}", post)
    assert response.status_code == 400
    html = response.content.decode()
    assert re.search(r'data-field="measures">.*?缺少必报要素: 已采取措施', html, re.S)
    assert "厂房起火, 独特的描述文字</textarea>" in html
    assert 'value="王某"' in html
    assert Report.objects.filed().count() == 0
    assert RefusedReport.objects.get().missing_elements == ["measures"]


def test_complete_written_report_files_on_time(client, sijing_officer, sijing_obligation):
    client.force_login(sijing_officer)
    post = {"kind": "written", "occurred_at": local_input(sijing_obligation.incident.occurred_at), **WRITTEN}
    response = client.post(f"/obligations/{sijing_obligation.pk}/file/", post)
    assert response.status_code == 302
    report = Report.objects.filed().get()
    assert response["Location"] == f"/reports/{report.pk}/"
    assert report.on_time is True and report.filed_by == sijing_officer
    assert report.occurred_at == sijing_obligation.incident.occurred_at.replace(second=0, microsecond=0)
    sijing_obligation.refresh_from_db()
    assert sijing_obligation.verbal_state == DeadlineState.ON_TIME
    assert "按时报送" in client.get(response["Location"]).content.decode()


def test_late_report_shows_the_delay(client, units, sijing_officer):
    ob = open_incident(sijing_officer, units["sijing"], known_minutes_ago=75, title="迟").obligations.get()
    client.force_login(sijing_officer)
    post = {"kind": "written", "occurred_at": local_input(ob.incident.occurred_at), **WRITTEN}
    response = client.post(f"/obligations/{ob.pk}/file/", post, follow=True)
    html = response.content.decode()
    report = Report.objects.filed().get()
    assert report.on_time is False
    assert f"超时 {report.delay_seconds // 60} 分 {report.delay_seconds % 60} 秒" in html


def test_datetime_local_is_beijing_time(client, sijing_officer, sijing_obligation):
    client.force_login(sijing_officer)
    occurred = sijing_obligation.incident.occurred_at
    wall = occurred.astimezone(timezone.get_fixed_timezone(480)).strftime("%Y-%m-%dT%H:%M")
    client.post(f"/obligations/{sijing_obligation.pk}/file/", {"kind": "written", **WRITTEN, "occurred_at": wall})
    assert Report.objects.filed().get().occurred_at == occurred.replace(second=0, microsecond=0)


def test_bad_number_and_time_are_a_400_with_messages(client, sijing_officer, sijing_obligation):
    client.force_login(sijing_officer)
    post = {"kind": "written", **WRITTEN, "deaths": "two", "occurred_at": "yesterday"}
    response = client.post(f"/obligations/{sijing_obligation.pk}/file/", post)
    assert response.status_code == 400
    html = response.content.decode()
    assert "请输入整数" in html and "请输入有效的日期时间" in html
    assert 'value="two"' in html
    assert Report.objects.count() == 0


def test_future_occurred_at_is_refused(client, sijing_officer, sijing_obligation):
    client.force_login(sijing_officer)
    future = local_input(timezone.now() + timedelta(hours=2))
    response = client.post(
        f"/obligations/{sijing_obligation.pk}/file/", {"kind": "written", **WRITTEN, "occurred_at": future}
    )
    assert response.status_code == 400
    assert "时间不能晚于当前时间" in response.content.decode()


@pytest.mark.parametrize("typed", ["x", "12345", "1380000000a", "+86 170"])
def test_a_contact_phone_nobody_could_call_is_refused_and_the_text_kept(
    client, sijing_officer, sijing_obligation, typed
):
    client.force_login(sijing_officer)
    post = {"kind": "written", **WRITTEN, "occurred_at": local_input(sijing_obligation.incident.occurred_at)}
    response = client.post(f"/obligations/{sijing_obligation.pk}/file/", {**post, "contact_phone": typed})
    assert response.status_code == 400
    assert list(response.context["form"].errors) == ["contact_phone"]
    assert "不是有效的电话号码" in response.content.decode()
    assert response.context["form"].data["account"] == WRITTEN["account"]
    assert Report.objects.count() == 0


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("021-5767 1234", "+862157671234"), ("13812345678", "+8613812345678"), ("+8617000000001", "+8617000000001")],
)
def test_a_contact_phone_may_be_a_landline_or_mobile_and_is_stored_in_e164(
    client, sijing_officer, sijing_obligation, typed, stored
):
    client.force_login(sijing_officer)
    post = {"kind": "written", **WRITTEN, "occurred_at": local_input(sijing_obligation.incident.occurred_at)}
    response = client.post(f"/obligations/{sijing_obligation.pk}/file/", {**post, "contact_phone": typed})
    assert response.status_code == 302
    assert Report.objects.filed().get().contact_phone == stored


def test_the_written_report_starts_from_what_the_verbal_report_said(client, sijing_officer, sijing_obligation):
    client.force_login(sijing_officer)
    verbal = {
        "kind": "verbal",
        "occurred_at": local_input(sijing_obligation.incident.occurred_at),
        "location": "泗泾镇某路1号3号厂房",
        "account": "三号厂房起火, 一人轻伤",
        "deaths": 0,
        "injuries": 1,
        "missing": 0,
        "measures": "已疏散员工",
    }
    assert client.post(f"/obligations/{sijing_obligation.pk}/file/", verbal).status_code == 302
    form = client.get(f"/obligations/{sijing_obligation.pk}/file/").context["form"]
    assert form.initial["kind"] == "written"
    assert form.initial["account"] == verbal["account"]
    assert form.initial["measures"] == verbal["measures"]
    assert form.initial["location"] == verbal["location"]
    assert form.initial["injuries"] == 1  # the incident's figures, raised by the verbal report


def test_draft_is_saved_and_reloaded(client, sijing_officer, sijing_obligation):
    client.force_login(sijing_officer)
    url = f"/obligations/{sijing_obligation.pk}/file/"
    response = client.post(url, {"kind": "written", "account": "草稿里的经过", "action": "draft"})
    assert response.status_code == 200 and "草稿已保存" in response.content.decode()
    draft = Report.objects.drafts().get()
    assert draft.account == "草稿里的经过" and draft.filed_at is None
    assert "草稿里的经过</textarea>" in client.get(url).content.decode()
    sijing_obligation.refresh_from_db()
    assert sijing_obligation.written_state == DeadlineState.PENDING
    # Saved again later, the hint still gives the first save: the time the 压报 rule judges a draft by.
    first = local_short(draft.created_at)
    with freeze_time(timezone.now() + timedelta(minutes=7)):
        again = {"kind": "written", "account": "改过的经过", "action": "draft", "draft": draft.pk}
        html = client.post(url, again).content.decode()
        assert f"草稿首次保存于 {first}" in html


def test_duty_room_logs_a_phoned_verbal_report_with_call_time(client, duty_room, sijing_obligation):
    client.force_login(duty_room)
    call = timezone.now() - timedelta(minutes=3)
    post = {
        "kind": "verbal",
        "occurred_at": local_input(sijing_obligation.incident.occurred_at),
        "location": "泗泾镇某路1号",
        "account": "电话报告: 厂房起火",
        "deaths": 0,
        "injuries": 0,
        "missing": 0,
        "call_received_at": local_input(call),
    }
    response = client.post(f"/obligations/{sijing_obligation.pk}/file/", post)
    assert response.status_code == 302
    report = Report.objects.filed().get()
    assert report.counted_at == call.replace(second=0, microsecond=0) and report.filed_by == duty_room


def test_unit_staff_cannot_send_a_call_time(client, sijing_officer, sijing_obligation):
    client.force_login(sijing_officer)
    html = client.get(f"/obligations/{sijing_obligation.pk}/file/").content.decode()
    assert "call_received_at" not in html


# --- unit list, incident, audit ------------------------------------------------------------------------------


def test_unit_staff_list_shows_only_their_unit(client, units, sijing_officer, outsider):
    mine = open_incident(sijing_officer, units["sijing"], known_minutes_ago=10, title="泗泾的事件")
    open_incident(outsider, units["chedun"], known_minutes_ago=10, title="车墩的事件")
    client.force_login(sijing_officer)
    html = client.get("/obligations/").content.decode()
    assert "泗泾的事件" in html and "车墩的事件" not in html
    assert f"/obligations/{mine.obligations.get().pk}/file/" in html


def test_incident_timeline_is_oldest_first(client, sijing_officer, sijing_obligation):
    client.force_login(sijing_officer)
    post = {"kind": "written", "occurred_at": local_input(sijing_obligation.incident.occurred_at), **WRITTEN}
    client.post(f"/obligations/{sijing_obligation.pk}/file/", post)
    html = client.get(f"/incidents/{sijing_obligation.incident_id}/").content.decode()
    positions = [html.index(label) for label in ("事件创建", "责任单位开始计时", "报告已报送")]
    assert positions == sorted(positions)


def test_audit_page_chart_and_findings(client, units, auditor, sijing_officer):
    ob = open_incident(sijing_officer, units["sijing"], known_minutes_ago=75, title="迟").obligations.get()
    Finding.objects.create(
        kind="late",
        key="late-test-1",
        unit=units["sijing"],
        incident=ob.incident,
        obligation=ob,
        detail={"delay_seconds": 900},
        found_at=timezone.now(),
    )
    Finding.objects.create(kind="held_back", key="hb-1", unit=units["chedun"], suspected=True, found_at=timezone.now())
    Finding.objects.create(kind="late", key="ex-1", unit=units["chedun"], exercise=True, found_at=timezone.now())
    client.force_login(auditor)
    html = client.get("/audit/").content.decode()
    assert 'id="rate-chart"' in html and 'data-unit="泗泾镇"' in html
    # 泗泾镇: one obligation, nothing filed (0 % on time); 车墩镇: no obligation but a finding (no rate)
    assert html.count('class="bar bar-verbal"') == 2
    assert re.search(r'data-unit="泗泾镇">.*?口头报 0.0%.*?书面报 0.0%', html, re.S)
    assert re.search(r'data-unit="车墩镇">.*?口头报 —', html, re.S)
    assert re.search(r"<td>车墩镇</td><td>0</td>.*?<td>0</td><td>0</td><td>1</td><td>0</td>", html, re.S)
    assert "迟报 15 分钟" in html and "疑似" in html
    assert html.count('class="finding ') == 2  # the exercise finding is left out
    html = client.get("/audit/?kind=held_back").content.decode()
    assert html.count('class="finding ') == 1 and "finding-held_back" in html
    assert "/api/v1/stats/timeliness/?format=xlsx" in html


def test_audit_bad_filters_are_a_400(client, auditor):
    client.force_login(auditor)
    response = client.get("/audit/?since=28.11.2026&kind=nope")
    assert response.status_code == 400
    html = response.content.decode()
    assert "日期格式应为" in html and "未知的类型" in html


def test_audit_page_is_not_for_unit_staff(client, sijing_officer):
    client.force_login(sijing_officer)
    assert client.get("/audit/").status_code == 404


# --- language ------------------------------------------------------------------------------------------------


def test_chinese_first_even_for_an_english_browser(client, duty_room):
    client.force_login(duty_room)
    html = client.get("/board/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert "值班大屏" in html and 'lang="zh-Hans"' in html


def test_switcher_turns_the_pages_english(client, duty_room):
    client.force_login(duty_room)
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/board/"})
    assert response.status_code == 302
    html = client.get("/board/").content.decode()
    assert "Live board" in html and "Open reporting clocks" in html and 'lang="en"' in html


def test_a_page_pins_its_language_so_downloads_match_it(client, auditor):
    """An English browser that never used the switcher sees Chinese pages; the audit page's CSV (served by the API,
    which negotiates) must then be Chinese too, not English as the browser's Accept-Language alone would give."""
    client.force_login(auditor)
    english_browser = {"HTTP_ACCEPT_LANGUAGE": "en-US,en;q=0.9"}
    page = client.get("/audit/", **english_browser)
    assert page.status_code == 200 and 'lang="zh-Hans"' in page.content.decode()
    assert page.cookies["django_language"].value == "zh-hans"
    csv_header = client.get("/api/v1/stats/timeliness/?format=csv", **english_browser).content.decode("utf-8-sig")
    assert csv_header.startswith("单位代码"), csv_header[:40]
    # Once pinned, a page sets nothing more.
    assert "django_language" not in client.get("/audit/", **english_browser).cookies


def test_the_switcher_wins_over_the_pinned_language(client, auditor):
    client.force_login(auditor)
    client.get("/audit/")
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/audit/"})
    assert response.cookies["django_language"].value == "en"
    assert 'lang="en"' in client.get("/audit/").content.decode()
    csv_header = client.get("/api/v1/stats/timeliness/?format=csv").content.decode("utf-8-sig")
    assert csv_header.startswith("Unit code"), csv_header[:40]


def test_api_requests_set_no_language_cookie(client, auditor):
    client.force_login(auditor)
    response = client.get("/api/v1/stats/timeliness/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200 and "django_language" not in response.cookies


def test_every_page_string_has_an_english_translation():
    root = Path(settings.BASE_DIR)
    ids = set()
    for template in (root / "reporting/templates").rglob("*.html"):
        ids |= set(re.findall(r'{%\s*translate\s+"([^"]+)"', template.read_text()))
    for module in (root / "reporting/web").glob("*.py"):
        ids |= set(re.findall(r'\b_\(\s*"([^"]+)"\s*\)', module.read_text()))
    assert len(ids) > 100
    with translation.override("en"):
        untranslated = sorted(i for i in ids if translation.gettext(i) == i)
    assert untranslated == []


def test_filing_an_edited_draft_files_that_draft_row(client, sijing_officer, sijing_obligation):
    client.force_login(sijing_officer)
    url = f"/obligations/{sijing_obligation.pk}/file/"
    client.post(url, {"kind": "written", "account": "初稿", "action": "draft"})
    draft = Report.objects.drafts().get()
    html = client.get(url).content.decode()
    assert f'name="draft" value="{draft.pk}"' in html
    post = {"kind": "written", "occurred_at": local_input(sijing_obligation.incident.occurred_at), **WRITTEN}
    post["draft"] = draft.pk
    response = client.post(url, post)
    assert response.status_code == 302
    filed = Report.objects.get()  # one row: the draft itself was filed
    assert filed.pk == draft.pk and filed.filed_at is not None
    assert filed.account == WRITTEN["account"] and filed.created_at == draft.created_at < filed.filed_at


def test_a_draft_held_past_its_deadline_is_suspected_held_back(
    client, units, sijing_officer, django_capture_on_commit_callbacks
):
    """SPEC 压报: a draft saved before the deadline but filed after it; the web form must not hide it."""
    ob = open_incident(sijing_officer, units["sijing"], known_minutes_ago=70, title="压报").obligations.get()
    saved_at = ob.written_due_at - timedelta(minutes=5)
    draft = report_services.report_create(
        obligation=ob, kind="written", actor=sijing_officer, now=saved_at, draft=True, account="早就写好了"
    )
    client.force_login(sijing_officer)
    post = {"kind": "written", "occurred_at": local_input(ob.incident.occurred_at), **WRITTEN, "draft": draft.pk}
    # Findings are produced after the filing commits (they never lengthen the filing's lock).
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"/obligations/{ob.pk}/file/", post).status_code == 302
    assert Report.objects.filed().get().pk == draft.pk
    finding = Finding.objects.get(kind="held_back")
    assert finding.detail["rule"] == "draft_filed_after_deadline" and finding.suspected is True


def test_someone_elses_obligation_draft_id_is_ignored(client, units, sijing_officer, outsider, sijing_obligation):
    other = open_incident(outsider, units["chedun"], known_minutes_ago=5, title="车墩").obligations.get()
    foreign = report_services.report_create(
        obligation=other, kind="written", actor=outsider, now=timezone.now(), draft=True
    )
    client.force_login(sijing_officer)
    post = {"kind": "written", "occurred_at": local_input(sijing_obligation.incident.occurred_at), **WRITTEN}
    post["draft"] = foreign.pk
    assert client.post(f"/obligations/{sijing_obligation.pk}/file/", post).status_code == 302
    foreign.refresh_from_db()
    assert foreign.filed_at is None and foreign.account == ""
    assert Report.objects.filed().get().obligation_id == sijing_obligation.pk


def test_refused_draft_filing_keeps_the_draft_updated(client, sijing_officer, sijing_obligation):
    client.force_login(sijing_officer)
    url = f"/obligations/{sijing_obligation.pk}/file/"
    client.post(url, {"kind": "written", "account": "初稿", "action": "draft"})
    draft = Report.objects.drafts().get()
    response = client.post(url, {"kind": "written", "account": "改过的经过", "draft": draft.pk, "action": "file"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "改过的经过</textarea>" in html and f'name="draft" value="{draft.pk}"' in html
    draft.refresh_from_db()
    assert draft.account == "改过的经过" and draft.filed_at is None


@pytest.fixture
def late_finding(units, sijing_obligation):
    return Finding.objects.create(
        kind="late", key="late-review", unit=units["sijing"], obligation=sijing_obligation, found_at=timezone.now()
    )


def test_auditor_confirms_a_finding_with_a_reason(client, auditor, late_finding):
    client.force_login(auditor)
    url = f"/audit/findings/{late_finding.pk}/review/?kind=late"
    response = client.post(url, {"decision": "confirmed", "reason": "电话记录证实迟报"})
    assert response.status_code == 302
    assert response["Location"] == f"/audit/?kind=late#finding-{late_finding.pk}"
    late_finding.refresh_from_db()
    assert late_finding.review == "confirmed" and late_finding.reviewed_by == auditor
    assert late_finding.reason == "电话记录证实迟报"
    html = client.get("/audit/?kind=late").content.decode()
    assert "审核结论已记录" in html and "已确认" in html


def test_review_without_reason_is_refused_next_to_the_finding(client, auditor, late_finding):
    client.force_login(auditor)
    response = client.post(f"/audit/findings/{late_finding.pk}/review/", {"decision": "dismissed", "reason": " "})
    assert response.status_code == 400
    html = response.content.decode()
    assert re.search(rf'id="finding-{late_finding.pk}">.*?必须填写审核理由', html, re.S)
    assert re.search(r'<option value="dismissed" selected>', html)
    late_finding.refresh_from_db()
    assert late_finding.review == "open"


def test_an_exercise_finding_cannot_be_reviewed_on_the_page_either(client, auditor, late_finding):
    """Exercises are left out of every audit list (SPEC rule 10): the page, like the API, has no such finding."""
    Finding.objects.filter(pk=late_finding.pk).update(exercise=True)
    client.force_login(auditor)
    response = client.post(f"/audit/findings/{late_finding.pk}/review/", {"decision": "dismissed", "reason": "x"})
    assert response.status_code == 404
    late_finding.refresh_from_db()
    assert (late_finding.review, late_finding.reason) == ("open", "")


@pytest.mark.parametrize("persona", ["leader", "duty_room", "sijing_officer"])
def test_only_auditors_review(client, request, persona, late_finding):
    client.force_login(request.getfixturevalue(persona))
    response = client.post(f"/audit/findings/{late_finding.pk}/review/", {"decision": "dismissed", "reason": "x"})
    assert response.status_code == 404
    late_finding.refresh_from_db()
    assert late_finding.review == "open"
    if persona != "sijing_officer":
        assert "review-form" not in client.get("/audit/").content.decode()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("direct_loss_yuan", str(10**20)),
        ("deaths", str(10**12)),
        ("account", "起火\x00经过"),
        ("contact_phone", "1" * 21),
        ("occurred_at", "99999-01-01T00:00"),
    ],
)
def test_values_the_database_cannot_hold_are_a_400_not_a_500(client, sijing_officer, sijing_obligation, field, value):
    client.force_login(sijing_officer)
    post = {"kind": "written", **WRITTEN, "occurred_at": local_input(sijing_obligation.incident.occurred_at)}
    post[field] = value
    response = client.post(f"/obligations/{sijing_obligation.pk}/file/", post)
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert Report.objects.count() == 0


# --- serious injuries (重伤) on the filing form --------------------------------------------------------------------


def test_the_filing_form_asks_for_serious_injuries_prefilled_from_the_incident(client, units, sijing_officer):
    incident = open_incident(
        sijing_officer, units["sijing"], known_minutes_ago=10, title="重伤", injuries=12, serious_injuries=10
    )
    client.force_login(sijing_officer)
    page = client.get(f"/obligations/{incident.obligations.get().pk}/file/")
    assert page.context["form"].initial["serious_injuries"] == 10
    html = page.content.decode()
    assert 'name="serious_injuries"' in html and "其中重伤人数" in html
    # After 受伤人数, before 失踪人数.
    assert html.index('name="injuries"') < html.index('name="serious_injuries"') < html.index('name="missing"')


def test_a_filed_report_raising_serious_injuries_raises_the_grade(client, sijing_officer, sijing_obligation):
    client.force_login(sijing_officer)
    post = {"kind": "written", "occurred_at": local_input(sijing_obligation.incident.occurred_at), **WRITTEN}
    post.update(injuries="12", serious_injuries="10")
    assert client.post(f"/obligations/{sijing_obligation.pk}/file/", post).status_code == 302
    assert Report.objects.filed().get().serious_injuries == 10
    incident = sijing_obligation.incident
    incident.refresh_from_db()
    assert (incident.injuries, incident.serious_injuries, incident.grade) == (12, 10, "III")


def test_fifty_light_injuries_filed_stay_grade_iv(client, sijing_officer, sijing_obligation):
    client.force_login(sijing_officer)
    post = {"kind": "written", "occurred_at": local_input(sijing_obligation.incident.occurred_at), **WRITTEN}
    post.update(injuries="50", serious_injuries="")
    assert client.post(f"/obligations/{sijing_obligation.pk}/file/", post).status_code == 302
    assert Report.objects.filed().get().serious_injuries == 0
    incident = sijing_obligation.incident
    incident.refresh_from_db()
    assert (incident.injuries, incident.serious_injuries, incident.grade) == (50, 0, "IV")
    assert not incident.obligations.filter(kind="relay").exists()


@pytest.mark.parametrize("action", ["file", "draft"])
@pytest.mark.parametrize(
    ("figures", "message"),
    [
        ({"injuries": "1", "serious_injuries": "2"}, "不能多于受伤人数"),
        ({"injuries": "", "serious_injuries": "1"}, "须同时填写受伤人数"),
        ({"serious_injuries": "-1"}, ""),
        ({"serious_injuries": "two"}, "请输入整数"),
        ({"serious_injuries": "1.5"}, "请输入整数"),
    ],
)
def test_bad_serious_injuries_are_refused_on_their_field_and_nothing_is_written(
    client, sijing_officer, sijing_obligation, action, figures, message
):
    client.force_login(sijing_officer)
    post = {"kind": "written", "occurred_at": local_input(sijing_obligation.incident.occurred_at), **WRITTEN}
    post.update(figures, action=action)
    before = (Report.objects.count(), RefusedReport.objects.count(), AuditEvent.objects.count())
    response = client.post(f"/obligations/{sijing_obligation.pk}/file/", post)
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert list(errors) == ["serious_injuries"], errors
    assert message in errors["serious_injuries"][0]
    assert 'href="#id_serious_injuries"' in response.content.decode()
    assert "厂房起火, 明火已扑灭</textarea>" in response.content.decode()  # what was typed is kept
    assert (Report.objects.count(), RefusedReport.objects.count(), AuditEvent.objects.count()) == before


def test_a_draft_id_beyond_the_database_is_a_400(client, sijing_officer, sijing_obligation):
    client.force_login(sijing_officer)
    post = {"kind": "written", **WRITTEN, "draft": str(10**20), "action": "draft"}
    response = client.post(f"/obligations/{sijing_obligation.pk}/file/", post)
    assert response.status_code == 400
    assert Report.objects.count() == 0


def test_filing_a_draft_as_loaded_logs_no_draft_save(client, sijing_officer, sijing_obligation):
    """Pressing 报送 on a draft the form loaded unchanged files it: the timeline shows the filing, not a draft save
    in the same second."""
    client.force_login(sijing_officer)
    url = f"/obligations/{sijing_obligation.pk}/file/"
    post = {"kind": "written", "occurred_at": local_input(sijing_obligation.incident.occurred_at), **WRITTEN}
    client.post(url, {**post, "action": "draft"})
    draft = Report.objects.drafts().get()
    assert AuditEvent.objects.filter(kind="report_draft_saved").count() == 1
    # What the browser sends back: the form as the page filled it from the draft.
    form = client.get(url).context["form"]
    sent = {name: form[name].value() for name in form.fields}
    sent = {
        k: "" if v is None else (v.strftime("%Y-%m-%dT%H:%M") if hasattr(v, "strftime") else v) for k, v in sent.items()
    }
    response = client.post(url, sent)
    assert response.status_code == 302
    assert Report.objects.filed().get().pk == draft.pk
    assert AuditEvent.objects.filter(kind="report_draft_saved").count() == 1
    assert AuditEvent.objects.filter(kind="report_filed").count() == 1
