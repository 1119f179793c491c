"""The auditor page (/audit/) shows what SPEC asks auditors to see: the figures per unit with every delay column and
the roster gaps, findings filtered by unit, kind, review and period with CSV/XLSX links that download exactly that
selection, and the corrections and not-required marks (更正与无需报送, SPEC rules 4 and 11)."""

from __future__ import annotations

import csv
import html as htmllib
import io
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from freezegun import freeze_time
from openpyxl import load_workbook

from reporting import obligation_services, signal_services
from reporting.findings_services import finding_roster_gap_record
from reporting.models import Finding
from tests.reporting.test_findings import DAY, T0, VERBAL_DUE, WRITTEN_DUE, file, open_incident, recompute

pytestmark = pytest.mark.django_db

#: T0 is 2026-11-28 09:00 in Shanghai; the page's period is whole local days.
DAY_OF_T0 = "since=2026-11-28&until=2026-11-28"


def mark(obligation, at, actor, reason):
    with freeze_time(at):
        obligation_services.obligation_mark_not_required(obligation=obligation, reason=reason, actor=actor, now=at)


def correct(obligation, to, at, actor, reason):
    with freeze_time(at):
        obligation_services.obligation_correct_first_known(
            obligation=obligation, first_known_at=to, actor=actor, now=at, reason=reason
        )


@pytest.fixture
def world(units, sijing_officer, outsider, duty_room):
    """First known at T0 (2026-11-28 09:00) unless said:

    泗泾镇 late:     written filed 7 min late -> 迟报 ×2 (found 10:07); a roster gap at 09:30 while chasing it
    泗泾镇 marked:   marked not required at 09:45 (after its verbal deadline), "误加单位"
    泗泾镇 moved:    first known corrected at 09:20 from 09:00 to 09:15, "电话记录显示九点一刻知悉"; written on time
    车墩镇 silent:   nothing filed -> 漏报 (found 11-29 10:00)
    车墩镇 mistaken: marked not required at 09:05 (before its verbal deadline), "已由区应急局统一报送"
    exercise:       泗泾镇, marked and corrected too -> never shown
    """
    late = open_incident(units, sijing_officer).obligations.get()
    marked = open_incident(units, sijing_officer).obligations.get()
    moved = open_incident(units, sijing_officer).obligations.get()
    open_incident(units, outsider, unit="chedun")
    mistaken = open_incident(units, outsider, unit="chedun").obligations.get()
    drill = open_incident(units, duty_room, exercise=True).obligations.get()
    drill_two = open_incident(units, duty_room, exercise=True).obligations.get()
    mark(marked, T0 + timedelta(minutes=45), duty_room, "误加单位")
    mark(mistaken, T0 + timedelta(minutes=5), duty_room, "已由区应急局统一报送")
    mark(drill, T0 + timedelta(minutes=45), duty_room, "演练误加")
    correct(moved, T0 + timedelta(minutes=15), T0 + timedelta(minutes=20), duty_room, "电话记录显示九点一刻知悉")
    correct(drill_two, T0 + timedelta(minutes=10), T0 + timedelta(minutes=20), duty_room, "演练更正")
    file(late, "written", WRITTEN_DUE + timedelta(minutes=7), sijing_officer)
    file(moved, "written", T0 + timedelta(minutes=40), sijing_officer)
    finding_roster_gap_record(unit=units["sijing"], at=VERBAL_DUE, obligation=late, detail={"step": "verbal_overdue"})
    recompute(WRITTEN_DUE + DAY + timedelta(minutes=1))
    return {"late": late, "marked": marked, "moved": moved, "mistaken": mistaken, "drill": drill}


def page(client, user, query="", *, english=False):
    client.force_login(user)
    if english:
        client.cookies["django_language"] = "en"
    response = client.get(f"/audit/{'?' + query if query else ''}")
    return response, response.content.decode()


