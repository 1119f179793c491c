"""The duty room undoes a wrong signal link (``signal_services.signal_unlink``, ``signal_move``): the signal waits
again, and what the link did is undone as SPEC rules 4, 5 and 11 allow.

Times as in ``test_services``: the fire broke out at 08:50, sijing declares it knew at 09:00; a 110 signal was
delivered to sijing at 08:52 and wrongly linked at 09:01, moving sijing's clock to 08:52 (verbal due 09:22)."""

from datetime import timedelta

import pytest
from freezegun import freeze_time

from reporting import audit_selectors, signal_services
from reporting.auditlog import chain_verify
from reporting.errors import ConflictError, DomainError
from reporting.models import AuditEvent, DeadlineState, Finding, Obligation, Signal
from tests.reporting import test_findings
from tests.reporting.test_findings import T0, after_commit, file, ingest, leader_in_charge, recompute
from tests.reporting.test_services import KNOWN, VERBAL_DUE, WRITTEN_DUE, events, file_at, open_incident

pytestmark = pytest.mark.django_db

__all__ = ["leader_in_charge"]  # a fixture of ``test_findings``, used here

DELIVERED = KNOWN - timedelta(minutes=8)  # 08:52
LINKED_AT = KNOWN + timedelta(minutes=1)
UNLINKED_AT = KNOWN + timedelta(minutes=5)
REASON = "误关联: 该警情是车墩镇另一起火灾"


def delivered_signal(units, *, external_id="110-0001", unit="sijing", delivered=DELIVERED, source="110") -> Signal:
    with freeze_time(delivered):
        signal, _ = signal_services.signal_ingest(
            actor=None,
            now=delivered,
            source=source,
            external_id=external_id,
            received_at=delivered - timedelta(minutes=1),
            delivered_to=units[unit],
            delivered_at=delivered,
            domain="production_safety",
            summary="厂房冒烟",
        )
    return signal


def link(signal, incident, actor, at=LINKED_AT):
    with freeze_time(at), after_commit():
        return signal_services.signal_link(signal=signal, incident=incident, actor=actor, now=at)


def unlink(signal, actor, at=UNLINKED_AT, reason=REASON):
    with freeze_time(at), after_commit():
        return signal_services.signal_unlink(signal=signal, reason=reason, actor=actor, now=at)


@pytest.fixture
def wrongly_linked(units, sijing_officer, duty_room):
    """(obligation, signal): sijing's clock moved to the signal's delivery by a wrong link."""
    obligation = open_incident(sijing_officer, units["sijing"]).obligations.get()
    signal = delivered_signal(units)
    link(signal, obligation.incident, duty_room)
    obligation.refresh_from_db()
    assert (obligation.first_known_at, obligation.verbal_due_at) == (DELIVERED, DELIVERED + timedelta(minutes=30))
    return obligation, signal


def test_unlinking_moves_first_known_back_to_the_declared_time_as_a_correction(wrongly_linked, duty_room):
    obligation, signal = wrongly_linked
    unlink(signal, duty_room)
    signal.refresh_from_db()
    obligation.refresh_from_db()
    assert signal.incident is None
    assert (obligation.first_known_at, obligation.first_known_channel) == (KNOWN, "self")
    assert (obligation.verbal_due_at, obligation.written_due_at) == (VERBAL_DUE, WRITTEN_DUE)
    # The chasing is re-planned from the restored clock: the first step is the reminder 10 minutes before 09:30.
    assert obligation.next_action_at == VERBAL_DUE - timedelta(minutes=10)
    [unlinked] = events("signal_unlinked")
    assert (unlinked.at, unlinked.actor, unlinked.incident, unlinked.object_id) == (
        UNLINKED_AT,
        duty_room.username,
        obligation.incident,
        str(signal.pk),
    )
    assert unlinked.detail["reason"] == REASON and unlinked.detail["unit"] == "sijing"
    assert unlinked.detail["outcome"] == "first_known_corrected"
    # Recorded as the correction path records it, and shown to auditors (SPEC rule 4).
    [corrected] = events("first_known_corrected")
    assert corrected.pk > unlinked.pk
    assert REASON in corrected.detail["reason"]
    [shown] = audit_selectors.first_known_corrections()
    assert (shown.obligation_id, shown.before, shown.after, shown.shift_minutes) == (obligation.pk, DELIVERED, KNOWN, 8)
    assert chain_verify() is None


