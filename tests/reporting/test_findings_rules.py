"""reporting.findings, the pure rules: plain values in, candidates with deterministic keys out (no database)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import translation

from reporting import findings as rules
from reporting.finding_facts import IncidentFacts, ObligationFact, ReportFact, SignalFact, delay_seconds, roster_gap_key
from reporting.finding_text import finding_summary
from reporting.models import Finding

NOW = datetime(2026, 11, 28, 1, 0, tzinfo=UTC)
H24 = timedelta(hours=24)


def obligation(**over) -> ObligationFact:
    base = dict(
        id=31,
        unit_id=4,
        incident_id=12,
        first_known_at=NOW,
        declared_first_known_at=NOW,
        verbal_due_at=NOW + timedelta(minutes=30),
        written_due_at=NOW + timedelta(minutes=60),
        verbal_state="pending",
        written_state="pending",
        verbal_filed_at=None,
        written_filed_at=None,
        verbal_report_id=None,
        written_report_id=None,
        created_at=NOW,
    )
    base.update(over)
    return ObligationFact(**base)


def report(id_, kind, at, *, created=None, deaths=0, unit_id=4, obligation_id=31, due=None, delay=None):
    return ReportFact(
        id=id_,
        obligation_id=obligation_id,
        unit_id=unit_id,
        kind=kind,
        created_at=created or at,
        filed_at=at,
        counted_at=at,
        due_at=due,
        delay_seconds=delay,
        deaths=deaths,
        injuries=0,
        missing=0,
        direct_loss_yuan=0,
    )


def keys(facts, now=NOW + timedelta(days=3)):
    return [c.key for c in rules.incident_findings(facts, now=now, missed_after=H24)]


@pytest.mark.parametrize(
    ("counted", "due", "expected"),
    [
        (NOW, NOW, 0),
        (NOW + timedelta(microseconds=1), NOW, 1),
        (NOW + timedelta(seconds=420), NOW, 420),
        (NOW + timedelta(seconds=420, microseconds=1), NOW, 421),
        (NOW - timedelta(seconds=5), NOW, 0),
    ],
)
def test_delay_seconds_rounds_up_and_is_zero_on_time(counted, due, expected):
    assert delay_seconds(counted, due) == expected


@pytest.mark.parametrize(
    ("declared_after_evidence", "held_back"),
    [
        (timedelta(minutes=4, seconds=59), False),
        (timedelta(minutes=5), False),
        (timedelta(minutes=5, microseconds=1), True),
        (timedelta(minutes=5, seconds=1), True),
        (timedelta(minutes=-3), False),
    ],
)
def test_declared_first_known_tolerance_is_strictly_more_than_five_minutes(declared_after_evidence, held_back):
    signal = SignalFact(id=7, source="110", received_at=NOW, unit_id=4, delivered_at=NOW, incident_id=12)
    o = obligation(
        declared_first_known_at=NOW + declared_after_evidence,
        written_state="on_time",
        verbal_state="on_time",
        written_filed_at=NOW + timedelta(minutes=10),
        verbal_filed_at=NOW + timedelta(minutes=10),
    )
    facts = IncidentFacts(id=12, exercise=False, obligations=(o,), signals=(signal,))
    assert ("held_back:o31:declared" in keys(facts)) is held_back


def test_missed_horizon_is_exclusive():
    facts = IncidentFacts(id=12, exercise=False, obligations=(obligation(),))
    horizon = NOW + timedelta(minutes=60) + H24
    assert keys(facts, now=horizon) == []
    assert keys(facts, now=horizon + timedelta(microseconds=1)) == ["missed:o31:no_report"]


def test_written_filed_after_the_horizon_gives_a_superseded_missed_and_two_lates():
    filed = NOW + timedelta(minutes=60) + H24 + timedelta(hours=1)
    o = obligation(
        verbal_state="late",
        written_state="late",
        verbal_filed_at=filed,
        written_filed_at=filed,
        verbal_report_id=55,
        written_report_id=55,
    )
    r = report(55, "written", filed, due=o.written_due_at, delay=86400 + 3600)
    out = rules.incident_findings(
        IncidentFacts(id=12, exercise=False, obligations=(o,), reports=(r,)), now=filed, missed_after=H24
    )
    by_key = {c.key: c for c in out}
    assert sorted(by_key) == ["late:o31:verbal", "late:o31:written", "missed:o31:no_report"]
    assert by_key["missed:o31:no_report"].superseded_by_key == "late:o31:written"
    assert by_key["late:o31:written"].detail["delay_seconds"] == 86400 + 3600
    assert by_key["late:o31:verbal"].detail["delay_seconds"] == 86400 + 3600 + 1800


def test_exercise_and_not_required_give_nothing():
    o = obligation()
    assert keys(IncidentFacts(id=12, exercise=True, obligations=(o,))) == []
    marked = replace(o, verbal_state="not_required", written_state="not_required", not_required_at=NOW)
    assert keys(IncidentFacts(id=12, exercise=False, obligations=(marked,))) == []


# --- the duty room's relay (SPEC rule 13): one clock, judged once ------------------------------------------------

RELAY_DUE = NOW + timedelta(minutes=15)


def relay(**over) -> ObligationFact:
    """The duty room's relay obligation: both due times equal, one clock."""
    return obligation(**{"kind": "relay", "verbal_due_at": RELAY_DUE, "written_due_at": RELAY_DUE, **over})


