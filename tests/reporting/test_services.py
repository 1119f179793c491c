"""The reporting services on PostgreSQL, with time moved by freezegun and exact values (SPEC rules 1–13)."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from freezegun import freeze_time

from reporting import obligation_services, report_services, services, signal_services
from reporting.auditlog import chain_verify, events_deferred
from reporting.errors import ConflictError, DomainError, MissingElementsError
from reporting.models import (
    AuditEvent,
    DeadlineBreach,
    DeadlineState,
    Grade,
    Incident,
    Obligation,
    ObligationKind,
    RefusedReport,
    Report,
    ReportingPolicy,
)
from reporting.models.reports import ReportImmutableError

SH = ZoneInfo("Asia/Shanghai")
#: 2026-11-28 09:00 Asia/Shanghai: the unit learns of a fire that broke out at 08:50.
KNOWN = datetime(2026, 11, 28, 9, 0, tzinfo=SH)
OCCURRED = datetime(2026, 11, 28, 8, 50, tzinfo=SH)
VERBAL_DUE = datetime(2026, 11, 28, 9, 30, tzinfo=SH)
WRITTEN_DUE = datetime(2026, 11, 28, 10, 0, tzinfo=SH)
ONE_SECOND = timedelta(seconds=1)

pytestmark = pytest.mark.django_db


def open_incident(actor, unit, *, known=KNOWN, occurred=OCCURRED, at=None, **fields) -> Incident:
    """Open an incident at ``at`` (default: the first-known time) with one responsible unit."""
    at = at or known
    with freeze_time(at):
        return services.incident_create(
            actor=actor,
            now=timezone.now(),
            title=fields.pop("title", "泗泾镇某厂房火灾"),
            domain=fields.pop("domain", "production_safety"),
            occurred_at=occurred,
            location=fields.pop("location", "泗泾镇某路1号"),
            summary="",
            units=[{"unit": unit, "first_known_at": known, "channel": "self"}],
            **fields,
        )


def verbal_fields(**over):
    base = dict(occurred_at=OCCURRED, location="泗泾镇某路1号", account="厂房起火", deaths=0, injuries=1, missing=0)
    base.update(over)
    return base


def written_fields(**over):
    base = verbal_fields(measures="消防到场, 疏散员工", contact_name="王某", contact_phone="+8617000000001")
    base.update(over)
    return base


def file_at(at, obligation, kind, actor, **fields):
    """File a report with the server clock frozen at ``at`` (the edge reads the clock, services take ``now``)."""
    values = written_fields() if kind in ("written", "final") else verbal_fields()
    values.update(fields)
    with freeze_time(at):
        return report_services.report_create(
            obligation=obligation, kind=kind, actor=actor, now=timezone.now(), **values
        )


def events(kind):
    return list(AuditEvent.objects.filter(kind=kind).order_by("id"))


# --- the clock: inclusive deadlines -----------------------------------------------------------------------------


def test_obligation_gets_both_due_times_from_first_known(units, sijing_officer):
    incident = open_incident(sijing_officer, units["sijing"])
    obligation = incident.obligations.get()
    assert obligation.first_known_at == KNOWN
    assert obligation.verbal_due_at == VERBAL_DUE
    assert obligation.written_due_at == WRITTEN_DUE
    assert (obligation.verbal_minutes, obligation.written_minutes) == (30, 60)
    assert (obligation.verbal_state, obligation.written_state) == (DeadlineState.PENDING, DeadlineState.PENDING)
    assert obligation.next_action_at is not None and obligation.next_action_at <= VERBAL_DUE
    assert incident.number == f"SJ-2026-{incident.pk:06d}"


def test_verbal_report_at_exactly_due_time_is_on_time(units, sijing_officer):
    obligation = open_incident(sijing_officer, units["sijing"]).obligations.get()
    report = file_at(VERBAL_DUE, obligation, "verbal", sijing_officer)
    obligation.refresh_from_db()
    assert report.filed_at == VERBAL_DUE
    assert report.counted_at == VERBAL_DUE
    assert report.due_at == VERBAL_DUE
    assert (report.on_time, report.delay_seconds) == (True, 0)
    assert obligation.verbal_state == DeadlineState.ON_TIME
    assert obligation.verbal_filed_at == VERBAL_DUE
    assert obligation.verbal_report_id == report.pk
    assert obligation.written_state == DeadlineState.PENDING


def test_verbal_report_one_second_late_is_late_by_one_second(units, sijing_officer):
    obligation = open_incident(sijing_officer, units["sijing"]).obligations.get()
    report = file_at(VERBAL_DUE + ONE_SECOND, obligation, "verbal", sijing_officer)
    obligation.refresh_from_db()
    assert (report.on_time, report.delay_seconds) == (False, 1)
    assert obligation.verbal_state == DeadlineState.LATE
    filed = events("report_filed")[-1]
    assert filed.detail["on_time"] is False and filed.detail["delay_seconds"] == 1


def test_written_report_at_due_time_on_time_and_one_second_late(units, sijing_officer):
    first = open_incident(sijing_officer, units["sijing"]).obligations.get()
    second = open_incident(sijing_officer, units["chedun"]).obligations.get()
    on_time = file_at(WRITTEN_DUE, first, "written", sijing_officer)
    late = file_at(WRITTEN_DUE + ONE_SECOND, second, "written", sijing_officer)
    assert (on_time.on_time, on_time.delay_seconds, on_time.due_at) == (True, 0, WRITTEN_DUE)
    assert (late.on_time, late.delay_seconds, late.due_at) == (False, 1, WRITTEN_DUE)


def test_written_report_discharges_pending_verbal(units, sijing_officer):
    obligation = open_incident(sijing_officer, units["sijing"]).obligations.get()
    report = file_at(VERBAL_DUE - timedelta(minutes=5), obligation, "written", sijing_officer)
    obligation.refresh_from_db()
    assert obligation.verbal_state == DeadlineState.ON_TIME
    assert obligation.written_state == DeadlineState.ON_TIME
    assert obligation.verbal_report_id == report.pk == obligation.written_report_id
    assert obligation.verbal_filed_at == obligation.written_filed_at == VERBAL_DUE - timedelta(minutes=5)
    # Nothing is left to chase.
    assert obligation.next_action_at is None


def test_written_report_after_verbal_due_discharges_verbal_as_late(units, sijing_officer):
    obligation = open_incident(sijing_officer, units["sijing"]).obligations.get()
    report = file_at(VERBAL_DUE + timedelta(minutes=10), obligation, "written", sijing_officer)
    obligation.refresh_from_db()
    assert (report.on_time, report.delay_seconds) == (True, 0)  # judged against the written due time
    assert obligation.verbal_state == DeadlineState.LATE
    assert obligation.written_state == DeadlineState.ON_TIME


def test_deadlines_across_midnight_shanghai(units, sijing_officer):
    known = datetime(2026, 11, 28, 23, 45, tzinfo=SH)
    obligation = open_incident(
        sijing_officer, units["sijing"], known=known, occurred=known - timedelta(minutes=5)
    ).obligations.get()
    assert obligation.verbal_due_at == datetime(2026, 11, 29, 0, 15, tzinfo=SH)
    assert obligation.written_due_at == datetime(2026, 11, 29, 0, 45, tzinfo=SH)
    assert obligation.verbal_due_at == datetime(2026, 11, 28, 16, 15, tzinfo=UTC)
    verbal = file_at(datetime(2026, 11, 29, 0, 15, tzinfo=SH), obligation, "verbal", sijing_officer)
    written = file_at(
        datetime(2026, 11, 29, 0, 45, 1, tzinfo=SH),
        obligation,
        "written",
        sijing_officer,
        occurred_at=known - timedelta(minutes=5),
    )
    assert (verbal.on_time, verbal.delay_seconds) == (True, 0)
    assert (written.on_time, written.delay_seconds) == (False, 1)


# --- lateness is frozen at filing (rule 4) ---------------------------------------------------------------------


def test_correcting_first_known_after_late_filing_leaves_it_late(units, sijing_officer, duty_room):
    obligation = open_incident(sijing_officer, units["sijing"]).obligations.get()
    report = file_at(VERBAL_DUE + timedelta(minutes=10), obligation, "verbal", sijing_officer)
    corrected_to = KNOWN + timedelta(minutes=15)  # would make 09:40 on time (due 09:45)
    with freeze_time(VERBAL_DUE + timedelta(minutes=20)):
        obligation_services.obligation_correct_first_known(
            obligation=obligation, first_known_at=corrected_to, actor=duty_room, now=timezone.now(), reason="更正"
        )
    obligation.refresh_from_db()
    report.refresh_from_db()
    assert obligation.first_known_at == corrected_to
    # The decided verbal clock keeps the due time it was judged against; the pending written one moves.
    assert obligation.verbal_due_at == VERBAL_DUE
    assert obligation.written_due_at == corrected_to + timedelta(minutes=60)
    assert obligation.verbal_state == DeadlineState.LATE
    assert (report.on_time, report.delay_seconds, report.due_at) == (False, 600, VERBAL_DUE)
    [event] = events("first_known_corrected")
    assert event.actor == "duty"
    assert event.object_id == str(obligation.pk)
    assert event.detail["before"]["first_known_at"] == KNOWN.astimezone(UTC).isoformat().replace("+00:00", "Z")
    assert event.detail["after"]["first_known_at"] == corrected_to.isoformat()
    assert event.detail["verbal_state"] == DeadlineState.LATE
    assert event.detail["reason"] == "更正"


def test_correcting_earlier_after_the_verbal_report_may_put_the_written_deadline_first(
    units, sijing_officer, duty_room
):
    """Verbal filed on time at 09:20 (due 09:30); the unit in fact knew at 08:15 (45 min earlier): the verbal verdict
    and its due time stand (rule 4; the gap is a 压报 question, rule 5), the written deadline moves to 09:15, which is
    before the frozen verbal due time. The database accepts it and the written clock is chased from its new time."""
    occurred = KNOWN - timedelta(hours=1)
    obligation = open_incident(sijing_officer, units["sijing"], occurred=occurred).obligations.get()
    file_at(VERBAL_DUE - timedelta(minutes=10), obligation, "verbal", sijing_officer, occurred_at=occurred)
    corrected_to = KNOWN - timedelta(minutes=45)
    with freeze_time(VERBAL_DUE - timedelta(minutes=5)):
        obligation_services.obligation_correct_first_known(
            obligation=obligation, first_known_at=corrected_to, actor=duty_room, now=timezone.now(), reason="查实"
        )
    obligation.refresh_from_db()
    assert (obligation.verbal_state, obligation.verbal_due_at) == (DeadlineState.ON_TIME, VERBAL_DUE)
    assert obligation.written_due_at == corrected_to + timedelta(minutes=60) < obligation.verbal_due_at
    assert obligation.written_state == DeadlineState.PENDING
    # Already overdue at the correction (09:25 > 09:15): chased at once.
    assert obligation.next_action_at <= VERBAL_DUE - timedelta(minutes=5)


def test_correcting_later_after_a_late_filing_keeps_its_delay(units, sijing_officer, duty_room):
    """Written filed 10 min late; the first-known time is then corrected 30 min later: the delay auditors see stays
    600 s (it would be 0 if the due time moved with the correction)."""
    obligation = open_incident(sijing_officer, units["sijing"]).obligations.get()
    file_at(WRITTEN_DUE + timedelta(minutes=10), obligation, "written", sijing_officer)
    with freeze_time(WRITTEN_DUE + timedelta(minutes=20)):
        obligation_services.obligation_correct_first_known(
            obligation=obligation,
            first_known_at=KNOWN + timedelta(minutes=30),
            actor=duty_room,
            now=timezone.now(),
            reason="更正",
        )
    obligation.refresh_from_db()
    assert (obligation.verbal_due_at, obligation.written_due_at) == (VERBAL_DUE, WRITTEN_DUE)
    assert obligation.written_filed_at - obligation.written_due_at == timedelta(minutes=10)


def test_correction_moves_a_pending_clock(units, sijing_officer, duty_room):
    obligation = open_incident(sijing_officer, units["sijing"]).obligations.get()
    earlier = KNOWN - timedelta(minutes=8)
    with freeze_time(KNOWN + timedelta(minutes=5)):
        obligation_services.obligation_correct_first_known(
            obligation=obligation, first_known_at=earlier, actor=duty_room, now=timezone.now()
        )
    obligation.refresh_from_db()
    assert obligation.verbal_due_at == VERBAL_DUE - timedelta(minutes=8)
    assert obligation.written_due_at == WRITTEN_DUE - timedelta(minutes=8)
    assert obligation.next_action_at <= obligation.verbal_due_at


def test_correction_refuses_a_time_before_occurrence(units, sijing_officer, duty_room):
    obligation = open_incident(sijing_officer, units["sijing"]).obligations.get()
    with pytest.raises(DomainError) as exc:
        obligation_services.obligation_correct_first_known(
            obligation=obligation, first_known_at=OCCURRED - ONE_SECOND, actor=duty_room, now=KNOWN
        )
    assert list(exc.value.errors) == ["first_known_at"]
    assert events("first_known_corrected") == []


# --- first-known evidence (rule 5) -------------------------------------------------------------------------------


def test_clock_runs_from_a_signal_delivered_earlier_than_declared(units, sijing_officer, feed, duty_room):
    delivered = KNOWN - timedelta(minutes=8)  # 08:52, after the fire broke out at 08:50
    with freeze_time(delivered):
        signal, created = signal_services.signal_ingest(
            actor=feed,
            now=timezone.now(),
            source="110",
            external_id="110-0001",
            received_at=delivered - timedelta(minutes=1),
            delivered_to=units["sijing"],
            delivered_at=delivered,
            domain="production_safety",
            summary="厂房冒烟",
        )
    assert created is True
    obligation = open_incident(sijing_officer, units["sijing"]).obligations.get()
    with freeze_time(KNOWN + timedelta(minutes=1)):
        signal_services.signal_link(signal=signal, incident=obligation.incident, actor=duty_room, now=timezone.now())
    obligation.refresh_from_db()
    assert obligation.first_known_at == delivered
    assert obligation.declared_first_known_at == KNOWN
    assert obligation.first_known_channel == "110"
    assert obligation.verbal_due_at == delivered + timedelta(minutes=30)
    assert obligation.written_due_at == delivered + timedelta(minutes=60)
    assert obligation.next_action_at <= obligation.verbal_due_at
    [event] = events("first_known_evidence")
    assert event.detail["signal"] == signal.pk and event.detail["source"] == "110"
    # A verbal report at the declared due time is now eight minutes late.
    report = file_at(VERBAL_DUE, obligation, "verbal", sijing_officer)
    assert (report.on_time, report.delay_seconds) == (False, 8 * 60)


def test_incident_opened_after_a_linked_delivery_starts_from_it(units, sijing_officer, feed):
    placeholder = open_incident(sijing_officer, units["chedun"])
    delivered = KNOWN - timedelta(minutes=4)
    with freeze_time(delivered):
        signal_services.signal_ingest(
            actor=feed,
            now=timezone.now(),
            source="120",
            external_id="120-0001",
            received_at=delivered,
            delivered_to=units["sijing"],
            delivered_at=delivered,
            incident=placeholder,
        )
    obligation = placeholder.obligations.get(unit=units["sijing"])
    assert obligation.first_known_at == delivered
    assert obligation.first_known_channel == "120"
    with freeze_time(KNOWN):
        later = services.incident_add_unit(
            incident=placeholder,
            unit=units["emergency"],
            first_known_at=KNOWN,
            channel="duty_room",
            actor=sijing_officer,
            now=timezone.now(),
        )
    assert later.first_known_at == KNOWN


def test_signal_ingest_is_idempotent(units, feed):
    kwargs = dict(source="12345", external_id="h-1", received_at=KNOWN, delivered_to=units["sijing"])
    first, created = signal_services.signal_ingest(actor=feed, now=KNOWN, **kwargs)
    again, created_again = signal_services.signal_ingest(actor=feed, now=KNOWN, **kwargs)
    assert (created, created_again) == (True, False)
    assert first.pk == again.pk
    assert len(events("signal_received")) == 1


# --- times users give (rule 6) ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("occurred", "known", "field"),
    [
        (datetime(2026, 11, 28, 8, 50), KNOWN, "occurred_at"),
        (OCCURRED, datetime(2026, 11, 28, 9, 0), "first_known_at"),
        (OCCURRED, KNOWN + timedelta(minutes=2, seconds=1), "first_known_at"),
        (KNOWN + timedelta(minutes=2, seconds=1), KNOWN + timedelta(minutes=2, seconds=1), "occurred_at"),
        (OCCURRED, OCCURRED - ONE_SECOND, "first_known_at"),
    ],
)
def test_bad_times_are_refused_naming_the_field(units, sijing_officer, occurred, known, field):
    with pytest.raises(DomainError) as exc:
        services.incident_create(
            actor=sijing_officer,
            now=KNOWN,
            title="t",
            domain="production_safety",
            occurred_at=occurred,
            location="l",
            units=[{"unit": units["sijing"], "first_known_at": known, "channel": "self"}],
        )
    assert list(exc.value.errors) == [field]
    assert field in exc.value.errors[field][0]
    assert Incident.objects.count() == 0
    assert AuditEvent.objects.count() == 0


def test_times_within_two_minutes_of_skew_are_accepted(units, sijing_officer):
    incident = open_incident(
        sijing_officer,
        units["sijing"],
        known=KNOWN + timedelta(minutes=2),
        occurred=KNOWN + timedelta(minutes=2),
        at=KNOWN,
    )
    assert incident.obligations.get().first_known_at == KNOWN + timedelta(minutes=2)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"domain": "weather"}, "domain"),
        ({"deaths": -1}, "deaths"),
        ({"direct_loss_yuan": "many"}, "direct_loss_yuan"),
        ({"grade": "V"}, "grade"),
        ({"grade": "IV", "deaths": 3}, "grade"),  # lower than the computed III
    ],
)
def test_bad_incident_fields_are_refused(units, sijing_officer, fields, field):
    with pytest.raises(DomainError) as exc:
        open_incident(sijing_officer, units["sijing"], **fields)
    assert field in exc.value.errors
    assert Incident.objects.count() == 0


# --- required elements (rule 8) ---------------------------------------------------------------------------------


def test_written_report_missing_elements_is_refused_naming_each(units, sijing_officer):
    obligation = open_incident(sijing_officer, units["sijing"]).obligations.get()
    incomplete = written_fields(location="  ", measures="", contact_phone=None, missing=None)
    with pytest.raises(MissingElementsError) as exc:
        file_at(KNOWN + timedelta(minutes=20), obligation, "written", sijing_officer, **incomplete)
    assert sorted(exc.value.errors) == ["contact_phone", "location", "measures", "missing"]
    assert exc.value.errors["location"] == ["缺少必报要素: 地点 (location) — this element is required"]
    assert exc.value.status_code == 400
    assert Report.objects.count() == 0
    [refused] = RefusedReport.objects.all()
    assert refused.kind == "written"
    assert refused.obligation_id == obligation.pk
    assert refused.attempted_at == KNOWN + timedelta(minutes=20)
    assert refused.missing_elements == ["location", "missing", "measures", "contact_phone"]
    assert refused.payload["account"] == "厂房起火"
    assert refused.attempted_by == sijing_officer
    [event] = events("report_refused")
    assert event.detail["missing"] == ["location", "missing", "measures", "contact_phone"]
    obligation.refresh_from_db()
    assert obligation.written_state == DeadlineState.PENDING
    assert obligation.verbal_state == DeadlineState.PENDING


def test_verbal_report_needs_what_where_when_and_casualties(units, sijing_officer):
    obligation = open_incident(sijing_officer, units["sijing"]).obligations.get()
    with freeze_time(KNOWN + timedelta(minutes=5)):
        with pytest.raises(MissingElementsError) as exc:
            report_services.report_create(
                obligation=obligation, kind="verbal", actor=sijing_officer, now=timezone.now(), account="起火"
            )
    assert sorted(exc.value.errors) == ["deaths", "injuries", "location", "missing", "occurred_at"]
    assert Report.objects.count() == 0


def test_zero_casualties_are_a_complete_answer(units, sijing_officer):
    obligation = open_incident(sijing_officer, units["sijing"]).obligations.get()
    report = file_at(KNOWN + timedelta(minutes=5), obligation, "written", sijing_officer, injuries=0)
    assert report.filed_at is not None
    assert (report.deaths, report.injuries, report.missing) == (0, 0, 0)


# --- append-only reports (rule 7) -------------------------------------------------------------------------------


def test_filed_report_cannot_be_changed_or_deleted(units, sijing_officer):
    obligation = open_incident(sijing_officer, units["sijing"]).obligations.get()
    report = file_at(KNOWN + timedelta(minutes=5), obligation, "verbal", sijing_officer)
    report.account = "改写"
    with pytest.raises(ReportImmutableError):
        report.save()
    with pytest.raises(ReportImmutableError):
        report.delete()
    with pytest.raises(ReportImmutableError):
        Report.objects.filter(pk=report.pk).update(account="改写")
    with pytest.raises(ReportImmutableError):
        Report.objects.filter(pk=report.pk).delete()
    # bulk_update runs in an atomic block without a savepoint: give it one so the refusal rolls back only itself.
    with pytest.raises(ReportImmutableError), transaction.atomic():
        Report.objects.bulk_update([report], ["account"])
    with pytest.raises(ReportImmutableError):
        Report.objects.all().delete()
    stored = Report.objects.get(pk=report.pk)
    assert stored.account == "厂房起火"
    assert (stored.on_time, stored.filed_at) == (True, KNOWN + timedelta(minutes=5))


def test_filing_a_report_twice_is_a_conflict(units, sijing_officer):
    obligation = open_incident(sijing_officer, units["sijing"]).obligations.get()
    report = file_at(KNOWN + timedelta(minutes=5), obligation, "verbal", sijing_officer)
    with pytest.raises(ConflictError):
        report_services.report_file(report=report, actor=sijing_officer, now=KNOWN + timedelta(minutes=6))
    assert RefusedReport.objects.count() == 0


def test_a_correction_is_a_new_report_referencing_the_old_one(units, sijing_officer):
    obligation = open_incident(sijing_officer, units["sijing"]).obligations.get()
    first = file_at(KNOWN + timedelta(minutes=5), obligation, "written", sijing_officer)
    correction = file_at(KNOWN + timedelta(minutes=40), obligation, "written", sijing_officer, references=first)
    assert correction.references_id == first.pk
    assert correction.sequence == 2
    assert Report.objects.get(pk=first.pk).sequence == 1


# --- drafts --------------------------------------------------------------------------------------------------------


def test_draft_does_not_count_filing_it_later_counts_at_filing_time(units, sijing_officer):
    obligation = open_incident(sijing_officer, units["sijing"]).obligations.get()
    with freeze_time(KNOWN + timedelta(minutes=10)):
        draft = report_services.report_create(
            obligation=obligation, kind="verbal", actor=sijing_officer, now=timezone.now(), draft=True, account="起火"
        )
    obligation.refresh_from_db()
    assert draft.filed_at is None and draft.on_time is None
    assert obligation.verbal_state == DeadlineState.PENDING
    assert list(Report.objects.filed()) == []
    # An incomplete draft is refused at filing, and the attempt is kept.
    with freeze_time(VERBAL_DUE):
        with pytest.raises(MissingElementsError):
            report_services.report_file(report=draft, actor=sijing_officer, now=timezone.now())
    assert RefusedReport.objects.count() == 1
    Report.objects.filter(pk=draft.pk).update(**verbal_fields())  # drafts may still change
    with freeze_time(VERBAL_DUE + timedelta(seconds=5)):
        filed = report_services.report_file(report=draft, actor=sijing_officer, now=timezone.now())
    obligation.refresh_from_db()
    assert filed.pk == draft.pk
    assert filed.created_at == KNOWN + timedelta(minutes=10)
    assert filed.filed_at == filed.counted_at == VERBAL_DUE + timedelta(seconds=5)
    assert (filed.on_time, filed.delay_seconds, filed.sequence) == (False, 5, 1)
    assert obligation.verbal_state == DeadlineState.LATE
    assert [e.kind for e in AuditEvent.objects.filter(object_type="report")] == ["report_draft_saved", "report_filed"]


def test_editing_a_draft_keeps_its_first_save_time_and_refuses_once_filed(units, sijing_officer):
    obligation = open_incident(sijing_officer, units["sijing"]).obligations.get()
    with freeze_time(KNOWN + timedelta(minutes=10)):
        draft = report_services.report_create(
            obligation=obligation, kind="verbal", actor=sijing_officer, now=timezone.now(), draft=True, account="起火"
        )
    with freeze_time(KNOWN + timedelta(minutes=20)):
        with pytest.raises(DomainError) as refused:  # a unit officer may not back-date to a call time
            report_services.report_draft_update(
                report=draft, kind="verbal", actor=sijing_officer, now=timezone.now(), call_received_at=KNOWN
            )
        assert "call_received_at" in refused.value.errors
        edited = report_services.report_draft_update(
            report=draft, kind="written", actor=sijing_officer, now=timezone.now(), **written_fields()
        )
    assert (edited.pk, edited.kind, edited.measures) == (draft.pk, "written", "消防到场, 疏散员工")
    assert edited.created_at == KNOWN + timedelta(minutes=10) and edited.filed_at is None
    assert [e.detail.get("updated", False) for e in events("report_draft_saved")] == [False, True]
    with freeze_time(KNOWN + timedelta(minutes=30)):
        report_services.report_file(report=edited, actor=sijing_officer, now=timezone.now())
        with pytest.raises(ConflictError):
            report_services.report_draft_update(
                report=edited, kind="written", actor=sijing_officer, now=timezone.now(), **written_fields()
            )
    assert Report.objects.get(pk=draft.pk).filed_at == KNOWN + timedelta(minutes=30)


# --- call_received_at (rule 2) ----------------------------------------------------------------------------------


def test_duty_room_logged_verbal_counts_from_the_call(units, sijing_officer, duty_room):
    obligation = open_incident(sijing_officer, units["sijing"]).obligations.get()
    call = VERBAL_DUE - timedelta(minutes=1)
    report = file_at(VERBAL_DUE + timedelta(minutes=2), obligation, "verbal", duty_room, call_received_at=call)
    obligation.refresh_from_db()
    assert report.counted_at == call
    assert report.filed_at == VERBAL_DUE + timedelta(minutes=2)
    assert report.filed_by == duty_room
    assert (report.on_time, report.delay_seconds) == (True, 0)
    assert obligation.verbal_state == DeadlineState.ON_TIME
    assert obligation.verbal_filed_at == call


@pytest.mark.parametrize(
    ("call_offset", "kind"),
    [
        (timedelta(minutes=30, seconds=1), "verbal"),  # more than 30 minutes before logging
        (-ONE_SECOND, "verbal"),  # in the future
        (timedelta(minutes=1), "written"),  # only for verbal reports
    ],
)
def test_call_received_at_limits(units, sijing_officer, duty_room, call_offset, kind):
    obligation = open_incident(sijing_officer, units["sijing"]).obligations.get()
    logged = KNOWN + timedelta(minutes=40)
    with pytest.raises(DomainError) as exc:
        file_at(logged, obligation, kind, duty_room, call_received_at=logged - call_offset)
    assert list(exc.value.errors) == ["call_received_at"]
    assert Report.objects.count() == 0


def test_call_received_at_exactly_thirty_minutes_before_is_accepted(units, sijing_officer, duty_room):
    obligation = open_incident(sijing_officer, units["sijing"]).obligations.get()
    logged = VERBAL_DUE + timedelta(minutes=30)
    report = file_at(logged, obligation, "verbal", duty_room, call_received_at=VERBAL_DUE)
    assert (report.counted_at, report.on_time) == (VERBAL_DUE, True)


def test_unit_staff_cannot_back_date_with_call_received_at(units, sijing_officer):
    obligation = open_incident(sijing_officer, units["sijing"]).obligations.get()
    with pytest.raises(DomainError) as exc:
        file_at(VERBAL_DUE + ONE_SECOND, obligation, "verbal", sijing_officer, call_received_at=VERBAL_DUE)
    assert list(exc.value.errors) == ["call_received_at"]


# --- follow-ups, figures and grades -------------------------------------------------------------------------------


def test_follow_ups_are_numbered_one_two_three(units, sijing_officer):
    obligation = open_incident(sijing_officer, units["sijing"]).obligations.get()
    file_at(KNOWN + timedelta(minutes=20), obligation, "written", sijing_officer)
    sequences = [
        file_at(KNOWN + timedelta(hours=h), obligation, "follow_up", sijing_officer, account=f"续报{h}").sequence
        for h in (2, 3, 4)
    ]
    final = file_at(KNOWN + timedelta(hours=6), obligation, "final", sijing_officer)
    assert sequences == [1, 2, 3]
    assert final.sequence == 1
    assert final.on_time is None and final.due_at is None  # follow-ups and final reports run no clock
    obligation.refresh_from_db()
    assert obligation.written_state == DeadlineState.ON_TIME


def test_report_figures_raise_the_incident_grade(units, sijing_officer):
    incident = open_incident(sijing_officer, units["sijing"], injuries=1)
    assert (incident.grade, incident.grade_computed) == (Grade.IV, Grade.IV)
    obligation = incident.obligations.get()
    file_at(KNOWN + timedelta(minutes=20), obligation, "written", sijing_officer, deaths=3, injuries=0)
    incident.refresh_from_db()
    assert (incident.deaths, incident.injuries) == (3, 1)  # figures are raised, never lowered by a report
    assert (incident.grade, incident.grade_computed) == (Grade.III, Grade.III)
    [change] = events("incident_changed")
    assert change.detail["changes"]["grade"] == ["IV", "III"]
    assert change.detail["changes"]["deaths"] == [0, 3]


# --- serious injuries (重伤, rule 9) -------------------------------------------------------------------------------


def test_fifty_light_injuries_grade_iv_and_open_no_relay(units, sijing_officer):
    """Art. 3 grades by serious injuries: 50 injured, none seriously, is 一般 (IV), not 重大 (II)."""
    incident = open_incident(sijing_officer, units["sijing"], injuries=50)
    assert (incident.injuries, incident.serious_injuries) == (50, 0)
    assert (incident.grade, incident.grade_computed) == (Grade.IV, Grade.IV)
    obligation = incident.obligations.get()
    file_at(KNOWN + timedelta(minutes=20), obligation, "written", sijing_officer, injuries=120)
    incident.refresh_from_db()
    assert (incident.injuries, incident.serious_injuries, incident.grade) == (120, 0, Grade.IV)
    assert not incident.obligations.filter(kind=ObligationKind.RELAY).exists()
    assert events("incident_created")[0].detail["serious_injuries"] == 0


def test_a_report_raising_serious_injuries_past_ten_raises_the_grade_to_iii(units, sijing_officer):
    incident = open_incident(sijing_officer, units["sijing"], injuries=12, serious_injuries=2)
    assert incident.grade == Grade.IV
    obligation = incident.obligations.get()
    file_at(KNOWN + timedelta(minutes=10), obligation, "verbal", sijing_officer, injuries=12, serious_injuries=9)
    incident.refresh_from_db()
    assert (incident.serious_injuries, incident.grade) == (9, Grade.IV)
    report = file_at(
        KNOWN + timedelta(minutes=40), obligation, "written", sijing_officer, injuries=11, serious_injuries=10
    )
    incident.refresh_from_db()
    # Raised, never lowered: 12 injured stay, of whom now 10 seriously.
    assert (incident.injuries, incident.serious_injuries) == (12, 10)
    assert (incident.grade, incident.grade_computed) == (Grade.III, Grade.III)
    assert not incident.obligations.filter(kind=ObligationKind.RELAY).exists()  # III owes no relay
    last = events("incident_changed")[-1]
    assert last.detail["changes"] == {"serious_injuries": [9, 10], "grade": ["IV", "III"]}
    assert last.detail["grade_computed"] == "III"
    filed = AuditEvent.objects.filter(kind="report_filed", object_id=str(report.pk)).get()
    assert filed.detail["figures"] == {"deaths": 0, "injuries": 11, "serious_injuries": 10, "missing": 0}
    assert chain_verify() is None


def test_fifty_serious_injuries_give_the_duty_room_a_relay_obligation(units, sijing_officer):
    incident = open_incident(sijing_officer, units["sijing"], injuries=50, serious_injuries=50)
    assert incident.grade == Grade.II
    assert incident.obligations.filter(kind=ObligationKind.RELAY).count() == 1


def test_a_report_not_saying_how_many_are_seriously_injured_says_none(units, sijing_officer):
    incident = open_incident(sijing_officer, units["sijing"], injuries=12, serious_injuries=10)
    obligation = incident.obligations.get()
    report = file_at(KNOWN + timedelta(minutes=10), obligation, "verbal", sijing_officer, serious_injuries=None)
    assert report.serious_injuries == 0
    incident.refresh_from_db()
    assert (incident.serious_injuries, incident.grade) == (10, Grade.III)  # a report never lowers a figure


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"injuries": 2, "serious_injuries": 3}, "不能多于受伤人数"),
        ({"serious_injuries": 1}, "不能多于受伤人数"),  # no injured given: 0 injured
    ],
)
def test_more_seriously_injured_than_injured_is_refused_on_opening(units, sijing_officer, fields, message):
    with pytest.raises(DomainError) as exc:
        open_incident(sijing_officer, units["sijing"], **fields)
    assert list(exc.value.errors) == ["serious_injuries"]
    assert message in exc.value.errors["serious_injuries"][0]
    assert "serious_injuries must not exceed injuries" in exc.value.errors["serious_injuries"][0]
    assert (Incident.objects.count(), Obligation.objects.count(), AuditEvent.objects.count()) == (0, 0, 0)


@pytest.mark.parametrize(
    "changes",
    [
        {"serious_injuries": 6},  # more than the 5 injured
        {"injuries": 2},  # fewer injured than the 3 seriously injured
        {"injuries": 4, "serious_injuries": 5},
    ],
)
def test_an_update_leaving_more_seriously_injured_than_injured_is_refused(units, sijing_officer, duty_room, changes):
    incident = open_incident(sijing_officer, units["sijing"], injuries=5, serious_injuries=3)
    before = AuditEvent.objects.count()
    with pytest.raises(DomainError) as exc:
        services.incident_update(incident=incident, actor=duty_room, now=KNOWN + timedelta(minutes=5), **changes)
    assert list(exc.value.errors) == ["serious_injuries"]
    incident.refresh_from_db()
    assert (incident.injuries, incident.serious_injuries, incident.grade) == (5, 3, Grade.IV)
    assert AuditEvent.objects.count() == before
    # Both lowered together is a correction like any other.
    fixed = services.incident_update(
        incident=incident, actor=duty_room, now=KNOWN + timedelta(minutes=6), injuries=2, serious_injuries=2
    )
    assert (fixed.injuries, fixed.serious_injuries) == (2, 2)


@pytest.mark.parametrize("value", [-1, 1.5, "3", True])
def test_serious_injuries_must_be_a_whole_number(units, sijing_officer, duty_room, value):
    with pytest.raises(DomainError) as exc:
        open_incident(sijing_officer, units["sijing"], injuries=5, serious_injuries=value)
    assert list(exc.value.errors) == ["serious_injuries"]
    incident = open_incident(sijing_officer, units["sijing"], injuries=5)
    with pytest.raises(DomainError) as exc:
        services.incident_update(
            incident=incident, actor=duty_room, now=KNOWN + timedelta(minutes=5), serious_injuries=value
        )
    assert list(exc.value.errors) == ["serious_injuries"]


@pytest.mark.parametrize("draft", [False, True])
@pytest.mark.parametrize(
    "fields",
    [{"injuries": 2, "serious_injuries": 3}, {"injuries": None, "serious_injuries": 1}, {"serious_injuries": -1}],
)
def test_a_report_with_more_seriously_injured_than_injured_is_refused(units, sijing_officer, draft, fields):
    obligation = open_incident(sijing_officer, units["sijing"], injuries=1).obligations.get()
    before = AuditEvent.objects.count()
    values = written_fields(**fields)
    with freeze_time(KNOWN + timedelta(minutes=5)):
        with pytest.raises(DomainError) as exc:
            report_services.report_create(
                obligation=obligation, kind="written", actor=sijing_officer, now=timezone.now(), draft=draft, **values
            )
    assert list(exc.value.errors) == ["serious_injuries"]
    assert (Report.objects.count(), RefusedReport.objects.count(), AuditEvent.objects.count()) == (0, 0, before)


def test_a_draft_edit_with_more_seriously_injured_than_injured_is_refused(units, sijing_officer):
    obligation = open_incident(sijing_officer, units["sijing"], injuries=1).obligations.get()
    with freeze_time(KNOWN + timedelta(minutes=5)):
        draft = report_services.report_create(
            obligation=obligation,
            kind="written",
            actor=sijing_officer,
            now=timezone.now(),
            draft=True,
            **written_fields(injuries=3, serious_injuries=1),
        )
        with pytest.raises(DomainError) as exc:
            report_services.report_draft_update(
                report=draft,
                kind="written",
                actor=sijing_officer,
                now=timezone.now(),
                **written_fields(injuries=3, serious_injuries=4),
            )
    assert list(exc.value.errors) == ["serious_injuries"]
    draft.refresh_from_db()
    assert (draft.injuries, draft.serious_injuries) == (3, 1)


def test_human_may_raise_the_grade_never_lower(units, sijing_officer, duty_room):
    incident = open_incident(sijing_officer, units["sijing"], deaths=3)
    assert incident.grade == Grade.III
    with pytest.raises(DomainError) as exc:
        services.incident_update(incident=incident, actor=duty_room, now=KNOWN + timedelta(minutes=5), grade="IV")
    assert list(exc.value.errors) == ["grade"]
    raised = services.incident_update(incident=incident, actor=duty_room, now=KNOWN + timedelta(minutes=6), grade="II")
    assert (raised.grade, raised.grade_computed) == (Grade.II, Grade.III)
    # Later figures that compute lower keep the human's higher grade.
    kept = services.incident_update(incident=incident, actor=duty_room, now=KNOWN + timedelta(minutes=7), deaths=4)
    assert kept.grade == Grade.II
    assert [e.detail["changes"].get("grade") for e in events("incident_changed")] == [["III", "II"], None]


def test_incident_update_refuses_fields_it_does_not_own(units, sijing_officer, duty_room):
    incident = open_incident(sijing_officer, units["sijing"])
    with pytest.raises(DomainError) as exc:
        services.incident_update(incident=incident, actor=duty_room, now=KNOWN, number="X", exercise=True)
    assert sorted(exc.value.errors) == ["exercise", "number"]


def test_grade_two_gives_the_duty_room_a_relay_obligation(units, sijing_officer):
    incident = open_incident(sijing_officer, units["sijing"], deaths=10)
    assert incident.grade == Grade.II
    relay = incident.obligations.get(kind=ObligationKind.RELAY)
    assert relay.unit == units["duty-room"]
    assert relay.first_known_at == KNOWN  # no report yet: from the moment the duty room learned of it
    assert relay.verbal_due_at == relay.written_due_at == KNOWN + timedelta(minutes=15)
    assert relay.verbal_minutes == 15


def test_relay_runs_from_the_grade_rise_when_a_report_raises_the_grade_later(units, sijing_officer):
    # SPEC rule 13 as we read it (deadlines.relay_anchor): the first report, 10 minutes in, showed nothing major; the
    # incident became grade II with the written report 40 minutes after it. The relay is due 15 minutes after the
    # rise, not 15 minutes after the first report (which would open it 15 minutes overdue).
    incident = open_incident(sijing_officer, units["sijing"], injuries=1)
    obligation = incident.obligations.get()
    assert not incident.obligations.filter(kind=ObligationKind.RELAY).exists()
    first = file_at(KNOWN + timedelta(minutes=10), obligation, "verbal", sijing_officer)
    rise = first.counted_at + timedelta(minutes=40)
    file_at(rise, obligation, "written", sijing_officer, injuries=50, serious_injuries=50)
    relay = incident.obligations.get(kind=ObligationKind.RELAY)
    assert relay.first_known_at == rise == KNOWN + timedelta(minutes=50)
    assert relay.verbal_due_at == relay.written_due_at == rise + timedelta(minutes=15)
    assert (relay.verbal_state, relay.written_state) == (DeadlineState.PENDING, DeadlineState.PENDING)
    assert not Obligation.objects.filter(pk=relay.pk).overdue(rise).exists()  # not born overdue
    # Raising it again does not open a second relay obligation.
    file_at(KNOWN + timedelta(minutes=55), obligation, "follow_up", sijing_officer, injuries=100, serious_injuries=100)
    assert incident.obligations.filter(kind=ObligationKind.RELAY).count() == 1


@pytest.mark.parametrize(
    ("after_rise", "state"),
    [(timedelta(minutes=15), DeadlineState.ON_TIME), (timedelta(minutes=15, seconds=1), DeadlineState.LATE)],
)
def test_a_relay_after_a_later_grade_rise_is_judged_from_the_rise(units, sijing_officer, duty_room, after_rise, state):
    incident = open_incident(sijing_officer, units["sijing"], injuries=1)
    file_at(KNOWN + timedelta(minutes=10), incident.obligations.get(), "verbal", sijing_officer)
    rise = KNOWN + timedelta(minutes=50)
    with freeze_time(rise):
        services.incident_update(incident=incident, actor=duty_room, now=rise, deaths=10)
    relay = incident.obligations.get(kind=ObligationKind.RELAY)
    report = file_at(rise + after_rise, relay, "verbal", duty_room)
    relay.refresh_from_db()
    assert (relay.verbal_state, relay.written_state) == (state, state)
    assert report.delay_seconds == (0 if state == DeadlineState.ON_TIME else 1)


def test_a_signal_to_the_duty_room_before_the_grade_rise_does_not_move_the_relay_earlier(
    units, sijing_officer, duty_room
):
    incident = open_incident(sijing_officer, units["sijing"], injuries=1)
    with freeze_time(KNOWN + timedelta(minutes=5)):
        signal_services.signal_ingest(
            actor=duty_room,
            now=KNOWN + timedelta(minutes=5),
            source="110",
            external_id="A-rise",
            received_at=KNOWN + timedelta(minutes=5),
            delivered_to=units["duty-room"],
            delivered_at=KNOWN + timedelta(minutes=5),
            domain="production_safety",
            summary="群众报警",
            location="泗泾镇某路1号",
            incident=incident,
        )
    rise = KNOWN + timedelta(minutes=40)
    with freeze_time(rise):
        services.incident_update(incident=incident, actor=duty_room, now=rise, deaths=10)
    relay = incident.obligations.get(kind=ObligationKind.RELAY)
    assert (relay.first_known_at, relay.verbal_due_at) == (rise, rise + timedelta(minutes=15))


def major_incident_relay(units, sijing_officer) -> Obligation:
    """A grade II incident opened at KNOWN: the duty room's relay is due at KNOWN + 15 minutes."""
    incident = open_incident(sijing_officer, units["sijing"], deaths=10)
    return incident.obligations.get(kind=ObligationKind.RELAY)


