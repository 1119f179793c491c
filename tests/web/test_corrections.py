"""Corrections on the filing form (SPEC rule 7: a filed report is never changed; a correction is a new report that
references it), through Django's test client: the choice on the form, the form filled in from the report being
corrected, the links between the two reports, the timeline, and every bad reference refused on the form with
nothing typed lost and nothing written. The browser side is in test_officer_browser.py."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from reporting import report_services, services
from reporting.models import AuditEvent, RefusedReport, Report
from reporting.web.display import local_input, local_short
from tests.web.conftest import WRITTEN, open_incident

pytestmark = pytest.mark.django_db


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def file_written(obligation, actor, **extra) -> Report:
    values = {**WRITTEN, "occurred_at": obligation.incident.occurred_at, **extra}
    return report_services.report_create(
        obligation=obligation, kind="written", actor=actor, now=timezone.now(), **values
    )


@pytest.fixture
def obligation(units, sijing_officer):
    return open_incident(
        sijing_officer, units["sijing"], known_minutes_ago=20, title="泗泾镇某厂房火灾"
    ).obligations.get()


@pytest.fixture
def written(obligation, sijing_officer) -> Report:
    return file_written(obligation, sijing_officer, location="泗泾镇某路1号", injuries=1)


def url_of(obligation) -> str:
    return f"/obligations/{obligation.pk}/file/"


def correction_post(obligation, references, **extra) -> dict:
    return {
        "kind": "follow_up",
        "references": str(references),
        "occurred_at": local_input(obligation.incident.occurred_at),
        **WRITTEN,
        "location": "泗泾镇某路11号",
        **extra,
    }


def chedun_added(obligation, units, duty_room):
    """车墩镇 added by the duty room to the form's own incident: its obligation."""
    return services.incident_add_unit(
        incident=obligation.incident,
        unit=units["chedun"],
        first_known_at=timezone.now() - timedelta(minutes=5),
        channel="duty_room",
        actor=duty_room,
        now=timezone.now(),
    )


def test_the_form_offers_each_filed_report_for_correction(client, sijing_officer, obligation, written):
    client.force_login(sijing_officer)
    html = client.get(url_of(obligation)).content.decode()
    select = re.search(r'<select name="references".*?</select>', html, re.S).group(0)
    options = re.findall(r'<option value="([^"]*)"[^>]*>(.*?)</option>', select, re.S)
    assert options[0] == ("", "否, 这是一份新报告")
    assert options[1][0] == str(written.pk)
    assert options[1][1] == f"书面报 · {local_short(written.filed_at)} · sijing-officer"
    assert f'href="?corrects={written.pk}#report-form"' in html
    assert 'id="correcting-notice"' not in html


def test_the_form_offers_no_correction_before_anything_is_filed(client, sijing_officer, obligation):
    client.force_login(sijing_officer)
    html = client.get(url_of(obligation)).content.decode()
    assert 'name="references"' not in html and "?corrects=" not in html


def test_correcting_fills_the_form_from_the_report_as_a_follow_up(client, sijing_officer, obligation, written):
    client.force_login(sijing_officer)
    html = client.get(f"{url_of(obligation)}?corrects={written.pk}").content.decode()
    notice = text(re.search(r'id="correcting-notice".*?</div>', html, re.S).group(0))
    assert f"正在更正: 书面报 ({local_short(written.filed_at)} 报送)" in notice
    assert re.search(r'<input type="radio" name="kind" value="follow_up"[^>]*checked', html)
    assert re.search(rf'<option value="{written.pk}" selected>', html)
    assert 'value="泗泾镇某路1号"' in html and "厂房起火, 明火已扑灭</textarea>" in html
    assert 'name="injuries" value="1"' in html and 'value="+8617000000001"' in html
    assert re.search(r'<input type="hidden" name="draft" id="id_draft">', html)  # a new report, not a draft's


