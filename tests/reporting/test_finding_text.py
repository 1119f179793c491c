"""Each finding in one line for people, from the detail the real rules store (scenarios of test_findings), in
Chinese and in English, with Asia/Shanghai times (NOW is 09:00 there)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import translation
from freezegun import freeze_time

from reporting import obligation_services, report_services
from reporting.errors import MissingElementsError
from reporting.finding_text import finding_summary
from reporting.models import Finding
from tests.reporting.test_findings import (
    DAY,
    T0,
    VERBAL_DUE,
    WRITTEN_DUE,
    after_commit,
    file,
    ingest,
    open_incident,
    recompute,
)


def summaries(**filters) -> tuple[str, str]:
    finding = Finding.objects.get(**filters)
    with translation.override("zh-hans"):
        zh = finding_summary(finding)
    with translation.override("en"):
        en = finding_summary(finding)
    return zh, en


def test_late_names_the_deadline_the_delay_and_the_due_time(units, sijing_officer):
    obligation = open_incident(units, sijing_officer).obligations.get()
    file(obligation, "written", VERBAL_DUE + timedelta(minutes=1, seconds=10), sijing_officer)
    recompute(WRITTEN_DUE)
    zh, en = summaries(kind="late")
    assert zh == "口头报迟报 1 分 10 秒 (时限 2026-11-28 09:30:00), 由书面报履行"
    assert en == "Verbal late by 1 min 10 s (due 2026-11-28 09:30:00), discharged by the Written report"


def test_missed_no_report_and_refused_only(units, sijing_officer):
    obligation = open_incident(units, sijing_officer).obligations.get()
    with pytest.raises(MissingElementsError):
        file(obligation, "verbal", T0 + timedelta(minutes=5), sijing_officer, location="")
    recompute(WRITTEN_DUE + DAY + timedelta(seconds=1))
    assert summaries(detail__rule="no_report") == (
        "书面报时限 (2026-11-28 10:00:00) 过后 24 小时仍未报送",
        "No written report 24 h after it was due (2026-11-28 10:00:00)",
    )
    zh, en = summaries(detail__rule="refused_only", detail__deadline="verbal")
    assert zh == "口头报时限 (2026-11-28 09:30:00) 前只有要素不全被退回的报告 (1 份)"
    assert en.startswith("By the Verbal deadline (2026-11-28 09:30:00) only incomplete reports")


def test_missed_signal(units, sijing_officer):
    ingest(units, external_id="A-1", at=T0, unit="chedun", source="120")
    recompute(T0 + DAY + timedelta(seconds=1))
    zh, en = summaries(kind="missed")
    assert zh == "120线索 2026-11-28 09:00:00 派送本单位后未见报告"
    assert en == "No report after the 120 signal delivered at 2026-11-28 09:00:00"


def test_held_back_declared_later_than_the_signal(units, sijing_officer):
    gap = timedelta(minutes=6, seconds=5)
    incident = open_incident(units, sijing_officer, known=T0 + gap, at=T0 + gap)
    ingest(units, external_id="B-1", at=T0 + gap, unit="sijing", incident=incident, delivered_at=T0)
    recompute(WRITTEN_DUE)
    zh, en = summaries(kind="held_back")
    assert zh == "申报的知悉时间 2026-11-28 09:06:05 比110线索派送 (2026-11-28 09:00:00) 晚 6 分 5 秒"
    assert "6 min 5 s later than the 110 signal" in en


def test_held_back_draft_filed_after_the_deadline(units, sijing_officer):
    obligation = open_incident(units, sijing_officer).obligations.get()
    saved = VERBAL_DUE - timedelta(minutes=1)
    with freeze_time(saved):
        draft = report_services.report_create(
            obligation=obligation,
            kind="verbal",
            actor=sijing_officer,
            now=saved,
            draft=True,
            location="泗泾镇某路1号",
            account="厂房起火",
            deaths=0,
            injuries=0,
            missing=0,
            occurred_at=T0 - timedelta(minutes=20),
        )
    with freeze_time(VERBAL_DUE + timedelta(seconds=30)), after_commit():
        report_services.report_file(report=draft, actor=sijing_officer, now=VERBAL_DUE + timedelta(seconds=30))
    recompute(WRITTEN_DUE - timedelta(minutes=1))
    zh, _ = summaries(kind="held_back")
    assert zh == "草稿 2026-11-28 09:29:00 已保存, 却在口头报时限 2026-11-28 09:30:00 之后才报送"


def test_held_back_city_before_district(units, duty_room):
    obligation = open_incident(units, duty_room, unit="police").obligations.get()
    with freeze_time(T0 + timedelta(minutes=5)), after_commit():
        obligation_services.obligation_record_city_report(
            obligation=obligation, reported_at=T0 + timedelta(minutes=4), actor=duty_room, now=T0 + timedelta(minutes=5)
        )
    assert summaries(kind="held_back") == (
        "2026-11-28 09:04:00 已报市级部门, 未向区里口头报",
        "Reported to the city department at 2026-11-28 09:04:00, never verbally to the district",
    )


def test_concealed(units, sijing_officer):
    incident = open_incident(units, sijing_officer)
    obligation = incident.obligations.get()
    ingest(units, external_id="C-1", at=T0 + timedelta(minutes=2), source="120", deaths=3, incident=incident)
    file(obligation, "verbal", T0 + timedelta(minutes=10), sijing_officer, deaths=0)
    file(obligation, "written", T0 + timedelta(minutes=40), sijing_officer, deaths=3)
    recompute(WRITTEN_DUE)
    zh, en = summaries(kind="concealed")
    assert zh == "首报死亡 0 人 (未达分级), 后报 3 人 (较大); 首报时已有证据显示更多"
    assert en.startswith("First reported 0 dead")


def test_roster_gap_and_a_detail_it_does_not_know(units, sijing_officer):
    from reporting.findings_services import finding_roster_gap_record

    obligation = open_incident(units, sijing_officer).obligations.get()
    for at, detail in (
        (VERBAL_DUE, {"step": "verbal_overdue", "reason": "fewer_than_two", "on_post": 1}),
        (WRITTEN_DUE, {"step": "written_overdue", "reason": "no_shift", "on_post": 0}),
        (WRITTEN_DUE + timedelta(minutes=5), {"step": "written_escalate", "on_post": ["odd"]}),
    ):
        finding_roster_gap_record(unit=units["sijing"], at=at, obligation=obligation, detail=detail)
    assert summaries(kind="roster_gap", found_at=VERBAL_DUE) == (
        "需要值班人员时在岗仅 1 人",
        "Only 1 on post when the duty staff were needed",
    )
    assert summaries(kind="roster_gap", found_at=WRITTEN_DUE)[0] == "需要值班人员时无人排班"
    # A detail the words do not understand gives no words, never an error: the JSON detail still holds it.
    assert summaries(kind="roster_gap", found_at=WRITTEN_DUE + timedelta(minutes=5)) == ("", "")
