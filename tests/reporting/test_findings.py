"""Audit findings, scenario by scenario (SPEC "Audit findings"): for each kind and its near misses, the exact
findings expected and none other. Scenarios are built through reporting.services under freezegun."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import TestCase
from freezegun import freeze_time

from reporting import obligation_services, report_services, services, signal_services, stats
from reporting.errors import MissingElementsError
from reporting.findings_services import finding_roster_gap_record, findings_recompute
from reporting.models import AuditEvent, Contact, ContactRole, Finding, RefusedReport
from tests.conftest import NOW

T0 = NOW  # first known: 09:00 Asia/Shanghai; verbal due 09:30, written due 10:00
VERBAL_DUE = T0 + timedelta(minutes=30)
WRITTEN_DUE = T0 + timedelta(minutes=60)
DAY = timedelta(hours=24)


@pytest.fixture
def leader_in_charge(units):
    """A district leader in charge of production safety, with a mobile number. A death must reach someone
    (``notifications.events``): with no leader (or none with a number) the duty room on post is asked, and its empty
    roster is a roster-gap finding of its own."""
    return Contact.objects.create(
        unit=units["qfb"],
        name="区领导甲",
        role=ContactRole.DISTRICT_LEADER,
        phone="+8617000000040",
        portfolio=["production_safety"],
    )


def report_fields(**over):
    base = dict(
        occurred_at=T0 - timedelta(minutes=20),
        location="泗泾镇某路1号",
        account="厂房起火",
        deaths=0,
        injuries=0,
        missing=0,
        measures="消防到场",
        contact_name="王某",
        contact_phone="+8617000000001",
    )
    base.update(over)
    return base


def open_incident(units, actor, *, unit="sijing", known=T0, exercise=False, at=None, extra_units=()):
    """An incident with one obligation per unit (first known ``known``), created at ``at`` (default ``known``)."""
    at = at or max(known, T0)
    with freeze_time(at):
        incident = services.incident_create(
            actor=actor,
            now=at,
            title="泗泾镇某厂房火灾",
            domain="production_safety",
            occurred_at=min(known, T0) - timedelta(minutes=20),
            location="泗泾镇某路1号",
            summary="",
            exercise=exercise,
            units=[{"unit": units[code], "first_known_at": known, "channel": "self"} for code in (unit, *extra_units)],
        )
    return incident


def after_commit():
    """Run the on-commit work (the findings receivers) as a real commit would: the test's transaction never commits."""
    return TestCase.captureOnCommitCallbacks(execute=True)


def file(obligation, kind, at, actor=None, **over):
    obligation.refresh_from_db()
    with freeze_time(at), after_commit():
        return report_services.report_create(
            obligation=obligation, kind=kind, actor=actor, now=at, **report_fields(**over)
        )


def recompute(at, **kwargs):
    with freeze_time(at):
        return findings_recompute(now=at, **kwargs)


def found():
    """Every stored finding as (kind, rule-or-deadline, superseded?) for exact comparisons."""
    out = set()
    for f in Finding.objects.all():
        tag = f.detail.get("rule") or f.detail.get("deadline")
        if f.kind == "late":
            tag = f.detail["deadline"]
        out.add((f.kind, tag, f.superseded_by_id is not None))
    return out


def snapshot():
    return sorted(
        (f.key, f.kind, f.detail, f.found_at, f.report_id, f.signal_id, f.obligation_id, f.superseded_by_id)
        for f in Finding.objects.all()
    )


# --- 迟报 late ----------------------------------------------------------------------------------------------------


def test_reports_on_time_to_the_second_give_no_finding(units, sijing_officer):
    incident = open_incident(units, sijing_officer)
    obligation = incident.obligations.get()
    file(obligation, "verbal", VERBAL_DUE, sijing_officer)
    file(obligation, "written", WRITTEN_DUE, sijing_officer)
    recompute(WRITTEN_DUE + 3 * DAY)
    assert found() == set()


def test_verbal_one_second_late_is_late_by_one_second(units, sijing_officer):
    incident = open_incident(units, sijing_officer)
    obligation = incident.obligations.get()
    verbal = file(obligation, "verbal", VERBAL_DUE + timedelta(seconds=1), sijing_officer)
    file(obligation, "written", WRITTEN_DUE, sijing_officer)
    recompute(WRITTEN_DUE + 3 * DAY)
    assert found() == {("late", "verbal", False)}
    finding = Finding.objects.get()
    assert finding.detail["deadline"] == "verbal" and finding.detail["delay_seconds"] == 1
    assert (finding.unit, finding.incident, finding.obligation, finding.report) == (
        units["sijing"],
        incident,
        obligation,
        verbal,
    )
    assert finding.suspected is False