@pytest.mark.parametrize(
    ("after_anchor", "state", "delay_seconds"),
    [
        (timedelta(minutes=15), DeadlineState.ON_TIME, 0),  # 15:00 after the anchor: on time (inclusive)
        (timedelta(minutes=15, seconds=1), DeadlineState.LATE, 1),  # 15:01: late by one second
    ],
)
@pytest.mark.parametrize("kind", ["verbal", "written"])
def test_any_report_on_the_relay_discharges_both_its_clocks(
    units, sijing_officer, duty_room, after_anchor, state, delay_seconds, kind
):
    relay = major_incident_relay(units, sijing_officer)
    assert relay.first_known_at == KNOWN
    report = file_at(KNOWN + after_anchor, relay, kind, duty_room)
    relay.refresh_from_db()
    assert (report.due_at, report.on_time, report.delay_seconds) == (
        KNOWN + timedelta(minutes=15),
        state == DeadlineState.ON_TIME,
        delay_seconds,
    )
    assert (relay.verbal_state, relay.written_state) == (state, state)
    assert relay.verbal_filed_at == relay.written_filed_at == KNOWN + after_anchor
    assert relay.verbal_report_id == relay.written_report_id == report.pk
    assert relay.next_action_at is None  # nothing left to chase
    later = KNOWN + timedelta(days=2)
    assert not Obligation.objects.filter(pk=relay.pk).open().exists()
    assert not Obligation.objects.filter(pk=relay.pk).overdue(later).exists()
    assert Obligation.objects.filter(pk=relay.pk).done().exists()
    assert obligation_services.obligations_record_breaches(obligations=[relay], now=later) == []