def test_a_late_report_stays_late_after_unlinking(wrongly_linked, sijing_officer, duty_room):
    obligation, signal = wrongly_linked
    report = file_at(DELIVERED + timedelta(minutes=33), obligation, "verbal", sijing_officer)  # 3 minutes late
    assert (report.on_time, report.delay_seconds) == (False, 180)
    unlink(signal, duty_room, at=KNOWN + timedelta(minutes=40))
    obligation.refresh_from_db()
    report.refresh_from_db()
    # SPEC rule 4: lateness is frozen at filing, even though 09:25 is before the restored 09:30.
    assert (report.on_time, report.delay_seconds) == (False, 180)
    assert obligation.verbal_state == DeadlineState.LATE
    assert obligation.verbal_due_at == DELIVERED + timedelta(minutes=30)
    # The written clock is still running: it moves back to the declared time.
    assert (obligation.first_known_at, obligation.written_due_at) == (KNOWN, WRITTEN_DUE)


def test_an_on_time_report_stays_on_time_after_unlinking(wrongly_linked, sijing_officer, duty_room):
    obligation, signal = wrongly_linked
    report = file_at(KNOWN + timedelta(minutes=2), obligation, "written", sijing_officer)
    unlink(signal, duty_room)
    obligation.refresh_from_db()
    report.refresh_from_db()
    assert report.on_time is True
    assert (obligation.verbal_state, obligation.written_state) == (DeadlineState.ON_TIME, DeadlineState.ON_TIME)
    # Both clocks were decided: their due times stay, only the first-known time is restored.
    assert obligation.written_due_at == DELIVERED + timedelta(minutes=60)
    assert obligation.first_known_at == KNOWN


def test_the_clock_runs_from_the_earliest_remaining_signal(wrongly_linked, units, duty_room):
    obligation, signal = wrongly_linked
    other = delivered_signal(units, external_id="12345-1", source="12345", delivered=KNOWN - timedelta(minutes=4))
    link(other, obligation.incident, duty_room)
    unlink(signal, duty_room)
    obligation.refresh_from_db()
    assert (obligation.first_known_at, obligation.first_known_channel) == (KNOWN - timedelta(minutes=4), "12345")
    assert obligation.declared_first_known_at == KNOWN


def test_unlinking_a_signal_that_was_not_the_earliest_evidence_moves_nothing(units, sijing_officer, duty_room):
    obligation = open_incident(sijing_officer, units["sijing"]).obligations.get()
    signal = delivered_signal(units, delivered=KNOWN + timedelta(minutes=1))
    link(signal, obligation.incident, duty_room, at=KNOWN + timedelta(minutes=2))
    unlink(signal, duty_room)
    obligation.refresh_from_db()
    assert (obligation.first_known_at, obligation.verbal_due_at) == (KNOWN, VERBAL_DUE)
    assert events("first_known_corrected") == []
    [unlinked] = events("signal_unlinked")
    assert unlinked.detail["outcome"] == "unchanged"


def test_an_obligation_added_only_by_the_link_becomes_not_required(units, sijing_officer, duty_room):
    incident = open_incident(sijing_officer, units["chedun"])
    signal = delivered_signal(units)
    link(signal, incident, duty_room)
    added = Obligation.objects.get(incident=incident, unit=units["sijing"])
    unlink(signal, duty_room)
    added.refresh_from_db()
    assert (added.verbal_state, added.written_state) == (DeadlineState.NOT_REQUIRED, DeadlineState.NOT_REQUIRED)
    assert REASON in added.not_required_reason and added.next_action_at is None
    assert (added.not_required_by, added.not_required_at) == (duty_room, UNLINKED_AT)
    # Not deleted: the auditors still see it, with the reason (SPEC rule 11).
    assert list(audit_selectors.not_required_marks()) == [added]
    [unlinked] = events("signal_unlinked")
    assert (unlinked.detail["outcome"], unlinked.detail["obligation"]) == ("not_required", added.pk)
    chedun = incident.obligations.get(unit=units["chedun"])
    assert chedun.verbal_state == DeadlineState.PENDING
    assert chain_verify() is None


def test_an_obligation_added_by_the_link_with_a_report_is_kept(units, sijing_officer, duty_room):
    incident = open_incident(sijing_officer, units["chedun"])
    signal = delivered_signal(units)
    link(signal, incident, duty_room)
    added = Obligation.objects.get(incident=incident, unit=units["sijing"])
    file_at(KNOWN + timedelta(minutes=3), added, "verbal", sijing_officer)
    unlink(signal, duty_room)
    added.refresh_from_db()
    assert (added.verbal_state, added.written_state) == (DeadlineState.ON_TIME, DeadlineState.PENDING)
    assert added.not_required_at is None and added.first_known_at == DELIVERED
    [unlinked] = events("signal_unlinked")
    assert unlinked.detail["outcome"] == "kept_reports_filed"