def test_a_correction_is_a_new_follow_up_referencing_the_report_which_stays_as_filed(
    client, sijing_officer, obligation, written
):
    client.force_login(sijing_officer)
    before = Report.objects.values().get(pk=written.pk)
    response = client.post(url_of(obligation), correction_post(obligation, written.pk))
    correction = obligation.reports.filed().get(kind="follow_up")
    assert response.status_code == 302 and response["Location"] == f"/reports/{correction.pk}/"
    assert correction.references_id == written.pk and correction.location == "泗泾镇某路11号"
    assert Report.objects.values().get(pk=written.pk) == before
    event = AuditEvent.objects.filter(kind="report_filed").order_by("id").last()
    assert event.detail["references"] == written.pk
    first_event = AuditEvent.objects.filter(kind="report_filed").order_by("id").first()
    assert first_event.detail["references"] is None

    page = text(client.get(f"/reports/{correction.pk}/").content.decode())
    assert f"本报告更正: 书面报 · {local_short(written.filed_at)}" in page
    html = client.get(f"/reports/{correction.pk}/").content.decode()
    assert re.search(rf'id="corrects">[^<]*<a href="/reports/{written.pk}/"', html)
    old = client.get(f"/reports/{written.pk}/").content.decode()
    assert re.search(rf'id="corrected-by">.*?<a href="/reports/{correction.pk}/">续报 \(第 1 份\)</a>', old, re.S)
    assert 'id="corrects"' not in old

    form = text(re.search(r'id="filed-reports".*?</section>', client.get(url_of(obligation)).content.decode(), re.S)[0])
    assert "书面报" in form and "已被更正" in form and "更正书面报" in form


def test_the_incident_timeline_names_the_corrected_report(client, sijing_officer, auditor, obligation, written):
    client.force_login(sijing_officer)
    client.post(url_of(obligation), correction_post(obligation, written.pk))
    client.force_login(auditor)
    html = text(client.get(f"/incidents/{obligation.incident_id}/").content.decode())
    assert "续报 (第 1 份) · 更正 书面报" in html
    client.cookies["django_language"] = "en"
    english = text(client.get(f"/incidents/{obligation.incident_id}/").content.decode())
    assert "Follow-up (no. 1) · corrects Written" in english
    # The API's timeline, which auditors read, carries the same detail.
    timeline = client.get(f"/api/v1/incidents/{obligation.incident_id}/timeline/?page_size=500").json()["results"]
    filed = [e for e in timeline if e["kind"] == "report_filed"]
    assert [e["detail"]["references"] for e in filed] == [None, written.pk]


def test_a_correction_must_be_a_follow_up(client, sijing_officer, obligation):
    """A verbal report corrected while the written one is still due: filing the correction as the written report
    would discharge that clock with it, so the form asks for a follow-up and keeps what was typed."""
    client.force_login(sijing_officer)
    verbal = report_services.report_create(
        obligation=obligation,
        kind="verbal",
        actor=sijing_officer,
        now=timezone.now(),
        **{**WRITTEN, "occurred_at": obligation.incident.occurred_at},
    )
    response = client.post(url_of(obligation), correction_post(obligation, verbal.pk, kind="written", account="改后"))
    assert response.status_code == 400
    html = response.content.decode()
    assert "更正请选择续报报送" in text(html)
    assert "改后</textarea>" in html and 'value="泗泾镇某路11号"' in html
    assert list(Report.objects.filed()) == [verbal]