def test_written_report_discharging_pending_verbal_makes_both_late(units, sijing_officer):
    incident = open_incident(units, sijing_officer)
    obligation = incident.obligations.get()
    written = file(obligation, "written", WRITTEN_DUE + timedelta(seconds=420), sijing_officer)
    # Produced as the event happens: no recompute needed.
    assert found() == {("late", "verbal", False), ("late", "written", False)}
    late_written = Finding.objects.get(kind="late", detail__deadline="written")
    assert late_written.detail["delay_seconds"] == 420
    assert late_written.report == written
    late_verbal = Finding.objects.get(kind="late", detail__deadline="verbal")
    assert late_verbal.detail["delay_seconds"] == 30 * 60 + 420
    assert late_verbal.detail["discharged_by"] == "written"
    assert late_verbal.report == written


# --- 漏报 missed --------------------------------------------------------------------------------------------------


def test_no_report_is_missed_one_second_after_the_horizon_not_at_it(units, sijing_officer):
    incident = open_incident(units, sijing_officer)
    recompute(WRITTEN_DUE + DAY)
    assert found() == set()
    recompute(WRITTEN_DUE + DAY + timedelta(seconds=1))
    assert found() == {("missed", "no_report", False)}
    finding = Finding.objects.get()
    assert finding.obligation == incident.obligations.get()
    assert finding.found_at == WRITTEN_DUE + DAY


def test_recompute_twice_gives_the_same_findings(units, sijing_officer):
    incident = open_incident(units, sijing_officer, extra_units=("chedun",))
    sijing = incident.obligations.get(unit=units["sijing"])
    file(sijing, "verbal", VERBAL_DUE + timedelta(minutes=3))
    first = recompute(WRITTEN_DUE + 2 * DAY)
    before = snapshot()
    second = recompute(WRITTEN_DUE + 2 * DAY)
    assert snapshot() == before
    assert first.created == 2  # both units' missed; the late verbal came from the filing event already
    assert (second.created, second.updated) == (0, 0)
    assert found() == {("late", "verbal", False), ("missed", "no_report", False)}
    assert Finding.objects.filter(kind="missed").count() == 2  # both units' written reports are missing


def test_late_filing_after_missed_keeps_both_and_supersedes_the_missed(units, sijing_officer):
    incident = open_incident(units, sijing_officer)
    obligation = incident.obligations.get()
    recompute(WRITTEN_DUE + DAY + timedelta(minutes=1))
    missed = Finding.objects.get(kind="missed")
    file(obligation, "written", WRITTEN_DUE + DAY + timedelta(hours=2), sijing_officer)
    missed.refresh_from_db()
    late_written = Finding.objects.get(kind="late", detail__deadline="written")
    assert missed.superseded_by == late_written
    assert found() == {("missed", "no_report", True), ("late", "verbal", False), ("late", "written", False)}
    before = snapshot()
    recompute(WRITTEN_DUE + 5 * DAY)
    assert snapshot() == before


def test_deadline_passed_with_only_refused_reports_is_missed(units, sijing_officer):
    incident = open_incident(units, sijing_officer)
    obligation = incident.obligations.get()
    with pytest.raises(MissingElementsError):
        file(obligation, "verbal", T0 + timedelta(minutes=5), sijing_officer, location="")
    assert RefusedReport.objects.count() == 1
    recompute(VERBAL_DUE)
    assert found() == set()
    recompute(VERBAL_DUE + timedelta(seconds=1))
    assert found() == {("missed", "refused_only", False)}
    finding = Finding.objects.get()
    assert finding.detail["deadline"] == "verbal"
    assert finding.detail["refused"] == [RefusedReport.objects.get().pk]
    # Filing later (still before the written due time) turns it into a late verbal, the missed stays in history.
    file(obligation, "written", WRITTEN_DUE - timedelta(minutes=1), sijing_officer)
    assert found() == {("missed", "refused_only", True), ("late", "verbal", False)}