def test_an_obligation_added_by_the_link_rests_on_another_signal_when_one_remains(units, sijing_officer, duty_room):
    incident = open_incident(sijing_officer, units["chedun"])
    signal = delivered_signal(units)
    other = delivered_signal(units, external_id="119-1", source="119", delivered=KNOWN + timedelta(minutes=3))
    link(signal, incident, duty_room)
    link(other, incident, duty_room)
    added = Obligation.objects.get(incident=incident, unit=units["sijing"])
    unlink(signal, duty_room)
    added.refresh_from_db()
    assert (added.first_known_at, added.first_known_channel) == (KNOWN + timedelta(minutes=3), "119")
    assert added.verbal_state == DeadlineState.PENDING
    # The remaining signal is the only knowledge on record: unlinking it too leaves nothing.
    unlink(other, duty_room, at=UNLINKED_AT + timedelta(minutes=1))
    added.refresh_from_db()
    assert added.verbal_state == DeadlineState.NOT_REQUIRED


def test_a_held_back_finding_based_on_the_link_is_withdrawn(wrongly_linked, sijing_officer, duty_room):
    obligation, signal = wrongly_linked
    file(obligation, "written", KNOWN + timedelta(minutes=5), sijing_officer)
    recompute(KNOWN + timedelta(minutes=6))
    # Declared 09:00, evidence 08:52: suspected 压报 (SPEC rule 5), based on the link alone.
    finding = Finding.objects.get(kind="held_back")
    unlink(signal, duty_room, at=KNOWN + timedelta(minutes=7))
    finding.refresh_from_db()
    assert finding.withdrawn_at == KNOWN + timedelta(minutes=7)
    [withdrawn] = events("finding_withdrawn")
    assert withdrawn.object_id == str(finding.pk)


def test_a_concealed_finding_based_on_a_120_signals_figures_is_withdrawn(
    units, sijing_officer, duty_room, leader_in_charge
):
    """Delivered to no unit, so no clock moves: only the recompute on unlinking (``hooks.signal_unlinked``) sees it."""
    incident = test_findings.open_incident(units, sijing_officer)
    obligation = incident.obligations.get()
    signal = ingest(units, external_id="C-1", at=T0 + timedelta(minutes=2), source="120", deaths=2, incident=incident)
    file(obligation, "verbal", T0 + timedelta(minutes=10), sijing_officer, deaths=0)
    file(obligation, "written", T0 + timedelta(minutes=40), sijing_officer, deaths=2)
    finding = Finding.objects.get(kind="concealed")
    unlink(signal, duty_room, at=T0 + timedelta(minutes=50))
    finding.refresh_from_db()
    assert finding.withdrawn_at == T0 + timedelta(minutes=50)
    assert events("signal_unlinked")[0].detail["outcome"] == "not_evidence"


def test_moving_a_signal_links_it_to_the_right_incident_in_one_step(wrongly_linked, units, sijing_officer, duty_room):
    obligation, signal = wrongly_linked
    right = open_incident(sijing_officer, units["chedun"], title="车墩镇某仓库火灾")
    with freeze_time(UNLINKED_AT), after_commit():
        moved = signal_services.signal_move(
            signal=signal, incident=right, reason=REASON, actor=duty_room, now=UNLINKED_AT
        )
    assert moved.incident == right
    obligation.refresh_from_db()
    assert obligation.first_known_at == KNOWN
    assert [e.kind for e in AuditEvent.objects.filter(object_type="signal").order_by("id")][-2:] == [
        "signal_unlinked",
        "signal_linked",
    ]
    assert Obligation.objects.get(incident=right, unit=units["sijing"]).first_known_at == DELIVERED


def test_moving_to_the_same_incident_is_refused(wrongly_linked, duty_room):
    obligation, signal = wrongly_linked
    with pytest.raises(ConflictError):
        signal_services.signal_move(
            signal=signal, incident=obligation.incident, reason=REASON, actor=duty_room, now=UNLINKED_AT
        )
    signal.refresh_from_db()
    assert signal.incident == obligation.incident


@pytest.mark.parametrize("reason", ["", "   ", "x" * 2001])
def test_a_missing_or_overlong_reason_is_refused_and_nothing_changes(wrongly_linked, duty_room, reason):
    obligation, signal = wrongly_linked
    before = AuditEvent.objects.count()
    with pytest.raises(DomainError) as exc:
        signal_services.signal_unlink(signal=signal, reason=reason, actor=duty_room, now=UNLINKED_AT)
    assert exc.value.status_code == 400 and list(exc.value.errors) == ["reason"]
    signal.refresh_from_db()
    assert signal.incident == obligation.incident and AuditEvent.objects.count() == before


def test_unlinking_a_signal_that_is_not_linked_is_a_conflict(units, duty_room):
    signal = delivered_signal(units)
    with pytest.raises(ConflictError) as exc:
        signal_services.signal_unlink(signal=signal, reason=REASON, actor=duty_room, now=UNLINKED_AT)
    assert "未关联" in str(exc.value.errors)
    assert events("signal_unlinked") == []