def table(html: str, table_id: str) -> str:
    return re.search(rf'<table class="list" id="{table_id}">(.*?)</table>', html, re.S).group(1)


def headers(html: str, table_id: str) -> list[str]:
    return re.findall(r'<th scope="col">(.*?)</th>', table(html, table_id))


def shown_findings(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'id="finding-(\d+)"', html)]


def link(html: str, link_id: str) -> str:
    return htmllib.unescape(re.search(rf'id="{link_id}" href="([^"]+)"', html).group(1))


def csv_ids(response) -> list[int]:
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    return [int(row[0]) for row in rows[1:]]


# --- figures -----------------------------------------------------------------------------------------------------


def test_the_figures_table_has_every_delay_and_the_roster_gaps(client, auditor, world):
    _, html = page(client, auditor, DAY_OF_T0)
    assert headers(html, "rates") == [
        "单位",
        "义务数",
        "口头报及时率",
        "书面报及时率",
        # The delay of every filed report (0 when on time), as the exports call it: not only the late ones (迟报).
        "口头报延迟中位数(秒)",
        "口头报延迟P90(秒)",
        "书面报延迟中位数(秒)",
        "书面报延迟P90(秒)",
        "迟报",
        "漏报",
        "压报",
        "瞒报/谎报",
        "双人在岗缺口",
    ]
    # 泗泾镇: late (verbal discharged by the written report 37 min late, written 7 min late) and moved (on time).
    # Verbal delays {0, 2220}: median 1110, p90 1998; written delays {0, 420}: median 210, p90 378.
    rows = re.findall(r"<tr>\s*(<td>.*?)</tr>", table(html, "rates"), re.S)
    cells = {re.findall(r"<td>(.*?)</td>", row)[0]: re.findall(r"<td>(.*?)</td>", row)[1:] for row in rows}
    assert cells["泗泾镇"] == ["2", "50%", "50%", "1110", "1998", "210", "378", "1", "0", "0", "0", "1"]
    assert cells["车墩镇"] == ["1", "0%", "0%", "—", "—", "—", "—", "0", "1", "0", "0", "0"]


def test_the_figures_follow_the_unit_filter_and_so_does_their_export(client, auditor, world):
    _, html = page(client, auditor, f"{DAY_OF_T0}&unit=chedun")
    assert re.findall(r"<tr>\s*<td>(.*?)</td>", table(html, "rates")) == ["车墩镇"]
    href = link(html, "timeliness-csv")
    assert "unit=chedun" in href and "since=2026-11-28T00%3A00%3A00%2B08%3A00" in href
    rows = list(csv.reader(io.StringIO(client.get(href).content.decode("utf-8-sig"))))
    assert [row[0] for row in rows[1:]] == ["chedun"]


# --- findings ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "",
        DAY_OF_T0,
        "unit=sijing",
        "unit=chedun&kind=missed",
        f"unit=sijing&kind=late&review=open&{DAY_OF_T0}",
        "kind=roster_gap",
        "since=2026-11-29",
        "review=confirmed",
    ],
)
def test_the_downloads_are_exactly_the_findings_shown(client, auditor, world, query):
    _, html = page(client, auditor, query)
    shown = shown_findings(html)
    csv_response = client.get(link(html, "findings-csv"))
    assert csv_response.status_code == 200 and csv_response["Content-Type"].startswith("text/csv")
    assert csv_ids(csv_response) == shown
    xlsx = client.get(link(html, "findings-xlsx"), HTTP_ACCEPT="*/*")
    assert xlsx.status_code == 200
    values = list(load_workbook(io.BytesIO(xlsx.content))["督查发现"].values)
    assert [row[0] for row in values[1:]] == shown