def test_refused_then_filed_on_time_is_not_missed(units, sijing_officer):
    incident = open_incident(units, sijing_officer)
    obligation = incident.obligations.get()
    with pytest.raises(MissingElementsError):
        file(obligation, "verbal", T0 + timedelta(minutes=5), sijing_officer, location="")
    file(obligation, "verbal", T0 + timedelta(minutes=6), sijing_officer)
    file(obligation, "written", T0 + timedelta(minutes=40), sijing_officer)
    recompute(WRITTEN_DUE + 3 * DAY)
    assert found() == set()


def ingest(units, *, external_id, at, unit=None, incident=None, source="110", deaths=0, delivered_at=None):
    with freeze_time(at), after_commit():
        signal, _ = signal_services.signal_ingest(
            actor=None,
            now=at,
            source=source,
            external_id=external_id,
            received_at=min(at, delivered_at or at),  # a feed receives a signal before it delivers it
            delivered_to=units[unit] if unit else None,
            delivered_at=(delivered_at or at) if unit else None,
            domain="production_safety",
            summary="群众报警",
            location="泗泾镇某路1号",
            deaths=deaths,
            incident=incident,
        )
    return signal


def test_signal_never_reported_on_is_missed(units, sijing_officer):
    signal = ingest(units, external_id="A-1", at=T0, unit="chedun")
    recompute(T0 + DAY)
    assert found() == set()
    recompute(T0 + DAY + timedelta(seconds=1))
    assert found() == {("missed", "signal_not_reported", False)}
    finding = Finding.objects.get()
    assert (finding.unit, finding.signal, finding.incident) == (units["chedun"], signal, None)


def test_linked_signal_missed_is_superseded_by_the_obligations_missed(units, sijing_officer):
    incident = open_incident(units, sijing_officer, unit="sijing")
    ingest(units, external_id="A-2", at=T0 + timedelta(minutes=1), unit="chedun", incident=incident)
    chedun = incident.obligations.get(unit=units["chedun"])
    file(incident.obligations.get(unit=units["sijing"]), "written", T0 + timedelta(minutes=10), sijing_officer)
    recompute(T0 + timedelta(minutes=1) + DAY + timedelta(seconds=1))
    assert found() == {("missed", "signal_not_reported", False)}
    recompute(chedun.written_due_at + DAY + timedelta(seconds=1))
    assert found() == {("missed", "signal_not_reported", True), ("missed", "no_report", False)}
    signal_missed = Finding.objects.get(detail__rule="signal_not_reported")
    assert signal_missed.superseded_by == Finding.objects.get(detail__rule="no_report")


def test_a_signal_missed_while_unlinked_leaves_lists_and_figures_once_linked_to_an_exercise(units, duty_room):
    """SPEC rule 10: the 漏报 found while the signal was linked to nothing used to stay in the figures and lists
    after the duty room linked the signal to an exercise (the exercise's recompute produces nothing to update it)."""
    drill = open_incident(units, duty_room, exercise=True)
    signal = ingest(units, external_id="A-3", at=T0, unit="sijing")
    recompute(T0 + DAY + timedelta(seconds=1))
    assert [r["missed"] for r in stats.timeliness_rows(unit=units["sijing"])] == [1]
    at = T0 + 2 * DAY
    with freeze_time(at), after_commit():
        signal_services.signal_link(signal=signal, incident=drill, actor=duty_room, now=at)
    recompute(at + timedelta(minutes=1))
    finding = Finding.objects.get()
    assert (finding.incident, finding.exercise) == (drill, True)
    assert [r["missed"] for r in stats.timeliness_rows(unit=units["sijing"])] == [0]
    assert list(stats.findings_visible()) == []


# --- 压报 held back -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gap", "expected"),
    [
        (timedelta(minutes=5, seconds=1), {("held_back", "declared_after_evidence", False)}),
        (timedelta(minutes=5), set()),
        (timedelta(minutes=4, seconds=59), set()),
    ],
)
def test_declared_first_known_later_than_signal_evidence(units, sijing_officer, gap, expected):
    incident = open_incident(units, sijing_officer, known=T0 + gap, at=T0 + gap)
    signal = ingest(units, external_id="B-1", at=T0 + gap, unit="sijing", incident=incident, delivered_at=T0)
    obligation = incident.obligations.get()
    assert obligation.first_known_at == T0 and obligation.declared_first_known_at == T0 + gap
    file(obligation, "written", T0 + timedelta(minutes=20), sijing_officer)
    recompute(WRITTEN_DUE + 3 * DAY)
    assert found() == expected
    if expected:
        finding = Finding.objects.get()
        assert finding.suspected is True and finding.signal == signal
        assert finding.detail["gap_seconds"] == 301


