"""Findings the data no longer supports are withdrawn (``withdrawn_at``, event ``finding_withdrawn``) and count in
no figure; they come back (``finding_reinstated``) when the data supports them again. A recompute withdraws only
what it judged in full: the incidents it recomputed, the unlinked signals of its window."""

from __future__ import annotations

from datetime import timedelta

from freezegun import freeze_time

from reporting import obligation_services, signal_services, stats
from reporting.findings_services import finding_review, finding_roster_gap_record, findings_recompute_incident
from reporting.models import AuditEvent, Finding, Signal
from reporting.tasks import recompute_findings
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
    snapshot,
)


def events(kind):
    return list(AuditEvent.objects.filter(kind=kind).order_by("id"))


def counted(units, code, kind):
    [row] = stats.timeliness_rows(unit=units[code])
    return row[kind]


def signal_missed_then_linked(units, officer, duty_room):
    """A signal delivered to sijing at T0 and linked to nothing is its 漏报 after 24 h; sijing did report on the
    incident in time. Returns (incident, signal, finding) before the duty room links the two."""
    incident = open_incident(units, officer)
    obligation = incident.obligations.get()
    file(obligation, "verbal", T0 + timedelta(minutes=10), officer)
    file(obligation, "written", T0 + timedelta(minutes=40), officer)
    signal = ingest(units, external_id="W-1", at=T0, unit="sijing")
    recompute(T0 + DAY + timedelta(seconds=1))
    finding = Finding.objects.get(kind="missed", signal=signal)
    assert (finding.incident, finding.withdrawn_at) == (None, None)
    assert counted(units, "sijing", "missed") == 1
    return incident, signal, finding


def link(signal, incident, at, actor):
    with freeze_time(at), after_commit():
        signal_services.signal_link(signal=signal, incident=incident, actor=actor, now=at)


def test_signal_missed_is_withdrawn_when_linked_to_an_incident_reported_in_time_and_back_when_unlinked(
    units, sijing_officer, duty_room
):
    incident, signal, finding = signal_missed_then_linked(units, sijing_officer, duty_room)
    linked_at = T0 + 2 * DAY
    link(signal, incident, linked_at, duty_room)
    # The link itself recomputes the incident (no later recompute needed): the unit reported within 24 h.
    finding.refresh_from_db()
    assert (finding.withdrawn_at, finding.incident, finding.review) == (linked_at, incident, "open")
    assert counted(units, "sijing", "missed") == 0
    [event] = events("finding_withdrawn")
    assert (event.at, event.actor, event.incident, event.object_id) == (linked_at, "system", incident, str(finding.pk))
    assert event.detail == {
        "finding": finding.pk,
        "kind": "missed",
        "unit": "sijing",
        "rule": "signal_not_reported",
        "review": "open",
    }
    # Still on record for the auditors, with its evidence as it was.
    assert finding.detail["rule"] == "signal_not_reported" and list(stats.findings_visible()) == [finding]

    # Unlinked as a data fix would (``signal_unlink`` also hands the finding back at once: test_signal_unlink).
    Signal.objects.filter(pk=signal.pk).update(incident=None)
    result = recompute(T0 + 3 * DAY)
    finding.refresh_from_db()
    assert (finding.withdrawn_at, finding.incident) == (None, None)
    assert (result.withdrawn, result.reinstated) == (0, 1)
    assert counted(units, "sijing", "missed") == 1
    [event] = events("finding_reinstated")
    assert (event.at, event.object_id, event.detail["rule"]) == (T0 + 3 * DAY, str(finding.pk), "signal_not_reported")


def test_withdrawal_and_reinstatement_are_idempotent(units, sijing_officer, duty_room):
    incident, signal, finding = signal_missed_then_linked(units, sijing_officer, duty_room)
    link(signal, incident, T0 + 2 * DAY, duty_room)
    before, chain = snapshot(), AuditEvent.objects.count()
    for at in (T0 + 3 * DAY, T0 + 4 * DAY):
        result = recompute(at)
        assert (result.created, result.updated, result.withdrawn, result.reinstated) == (0, 0, 0, 0)
    assert snapshot() == before and AuditEvent.objects.count() == chain
    assert Finding.objects.get().withdrawn_at == T0 + 2 * DAY  # the first withdrawal's moment is kept

    Signal.objects.filter(pk=signal.pk).update(incident=None)
    recompute(T0 + 5 * DAY)
    chain = AuditEvent.objects.count()
    again = recompute(T0 + 6 * DAY)
    assert (again.created, again.updated, again.withdrawn, again.reinstated) == (0, 0, 0, 0)
    assert AuditEvent.objects.count() == chain
    assert len(events("finding_withdrawn")) == len(events("finding_reinstated")) == 1


