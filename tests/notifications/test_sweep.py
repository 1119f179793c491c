"""The sweep on PostgreSQL with frozen time: inclusive deadline, discharge, acknowledgement, idempotency,
re-drive, plan freezing, relay and exercise incidents."""

from datetime import timedelta

from freezegun import freeze_time

from notifications.models import EscalationPolicy, EscalationStep, Notification, SweepHeartbeat
from notifications.sweep import notifications_redrive, sweep_run
from reporting import obligation_services, report_services
from reporting.models import DeadlineBreach, Obligation, ObligationKind
from tests.notifications.conftest import T0, open_incident, report_fields

VERBAL_DUE = T0 + timedelta(minutes=30)
WRITTEN_DUE = T0 + timedelta(minutes=60)


def sweep_at(when):
    with freeze_time(when):
        return sweep_run(now=when)


def steps(obligation, **filters):
    return sorted(set(Notification.objects.filter(obligation=obligation, **filters).values_list("step", "repeat")))


def file(obligation, kind, when):
    with freeze_time(when):
        return report_services.report_create(obligation=obligation, kind=kind, actor=None, now=when, **report_fields())


def test_report_filed_exactly_at_due_gets_no_overdue_notification(units, roster):
    with freeze_time(T0):
        obligation = open_incident(units).obligations.get()
    sweep_at(T0 + timedelta(minutes=20))
    # The sweep landing exactly on the due time sends nothing: the deadline has not passed yet.
    assert sweep_at(VERBAL_DUE) == 0
    report = file(obligation, "verbal", VERBAL_DUE)
    assert report.on_time is True
    sweep_at(VERBAL_DUE + timedelta(seconds=1))
    sweep_at(VERBAL_DUE + timedelta(minutes=6))
    assert steps(obligation) == [("verbal_reminder", 0)]
    assert not DeadlineBreach.objects.filter(obligation=obligation).exists()


def test_one_second_after_due_the_overdue_step_fires(units, roster):
    with freeze_time(T0):
        obligation = open_incident(units).obligations.get()
    assert sweep_at(VERBAL_DUE + timedelta(seconds=1)) == 1
    # Created after the reminder's deadline passed: the reminder is dropped, the overdue step goes.
    assert steps(obligation) == [("verbal_overdue", 0)]
    assert set(Notification.objects.values_list("scheduled_for", flat=True)) == {VERBAL_DUE}
    assert DeadlineBreach.objects.get(obligation=obligation).recorded_at == VERBAL_DUE + timedelta(seconds=1)


def test_sweeping_twice_at_the_same_moment_adds_nothing(units, roster):
    with freeze_time(T0):
        obligation = open_incident(units).obligations.get()
    when = VERBAL_DUE + timedelta(minutes=5, seconds=1)
    sweep_at(when)
    count = Notification.objects.count()
    Obligation.objects.filter(pk=obligation.pk).update(next_action_at=when)  # as if a second sweep raced in
    sweep_at(when)
    assert Notification.objects.count() == count == 6 + 6  # overdue: 3 people x 2; escalate: 3 people x 2
    assert DeadlineBreach.objects.count() == 1


def test_filing_cancels_unsent_rows_and_stops_the_ladder(units, roster):
    with freeze_time(T0):
        obligation = open_incident(units).obligations.get()
    sweep_at(VERBAL_DUE + timedelta(seconds=1))
    sent = Notification.objects.filter(obligation=obligation).first()
    Notification.objects.filter(pk=sent.pk).update(status="sent", provider_id="SM1", claimed_by="t", claimed_at=T0)
    file(obligation, "verbal", VERBAL_DUE + timedelta(minutes=2))
    statuses = sorted(Notification.objects.filter(obligation=obligation).values_list("status", flat=True))
    assert statuses == ["cancelled"] * 5 + ["sent"]  # a step already handed over is not recalled
    obligation.refresh_from_db()
    assert obligation.next_action_at == WRITTEN_DUE - timedelta(minutes=10)
    sweep_at(VERBAL_DUE + timedelta(minutes=16))
    assert steps(obligation) == [("verbal_overdue", 0)]


