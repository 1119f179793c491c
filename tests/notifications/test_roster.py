"""Who is on duty at a moment: roster roles, the duty room, unit heads, district leaders, roster gaps."""

from datetime import timedelta

from freezegun import freeze_time

from notifications import roster as duty
from notifications.batch import notifications_send
from notifications.messages import SEGMENT_CHARS
from notifications.models import Notification
from notifications.sweep import sweep_run
from reporting.models import Contact, ContactRole, Finding, Shift
from tests.notifications.conftest import T0, on_shift, open_incident, person


def names(contacts):
    return [c.name for c in contacts]


def test_roster_roles_on_post(units, roster):
    got = duty.audience_resolve(unit=units["sijing"], audience=["duty_officer", "shift_leader"], at=T0)
    assert names(got) == ["张值班员", "李值班长"]
    got = duty.audience_resolve(
        unit=units["sijing"], audience=["duty_officer", "shift_leader", "leader_on_shift"], at=T0
    )
    assert names(got) == ["张值班员", "李值班长", "赵带班"]
    assert not Finding.objects.exists()


def test_escalation_audience_is_duty_room_on_post_and_unit_head(units, roster):
    got = duty.audience_resolve(unit=units["sijing"], audience=["duty_room", "unit_head"], at=T0)
    assert names(got) == ["孙镇长", "钱总值班员", "周总值班长"]


def test_shift_window_is_half_open(units, roster):
    """A shift covers starts_at <= at < ends_at: at its end the next shift is on post, not this one."""
    ends = T0 - timedelta(hours=1) + timedelta(hours=24)
    on_shift(person(units["sijing"], "次日值班员", ContactRole.DUTY_OFFICER, 20), ContactRole.DUTY_OFFICER, start=ends)
    on_shift(person(units["sijing"], "次日值班长", ContactRole.SHIFT_LEADER, 21), ContactRole.SHIFT_LEADER, start=ends)
    before = duty.audience_resolve(unit=units["sijing"], audience=["duty_officer"], at=ends - timedelta(microseconds=1))
    at_end = duty.audience_resolve(unit=units["sijing"], audience=["duty_officer"], at=ends)
    assert names(before) == ["张值班员"]
    assert names(at_end) == ["次日值班员"]


def test_no_shift_falls_back_to_default_contacts_and_records_a_gap(units, roster):
    Shift.objects.filter(unit=units["sijing"]).delete()
    got = duty.audience_resolve(
        unit=units["sijing"], audience=["duty_officer", "shift_leader"], at=T0, step="verbal_overdue"
    )
    assert names(got) == ["泗泾默认"]
    gap = Finding.objects.get(kind="roster_gap")
    assert gap.unit == units["sijing"]
    assert gap.detail["reason"] == "no_shift" and gap.detail["on_post"] == 0
    assert gap.detail["step"] == "verbal_overdue"


def test_one_on_post_is_a_gap_too(units, roster):
    Shift.objects.filter(unit=units["sijing"]).exclude(contact=roster["officer"]).delete()
    got = duty.audience_resolve(unit=units["sijing"], audience=["duty_officer", "shift_leader"], at=T0, step="s")
    assert names(got) == ["张值班员", "泗泾默认"]
    gap = Finding.objects.get(kind="roster_gap")
    assert (gap.detail["reason"], gap.detail["on_post"]) == ("fewer_than_two", 1)


def test_gap_is_recorded_once_per_moment_and_step(units, roster):
    Shift.objects.filter(unit=units["sijing"]).delete()
    for _ in range(2):
        duty.audience_resolve(unit=units["sijing"], audience=["duty_officer"], at=T0, step="verbal_overdue")
    assert Finding.objects.filter(kind="roster_gap").count() == 1


def test_duty_room_gap(units, roster):
    Shift.objects.filter(unit=units["duty-room"], contact=roster["room_leader"]).delete()
    got = duty.audience_resolve(unit=units["sijing"], audience=["duty_room"], at=T0, step="verbal_escalate")
    assert names(got) == ["钱总值班员", "总值班室默认"]
    assert Finding.objects.get(kind="roster_gap").unit == units["duty-room"]


def test_unit_head_needs_no_roster(units, roster):
    Shift.objects.all().delete()
    assert names(duty.audience_resolve(unit=units["sijing"], audience=["unit_head"], at=T0)) == ["孙镇长"]
    assert not Finding.objects.exists()


def test_district_leaders_by_portfolio_and_list(units):
    office = units["qfb"]
    a = person(office, "区领导甲", ContactRole.DISTRICT_LEADER, 30, portfolio=["production_safety"])
    person(office, "区领导乙", ContactRole.DISTRICT_LEADER, 31, portfolio=["public_health"], notify_on_grade=True)
    person(office, "区领导丙", ContactRole.DISTRICT_LEADER, 32, portfolio=["production_safety"], active=False)
    assert names(duty.district_leaders(domain="production_safety")) == [a.name]
    assert names(duty.district_leaders(notify_on_grade=True)) == ["区领导乙"]