def test_findings_by_unit_kind_and_period(client, auditor, world, units):
    sijing = set(Finding.objects.filter(unit=units["sijing"]).values_list("pk", flat=True))
    _, html = page(client, auditor, "unit=sijing")
    assert set(shown_findings(html)) == sijing and len(sijing) == 3  # late ×2 and the roster gap
    assert '<option value="sijing" selected>泗泾镇</option>' in html
    _, html = page(client, auditor, "unit=sijing&kind=roster_gap")
    assert shown_findings(html) == list(Finding.objects.filter(kind="roster_gap").values_list("pk", flat=True))
    # The 漏报 of 车墩镇 is found a day later (11-29 10:00): not in the day of T0.
    _, html = page(client, auditor, f"unit=chedun&{DAY_OF_T0}")
    assert shown_findings(html) == []
    _, html = page(client, auditor, "unit=chedun&since=2026-11-29&until=2026-11-29")
    assert shown_findings(html) == list(Finding.objects.filter(kind="missed").values_list("pk", flat=True))


def test_the_kind_counts_keep_the_other_filters(client, auditor, world):
    _, html = page(client, auditor, f"unit=sijing&kind=late&{DAY_OF_T0}")
    counts = dict(re.findall(r'<li><a href="\?([^"]+)">[^<]+</a>: <b>(\d+)</b></li>', html))
    # Counted before the kind filter: choosing 双人在岗缺口 would list one.
    gap_link = htmllib.unescape(next(q for q in counts if "kind=roster_gap" in q))
    assert counts[next(q for q in counts if "kind=roster_gap" in q)] == "1"
    assert "unit=sijing" in gap_link and "since=2026-11-28" in gap_link and "until=2026-11-28" in gap_link
    _, gaps = page(client, auditor, gap_link)
    assert len(shown_findings(gaps)) == 1


def test_findings_of_a_not_required_obligation_are_listed(client, auditor, world, units):
    # SPEC rule 11: the mark erases nothing found before it; the page lists what the API lists
    # (stats.findings_visible), so the page and its downloads agree.
    Finding.objects.create(
        kind="late", key="late-of-marked", unit=units["sijing"], obligation=world["marked"], found_at=VERBAL_DUE
    )
    _, html = page(client, auditor)
    assert Finding.objects.get(key="late-of-marked").pk in shown_findings(html)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("unit=nowhere", "未知的单位"),
        ("since=2026-11-29&until=2026-11-28", "截止日期不能早于起始日期"),
    ],
)
def test_bad_unit_or_reversed_period_is_a_400_and_the_links_still_match(client, auditor, world, query, message):
    response, html = page(client, auditor, query)
    assert response.status_code == 400 and message in html
    # Nothing is filtered then: the page lists every finding, and so do its downloads.
    assert csv_ids(client.get(link(html, "findings-csv"))) == shown_findings(html)


# --- corrections and not-required marks --------------------------------------------------------------------------


def test_not_required_marks_with_who_why_and_the_overdue_flag(client, auditor, world):
    _, html = page(client, auditor, DAY_OF_T0)
    assert headers(html, "not-required") == ["事件", "单位", "首次知悉时间", "口头报截止", "标记时间", "标记人", "原因"]
    marks = table(html, "not-required")
    marked, mistaken = world["marked"], world["mistaken"]
    row = re.search(rf'id="mark-{marked.pk}">(.*?)</tr>', marks, re.S).group(1)
    assert f'href="/incidents/{marked.incident_id}/"' in row and marked.incident.number in row
    assert "泗泾镇" in row and "2026-11-28 09:45" in row and "duty" in row and "误加单位" in row
    assert "标记时已超时" in row and "2026-11-28 09:30" in row  # the verbal due it was marked after
    row = re.search(rf'id="mark-{mistaken.pk}">(.*?)</tr>', marks, re.S).group(1)
    assert "车墩镇" in row and "已由区应急局统一报送" in row and "标记时已超时" not in row
    assert f'id="mark-{world["drill"].pk}"' not in html  # exercises never
    assert marks.index(f"mark-{marked.pk}") < marks.index(f"mark-{mistaken.pk}")  # most recently marked first