def test_draft_saved_before_deadline_and_filed_after_is_held_back(units, sijing_officer):
    incident = open_incident(units, sijing_officer)
    obligation = incident.obligations.get()
    with freeze_time(VERBAL_DUE - timedelta(minutes=1)):
        draft = report_services.report_create(
            obligation=obligation,
            kind="verbal",
            actor=sijing_officer,
            now=VERBAL_DUE - timedelta(minutes=1),
            draft=True,
            **report_fields(),
        )
    with freeze_time(VERBAL_DUE + timedelta(seconds=30)), after_commit():
        report_services.report_file(report=draft, actor=sijing_officer, now=VERBAL_DUE + timedelta(seconds=30))
    file(obligation, "written", T0 + timedelta(minutes=50), sijing_officer)
    recompute(WRITTEN_DUE + 3 * DAY)
    assert found() == {("late", "verbal", False), ("held_back", "draft_filed_after_deadline", False)}
    held = Finding.objects.get(kind="held_back")
    assert held.report_id == draft.pk and held.suspected and held.detail["deadline"] == "verbal"


def test_draft_saved_after_deadline_is_only_late(units, sijing_officer):
    incident = open_incident(units, sijing_officer)
    obligation = incident.obligations.get()
    saved = VERBAL_DUE + timedelta(seconds=10)
    with freeze_time(saved):
        draft = report_services.report_create(
            obligation=obligation, kind="verbal", actor=sijing_officer, now=saved, draft=True, **report_fields()
        )
    with freeze_time(VERBAL_DUE + timedelta(minutes=1)), after_commit():
        report_services.report_file(report=draft, actor=sijing_officer, now=VERBAL_DUE + timedelta(minutes=1))
    file(obligation, "written", T0 + timedelta(minutes=50), sijing_officer)
    recompute(WRITTEN_DUE + 3 * DAY)
    assert found() == {("late", "verbal", False)}


@pytest.mark.parametrize(
    ("city_after_t0", "expected"),
    [
        (timedelta(minutes=5), {("held_back", "city_before_district", False)}),
        (timedelta(minutes=10), set()),  # the same moment as the district verbal report: not before it
        (timedelta(minutes=15), set()),
    ],
)
def test_vertical_unit_city_report_before_district_verbal(units, duty_room, city_after_t0, expected):
    incident = open_incident(units, duty_room, unit="police")
    obligation = incident.obligations.get()
    file(obligation, "verbal", T0 + timedelta(minutes=10), duty_room)
    file(obligation, "written", T0 + timedelta(minutes=40), duty_room)
    with freeze_time(T0 + timedelta(minutes=45)), after_commit():
        obligation_services.obligation_record_city_report(
            obligation=obligation, reported_at=T0 + city_after_t0, actor=duty_room, now=T0 + timedelta(minutes=45)
        )
    assert found() == expected  # produced by the obligation_changed event
    recompute(WRITTEN_DUE + 3 * DAY)
    assert found() == expected


def test_vertical_unit_city_report_with_no_district_report_is_held_back(units, duty_room):
    incident = open_incident(units, duty_room, unit="police")
    obligation = incident.obligations.get()
    with freeze_time(T0 + timedelta(minutes=5)), after_commit():
        obligation_services.obligation_record_city_report(
            obligation=obligation, reported_at=T0 + timedelta(minutes=4), actor=duty_room, now=T0 + timedelta(minutes=5)
        )
    assert found() == {("held_back", "city_before_district", False)}


# --- 瞒报/谎报 concealed ------------------------------------------------------------------------------------------


def test_raised_deaths_after_a_120_signal_showed_more_is_suspected_concealed(units, sijing_officer, leader_in_charge):
    incident = open_incident(units, sijing_officer)
    obligation = incident.obligations.get()
    signal = ingest(units, external_id="C-1", at=T0 + timedelta(minutes=2), source="120", deaths=2, incident=incident)
    verbal = file(obligation, "verbal", T0 + timedelta(minutes=10), sijing_officer, deaths=0)
    written = file(obligation, "written", T0 + timedelta(minutes=40), sijing_officer, deaths=2)
    recompute(WRITTEN_DUE + 3 * DAY)
    assert found() == {("concealed", "raised_after_evidence", False)}
    finding = Finding.objects.get()
    assert finding.suspected is True and finding.review == "open"
    assert (finding.report, finding.signal) == (verbal, signal)
    assert finding.detail["later_report"] == written.pk
    assert (finding.detail["stated_deaths"], finding.detail["later_deaths"]) == (0, 2)