def test_written_report_stops_everything(units, roster):
    with freeze_time(T0):
        obligation = open_incident(units).obligations.get()
    file(obligation, "written", T0 + timedelta(minutes=10))
    obligation.refresh_from_db()
    assert obligation.next_action_at is None
    assert sweep_at(T0 + timedelta(hours=3)) == 0
    assert not Notification.objects.exists()


def test_acknowledged_recipient_gets_no_repeats_but_escalation_continues(units, roster):
    with freeze_time(T0):
        obligation = open_incident(units).obligations.get()
    sweep_at(VERBAL_DUE + timedelta(seconds=1))
    Notification.objects.filter(obligation=obligation, recipient=roster["officer"], channel="sms").update(
        status="acknowledged"
    )
    sweep_at(VERBAL_DUE + timedelta(minutes=5, seconds=1))
    sweep_at(VERBAL_DUE + timedelta(minutes=15, seconds=1))
    escalated = Notification.objects.filter(obligation=obligation, step="verbal_escalate")
    assert {n.recipient.name for n in escalated} == {"孙镇长", "钱总值班员", "周总值班长"}
    repeat = Notification.objects.filter(obligation=obligation, step="verbal_overdue", repeat=1)
    assert sorted(n.recipient.name for n in repeat) == ["李值班长", "赵带班"]


def test_a_written_reminder_never_carries_an_overdue_verbal_message(units, roster):
    """A ladder whose written reminder falls on the verbal deadline (written due - 30 min): the reminder says time
    is left, so the verbal overdue SMS still goes to the same people at the same moment, not folded into it."""
    EscalationStep.objects.filter(policy__active=True, key="written_reminder").update(offset_minutes=-30)
    with freeze_time(T0):
        obligation = open_incident(units).obligations.get()
    sweep_at(VERBAL_DUE + timedelta(seconds=1))
    sms = Notification.objects.filter(obligation=obligation, channel="sms")
    assert not sms.filter(status="cancelled").exists()
    officer = roster["officer"]
    assert sorted(sms.filter(recipient=officer).values_list("step", flat=True)) == [
        "verbal_overdue",
        "written_reminder",
    ]


def test_a_verbal_repeat_is_folded_into_the_written_message_to_the_same_person_only(units, roster):
    """At written due + 15 min the verbal step's 3rd repeat and the written step's 1st fall together. Whoever gets
    the written SMS does not also get the verbal one (closed ``cancelled``, never sent); the officer, who
    acknowledged the written SMS (which carried the verbal repeat folded into it), gets neither repeat."""
    with freeze_time(T0):
        obligation = open_incident(units).obligations.get()
    sweep_at(WRITTEN_DUE + timedelta(seconds=1))
    Notification.objects.filter(
        obligation=obligation, step="written_overdue", recipient=roster["officer"], channel="sms"
    ).update(status="acknowledged")
    sweep_at(WRITTEN_DUE + timedelta(minutes=15, seconds=1))
    at_75 = Notification.objects.filter(obligation=obligation, scheduled_for=WRITTEN_DUE + timedelta(minutes=15))
    sent = {(n.recipient.name, n.step) for n in at_75.exclude(status="cancelled")}
    assert sent == {("李值班长", "written_overdue"), ("赵带班", "written_overdue")}
    merged = at_75.filter(status="cancelled")
    assert {(n.recipient.name, n.step, n.repeat) for n in merged} == {
        ("李值班长", "verbal_overdue", 3),
        ("赵带班", "verbal_overdue", 3),
    }
    assert {n.error for n in merged} == {"并入同时发出的书面报催报 (merged into written_overdue)"}
    # Fired: a later tick neither sends them nor brings them back.
    sweep_at(WRITTEN_DUE + timedelta(minutes=16))
    assert at_75.count() == 4 and merged.count() == 2