def relayed(state, at, *, written_mirrors=True, report_id=55) -> ObligationFact:
    """A relay done by phone at ``at``; ``written_mirrors=False`` is a row from before the relay was one clock
    (its written clock left pending)."""
    over = dict(verbal_state=state, verbal_filed_at=at, verbal_report_id=report_id)
    if written_mirrors:
        over.update(written_state=state, written_filed_at=at, written_report_id=report_id)
    return relay(**over)


@pytest.mark.parametrize("written_mirrors", [True, False], ids=["one-clock", "pending-written-row"])
def test_a_relay_done_by_phone_on_time_gives_no_finding_ever(written_mirrors):
    o = relayed("on_time", RELAY_DUE, written_mirrors=written_mirrors)
    r = report(55, "verbal", RELAY_DUE, due=RELAY_DUE, delay=0)
    facts = IncidentFacts(id=12, exercise=False, obligations=(o,), reports=(r,))
    assert keys(facts, now=RELAY_DUE + 3 * H24) == []


def test_a_relay_done_late_by_phone_is_one_late_finding():
    at = RELAY_DUE + timedelta(minutes=1)
    r = report(55, "verbal", at, due=RELAY_DUE, delay=60)
    facts = IncidentFacts(id=12, exercise=False, obligations=(relayed("late", at),), reports=(r,))
    out = rules.incident_findings(facts, now=at + 3 * H24, missed_after=H24)
    assert [(c.key, c.detail["delay_seconds"], c.report_id) for c in out] == [("late:o31:verbal", 60, 55)]


def test_a_relay_never_done_is_one_missed_finding_on_its_one_deadline():
    facts = IncidentFacts(id=12, exercise=False, obligations=(relay(),))
    assert keys(facts, now=RELAY_DUE + H24) == []
    out = rules.incident_findings(facts, now=RELAY_DUE + H24 + timedelta(seconds=1), missed_after=H24)
    assert [(c.key, c.detail["deadline"], c.found_at) for c in out] == [
        ("missed:o31:no_report", "verbal", RELAY_DUE + H24)
    ]
    # Said as a relay, not as a written report the duty room never owed.
    with translation.override("zh-hans"):
        zh = finding_summary(Finding(kind="missed", detail=out[0].detail))
    with translation.override("en"):
        en = finding_summary(Finding(kind="missed", detail=out[0].detail))
    assert zh.startswith("转报区委办区府办时限 (") and zh.endswith(") 过后 24 小时仍未转报")
    assert en.startswith("No relay to the district Party and government offices 24 h after it was due (")


def test_a_relay_done_after_the_horizon_supersedes_its_missed_with_its_one_late():
    at = RELAY_DUE + H24 + timedelta(hours=1)
    r = report(55, "verbal", at, due=RELAY_DUE, delay=86400 + 3600)
    out = rules.incident_findings(
        IncidentFacts(id=12, exercise=False, obligations=(relayed("late", at),), reports=(r,)),
        now=at,
        missed_after=H24,
    )
    by_key = {c.key: c for c in out}
    assert sorted(by_key) == ["late:o31:verbal", "missed:o31:no_report"]
    assert by_key["missed:o31:no_report"].superseded_by_key == "late:o31:verbal"