def test_rosters_read_together_match_each_read_alone(units, roster, django_assert_num_queries):
    """The sweep reads a batch's rosters in one query: the same people, roles and order as one unit at a time."""
    picked = [units["sijing"], units["duty-room"], units["chedun"]]
    with django_assert_num_queries(1):
        together = duty.on_duty_many(units=picked, at=T0)
    for unit in picked:
        alone = duty.on_duty(unit=unit, at=T0)
        assert names(together[unit.pk].on_post) == names(alone.on_post)
        assert {r: names(c) for r, c in together[unit.pk].by_role.items()} == {
            r: names(c) for r, c in alone.by_role.items()
        }
        assert together[unit.pk].gap == alone.gap
    assert together[units["chedun"].pk].gap  # nobody on post there
    read = duty.on_duty_many(units=[units["sijing"]], at=T0)
    with django_assert_num_queries(0):
        got = duty.audience_resolve(unit=units["sijing"], audience=["duty_officer"], at=T0, duties=read)
    assert names(got) == ["张值班员"]


def _sweep_at(when):
    with freeze_time(when):
        return sweep_run(now=when)


def _rows(obligation, step):
    return sorted(
        Notification.objects.filter(obligation=obligation, step=step).values_list("recipient__name", "channel")
    )


def test_a_unit_with_nobody_on_post_and_no_default_contact_is_chased_through_the_duty_room(units, roster):
    """Nobody of the unit to tell (no shift, no default contact): the duty room on post gets the unit's message, so
    someone phones the unit, and the finding says so. Before, the reminder and the overdue step reached nobody and
    the duty room heard of it only at the escalation."""
    Shift.objects.filter(unit=units["sijing"]).delete()
    Contact.objects.filter(unit=units["sijing"], is_default=True).update(is_default=False)
    with freeze_time(T0):
        obligation = open_incident(units).obligations.get()
    _sweep_at(T0 + timedelta(minutes=21))
    assert _rows(obligation, "verbal_reminder") == [("周总值班长", "sms"), ("钱总值班员", "sms")]
    gap = Finding.objects.get(kind="roster_gap")
    assert gap.unit == units["sijing"] and gap.detail["reason"] == "no_shift"
    assert gap.detail["fallback"] == "duty_room"
    # The text says why the duty room has the unit's reminder and what to do; "请按时报送" would be the unit's ask.
    rows = Notification.objects.filter(obligation=obligation, step="verbal_reminder")
    later = T0 + timedelta(minutes=21, seconds=1)
    with freeze_time(later):
        notifications_send(notification_ids=[n.pk for n in rows], token="batch-1", now=later)
    for n in rows.all():
        assert n.status == "sent" and "泗泾镇" in n.body and "无人在岗" in n.body and "督促" in n.body, n.body
        assert "请按时报送" not in n.body and len(n.body) <= SEGMENT_CHARS


def test_a_step_that_reached_nobody_records_its_gap_once(units, roster):
    """Nobody anywhere (no shift, no default contact, not even in the duty room): the step reaches nobody and is
    tried again at the obligation's next moments, each finding the same gap. One roster gap per unit and need (the
    obligation's step), not one per attempt."""
    Shift.objects.all().delete()
    Contact.objects.filter(is_default=True).update(is_default=False)
    with freeze_time(T0):
        obligation = open_incident(units).obligations.get()
    for minutes in (21, 31, 36, 61, 76):
        _sweep_at(T0 + timedelta(minutes=minutes, seconds=1))
    assert not Notification.objects.filter(obligation=obligation, step__in=["verbal_reminder", "verbal_overdue"])
    gaps = Finding.objects.filter(kind="roster_gap", unit=units["sijing"])
    steps = sorted((g.detail["step"], g.detail["repeat"]) for g in gaps)
    assert steps == sorted(set(steps)), steps


def test_steps_merged_into_one_message_record_one_roster_gap(units, roster):
    """SPEC: a roster gap is no shift, or fewer than two on post, when a notification needed the unit's duty staff.
    At written due the verbal step's repeat and the written step fall together and each person gets one message
    (``merge_same_moment``): one need at one moment, one finding, naming both steps. The verbal deadline's own
    moment before it is a separate need, with its own finding."""
    Shift.objects.filter(unit=units["sijing"]).delete()
    with freeze_time(T0):
        obligation = open_incident(units).obligations.get()
    verbal_due, written_due = T0 + timedelta(minutes=30), T0 + timedelta(minutes=60)
    _sweep_at(verbal_due + timedelta(seconds=1))
    _sweep_at(written_due + timedelta(seconds=1))
    merged = Notification.objects.filter(obligation=obligation, scheduled_for=written_due, status="cancelled")
    assert merged.exists()  # the verbal repeat was folded into the written message
    gaps = Finding.objects.filter(kind="roster_gap", unit=units["sijing"], obligation=obligation)
    assert [g.found_at for g in gaps.order_by("found_at")] == [
        verbal_due + timedelta(seconds=1),
        written_due + timedelta(seconds=1),
    ]
    at_written = gaps.get(found_at=written_due + timedelta(seconds=1))
    needs = [(at_written.detail["step"], at_written.detail["repeat"])]
    needs += [(n["step"], n["repeat"]) for n in at_written.detail.get("also", [])]
    assert sorted(needs) == [("verbal_overdue", 2), ("written_overdue", 0)]
    # A later tick at the same need records nothing more (one finding per need).
    _sweep_at(written_due + timedelta(seconds=30))
    assert gaps.count() == 2