def test_an_unrelayed_relay_passes_its_one_deadline_once(units, sijing_officer):
    relay = major_incident_relay(units, sijing_officer)
    later = KNOWN + timedelta(hours=2)
    breaches = obligation_services.obligations_record_breaches(obligations=[relay], now=later)
    assert [(b.deadline, b.due_at) for b in breaches] == [("verbal", KNOWN + timedelta(minutes=15))]


def test_exercise_flag_is_kept_and_its_clocks_run(units, sijing_officer, duty_room):
    incident = open_incident(duty_room, units["sijing"], exercise=True)  # only the duty room marks an exercise
    obligation = incident.obligations.get()
    assert Incident.objects.get(pk=incident.pk).exercise is True
    assert obligation.verbal_due_at == VERBAL_DUE
    assert events("incident_created")[0].detail["exercise"] is True
    assert list(Obligation.objects.counted()) == []
    report = file_at(VERBAL_DUE + ONE_SECOND, obligation, "verbal", sijing_officer)
    assert (report.on_time, report.delay_seconds) == (False, 1)


# --- policy (rule 1) -------------------------------------------------------------------------------------------


def test_policy_edits_do_not_change_existing_obligations(units, sijing_officer):
    policy = ReportingPolicy.objects.create(grade=None, verbal_minutes=30, written_minutes=60)
    before = open_incident(sijing_officer, units["sijing"]).obligations.get()
    policy.verbal_minutes, policy.written_minutes = 20, 40
    policy.save()
    before.refresh_from_db()
    assert (before.verbal_due_at, before.written_due_at) == (VERBAL_DUE, WRITTEN_DUE)
    assert (before.verbal_minutes, before.written_minutes) == (30, 60)
    after = open_incident(sijing_officer, units["chedun"]).obligations.get()
    assert after.verbal_due_at == KNOWN + timedelta(minutes=20)
    assert after.written_due_at == KNOWN + timedelta(minutes=40)