def test_a_signal_to_the_duty_room_before_the_relay_anchor_is_no_held_back():
    # The relay runs from when the incident became major, not from knowledge (deadlines.relay_anchor).
    signal = SignalFact(id=7, source="110", received_at=NOW, unit_id=4, delivered_at=NOW, incident_id=12)
    o = relayed("on_time", NOW + timedelta(minutes=50), report_id=55)
    o = replace(o, declared_first_known_at=NOW + timedelta(minutes=40), verbal_due_at=NOW + timedelta(minutes=55))
    o = replace(o, written_due_at=o.verbal_due_at)
    r = report(55, "verbal", NOW + timedelta(minutes=50), due=o.verbal_due_at, delay=0)
    facts = IncidentFacts(id=12, exercise=False, obligations=(o,), reports=(r,), signals=(signal,))
    assert keys(facts) == []


# --- not required (SPEC rule 11): the mark ends the duty, it does not erase what was already found -------------

SIGNAL = SignalFact(id=7, source="110", received_at=NOW, unit_id=4, delivered_at=NOW, incident_id=12)


def marked_at(at, **over) -> ObligationFact:
    """The obligation marked not required at ``at``: its pending clocks became not required."""
    o = obligation(**over)
    return replace(
        o,
        verbal_state="not_required" if o.verbal_state == "pending" else o.verbal_state,
        written_state="not_required" if o.written_state == "pending" else o.written_state,
        not_required_at=at,
    )


def test_a_late_verbal_report_stays_late_after_the_mark():
    filed = NOW + timedelta(minutes=40)
    o = marked_at(filed + timedelta(minutes=5), verbal_state="late", verbal_filed_at=filed, verbal_report_id=1)
    r = report(1, "verbal", filed, due=o.verbal_due_at, delay=600)
    assert keys(IncidentFacts(id=12, exercise=False, obligations=(o,), reports=(r,))) == ["late:o31:verbal"]


@pytest.mark.parametrize(
    ("marked_after_written_due", "expected"),
    [
        (H24, []),  # exactly at the horizon: not yet 漏报 when marked
        (H24 + timedelta(seconds=1), ["missed:o31:no_report"]),
        (timedelta(minutes=5), []),  # marked soon after the deadline (a unit added by mistake)
    ],
)
def test_a_mark_after_the_missed_horizon_keeps_the_missed_finding(marked_after_written_due, expected):
    o = marked_at(NOW + timedelta(minutes=60) + marked_after_written_due)
    assert keys(IncidentFacts(id=12, exercise=False, obligations=(o,)), now=NOW + timedelta(days=30)) == expected


def test_reports_filed_after_the_mark_do_not_count_for_it():
    o = marked_at(NOW + timedelta(minutes=10))
    late = report(2, "written", NOW + timedelta(hours=3), due=o.written_due_at, delay=7200)
    assert keys(IncidentFacts(id=12, exercise=False, obligations=(o,), reports=(late,))) == []


@pytest.mark.parametrize(
    ("marked_after_delivery", "expected"),
    [
        (H24 - timedelta(minutes=1), []),
        (H24 + timedelta(hours=2), ["missed:o31:no_report", "missed:s7"]),
    ],
)
def test_a_signal_never_reported_on_counts_as_of_the_mark(marked_after_delivery, expected):
    o = marked_at(NOW + marked_after_delivery)
    facts = IncidentFacts(id=12, exercise=False, obligations=(o,), signals=(SIGNAL,))
    assert keys(facts, now=NOW + timedelta(days=30)) == expected


def test_same_facts_same_candidates():
    o = obligation(verbal_state="late", verbal_filed_at=NOW + timedelta(minutes=31), verbal_report_id=1)
    facts = IncidentFacts(
        id=12, exercise=False, obligations=(o,), reports=(report(1, "verbal", NOW + timedelta(minutes=31)),)
    )
    first = rules.incident_findings(facts, now=NOW + timedelta(days=2), missed_after=H24)
    assert first == rules.incident_findings(facts, now=NOW + timedelta(days=2), missed_after=H24)
    assert [c.key for c in first] == ["late:o31:verbal", "missed:o31:no_report"]


def test_concealed_needs_evidence_before_the_understated_report():
    own = [
        report(1, "verbal", NOW + timedelta(minutes=10), deaths=0),
        report(2, "written", NOW + timedelta(minutes=40), deaths=3),
    ]
    before = SignalFact(id=9, source="120", received_at=NOW + timedelta(minutes=5), deaths=3, incident_id=12)
    after = replace(before, received_at=NOW + timedelta(minutes=11))
    wrong_source = replace(before, source="12345")
    o = obligation()
    assert rules.concealed_findings(o, own, others=[], signals=[after]) == []
    assert rules.concealed_findings(o, own, others=[], signals=[wrong_source]) == []
    (found,) = rules.concealed_findings(o, own, others=[], signals=[before])
    assert (found.key, found.report_id, found.signal_id, found.suspected) == ("concealed:o31", 1, 9, True)