def test_acknowledging_a_written_message_stops_the_verbal_repeats_folded_into_it(units, roster):
    """SPEC: a recipient who replied gets no more repeats. Someone whose only SMS at written due was the written one
    (their verbal repeat folded into it, e.g. just come on duty) and who replied to it must not get the verbal
    repeats that follow, now that no written repeat carries them."""
    with freeze_time(T0):
        obligation = open_incident(units).obligations.get()
    sweep_at(WRITTEN_DUE + timedelta(seconds=1))
    officer = Notification.objects.filter(obligation=obligation, recipient=roster["officer"], channel="sms")
    officer.exclude(step="written_overdue").exclude(status="cancelled").update(status="failed")  # none acknowledged
    officer.filter(step="written_overdue").update(status="acknowledged")
    assert officer.filter(step="verbal_overdue", repeat=0, status="cancelled").exists()  # folded at written due

    sweep_at(WRITTEN_DUE + timedelta(minutes=15, seconds=1))
    sweep_at(WRITTEN_DUE + timedelta(minutes=30, seconds=1))

    later = officer.filter(scheduled_for__gt=WRITTEN_DUE).exclude(status="cancelled")
    assert list(later.values_list("step", "repeat")) == []


def test_plan_is_frozen_at_creation(units, roster):
    with freeze_time(T0):
        obligation = open_incident(units).obligations.get()
    policy = EscalationPolicy.objects.get(active=True)
    assert [s["key"] for s in obligation.escalation_plan] == [s.key for s in policy.steps.order_by("order")]
    EscalationStep.objects.filter(policy=policy, key="verbal_reminder").update(offset_minutes=-20)
    EscalationStep.objects.filter(policy=policy, key="verbal_escalate").delete()
    obligation.refresh_from_db()
    assert obligation.escalation_plan[0]["offset_minutes"] == -10
    assert obligation.next_action_at == T0 + timedelta(minutes=20)
    sweep_at(VERBAL_DUE + timedelta(minutes=5, seconds=1))
    assert ("verbal_escalate", 0) in steps(obligation)
    with freeze_time(T0):
        later = open_incident(units, title="另一事件").obligations.get()
    assert later.escalation_plan[0]["offset_minutes"] == -20
    assert "verbal_escalate" not in [s["key"] for s in later.escalation_plan]


def test_major_incident_relay_obligation_is_chased(units, roster):
    with freeze_time(T0):
        incident = open_incident(units, deaths=12)  # grade II: relay to 区委办 and 区府办 (rule 13)
    relay = incident.obligations.get(kind=ObligationKind.RELAY)
    assert [s["key"] for s in relay.escalation_plan] == ["verbal_reminder", "verbal_overdue", "verbal_escalate"]
    assert relay.next_action_at == relay.verbal_due_at - timedelta(minutes=10)
    sweep_at(relay.verbal_due_at + timedelta(seconds=1))
    rows = Notification.objects.filter(obligation=relay, step="verbal_overdue")
    # The duty room's own shift: its officer and shift leader on post.
    assert sorted({n.recipient.name for n in rows}) == ["周总值班长", "钱总值班员"]


def test_exercise_incident_is_chased_like_any_other(units, roster):
    with freeze_time(T0):
        obligation = open_incident(units, exercise=True).obligations.get()
    sweep_at(VERBAL_DUE + timedelta(seconds=1))
    assert Notification.objects.filter(obligation=obligation, step="verbal_overdue").count() == 6


def test_not_required_stops_the_sweep(units, roster, duty_room):
    with freeze_time(T0):
        obligation = open_incident(units).obligations.get()
        obligation_services.obligation_mark_not_required(
            obligation=obligation, reason="误派单位", actor=duty_room, now=T0
        )
    obligation.refresh_from_db()
    assert obligation.next_action_at is None
    assert sweep_at(T0 + timedelta(hours=2)) == 0
    assert not Notification.objects.exists()


def mark_and_restore(obligation, duty_room, *, marked, restored):
    with freeze_time(marked):
        obligation_services.obligation_mark_not_required(
            obligation=obligation, reason="误派单位", actor=duty_room, now=marked
        )
    with freeze_time(restored):
        obligation_services.obligation_restore(obligation=obligation, reason="派对了", actor=duty_room, now=restored)
    obligation.refresh_from_db()


def sms_per_person(obligation, **filters):
    rows = Notification.objects.filter(obligation=obligation, channel="sms", **filters).exclude(status="cancelled")
    counts = {}
    for name in rows.values_list("recipient__name", flat=True):
        counts[name] = counts.get(name, 0) + 1
    return counts


