"""The daily 值班表 reminder: a unit whose roster leaves a 双人在岗 gap in the next 24 hours is emailed once that day,
through a real SMTP server on loopback."""

import os
import subprocess
import sys
from datetime import datetime, timedelta

import pytest
from django.conf import settings as django_settings

from notifications.models import RosterReminder
from notifications.roster_reminders import reminders_prepare, reminders_run
from reporting.models import Contact, ContactRole, Shift
from reporting.web.display import LOCAL_TZ

pytestmark = pytest.mark.django_db

S = RosterReminder.Status
#: Saturday 2026-11-28 16:00 Asia/Shanghai, the default reminder hour.
AT_FOUR = datetime(2026, 11, 28, 16, 0, tzinfo=LOCAL_TZ)


@pytest.fixture
def smtp(settings, smtp_server):
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": smtp_server.host, "port": smtp_server.port, "timeout": 5},
        }
    }
    settings.ROSTER_REMINDER_HOUR = 16
    settings.PUBLIC_BASE_URL = "https://tracker.example.org"
    smtp_server.clear()
    return smtp_server


@pytest.fixture
def staffed(units):
    """Every unit has two on post around the clock for two days, except 泗泾镇, whose second person leaves at 02:00
    tonight and comes back at 08:30; 泗泾镇 has a head and a default contact with email, and a duty officer."""
    start = AT_FOUR - timedelta(hours=12)
    people = {}
    for code, unit in units.items():
        a = Contact.objects.create(unit=unit, name=f"{code}-a", phone="+8617000000101", role="duty_officer")
        b = Contact.objects.create(unit=unit, name=f"{code}-b", phone="+8617000000102", role="shift_leader")
        Shift.objects.create(unit=unit, contact=a, role="duty_officer", starts_at=start, ends_at=start + timedelta(2))
        if code == "sijing":
            night_off = datetime(2026, 11, 29, 2, 0, tzinfo=LOCAL_TZ)
            back = datetime(2026, 11, 29, 8, 30, tzinfo=LOCAL_TZ)
            Shift.objects.create(unit=unit, contact=b, role="shift_leader", starts_at=start, ends_at=night_off)
            Shift.objects.create(
                unit=unit, contact=b, role="shift_leader", starts_at=back, ends_at=start + timedelta(2)
            )
        else:
            Shift.objects.create(
                unit=unit, contact=b, role="shift_leader", starts_at=start, ends_at=start + timedelta(2)
            )
        people[code] = (a, b)
    sj = units["sijing"]
    Contact.objects.create(unit=sj, name="泗泾镇长", role=ContactRole.UNIT_HEAD, email="head@sijing.example.org")
    Contact.objects.create(
        unit=sj, name="值班电话", role=ContactRole.DUTY_OFFICER, email="duty@sijing.example.org", is_default=True
    )
    Contact.objects.create(unit=sj, name="离职者", role=ContactRole.UNIT_HEAD, email="gone@example.org", active=False)
    people["sijing"][0].email = "officer@sijing.example.org"  # not the head, not a default contact: not told
    people["sijing"][0].save()
    return people


def test_a_unit_with_a_gap_ahead_is_emailed_once_at_four(smtp, units, staffed):
    assert reminders_run(now=AT_FOUR) == 1
    (message,) = smtp.wait_for(lambda m: "值班表提醒" in str(m["Subject"]))
    assert message["X-Envelope-To"] == "duty@sijing.example.org, head@sijing.example.org"
    assert str(message["Subject"]) == "【值班表提醒】泗泾镇 未来24小时有 6.5 小时不足2人在岗"
    body = message.get_content()
    assert "- 2026-11-29 02:00 — 2026-11-29 08:30: 仅 1 人在岗" in body
    assert "https://tracker.example.org/roster/sijing/" in body
    reminder = RosterReminder.objects.get()
    assert (reminder.unit.code, reminder.day.isoformat(), reminder.status) == ("sijing", "2026-11-28", S.SENT)
    assert reminder.gap_seconds == 6.5 * 3600 and reminder.sent_at == AT_FOUR
    # Half an hour later, and in the evening: the same day, nothing more.
    assert reminders_run(now=AT_FOUR + timedelta(minutes=30)) == 0
    assert reminders_run(now=AT_FOUR + timedelta(hours=7, minutes=59)) == 0
    assert RosterReminder.objects.count() == 1 and len(smtp.messages) == 1