def test_per_grade_policy_minutes(units, sijing_officer):
    ReportingPolicy.objects.create(grade=None, verbal_minutes=30, written_minutes=60)
    ReportingPolicy.objects.create(grade=Grade.I, verbal_minutes=15, written_minutes=30, relay_minutes=10)
    major = open_incident(sijing_officer, units["sijing"], deaths=30)
    minor = open_incident(sijing_officer, units["chedun"], deaths=1)
    obligation = major.obligations.get(kind=ObligationKind.REPORT)
    assert (obligation.verbal_due_at, obligation.written_due_at) == (KNOWN + timedelta(minutes=15), VERBAL_DUE)
    assert major.obligations.get(kind=ObligationKind.RELAY).verbal_due_at == KNOWN + timedelta(minutes=10)
    assert minor.obligations.get().verbal_due_at == VERBAL_DUE


# --- not required (rule 11) and vertical units (rule 12) -------------------------------------------------------


def test_mark_not_required_keeps_the_reason(units, sijing_officer, duty_room):
    obligation = open_incident(sijing_officer, units["sijing"]).obligations.get()
    with pytest.raises(DomainError):
        obligation_services.obligation_mark_not_required(obligation=obligation, reason=" ", actor=duty_room, now=KNOWN)
    obligation_services.obligation_mark_not_required(
        obligation=obligation, reason="误加单位", actor=duty_room, now=KNOWN
    )
    obligation.refresh_from_db()
    assert obligation.is_not_required
    assert (obligation.not_required_reason, obligation.not_required_by) == ("误加单位", duty_room)
    assert obligation.next_action_at is None
    assert events("obligation_not_required")[0].detail["reason"] == "误加单位"