def correct(obligation, first_known_at, at, actor):
    with freeze_time(at), after_commit():
        obligation_services.obligation_correct_first_known(
            obligation=obligation, first_known_at=first_known_at, actor=actor, now=at, reason="核实后更正"
        )


def test_held_back_is_withdrawn_after_a_first_known_correction_keeping_its_review_and_reinstated(
    units, sijing_officer, duty_room, auditor
):
    """Declared first-known 10 min after the 110 signal's delivery: suspected 压报. The auditor confirms it; the
    duty room then corrects the declared time to 2 min after the delivery: the data no longer supports it. The
    confirmation stays (a human decision), the finding is marked withdrawn and leaves the figures; corrected back,
    it is counted again, still confirmed."""
    incident = open_incident(units, sijing_officer, known=T0 + timedelta(minutes=10), at=T0 + timedelta(minutes=10))
    ingest(units, external_id="W-2", at=T0 + timedelta(minutes=10), unit="sijing", incident=incident, delivered_at=T0)
    obligation = incident.obligations.get()
    file(obligation, "written", T0 + timedelta(minutes=20), sijing_officer)
    held = Finding.objects.get(kind="held_back")
    assert held.detail["rule"] == "declared_after_evidence"
    finding_review(finding=held, decision="confirmed", reason="110派警记录早于申报", actor=auditor, now=T0 + DAY)
    assert counted(units, "sijing", "held_back") == 1

    correct(obligation, T0 + timedelta(minutes=2), T0 + 2 * DAY, duty_room)
    held.refresh_from_db()
    assert held.withdrawn_at == T0 + 2 * DAY
    assert (held.review, held.reason, held.reviewed_by) == ("confirmed", "110派警记录早于申报", auditor)
    assert counted(units, "sijing", "held_back") == 0
    assert events("finding_withdrawn")[0].detail["review"] == "confirmed"

    correct(obligation, T0 + timedelta(minutes=10), T0 + 3 * DAY, duty_room)
    held.refresh_from_db()
    assert (held.withdrawn_at, held.review) == (None, "confirmed")
    assert counted(units, "sijing", "held_back") == 1
    assert [e.at for e in events("finding_reinstated")] == [T0 + 3 * DAY]


def test_held_back_is_withdrawn_when_its_evidence_signal_is_linked_elsewhere(units, sijing_officer):
    """The evidence signal moved to another incident (a data correction): the 压报 it supported is withdrawn by the
    next recompute of the incident, while the late verbal report of the same obligation stays counted."""
    incident = open_incident(units, sijing_officer, known=T0 + timedelta(minutes=10), at=T0 + timedelta(minutes=10))
    other = open_incident(units, sijing_officer, unit="chedun")
    signal = ingest(
        units, external_id="W-3", at=T0 + timedelta(minutes=10), unit="sijing", incident=incident, delivered_at=T0
    )
    file(incident.obligations.get(), "written", VERBAL_DUE + timedelta(minutes=5), sijing_officer)
    assert {f.kind for f in Finding.objects.filter(withdrawn_at__isnull=True)} == {"late", "held_back"}
    Signal.objects.filter(pk=signal.pk).update(incident=other)
    recompute(T0 + DAY)
    assert {(f.kind, f.withdrawn_at) for f in Finding.objects.all()} == {("late", None), ("held_back", T0 + DAY)}
    assert (counted(units, "sijing", "late"), counted(units, "sijing", "held_back")) == (1, 0)


def test_the_windowed_recompute_withdraws_nothing_outside_its_window(units, sijing_officer):
    """The beat's 7-day recompute does not judge an older incident or an older unlinked signal: their findings
    stay as they are, even unsupported, until a recompute that considers them (an event, a wider window)."""
    incident = open_incident(units, sijing_officer)
    signal = ingest(units, external_id="W-4", at=T0, unit="chedun")
    recompute(WRITTEN_DUE + DAY + timedelta(seconds=1))
    assert {(f.kind, f.detail["rule"]) for f in Finding.objects.all()} == {
        ("missed", "no_report"),
        ("missed", "signal_not_reported"),
    }
    # Neither is supported any more: the obligation was marked not required before its horizon passed, and the
    # signal was delivered to no unit after all (data fixes that send no event).
    incident.obligations.update(
        not_required_at=T0 + timedelta(minutes=45), verbal_state="not_required", written_state="not_required"
    )
    Signal.objects.filter(pk=signal.pk).update(delivered_to=None)
    with freeze_time(WRITTEN_DUE + 10 * DAY):
        assert recompute_findings()["withdrawn"] == 0
        assert not Finding.objects.filter(withdrawn_at__isnull=False).exists()
        assert recompute_findings(days=30)["withdrawn"] == 2
        assert recompute_findings(days=30)["withdrawn"] == 0
    assert {f.withdrawn_at for f in Finding.objects.all()} == {WRITTEN_DUE + 10 * DAY}