@pytest.mark.parametrize(
    ("moment", "made"),
    [
        (AT_FOUR - timedelta(seconds=1), 0),  # 15:59:59
        (AT_FOUR, 1),  # 16:00:00
        (AT_FOUR + timedelta(hours=8, minutes=10), 0),  # 00:10 the next day: before that day's hour
    ],
)
def test_the_reminder_hour_is_shanghai_time(smtp, units, staffed, moment, made):
    assert len(reminders_prepare(now=moment)) == made


def test_the_next_day_is_a_new_reminder(smtp, units, staffed):
    reminders_run(now=AT_FOUR)
    # 泗泾镇's roster ends two days after it began: the next afternoon the last hours ahead are a gap again.
    assert reminders_run(now=AT_FOUR + timedelta(days=1)) >= 1
    days = sorted(r.day.isoformat() for r in RosterReminder.objects.filter(unit__code="sijing"))
    assert days == ["2026-11-28", "2026-11-29"]


def test_a_unit_without_an_email_is_recorded_not_sent(smtp, units, staffed):
    Contact.objects.filter(unit=units["sijing"]).update(email="")
    assert reminders_run(now=AT_FOUR) == 0
    assert RosterReminder.objects.get().status == S.NO_RECIPIENT and smtp.messages == []


def test_a_refused_send_is_failed_and_not_repeated(settings, units, staffed):
    settings.ROSTER_REMINDER_HOUR = 16
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": 9, "timeout": 2},
        }
    }
    assert reminders_run(now=AT_FOUR) == 0
    reminder = RosterReminder.objects.get()
    assert reminder.status == S.FAILED and "Error" in reminder.error
    assert reminders_run(now=AT_FOUR + timedelta(minutes=30)) == 0 and RosterReminder.objects.count() == 1


def test_switched_off_it_does_nothing(smtp, settings, units, staffed):
    settings.ROSTER_REMINDER_HOUR = None
    assert reminders_run(now=AT_FOUR) == 0 and not RosterReminder.objects.exists()


def test_fully_staffed_units_are_not_emailed(smtp, units, staffed):
    night_off = datetime(2026, 11, 29, 2, 0, tzinfo=LOCAL_TZ)
    Shift.objects.create(
        unit=units["sijing"],
        contact=staffed["sijing"][1],
        role="shift_leader",
        starts_at=night_off,
        ends_at=night_off + timedelta(hours=6, minutes=30),
    )
    assert reminders_run(now=AT_FOUR) == 0 and not RosterReminder.objects.exists()


def test_the_leadership_offices_keep_no_roster_and_get_no_reminder(smtp, units, staffed):
    """区委办/区府办 receive the duty room's relay and report nothing: no step needs their duty staff, so an empty
    roster there is nobody's gap (``selectors.rostered_units``), while 泗泾镇's gap is still emailed."""
    Shift.objects.filter(unit__code__in=["qwb", "qfb"]).delete()
    for code in ("qwb", "qfb"):
        Contact.objects.create(unit=units[code], name=f"{code}值班", email=f"{code}@example.org", is_default=True)
    assert reminders_run(now=AT_FOUR) == 1
    assert list(RosterReminder.objects.values_list("unit__code", flat=True)) == ["sijing"]


@pytest.mark.parametrize("value", ["25", "four", "-1"])
def test_a_bad_reminder_hour_stops_the_boot_with_a_clear_message(value):
    env = {**os.environ, "ROSTER_REMINDER_HOUR": value, "DJANGO_SETTINGS_MODULE": "config.settings.base"}
    done = subprocess.run(  # noqa: S603 - our own interpreter and settings module
        [sys.executable, "-c", "import django; django.setup()"],
        env=env,
        cwd=django_settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0 and "ROSTER_REMINDER_HOUR must be an hour from 0 to 23" in done.stderr