def mark_at(at, obligation, actor, reason="误加单位"):
    return obligation_services.obligation_mark_not_required(obligation=obligation, reason=reason, actor=actor, now=at)


def test_restore_makes_the_stopped_clocks_pending_with_their_original_due_times(units, sijing_officer, duty_room):
    obligation = open_incident(sijing_officer, units["sijing"]).obligations.get()
    mark_at(KNOWN + timedelta(minutes=5), obligation, duty_room)
    restored = obligation_services.obligation_restore(
        obligation=obligation, reason=" 单位标错了 ", actor=duty_room, now=KNOWN + timedelta(minutes=8)
    )
    obligation.refresh_from_db()
    assert (obligation.verbal_state, obligation.written_state) == ("pending", "pending")
    assert (obligation.verbal_due_at, obligation.written_due_at) == (VERBAL_DUE, WRITTEN_DUE)
    assert (obligation.not_required_reason, obligation.not_required_by, obligation.not_required_at) == ("", None, None)
    assert restored.next_action_at is not None and obligation.next_action_at <= VERBAL_DUE
    [event] = events("obligation_restored")
    assert event.actor == duty_room.username
    assert event.detail["reason"] == "单位标错了"
    assert event.detail["mark_reason"] == "误加单位"
    assert event.detail["marked_by"] == duty_room.username
    assert parse_datetime(event.detail["marked_at"]) == KNOWN + timedelta(minutes=5)