def test_a_restored_mark_shows_with_its_restore_and_the_finding_after_it(client, auditor, world, units, duty_room):
    """撤销无需报送: the mark and its undoing side by side (who, when, why for each); the obligation left the list of
    marks and counts again, so its 漏报 after the restore is listed for the auditor to confirm or dismiss."""
    obligation = world["mistaken"]
    with freeze_time(T0 + timedelta(minutes=50)):
        obligation_services.obligation_restore(
            obligation=obligation, reason="确属车墩镇", actor=duty_room, now=T0 + timedelta(minutes=50)
        )
    recompute(WRITTEN_DUE + DAY + timedelta(minutes=1))
    _, html = page(client, auditor, DAY_OF_T0)
    assert f'id="mark-{obligation.pk}"' not in table(html, "not-required")
    assert headers(html, "restores") == [
        "事件", "单位", "首次知悉时间", "标记时间", "标记人", "标记原因", "撤销时间", "撤销人", "撤销原因"
    ]  # fmt: skip
    rows = re.findall(r'<tr class="restore"[^>]*>(.*?)</tr>', table(html, "restores"), re.S)
    assert len(rows) == 1
    cells = re.findall(r"<td>(.*?)</td>", rows[0], re.S)
    assert f'href="/incidents/{obligation.incident_id}/"' in cells[0]
    assert cells[1:] == [
        "车墩镇", "2026-11-28 09:00", "2026-11-28 09:05", "duty", "已由区应急局统一报送",
        "2026-11-28 09:50", "duty", "确属车墩镇",
    ]  # fmt: skip
    assert Finding.objects.filter(obligation=obligation, kind="missed").exists()


def test_first_known_corrections_before_after_who_when_why(client, auditor, world):
    _, html = page(client, auditor, DAY_OF_T0)
    assert headers(html, "corrections") == ["事件", "单位", "更正前", "更正后", "更正人", "更正时间", "原因"]
    rows = re.findall(r'<tr class="correction"[^>]*>(.*?)</tr>', table(html, "corrections"), re.S)
    assert len(rows) == 1  # the exercise's correction is left out
    cells = re.findall(r"<td>(.*?)</td>", rows[0], re.S)
    moved = world["moved"]
    assert f'href="/incidents/{moved.incident_id}/"' in cells[0]
    assert cells[1] == "泗泾镇" and cells[2] == "2026-11-28 09:00"
    assert cells[3].startswith("2026-11-28 09:15") and "推后 15 分钟" in cells[3]
    assert cells[4:] == ["duty", "2026-11-28 09:20", "电话记录显示九点一刻知悉"]


def test_a_correction_that_evidence_overrode_shows_the_declared_time(
    client, auditor, units, sijing_officer, feed, duty_room
):
    """SPEC rule 5: the clock runs from the earliest evidence, so a correction to a later time than a signal's
    delivery leaves the first-known time where the evidence put it; the page shows what the corrector declared."""
    obligation = open_incident(units, sijing_officer).obligations.get()
    delivered = T0 - timedelta(minutes=5)
    with freeze_time(delivered):
        signal, _ = signal_services.signal_ingest(
            actor=feed,
            now=delivered,
            source="110",
            external_id="110-0001",
            received_at=delivered - timedelta(minutes=1),
            delivered_to=units["sijing"],
            delivered_at=delivered,
            domain="production_safety",
            summary="厂房冒烟",
        )
    with freeze_time(T0 + timedelta(minutes=1)):
        signal_services.signal_link(
            signal=signal, incident=obligation.incident, actor=duty_room, now=T0 + timedelta(minutes=1)
        )
    correct(obligation, T0 + timedelta(minutes=10), T0 + timedelta(minutes=20), duty_room, "单位称九点十分才知悉")
    _, html = page(client, auditor, DAY_OF_T0)
    (row,) = re.findall(r'<tr class="correction"[^>]*>(.*?)</tr>', table(html, "corrections"), re.S)
    cells = re.findall(r"<td>(.*?)</td>", row, re.S)
    assert cells[2] == "2026-11-28 08:55" and cells[3].startswith("2026-11-28 08:55")
    assert "申报 2026-11-28 09:10; 按更早的知悉证据计时" in cells[3] and "分钟" not in cells[3]


