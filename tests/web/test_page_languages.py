"""Each page speaks one language: a refused form's messages are in the page's language only (the domain words them in
both, for the API), with the form's own labels rather than raw field names, and nothing typed is lost; choices and
roles are translated on English pages."""

import html as html_lib
import re
from datetime import timedelta

import pytest
from django.utils import timezone, translation

from notifications.models import Audience, NotificationChannel, NotificationStatus
from reporting import obligation_services, report_services, services
from reporting.models import (
    Channel,
    Contact,
    ContactRole,
    DeadlineState,
    Domain,
    Finding,
    Grade,
    ObligationKind,
    Report,
    ReportKind,
    Role,
    UnitKind,
)
from reporting.web.bilingual import KNOWN, PATTERNS, localize, split
from reporting.web.display import local_input
from tests.web.conftest import WRITTEN, open_incident

pytestmark = pytest.mark.django_db

CJK = re.compile(r"[\u3400-\u9fff]")
#: An English word on a Chinese page (a single letter, as in "E.164", is no word).
ENGLISH_WORD = re.compile(r"[A-Za-z]{2,}")
RAW_FIELD_NAME = re.compile(r"\b[a-z]+_[a-z_]+\b")


def error_texts(page: str) -> list[str]:
    """Every message a refused form shows: next to the fields and in the summary above the form."""
    found = re.findall(r'class="field-error"[^>]*>(.*?)</(?:p|span)>', page, re.S)
    for summary in re.findall(r'<div class="error-summary".*?</ul>', page, re.S):
        found += re.findall(r"<li>(.*?)</li>", summary, re.S)
    return [html_lib.unescape(re.sub(r"<[^>]+>", "", text)).strip() for text in found]


def assert_one_language(page: str, language: str, expected: str) -> None:
    texts = error_texts(page)
    assert texts, "no error shown"
    assert any(expected in text for text in texts), texts
    for text in texts:
        assert not RAW_FIELD_NAME.search(text), text
        if language == "en":
            assert not CJK.search(text), text
        else:
            assert not ENGLISH_WORD.search(text), text


@pytest.fixture(params=["en", "zh-hans"])
def language(request, client):
    client.cookies["django_language"] = request.param
    return request.param


def _at(minutes: int) -> str:
    return local_input(timezone.now() + timedelta(minutes=minutes))


@pytest.fixture
def incident(units, sijing_officer):
    return open_incident(sijing_officer, units["sijing"], known_minutes_ago=10, title="泗泾镇某厂房火灾")


def test_new_incident_refusal(client, sijing_officer, language):
    client.force_login(sijing_officer)
    post = {
        "title": "独特的事件标题",
        "domain": "production_safety",
        "occurred_at": _at(-20),
        "location": "泗泾镇某路1号",
        "summary": "",
        "deaths": "0",
        "injuries": "0",
        "missing": "0",
        "first_known_at": _at(30),
        "channel": "self",
    }
    response = client.post("/incidents/new/", post)
    assert response.status_code == 400
    page = response.content.decode()
    assert_one_language(
        page, language, {"en": "This time is in the future", "zh-hans": "时间不能晚于当前时间"}[language]
    )
    assert 'value="独特的事件标题"' in page
    # The summary names the field once, by the form's label.
    summary = [t for t in error_texts(page) if "First known" in t or "首次知悉时间" in t]
    assert summary and all(t.count("First known") + t.count("首次知悉时间") == 1 for t in summary), summary


def test_new_incident_figures_refusal(client, sijing_officer, language):
    client.force_login(sijing_officer)
    post = {
        "title": "独特的事件标题",
        "domain": "production_safety",
        "occurred_at": _at(-20),
        "location": "泗泾镇某路1号",
        "deaths": "0",
        "injuries": "2",
        "serious_injuries": "3",
        "missing": "0",
        "first_known_at": _at(-10),
        "channel": "self",
    }
    response = client.post("/incidents/new/", post)
    assert response.status_code == 400
    expected = {
        "en": "Seriously injured (3) cannot be more than injured (2)",
        "zh-hans": "重伤人数(3)不能多于受伤人数(2)",
    }
    assert_one_language(response.content.decode(), language, expected[language])