def test_restore_keeps_a_clock_decided_before_the_mark(units, sijing_officer, duty_room):
    obligation = open_incident(sijing_officer, units["sijing"]).obligations.get()
    file_at(VERBAL_DUE + timedelta(minutes=3), obligation, "verbal", sijing_officer)
    obligation.refresh_from_db()
    mark_at(VERBAL_DUE + timedelta(minutes=5), obligation, duty_room)
    obligation_services.obligation_restore(
        obligation=obligation, reason="标错", actor=duty_room, now=VERBAL_DUE + timedelta(minutes=6)
    )
    obligation.refresh_from_db()
    assert (obligation.verbal_state, obligation.written_state) == ("late", "pending")


def test_restore_counts_a_report_filed_while_marked(units, sijing_officer, duty_room):
    """A unit that reported anyway while marked is not chased for it after the restore: the report discharges the
    clock as of its counted time (late if it was late)."""
    obligation = open_incident(sijing_officer, units["sijing"]).obligations.get()
    mark_at(KNOWN + timedelta(minutes=5), obligation, duty_room)
    report = file_at(VERBAL_DUE + timedelta(minutes=2), obligation, "verbal", sijing_officer)
    obligation.refresh_from_db()
    assert obligation.verbal_state == "not_required"
    obligation_services.obligation_restore(
        obligation=obligation, reason="标错", actor=duty_room, now=VERBAL_DUE + timedelta(minutes=6)
    )
    obligation.refresh_from_db()
    assert (obligation.verbal_state, obligation.written_state) == ("late", "pending")
    assert obligation.verbal_report == report
    assert obligation.verbal_filed_at == report.counted_at


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_restore_needs_a_reason(units, sijing_officer, duty_room, reason):
    obligation = open_incident(sijing_officer, units["sijing"]).obligations.get()
    mark_at(KNOWN, obligation, duty_room)
    with pytest.raises(DomainError) as exc:
        obligation_services.obligation_restore(obligation=obligation, reason=reason, actor=duty_room, now=KNOWN)
    assert "reason" in exc.value.errors
    obligation.refresh_from_db()
    assert obligation.is_not_required