@pytest.mark.parametrize(
    "bad", ["other-incident", "other-unit", "same-incident-other-unit", "draft", "nonsense", "huge", "negative"]
)
def test_a_bad_reference_is_refused_on_the_form_and_nothing_is_written(
    client, units, sijing_officer, outsider, duty_room, obligation, written, bad
):
    both = services.incident_create(
        actor=duty_room,
        now=timezone.now(),
        title="两镇交界处火灾",
        domain="production_safety",
        occurred_at=timezone.now() - timedelta(minutes=30),
        location="泗泾镇与车墩镇交界",
        summary="",
        units=[
            {"unit": units["sijing"], "first_known_at": timezone.now() - timedelta(minutes=20), "channel": "self"},
            {"unit": units["chedun"], "first_known_at": timezone.now() - timedelta(minutes=20), "channel": "self"},
        ],
    )
    other_incident = file_written(both.obligations.get(unit=units["sijing"]), sijing_officer)
    chedun = open_incident(outsider, units["chedun"], known_minutes_ago=10, title="车墩镇某仓库火灾").obligations.get()
    other_unit = file_written(chedun, outsider)
    # Another unit's report of the form's own incident.
    chedun_here = chedun_added(obligation, units, duty_room)
    same_incident_other_unit = file_written(chedun_here, outsider)
    draft = report_services.report_create(
        obligation=obligation, kind="follow_up", actor=sijing_officer, now=timezone.now(), draft=True, account="草稿"
    )
    value = {
        "other-incident": other_incident.pk,
        "other-unit": other_unit.pk,
        "same-incident-other-unit": same_incident_other_unit.pk,
        "draft": draft.pk,
        "nonsense": "abc",
        "huge": "9" * 30,
        "negative": "-1",
    }[bad]
    client.force_login(sijing_officer)
    reports, events, refused = Report.objects.count(), AuditEvent.objects.count(), RefusedReport.objects.count()
    response = client.post(url_of(obligation), correction_post(obligation, value, account="我改过的经过"))
    assert response.status_code == 400
    html = response.content.decode()
    assert "只能更正本单位此项报送中已报送的报告, 请从列表中重新选择。" in text(html)
    assert "我改过的经过</textarea>" in html and 'value="泗泾镇某路11号"' in html
    assert (Report.objects.count(), AuditEvent.objects.count(), RefusedReport.objects.count()) == (
        reports,
        events,
        refused,
    )


def test_a_reference_to_another_unit_is_refused_for_the_duty_room_too(
    client, units, sijing_officer, outsider, duty_room, obligation, written
):
    """The form corrects the reports of its own obligation only, whoever files."""
    chedun = open_incident(outsider, units["chedun"], known_minutes_ago=10, title="车墩镇某仓库火灾").obligations.get()
    other = file_written(chedun, outsider)
    client.force_login(duty_room)
    response = client.post(url_of(obligation), correction_post(obligation, other.pk))
    assert response.status_code == 400 and not Report.objects.filter(references__isnull=False).exists()
    assert client.post(url_of(obligation), correction_post(obligation, written.pk)).status_code == 302
    assert Report.objects.get(references__isnull=False).filed_by == duty_room


@pytest.mark.parametrize("value", ["other-unit", "abc", "999999999999999999999999"])
def test_opening_a_correction_of_a_report_not_on_this_form_says_so_and_shows_nothing_of_it(
    client, units, sijing_officer, outsider, obligation, written, value
):
    chedun = open_incident(outsider, units["chedun"], known_minutes_ago=10, title="车墩镇某仓库火灾").obligations.get()
    other = file_written(chedun, outsider, location="车墩镇某路9号", account="仓库起火")
    value = str(other.pk) if value == "other-unit" else value
    client.force_login(sijing_officer)
    response = client.get(f"{url_of(obligation)}?corrects={value}")
    assert response.status_code == 200
    html = response.content.decode()
    assert "无法更正所选的报告" in text(html)
    assert "车墩镇某路9号" not in html and "仓库起火" not in html and 'id="correcting-notice"' not in html


def test_unit_staff_see_no_link_to_another_units_correction(
    client, units, sijing_officer, outsider, duty_room, obligation, written
):
    """The API lets the duty room reference any report of the incident; a unit sees only its own unit's reports."""
    chedun = chedun_added(obligation, units, duty_room)
    other = report_services.report_create(
        obligation=chedun,
        kind="follow_up",
        actor=duty_room,
        now=timezone.now(),
        references=written,
        account="更正: 地点为车墩镇",
        deaths=0,
        injuries=0,
        missing=0,
    )
    client.force_login(sijing_officer)
    html = client.get(f"/reports/{written.pk}/").content.decode()
    assert f"/reports/{other.pk}/" not in html and 'id="corrected-by"' not in html
    client.force_login(duty_room)
    assert f"/reports/{other.pk}/" in client.get(f"/reports/{written.pk}/").content.decode()


