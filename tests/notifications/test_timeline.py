"""Issue 3, must-show 1: two full 2-hour timelines, driven by the real sweep every 5 s of frozen time.

First known 09:00 Asia/Shanghai (T0): verbal due 09:30, written due 10:00. Reminders fire at their time; steps at or
after a deadline fire strictly after it (inclusive deadline), so at the first 5-second tick after: mm:05.
"""

from datetime import timedelta

from freezegun import freeze_time

from notifications.models import Notification
from notifications.sweep import sweep_run
from reporting import report_services
from reporting.models import DeadlineBreach, Obligation
from tests.notifications.conftest import T0, open_incident, report_fields

TICK = timedelta(seconds=5)
OFFICER, SHIFT_LEADER, LEADER, HEAD = "张值班员", "李值班长", "赵带班", "孙镇长"
ROOM_OFFICER, ROOM_LEADER = "钱总值班员", "周总值班长"
ROSTER = [OFFICER, SHIFT_LEADER]
OVERDUE = [OFFICER, SHIFT_LEADER, LEADER]
ESCALATE = [HEAD, ROOM_OFFICER, ROOM_LEADER]
BOTH = ["sms", "email"]


def group(sent: str, step: str, repeat: int, scheduled: str, people: list[str], channels: list[str]):
    """Rows as (sent mm:ss, step, repeat, scheduled mm:ss, recipient, channel), recipients in contact order."""
    return [(sent, step, repeat, scheduled, p, c) for p in people for c in channels]


def mmss(value) -> str:
    seconds = int((value - T0).total_seconds())
    return f"{seconds // 60:02d}:{seconds % 60:02d}"


def run_timeline(units, *, minutes=125, actions=None):
    """Sweep every TICK from T0 to T0 + minutes; ``actions`` maps a moment to a callable run just before that tick."""
    actions = actions or {}
    with freeze_time(T0):
        incident = open_incident(units)
    obligation = incident.obligations.get()
    now = T0
    with freeze_time(T0) as frozen:
        while now <= T0 + timedelta(minutes=minutes):
            frozen.move_to(now)
            if now in actions:
                actions[now](obligation, now)
            sweep_run(now=now)
            now += TICK
    rows = (
        Notification.objects.filter(obligation=obligation)
        .select_related("recipient")
        .order_by("created_at", "step", "id")
    )
    return obligation, [
        (mmss(n.created_at), n.step, n.repeat, mmss(n.scheduled_for), n.recipient.name, n.channel) for n in rows
    ]


def test_unit_that_never_reports(units, roster):
    obligation, rows = run_timeline(units)
    expected = [
        *group("20:00", "verbal_reminder", 0, "20:00", ROSTER, ["sms"]),
        *group("30:05", "verbal_overdue", 0, "30:00", OVERDUE, BOTH),
        *group("35:05", "verbal_escalate", 0, "35:00", ESCALATE, BOTH),
        *group("45:05", "verbal_overdue", 1, "45:00", OVERDUE, ["sms"]),
        *group("50:00", "written_reminder", 0, "50:00", ROSTER, ["sms"]),
        *group("60:05", "verbal_overdue", 2, "60:00", OVERDUE, ["sms"]),
        *group("60:05", "written_overdue", 0, "60:00", OVERDUE, BOTH),
        *group("65:05", "written_escalate", 0, "65:00", ESCALATE, BOTH),
        *group("75:05", "verbal_overdue", 3, "75:00", OVERDUE, ["sms"]),
        *group("75:05", "written_overdue", 1, "75:00", OVERDUE, ["sms"]),
        *group("90:05", "verbal_overdue", 4, "90:00", OVERDUE, ["sms"]),
        *group("90:05", "written_overdue", 2, "90:00", OVERDUE, ["sms"]),
        *group("105:05", "written_overdue", 3, "105:00", OVERDUE, ["sms"]),
        *group("120:05", "written_overdue", 4, "120:00", OVERDUE, ["sms"]),
    ]
    assert rows == expected
    # The verbal repeats that fall on the written deadline's moments are folded into its message: each person gets
    # one SMS at 60:05, 75:05 and 90:05, not two in the same second.
    merged = Notification.objects.filter(obligation=obligation, status="cancelled")
    assert sorted({(n.step, n.repeat, n.error) for n in merged}) == [
        ("verbal_overdue", r, "并入同时发出的书面报催报 (merged into written_overdue)") for r in (2, 3, 4)
    ]
    assert merged.count() == 3 * len(OVERDUE)
    live = Notification.objects.filter(obligation=obligation).exclude(status="cancelled")
    moments = [(n.created_at, n.recipient_id, n.channel) for n in live]
    assert len(moments) == len(set(moments)) == len(rows) - merged.count()
    assert len(rows) == 52
    # Each row has its address: the phone for SMS, the email for email.
    for n in Notification.objects.filter(obligation=obligation).select_related("recipient"):
        assert n.to == (n.recipient.phone if n.channel == "sms" else n.recipient.email)
        assert n.status == ("cancelled" if n in merged else "pending") and n.body == ""
    breaches = DeadlineBreach.objects.filter(obligation=obligation).order_by("due_at")
    assert [(b.deadline, mmss(b.recorded_at)) for b in breaches] == [("verbal", "30:05"), ("written", "60:05")]
    obligation.refresh_from_db()
    assert obligation.next_action_at is None


def test_unit_reporting_verbally_at_25_and_in_writing_at_70(units, roster):
    def verbal(obligation, now):
        report_services.report_create(obligation=obligation, kind="verbal", actor=None, now=now, **report_fields())

    def written(obligation, now):
        report_services.report_create(obligation=obligation, kind="written", actor=None, now=now, **report_fields())

    obligation, rows = run_timeline(
        units, actions={T0 + timedelta(minutes=25): verbal, T0 + timedelta(minutes=70): written}
    )
    assert rows == [
        *group("20:00", "verbal_reminder", 0, "20:00", ROSTER, ["sms"]),
        *group("50:00", "written_reminder", 0, "50:00", ROSTER, ["sms"]),
        *group("60:05", "written_overdue", 0, "60:00", OVERDUE, BOTH),
        *group("65:05", "written_escalate", 0, "65:00", ESCALATE, BOTH),
    ]
    obligation = Obligation.objects.get(pk=obligation.pk)
    assert (obligation.verbal_state, obligation.written_state) == ("on_time", "late")
    assert obligation.next_action_at is None
    assert [b.deadline for b in DeadlineBreach.objects.filter(obligation=obligation)] == ["written"]