def test_the_section_follows_the_unit_and_period(client, auditor, world):
    _, html = page(client, auditor, f"{DAY_OF_T0}&unit=chedun")
    assert f'id="mark-{world["mistaken"].pk}"' in html and f'id="mark-{world["marked"].pk}"' not in html
    assert "该期间没有更正首次知悉时间。" in html
    _, html = page(client, auditor, "since=2026-11-29")
    assert "该期间没有标记为无需报送的义务。" in html and "该期间没有更正首次知悉时间。" in html


def test_the_new_section_and_headers_in_english(client, auditor, world, units):
    units["sijing"].name_en = "Sijing Town"
    units["sijing"].save()
    _, html = page(client, auditor, DAY_OF_T0, english=True)
    assert 'lang="en"' in html and "Corrections and not-required marks" in html
    assert "Obligations marked not required" in html and "First-known time corrections" in html
    assert headers(html, "not-required") == [
        "Incident",
        "Unit",
        "First known",
        "Verbal due",
        "Marked at",
        "Marked by",
        "Reason",
    ]
    assert headers(html, "corrections") == [
        "Incident",
        "Unit",
        "Before",
        "After",
        "Corrected by",
        "Corrected at",
        "Reason",
    ]
    assert "P90 verbal delay (s)" in headers(html, "rates") and "Median written delay (s)" in headers(html, "rates")
    assert headers(html, "rates")[-1] == "Roster gap"
    marks = table(html, "not-required")
    assert "Overdue when marked" in marks and "Sijing Town" in marks
    assert "later by 15 min" in table(html, "corrections")
    assert '<option value="sijing">Sijing Town</option>' in html
    assert "标记时已超时" not in html and "更正与无需报送" not in html


def test_the_page_takes_a_constant_number_of_queries(client, auditor, units, sijing_officer, outsider, duty_room):
    client.force_login(auditor)

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(f"/audit/?{DAY_OF_T0}").status_code == 200
        return len(ctx.captured_queries)

    def add_one(minutes):
        marked = open_incident(units, sijing_officer, extra_units=("chedun",)).obligations.order_by("id")
        mark(marked[0], T0 + timedelta(minutes=minutes), duty_room, "误加单位")
        correct(marked[1], T0 + timedelta(minutes=minutes), T0 + timedelta(minutes=20), duty_room, "更正")
        file(marked[1], "written", WRITTEN_DUE + timedelta(minutes=minutes), outsider)
        finding_roster_gap_record(unit=units["chedun"], at=VERBAL_DUE, obligation=marked[1], detail={"step": "x"})

    add_one(1)
    recompute(WRITTEN_DUE + DAY)
    few = count()
    for minutes in range(2, 7):
        add_one(minutes)
    recompute(WRITTEN_DUE + DAY)
    html = client.get(f"/audit/?{DAY_OF_T0}").content.decode()
    assert html.count('class="mark') == 6 and html.count('class="correction"') == 6
    assert count() == few


# --- withdrawn findings ------------------------------------------------------------------------------------------


@pytest.fixture
def withdrawn(world, units, sijing_officer, duty_room, auditor):
    """``world``, plus 泗泾镇's 漏报 on a signal that the duty room then linked to an incident 泗泾镇 reported on in
    time: withdrawn, after an auditor had confirmed it."""
    from reporting.findings_services import finding_review
    from tests.reporting.test_findings_withdrawn import link, signal_missed_then_linked

    incident, signal, finding = signal_missed_then_linked(units, sijing_officer, duty_room)
    finding_review(finding=finding, decision="confirmed", reason="线索未报", actor=auditor, now=T0 + DAY)
    link(signal, incident, T0 + 2 * DAY, duty_room)
    finding.refresh_from_db()
    assert finding.withdrawn_at is not None and finding.review == "confirmed"
    return finding