def test_a_correction_saved_as_a_draft_keeps_its_reference_until_filed(client, sijing_officer, obligation, written):
    client.force_login(sijing_officer)
    saved = client.post(url_of(obligation), {**correction_post(obligation, written.pk), "action": "draft"})
    assert saved.status_code == 200
    draft = Report.objects.drafts().get()
    assert draft.references_id == written.pk
    html = client.get(url_of(obligation)).content.decode()
    assert re.search(rf'<option value="{written.pk}" selected>', html)
    post = {**correction_post(obligation, written.pk), "draft": str(draft.pk)}
    assert client.post(url_of(obligation), post).status_code == 302
    filed = Report.objects.get(pk=draft.pk)
    assert filed.filed_at is not None and filed.references_id == written.pk
    # Choosing 否 on a draft drops the reference before filing.
    client.post(url_of(obligation), {**correction_post(obligation, written.pk), "action": "draft"})
    again = Report.objects.drafts().get()
    client.post(url_of(obligation), {**correction_post(obligation, ""), "draft": str(again.pk), "account": "新情况"})
    assert Report.objects.get(pk=again.pk).references_id is None


def test_the_same_values_as_a_correction_and_as_a_follow_up_are_two_reports(
    client, sijing_officer, obligation, written
):
    """A follow-up that says what the last one said is a repeat, but not when one corrects a report and the other
    does not."""
    client.force_login(sijing_officer)
    assert client.post(url_of(obligation), correction_post(obligation, "")).status_code == 302
    assert client.post(url_of(obligation), correction_post(obligation, written.pk)).status_code == 302
    assert [r.references_id for r in obligation.reports.filed().filter(kind="follow_up").order_by("id")] == [
        None,
        written.pk,
    ]


def test_the_report_page_offers_a_correction_to_whoever_may_file(client, sijing_officer, auditor, obligation, written):
    client.force_login(sijing_officer)
    html = client.get(f"/reports/{written.pk}/").content.decode()
    assert f'href="/obligations/{obligation.pk}/file/?corrects={written.pk}#report-form"' in html
    client.force_login(auditor)
    assert "?corrects=" not in client.get(f"/reports/{written.pk}/").content.decode()


def test_the_correction_pages_in_english(client, sijing_officer, obligation, written):
    client.force_login(sijing_officer)
    client.cookies["django_language"] = "en"
    html = text(client.get(f"{url_of(obligation)}?corrects={written.pk}").content.decode())
    assert "Correcting: Written (filed" in html and "Correct a filed report" in html
    client.post(url_of(obligation), correction_post(obligation, written.pk))
    correction = Report.objects.get(references=written)
    assert "This report corrects: Written ·" in text(client.get(f"/reports/{correction.pk}/").content.decode())
    page = text(client.get(f"/reports/{written.pk}/").content.decode())
    assert "This report was corrected" in page


# --- long text: a line break counts once ----------------------------------------------------------------------


def test_a_text_at_the_limit_with_line_breaks_is_accepted_as_the_browser_counted_it(client, sijing_officer, obligation):
    """A browser counts a line break as one character against maxlength but sends it as CRLF: a text the browser
    let through (5000 characters with line breaks) is filed, stored with LF."""
    client.force_login(sijing_officer)
    account = ("一" * 99 + "\n") * 50  # 5000 characters as the browser counts them
    assert len(account) == 5000
    post = {
        "kind": "written",
        "occurred_at": local_input(obligation.incident.occurred_at),
        **WRITTEN,
        "account": account.replace("\n", "\r\n"),
    }
    response = client.post(url_of(obligation), post)
    assert response.status_code == 302, text(response.content.decode())[:500]
    assert Report.objects.filed().get().account == account.rstrip("\n")
    too_long = {**post, "measures": "措" * 5001}
    assert client.post(url_of(obligation), {**too_long, "kind": "follow_up"}).status_code == 400