def test_concealed_judges_a_phoned_report_at_the_call_not_at_its_logging():
    """A verbal report logged by the duty room says what the unit stated on the phone (SPEC rule 2: the call's time
    counts). A 120 signal received between the call and its logging was no evidence the unit had: no 瞒报. It used to
    be judged at the logging time (``filed_at``), so the unit was suspected of understating."""
    call, logged = NOW + timedelta(minutes=10), NOW + timedelta(minutes=20)
    own = [
        replace(report(1, "verbal", logged, deaths=0), counted_at=call),
        report(2, "written", NOW + timedelta(minutes=40), deaths=2),
    ]
    between = SignalFact(id=9, source="120", received_at=call + timedelta(minutes=2), deaths=2, incident_id=12)
    assert rules.concealed_findings(obligation(), own, others=[], signals=[between]) == []
    before_call = replace(between, received_at=call - timedelta(minutes=1))
    (found,) = rules.concealed_findings(obligation(), own, others=[], signals=[before_call])
    assert (found.report_id, found.signal_id) == (1, 9)
    # Another unit's phoned report counts from its call too.
    other = replace(
        report(3, "verbal", call + timedelta(minutes=5), deaths=2, unit_id=5, obligation_id=32),
        counted_at=call - timedelta(minutes=1),
    )
    (found,) = rules.concealed_findings(obligation(), own, others=[other], signals=[])
    assert found.detail["evidence"]["id"] == 3


def test_concealed_on_grade_raised_by_serious_injuries():
    own = [
        replace(report(1, "verbal", NOW + timedelta(minutes=10)), injuries=1),
        replace(report(2, "written", NOW + timedelta(minutes=40)), injuries=12, serious_injuries=10),
    ]
    other = replace(
        report(3, "written", NOW + timedelta(minutes=5), unit_id=5, obligation_id=32), injuries=15, serious_injuries=11
    )
    (found,) = rules.concealed_findings(obligation(), own, others=[other], signals=[])
    assert found.detail["stated_grade"] == "IV" and found.detail["later_grade"] == "III"
    assert found.detail["evidence"] == {"kind": "report", "id": 3, "unit": 5, "deaths": 0, "grade": "III"}


def test_light_injuries_raise_no_grade_and_are_no_grade_evidence():
    """Grading counts serious injuries (SPEC rule 9): more lightly injured is not a raised grade, and another unit's
    report or a 120 signal counting many injured (feeds do not say how seriously) shows no higher grade."""
    own = [
        replace(report(1, "verbal", NOW + timedelta(minutes=10)), injuries=1),
        replace(report(2, "written", NOW + timedelta(minutes=40)), injuries=60),
    ]
    other = replace(report(3, "written", NOW + timedelta(minutes=5), unit_id=5, obligation_id=32), injuries=60)
    assert own[1].grade == other.grade == "IV"
    assert rules.concealed_findings(obligation(), own, others=[other], signals=[]) == []
    # Raised to III by serious injuries later, with only light-injury evidence before: not concealed either.
    raised = [own[0], replace(own[1], serious_injuries=10)]
    signal = SignalFact(id=9, source="120", received_at=NOW + timedelta(minutes=5), injuries=60, incident_id=12)
    assert signal.grade == "IV"
    assert rules.concealed_findings(obligation(), raised, others=[other], signals=[signal]) == []


def test_roster_gap_key_is_stable():
    key = roster_gap_key(unit_id=4, at=NOW, obligation_id=31, incident_id=12, step="verbal_overdue")
    assert key == "roster_gap:u4:o31:verbal_overdue:2026-11-28T01:00:00Z"


def test_a_delivery_before_the_incident_occurred_is_no_evidence():
    signal = SignalFact(id=7, source="110", received_at=NOW, unit_id=4, delivered_at=NOW, incident_id=12)
    o = obligation(
        declared_first_known_at=NOW + timedelta(minutes=20),
        verbal_state="on_time",
        written_state="on_time",
        verbal_filed_at=NOW + timedelta(minutes=25),
        written_filed_at=NOW + timedelta(minutes=25),
    )
    written = report(1, "written", NOW + timedelta(minutes=25))
    facts = IncidentFacts(id=12, exercise=False, obligations=(o,), reports=(written,), signals=(signal,))
    assert keys(facts) == ["held_back:o31:declared"]
    assert keys(replace(facts, occurred_at=NOW + timedelta(minutes=1))) == []