def test_filing_form_refusal(client, sijing_officer, incident, language):
    client.force_login(sijing_officer)
    post = {"kind": "written", "occurred_at": local_input(incident.occurred_at), **WRITTEN}
    post["measures"] = " "
    post["account"] = "独特的经过描述"
    response = client.post(f"/obligations/{incident.obligations.get().pk}/file/", post)
    assert response.status_code == 400
    page = response.content.decode()
    expected = {"en": "Required for this report: Measures taken", "zh-hans": "缺少必报要素: 已采取措施"}
    assert_one_language(page, language, expected[language])
    assert "独特的经过描述</textarea>" in page
    assert Report.objects.filed().count() == 0


def test_filing_form_time_refusal(client, sijing_officer, incident, language):
    client.force_login(sijing_officer)
    post = {"kind": "written", **WRITTEN, "occurred_at": _at(120), "account": "独特的经过描述"}
    response = client.post(f"/obligations/{incident.obligations.get().pk}/file/", post)
    assert response.status_code == 400
    page = response.content.decode()
    assert_one_language(
        page, language, {"en": "This time is in the future", "zh-hans": "时间不能晚于当前时间"}[language]
    )
    assert "独特的经过描述</textarea>" in page


def test_add_unit_refusal(client, duty_room, incident, units, language):
    units["sijing"].name_en = "Sijing Town"
    units["sijing"].save()
    client.force_login(duty_room)
    known = _at(-5)
    response = client.post(
        f"/incidents/{incident.pk}/units/", {"unit": "sijing", "first_known_at": known, "channel": "110"}
    )
    assert response.status_code == 409
    page = response.content.decode()
    expected = {
        "en": "Already a responsible unit of this incident: Sijing Town",
        "zh-hans": "该单位已是本事件的责任单位: 泗泾镇",
    }
    assert_one_language(page, language, expected[language])
    assert f'value="{known}"' in page


def test_first_known_correction_refusal(client, duty_room, incident, language):
    client.force_login(duty_room)
    obligation = incident.obligations.get()
    response = client.post(
        f"/obligations/{obligation.pk}/first-known/", {"first_known_at": _at(-120), "reason": "独特的更正原因"}
    )
    assert response.status_code == 400
    page = response.content.decode()
    expected = {
        "en": "The first-known time cannot be before the incident occurred",
        "zh-hans": "首次知悉时间不能早于事件发生时间",
    }
    assert_one_language(page, language, expected[language])
    assert 'value="独特的更正原因"' in page


def test_shift_refusal(client, sijing_officer, language):
    client.force_login(sijing_officer)
    start = timezone.now() + timedelta(days=1)
    body = {
        "contact": str(sijing_officer.contact.pk),
        "role": "duty_officer",
        "starts_at": local_input(start),
        "ends_at": local_input(start + timedelta(days=8)),
        "days": "1",
        "every": "1",
    }
    response = client.post("/roster/sijing/shifts/", body)
    assert response.status_code == 400
    page = response.content.decode()
    assert_one_language(
        page, language, {"en": "A shift lasts at most 7 days", "zh-hans": "一个班次不能超过 7 天"}[language]
    )
    assert f'value="{body["ends_at"]}"' in page


def test_person_refusal(client, sijing_officer, language):
    client.force_login(sijing_officer)
    person = {"name": "独特的姓名", "role": "shift_leader", "phone": "021-57671234", "email": "", "active": "on"}
    response = client.post("/roster/sijing/people/", person)
    assert response.status_code == 400
    page = response.content.decode()
    expected = {"en": "Enter a mobile number", "zh-hans": "请填写手机号码"}
    assert_one_language(page, language, expected[language])
    assert 'value="独特的姓名"' in page and 'value="021-57671234"' in page
    assert not Contact.objects.filter(name="独特的姓名").exists()


def test_audit_review_refusal(client, auditor, incident, units, language):
    finding = Finding.objects.create(
        kind="late",
        key="late-review",
        unit=units["sijing"],
        obligation=incident.obligations.get(),
        found_at=timezone.now(),
    )
    client.force_login(auditor)
    response = client.post(f"/audit/findings/{finding.pk}/review/", {"decision": "maybe", "reason": "独特的审核理由"})
    assert response.status_code == 400
    page = response.content.decode()
    expected = {"en": "Choose a decision: confirm or dismiss", "zh-hans": "请选择审核结论: 确认或排除"}
    assert_one_language(page, language, expected[language])
    assert 'value="独特的审核理由"' in page