def test_restored_before_the_verbal_due_is_chased_at_its_normal_steps(units, roster, duty_room):
    with freeze_time(T0):
        obligation = open_incident(units).obligations.get()
    mark_and_restore(obligation, duty_room, marked=T0 + timedelta(minutes=5), restored=T0 + timedelta(minutes=15))
    assert obligation.next_action_at == VERBAL_DUE - timedelta(minutes=10)
    assert sweep_at(T0 + timedelta(minutes=19)) == 0
    sweep_at(VERBAL_DUE - timedelta(minutes=10))
    assert steps(obligation) == [("verbal_reminder", 0)]
    sweep_at(VERBAL_DUE + timedelta(seconds=1))
    assert steps(obligation) == [("verbal_overdue", 0), ("verbal_reminder", 0)]
    assert DeadlineBreach.objects.get(obligation=obligation).due_at == VERBAL_DUE


def test_restored_after_the_written_due_is_overdue_and_chased_from_now_not_in_a_burst(units, roster, duty_room):
    """Restored 40 minutes after the written due: both deadlines are overdue at once (breaches dated to the due
    times) and the chasing resumes at the current step. The overdue message and the escalation go now, once per
    person and channel; the repeats that fell due while marked (verbal 1-3, written 1-2) are not sent in the same
    breath, and the next one follows at its normal time."""
    with freeze_time(T0):
        obligation = open_incident(units).obligations.get()
    restored = WRITTEN_DUE + timedelta(minutes=40)
    mark_and_restore(obligation, duty_room, marked=T0 + timedelta(minutes=5), restored=restored)
    assert obligation.next_action_at == restored  # due now: the sweep looks at once
    assert sweep_at(restored + timedelta(seconds=1)) == 1
    assert {(b.deadline, b.due_at) for b in DeadlineBreach.objects.filter(obligation=obligation)} == {
        ("verbal", VERBAL_DUE),
        ("written", WRITTEN_DUE),
    }
    assert set(sms_per_person(obligation).values()) == {1}  # one SMS per person, not a burst
    assert sms_per_person(obligation, step="written_overdue") == {"张值班员": 1, "李值班长": 1, "赵带班": 1}
    assert set(sms_per_person(obligation, step="written_escalate")) == {"孙镇长", "钱总值班员", "周总值班长"}
    assert not Notification.objects.filter(obligation=obligation, repeat__gt=0).exclude(status="cancelled")
    obligation.refresh_from_db()
    assert obligation.next_action_at == WRITTEN_DUE + timedelta(minutes=45) + timedelta(microseconds=1)
    assert sweep_at(WRITTEN_DUE + timedelta(minutes=44)) == 0
    sweep_at(WRITTEN_DUE + timedelta(minutes=45, seconds=1))
    assert sms_per_person(obligation, repeat__gt=0) == {"张值班员": 1, "李值班长": 1, "赵带班": 1}
    assert set(
        Notification.objects.filter(obligation=obligation, repeat__gt=0)
        .exclude(status="cancelled")
        .values_list("step", "repeat")
    ) == {("written_overdue", 3)}


def test_redrive_reenqueues_stale_pending_rows_once_per_interval(units, roster, django_capture_on_commit_callbacks):
    with freeze_time(T0):
        obligation = open_incident(units).obligations.get()
    sweep_at(VERBAL_DUE + timedelta(seconds=1))
    rows = Notification.objects.filter(obligation=obligation)
    rows.filter(recipient=roster["officer"]).update(claimed_by="live", claimed_at=VERBAL_DUE + timedelta(seconds=20))
    with django_capture_on_commit_callbacks() as callbacks:
        assert notifications_redrive(now=VERBAL_DUE + timedelta(seconds=20)) == 0  # too young
        assert notifications_redrive(now=VERBAL_DUE + timedelta(seconds=40)) == 4  # not the officer's live claims
        assert notifications_redrive(now=VERBAL_DUE + timedelta(seconds=50)) == 0  # just re-driven
    assert len(callbacks) == 1
    assert rows.filter(redriven_at=VERBAL_DUE + timedelta(seconds=40)).count() == 4


def test_heartbeat_every_tick(units):
    sweep_at(T0)
    sweep_at(T0 + timedelta(seconds=5))
    assert SweepHeartbeat.objects.get(name="sweep").beat_at == T0 + timedelta(seconds=5)