def test_raised_deaths_when_the_signal_came_after_the_earlier_report_is_not_concealed(
    units, sijing_officer, leader_in_charge
):
    incident = open_incident(units, sijing_officer)
    obligation = incident.obligations.get()
    file(obligation, "verbal", T0 + timedelta(minutes=10), sijing_officer, deaths=0)
    ingest(units, external_id="C-2", at=T0 + timedelta(minutes=11), source="120", deaths=2, incident=incident)
    file(obligation, "written", T0 + timedelta(minutes=40), sijing_officer, deaths=2)
    recompute(WRITTEN_DUE + 3 * DAY)
    assert found() == set()


def test_raised_deaths_after_another_units_report_showed_more_is_suspected_concealed(
    units, sijing_officer, leader_in_charge, duty_room
):
    incident = open_incident(units, sijing_officer, extra_units=("emergency",))
    sijing = incident.obligations.get(unit=units["sijing"])
    emergency = incident.obligations.get(unit=units["emergency"])
    other = file(emergency, "written", T0 + timedelta(minutes=5), duty_room, deaths=1)
    file(sijing, "verbal", T0 + timedelta(minutes=10), sijing_officer, deaths=0)
    file(sijing, "written", T0 + timedelta(minutes=40), sijing_officer, deaths=1)
    recompute(WRITTEN_DUE + 3 * DAY)
    assert found() == {("concealed", "raised_after_evidence", False)}
    finding = Finding.objects.get()
    assert finding.unit == units["sijing"]
    assert finding.detail["evidence"]["kind"] == "report" and finding.detail["evidence"]["id"] == other.pk


# --- exercises, not required, roster gaps --------------------------------------------------------------------------


def test_exercise_gives_no_finding_at_all(units, sijing_officer, duty_room):
    incident = open_incident(units, duty_room, exercise=True)
    obligation = incident.obligations.get()
    file(obligation, "written", WRITTEN_DUE + DAY + timedelta(hours=1), sijing_officer)
    recompute(WRITTEN_DUE + 3 * DAY)
    assert found() == set()


def test_not_required_obligation_gives_no_finding(units, sijing_officer, duty_room):
    incident = open_incident(units, sijing_officer, extra_units=("chedun",))
    chedun = incident.obligations.get(unit=units["chedun"])
    with freeze_time(T0 + timedelta(minutes=45)), after_commit():
        obligation_services.obligation_mark_not_required(
            obligation=chedun, reason="误加单位", actor=duty_room, now=T0 + timedelta(minutes=45)
        )
    file(incident.obligations.get(unit=units["sijing"]), "written", T0 + timedelta(minutes=20), sijing_officer)
    recompute(WRITTEN_DUE + 3 * DAY)
    assert found() == set()


def test_marking_not_required_after_a_late_verbal_report_does_not_erase_it(units, sijing_officer, duty_room):
    """The late verbal report is found even when the mark comes before the (debounced) recompute, and it stays
    in the auditors' figures and list; the written clock, still pending at the mark, gives nothing."""
    from reporting import stats

    obligation = open_incident(units, sijing_officer).obligations.get()
    file(obligation, "verbal", VERBAL_DUE + timedelta(minutes=10), sijing_officer)
    obligation.refresh_from_db()
    with freeze_time(VERBAL_DUE + timedelta(minutes=15)), after_commit():
        obligation_services.obligation_mark_not_required(
            obligation=obligation, reason="误加单位", actor=duty_room, now=VERBAL_DUE + timedelta(minutes=15)
        )
    recompute(WRITTEN_DUE + 3 * DAY)
    assert found() == {("late", "verbal", False)}
    [row] = [r for r in stats.timeliness_rows() if r["unit"] == "sijing"]
    assert (row["obligations"], row["late"], row["missed"]) == (0, 1, 0)
    assert [f.kind for f in stats.findings_visible()] == ["late"]