def test_the_api_keeps_its_bilingual_messages(client, duty_room, incident):
    client.force_login(duty_room)
    obligation = incident.obligations.get()
    response = client.post(
        f"/api/v1/obligations/{obligation.pk}/first-known/",
        {"first_known_at": (timezone.now() + timedelta(hours=1)).isoformat(), "reason": "x"},
        content_type="application/json",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 400, response.content
    assert "时间不能晚于当前时间 (this time is in the future)" in response.content.decode()


# --- the chooser itself ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "halves"),
    [
        (
            "结束时间必须晚于开始时间 (ends_at must be after starts_at)",
            ("结束时间必须晚于开始时间", "ends_at must be after starts_at", None),
        ),
        ("发生时间 (occurred_at): 时间必填 (this time is required)", ("时间必填", "this time is required", "发生时间")),
        (
            "缺少必报要素: 简要经过 (account) — this element is required",
            ("缺少必报要素: 简要经过", "this element is required", None),
        ),
        (
            "仅垂直管理(拉条)单位可登记向市级报告时间 (vertical units only)",
            ("仅垂直管理(拉条)单位可登记向市级报告时间", "vertical units only", None),
        ),
        ("This field is required.", ("This field is required.", None, None)),
        ("这个字段是必填项。", ("这个字段是必填项。", None, None)),
    ],
)
def test_split_understands_the_documented_formats(message, halves):
    assert split(message) == halves


def test_an_untranslated_message_falls_back_to_its_own_english_half():
    with translation.override("en"):
        assert localize("从未翻译的消息 (a message nobody translated)") == "a message nobody translated"
        assert (
            localize("来电时间 (call_received_at): 时间必填 (x)", keep_label=True)
            == "Call received at: A time is required"
        )
    with translation.override("zh-hans"):
        assert localize("从未翻译的消息 (a message nobody translated)") == "从未翻译的消息"


def test_every_known_message_has_an_english_wording_without_field_names():
    with translation.override("en"):
        worded = [str(v) for v in KNOWN.values()] + [str(p[1]) for p in PATTERNS]
    assert len(worded) > 30
    assert [w for w in worded if CJK.search(w) or RAW_FIELD_NAME.search(w)] == []


# --- choices on English pages ------------------------------------------------------------------------------------

CHOICE_LABELS_ZH = [
    str(label) for choices in (Channel, ContactRole) for label in choices.labels if CJK.search(str(label))
]


def test_choices_on_the_main_pages_are_english(client, duty_room, sijing_officer, incident):
    client.cookies["django_language"] = "en"
    shown = {}
    client.force_login(duty_room)
    for path in ("/incidents/new/", f"/incidents/{incident.pk}/", "/roster/sijing/", "/roster/sijing/people/"):
        shown[path] = client.get(path).content.decode()
    client.force_login(sijing_officer)
    shown["/incidents/new/ (unit staff)"] = client.get("/incidents/new/").content.decode()
    # The pages do offer these choices (so the check below is not vacuous).
    assert "Told by another unit" in shown["/incidents/new/"] and "12345 hotline" in shown[f"/incidents/{incident.pk}/"]
    assert "Shift leader" in shown["/roster/sijing/"] and "Duty officer" in shown["/roster/sijing/people/"]
    assert len(CHOICE_LABELS_ZH) >= 11
    leftovers = {path: [label for label in CHOICE_LABELS_ZH if f">{label}<" in page] for path, page in shown.items()}
    assert leftovers == {path: [] for path in shown}


@pytest.mark.parametrize(
    "choices",
    [
        Channel,
        ContactRole,
        UnitKind,
        Role,
        Domain,
        Grade,
        DeadlineState,
        ReportKind,
        ObligationKind,
        Audience,
        NotificationChannel,
        NotificationStatus,
    ],
    ids=lambda c: c.__name__,
)
def test_every_choice_label_has_an_english_translation(choices):
    with translation.override("en"):
        assert [str(label) for label in choices.labels if CJK.search(str(label))] == []


# --- the timeline ----------------------------------------------------------------------------------------------


def _timeline(client, incident) -> dict[str, list[str]]:
    by_kind: dict[str, list[str]] = {}
    for event in client.get(f"/incidents/{incident.pk}/").context["timeline"]:
        by_kind.setdefault(event["kind"], []).append(event["summary"])
    return by_kind