def test_restore_of_an_obligation_not_marked_is_a_conflict(units, sijing_officer, duty_room):
    obligation = open_incident(sijing_officer, units["sijing"]).obligations.get()
    with pytest.raises(ConflictError):
        obligation_services.obligation_restore(obligation=obligation, reason="标错", actor=duty_room, now=KNOWN)
    assert not events("obligation_restored")


def test_vertical_unit_records_its_city_report(units, sijing_officer, duty_room):
    incident = open_incident(sijing_officer, units["police"], domain="social_security")
    obligation = incident.obligations.get()
    at = KNOWN + timedelta(minutes=3)
    obligation_services.obligation_record_city_report(obligation=obligation, reported_at=at, actor=duty_room, now=at)
    obligation.refresh_from_db()
    assert obligation.city_reported_at == at
    town = open_incident(sijing_officer, units["sijing"]).obligations.get()
    with pytest.raises(DomainError):
        obligation_services.obligation_record_city_report(obligation=town, reported_at=at, actor=duty_room, now=at)


# --- the sweep's transition --------------------------------------------------------------------------------------


def test_breaches_are_recorded_once_dated_to_the_deadline(units, sijing_officer):
    obligation = open_incident(sijing_officer, units["sijing"]).obligations.get()
    assert obligation_services.obligations_record_breaches(obligations=[obligation], now=VERBAL_DUE) == []
    [verbal] = obligation_services.obligations_record_breaches(obligations=[obligation], now=VERBAL_DUE + ONE_SECOND)
    assert (verbal.deadline, verbal.due_at, verbal.recorded_at) == ("verbal", VERBAL_DUE, VERBAL_DUE + ONE_SECOND)
    assert (
        obligation_services.obligations_record_breaches(obligations=[obligation], now=VERBAL_DUE + timedelta(minutes=1))
        == []
    )
    [written] = obligation_services.obligations_record_breaches(obligations=[obligation], now=WRITTEN_DUE + ONE_SECOND)
    assert written.deadline == "written"
    assert DeadlineBreach.objects.filter(obligation=obligation).count() == 2
    assert len(events("deadline_passed")) == 2