def test_a_late_report_after_a_restore_is_late_and_the_obligation_counts_again(units, sijing_officer, duty_room):
    """The mark undone (撤销无需报送): the obligation is judged as if never marked. Its report, filed after the
    written due, is 迟报 on both deadlines; the figures count it again; the exercise flag is untouched."""
    obligation = open_incident(units, sijing_officer).obligations.get()
    with freeze_time(T0 + timedelta(minutes=5)), after_commit():
        obligation_services.obligation_mark_not_required(
            obligation=obligation, reason="误加单位", actor=duty_room, now=T0 + timedelta(minutes=5)
        )
    restored = WRITTEN_DUE + timedelta(minutes=20)
    with freeze_time(restored), after_commit():
        obligation_services.obligation_restore(obligation=obligation, reason="派对了", actor=duty_room, now=restored)
    file(obligation, "written", restored + timedelta(minutes=10), sijing_officer)
    recompute(WRITTEN_DUE + 3 * DAY)
    assert found() == {("late", "verbal", False), ("late", "written", False)}
    [row] = [r for r in stats.timeliness_rows() if r["unit"] == "sijing"]
    assert (row["obligations"], row["late"]) == (1, 1)
    obligation.refresh_from_db()
    assert obligation.incident.exercise is False


def test_marking_not_required_after_the_missed_horizon_keeps_the_missed_finding(units, sijing_officer, duty_room):
    obligation = open_incident(units, sijing_officer).obligations.get()
    recompute(WRITTEN_DUE + DAY + timedelta(minutes=1))
    with freeze_time(WRITTEN_DUE + 2 * DAY), after_commit():
        obligation_services.obligation_mark_not_required(
            obligation=obligation, reason="事后认定无关", actor=duty_room, now=WRITTEN_DUE + 2 * DAY
        )
    recompute(WRITTEN_DUE + 3 * DAY)
    assert found() == {("missed", "no_report", False)}


def test_roster_gap_is_recorded_once_per_moment_and_step(units, sijing_officer):
    incident = open_incident(units, sijing_officer)
    obligation = incident.obligations.get()
    detail = {"step": "verbal_overdue", "repeat": 0, "on_post": [], "required": 2}
    first = finding_roster_gap_record(unit=units["sijing"], at=VERBAL_DUE, obligation=obligation, detail=detail)
    again = finding_roster_gap_record(unit=units["sijing"], at=VERBAL_DUE, obligation=obligation, detail=detail)
    other = finding_roster_gap_record(
        unit=units["sijing"], at=VERBAL_DUE + timedelta(minutes=5), obligation=obligation, detail=detail
    )
    assert first.pk == again.pk != other.pk
    assert (first.kind, first.incident, first.exercise, first.found_at) == ("roster_gap", incident, False, VERBAL_DUE)
    recompute(VERBAL_DUE + timedelta(minutes=1))
    assert found() == {("roster_gap", None, False)}  # the recompute neither adds nor removes roster gaps
    assert Finding.objects.filter(kind="roster_gap").count() == 2


def test_roster_gap_in_an_exercise_is_flagged_exercise(units, sijing_officer, duty_room):
    incident = open_incident(units, duty_room, exercise=True)
    gap = finding_roster_gap_record(
        unit=units["sijing"], at=VERBAL_DUE, incident=incident, detail={"step": "verbal_overdue"}
    )
    assert gap.exercise is True


# --- review -------------------------------------------------------------------------------------------------------


def test_confirmed_concealed_exists_only_through_an_auditors_decision(units, sijing_officer, auditor):
    from reporting.findings_services import finding_review

    incident = open_incident(units, sijing_officer)
    obligation = incident.obligations.get()
    ingest(units, external_id="C-9", at=T0 + timedelta(minutes=2), source="120", deaths=3, incident=incident)
    file(obligation, "verbal", T0 + timedelta(minutes=10), sijing_officer, deaths=0)
    file(obligation, "written", T0 + timedelta(minutes=40), sijing_officer, deaths=3)
    finding = Finding.objects.get(kind="concealed")
    assert finding.review == "open"
    recompute(WRITTEN_DUE + DAY)
    finding.refresh_from_db()
    assert finding.review == "open"
    finding_review(finding=finding, decision="confirmed", reason="120记录显示3人死亡", actor=auditor, now=T0 + DAY)
    recompute(WRITTEN_DUE + 2 * DAY)
    finding.refresh_from_db()
    assert (finding.review, finding.reviewed_by, finding.reason) == ("confirmed", auditor, "120记录显示3人死亡")
    event = AuditEvent.objects.filter(kind="finding_reviewed").get()
    assert event.actor == "auditor" and event.at == T0 + DAY
    assert event.detail["decision"] == "confirmed" and event.detail["finding"] == finding.pk