@pytest.fixture
def busy_incident(units, sijing_officer, duty_room):
    """An incident with a late verbal report by 泗泾镇 and 区公安分局 marked not required."""
    for code, name_en in (("sijing", "Sijing Town"), ("police", "Songjiang Police")):
        units[code].name_en = name_en
        units[code].save()
    incident = open_incident(sijing_officer, units["sijing"], known_minutes_ago=40, title="泗泾镇某厂房火灾")
    now = timezone.now()
    report_services.report_create(
        obligation=incident.obligations.get(),
        kind="verbal",
        actor=sijing_officer,
        now=now,
        occurred_at=now - timedelta(minutes=45),
        **{k: WRITTEN[k] for k in ("location", "account", "deaths", "injuries", "missing")},
    )
    services.incident_add_unit(
        incident=incident, unit=units["police"], first_known_at=now, channel="12345", actor=duty_room, now=now
    )
    obligation_services.obligation_mark_not_required(
        obligation=incident.obligations.get(unit__code="police"), reason="误派单位", actor=duty_room, now=now
    )
    return incident


def test_the_timeline_reads_as_phrases_in_english(client, duty_room, busy_incident):
    client.cookies["django_language"] = "en"
    client.force_login(duty_room)
    lines = _timeline(client, busy_incident)
    filed = lines["report_filed"][0]
    assert filed.startswith("Sijing Town · Verbal (no. 1) · late by 10 min"), filed
    assert "Injured 1" in filed
    assert "first known through: 12345 hotline" in lines["obligation_created"][1]
    assert lines["obligation_not_required"] == ["Songjiang Police · reason: “误派单位”"]
    everything = " ".join(s for summaries in lines.values() for s in summaries)
    assert "=" not in everything and not RAW_FIELD_NAME.search(everything), everything
    assert not CJK.search(everything.replace("误派单位", "")), everything


def test_the_timeline_reads_as_phrases_in_chinese(client, duty_room, busy_incident):
    client.force_login(duty_room)
    lines = _timeline(client, busy_incident)
    assert lines["report_filed"][0].startswith("泗泾镇 · 口头报 (第 1 份) · 迟报 10 分"), lines["report_filed"]
    assert "受伤人数 1" in lines["report_filed"][0]
    assert lines["obligation_not_required"] == ["区公安分局 · 原因: “误派单位”"]
    assert "死亡人数 0" in lines["incident_created"][0]
    everything = " ".join(s for summaries in lines.values() for s in summaries)
    assert "=" not in everything and not ENGLISH_WORD.search(everything.replace("SJ-", "")), everything


# --- English wording -------------------------------------------------------------------------------------------


def test_the_incident_list_is_named_in_the_plural_and_its_column_and_filter_say_what_they_are(
    client, duty_room, incident
):
    client.force_login(duty_room)
    chinese = client.get("/incidents/").content.decode()
    assert re.search(r"<h1>事件 <span", chinese) and '<th scope="col">报送</th>' in chinese
    client.cookies["django_language"] = "en"
    page = client.get("/incidents/").content.decode()
    assert re.search(r"<h1>Incidents <span", page) and ">Incidents</a>" in page
    assert '<th scope="col">Reporting</th>' in page and "File report" not in page
    assert re.search(r'<label for="id_exercise">Exercises</label>', page), re.findall(r"<label[^>]*>[^<]*", page)
    assert "EXERCISE" not in page


def test_an_obligation_kind_reads_as_a_kind_not_as_the_filing_button(client, admin_user, incident):
    """报送 is the filing form's button ("File report"), the list's column ("Reporting") and a kind of obligation
    ("Report"), which the admin lists and filters obligations by."""
    with translation.override("en"):
        assert (str(ObligationKind.REPORT.label), translation.gettext("报送")) == ("Report", "File report")
    with translation.override("zh-hans"):
        assert str(ObligationKind.REPORT.label) == "报送"
    client.force_login(admin_user)
    client.cookies["django_language"] = "en"
    page = client.get("/admin/reporting/obligation/").content.decode()
    assert '<td class="field-kind">Report</td>' in page and "File report" not in page


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_after_a_verbal_report_the_button_names_the_written_report(client, sijing_officer, incident, language):
    client.cookies["django_language"] = language
    client.force_login(sijing_officer)
    post = {"kind": "verbal", "occurred_at": local_input(incident.occurred_at), **WRITTEN}
    response = client.post(f"/obligations/{incident.obligations.get().pk}/file/", post, follow=True)
    page = response.content.decode()
    expected = {"en": "File the written report", "zh-hans": "报送书面报"}[language]
    assert expected in page and "续报/终报" not in page and "follow-up/final" not in page
    written = {**post, "kind": "written"}
    page = client.post(f"/obligations/{incident.obligations.get().pk}/file/", written, follow=True).content.decode()
    assert {"en": "File another report (follow-up/final)", "zh-hans": "继续报送 (续报/终报)"}[language] in page