def test_a_batchs_breaches_are_read_once_and_written_in_one_statement(units, sijing_officer, django_assert_num_queries):
    """The sweep passes its whole batch: already-written breaches are skipped, the new ones go in one INSERT."""
    late = open_incident(sijing_officer, units["sijing"]).obligations.get()
    later = open_incident(sijing_officer, units["chedun"], title="车墩镇某仓库火灾").obligations.get()
    obligation_services.obligations_record_breaches(obligations=[late], now=VERBAL_DUE + ONE_SECOND)
    # As the sweep claims them: with their incidents and units.
    batch = list(Obligation.objects.select_related("incident", "unit").filter(pk__in=[late.pk, later.pk]))
    with events_deferred():  # the sweep's block: the audit events are chained once, at its end
        with django_assert_num_queries(2):  # the breaches already written; one INSERT
            created = obligation_services.obligations_record_breaches(obligations=batch, now=WRITTEN_DUE + ONE_SECOND)
    assert sorted((b.obligation_id, b.deadline) for b in created) == sorted(
        [(late.pk, "written"), (later.pk, "verbal"), (later.pk, "written")]
    )
    assert DeadlineBreach.objects.filter(obligation=late).count() == 2
    assert DeadlineBreach.objects.filter(obligation=later).count() == 2
    assert len(events("deadline_passed")) == 4
    next_day = WRITTEN_DUE + timedelta(days=1)
    assert obligation_services.obligations_record_breaches(obligations=[late, later], now=next_day) == []


def test_every_service_above_leaves_a_verifiable_chain(units, sijing_officer, duty_room):
    obligation = open_incident(sijing_officer, units["sijing"], injuries=1).obligations.get()
    file_at(KNOWN + timedelta(minutes=3), obligation, "written", sijing_officer, deaths=10)
    obligation_services.obligation_correct_first_known(
        obligation=obligation, first_known_at=KNOWN - timedelta(minutes=1), actor=duty_room, now=KNOWN + ONE_SECOND
    )
    assert AuditEvent.objects.count() >= 6
    assert chain_verify() is None


def test_a_delivery_before_the_incident_occurred_is_not_evidence(units, sijing_officer, feed):
    incident = open_incident(sijing_officer, units["sijing"])
    with freeze_time(KNOWN):
        signal_services.signal_ingest(
            actor=feed,
            now=timezone.now(),
            source="110",
            external_id="110-early",
            received_at=OCCURRED - timedelta(minutes=5),
            delivered_to=units["sijing"],
            delivered_at=OCCURRED - timedelta(minutes=5),
            incident=incident,
        )
    obligation = incident.obligations.get()
    assert obligation.first_known_at == KNOWN
    assert events("first_known_evidence") == []