def test_the_windowed_recompute_withdraws_an_unlinked_signals_missed_in_its_window(units, sijing_officer):
    signal = ingest(units, external_id="W-5", at=T0, unit="chedun")
    recompute(T0 + DAY + timedelta(seconds=1))
    Signal.objects.filter(pk=signal.pk).update(delivered_to=None)
    with freeze_time(T0 + 3 * DAY):
        assert recompute_findings()["withdrawn"] == 1
    assert Finding.objects.get().withdrawn_at == T0 + 3 * DAY


def test_a_recompute_judged_at_an_earlier_moment_does_not_withdraw_a_later_finding(units, sijing_officer):
    """A recompute scheduled by an older event (its ``now`` before the 漏报 fell due) must not withdraw it."""
    incident = open_incident(units, sijing_officer)
    recompute(WRITTEN_DUE + DAY + timedelta(seconds=1))
    missed = Finding.objects.get()
    result = findings_recompute_incident(incident_id=incident.pk, now=WRITTEN_DUE + DAY - timedelta(seconds=5))
    assert result.withdrawn == 0
    missed.refresh_from_db()
    assert missed.withdrawn_at is None


def test_roster_gaps_are_never_withdrawn(units, sijing_officer):
    obligation = open_incident(units, sijing_officer).obligations.get()
    gap = finding_roster_gap_record(
        unit=units["sijing"], at=VERBAL_DUE, obligation=obligation, detail={"step": "verbal_overdue"}
    )
    result = recompute(WRITTEN_DUE + 3 * DAY)
    gap.refresh_from_db()
    assert gap.withdrawn_at is None and result.withdrawn == 0
    assert counted(units, "sijing", "roster_gaps") == 1


def test_the_timeline_names_the_withdrawn_finding_and_the_review_it_keeps(units, sijing_officer, duty_room, auditor):
    from reporting.web.display import EVENT_LABELS
    from reporting.web.timeline import SEP, describe

    incident, signal, finding = signal_missed_then_linked(units, sijing_officer, duty_room)
    finding_review(finding=finding, decision="dismissed", reason="已核实", actor=auditor, now=T0 + DAY)
    link(signal, incident, T0 + 2 * DAY, duty_room)
    Signal.objects.filter(pk=signal.pk).update(incident=None)
    recompute(T0 + 3 * DAY)
    names = {"sijing": "泗泾镇"}
    [gone] = events("finding_withdrawn")
    [back] = events("finding_reinstated")
    assert describe(gone, units=names) == SEP.join(["泗泾镇", "漏报", "已排除"])
    assert describe(back, units=names) == SEP.join(["泗泾镇", "漏报", "已排除"])
    assert (str(EVENT_LABELS["finding_withdrawn"]), str(EVENT_LABELS["finding_reinstated"])) == (
        "督查发现依据已变化, 系统撤销",
        "督查发现依据恢复, 系统重新计入",
    )


def test_two_overlapping_recomputes_withdraw_a_finding_once(units, sijing_officer):
    """Both judged the finding live before either withdrew it (an event's recompute and the beat's): the second
    finds it withdrawn under its row lock and neither writes it again nor appends a second event."""
    from django.db.models import Q

    from reporting.findings_services import findings_judged, findings_withdraw

    incident = open_incident(units, sijing_officer)
    recompute(WRITTEN_DUE + DAY + timedelta(seconds=1))
    at = WRITTEN_DUE + 2 * DAY
    first = findings_judged(scope=Q(incident=incident), now=at)
    second = findings_judged(scope=Q(incident=incident), now=at)
    assert len(first) == len(second) == 1
    assert findings_withdraw(judged=first, supported=set(), now=at) == 1
    assert findings_withdraw(judged=second, supported=set(), now=at + timedelta(minutes=1)) == 0
    assert Finding.objects.get().withdrawn_at == at and len(events("finding_withdrawn")) == 1