def test_withdrawn_findings_are_left_out_of_the_list_by_default_and_it_says_how_many(client, auditor, withdrawn):
    _, html = page(client, auditor)
    assert withdrawn.pk not in shown_findings(html)
    assert set(shown_findings(html)) == set(
        Finding.objects.filter(withdrawn_at__isnull=True).values_list("pk", flat=True)
    )
    hint = re.search(r'<p class="hint" id="withdrawn-hidden">(.*?)</p>', html, re.S).group(1)
    assert "另有 1 条督查发现依据已变化, 已被系统撤销, 不计入统计, 未列出" in hint
    assert "其中 1 条已审核, 审核结论保留, 请复核" in hint
    # The kind counts are of what the list shows; the downloads too.
    counts = dict(re.findall(r'<li><a href="\?[^"]+">([^<]+)</a>: <b>(\d+)</b></li>', html))
    assert counts["漏报"] == "1"  # 车墩镇's; 泗泾镇's withdrawn one is not listed
    assert csv_ids(client.get(link(html, "findings-csv"))) == shown_findings(html)
    # The figures leave it out as well: 泗泾镇 has no 漏报.
    rows = re.findall(r"<tr>\s*(<td>.*?)</tr>", table(html, "rates"), re.S)
    cells = {re.findall(r"<td>(.*?)</td>", row)[0]: re.findall(r"<td>(.*?)</td>", row)[1:] for row in rows}
    assert cells["泗泾镇"][8] == "0"


def test_the_withdrawn_list_marks_each_one_and_keeps_the_review(client, auditor, withdrawn):
    _, html = page(client, auditor)
    href = htmllib.unescape(re.search(r'id="withdrawn-hidden">.*?<a href="\?([^"]+)"', html, re.S).group(1))
    assert href == "withdrawn=true"
    _, html = page(client, auditor, href)
    assert shown_findings(html) == [withdrawn.pk]
    row = re.search(rf'<tr class="finding finding-missed withdrawn" id="finding-{withdrawn.pk}">(.*?)</tr>', html, re.S)
    assert row is not None
    assert '<strong class="tag withdrawn-mark">依据已变化, 系统撤销</strong>' in row.group(1)
    assert "11-30 09:00; 不计入统计; 审核结论保留, 请复核" in row.group(1)
    assert "已确认" in row.group(1) and "线索未报" in row.group(1)
    assert 'id="withdrawn-hidden"' not in html
    assert csv_ids(client.get(link(html, "findings-csv"))) == [withdrawn.pk]
    # Both at once: the withdrawn one marked, the others not.
    _, html = page(client, auditor, "withdrawn=all")
    assert set(shown_findings(html)) == set(Finding.objects.values_list("pk", flat=True))
    assert html.count("withdrawn-mark") == 1
    assert sorted(csv_ids(client.get(link(html, "findings-csv")))) == sorted(shown_findings(html))


def test_the_withdrawn_filter_rejects_anything_else(client, auditor, withdrawn):
    response, html = page(client, auditor, "withdrawn=maybe")
    assert response.status_code == 400 and "未知的依据状态" in html
    assert csv_ids(client.get(link(html, "findings-csv"))) == shown_findings(html)


def test_the_withdrawn_marker_in_english(client, auditor, withdrawn):
    _, html = page(client, auditor, english=True)
    assert "1 more finding is no longer supported by the data" in html
    assert "1 of them was reviewed: the review stands, please review it again" in html
    _, html = page(client, auditor, "withdrawn=true", english=True)
    assert "No longer supported by the data: withdrawn by the system" in html and "依据已变化" not in html
