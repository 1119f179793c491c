"""SMS and email texts: exact wording, one 70-character UCS-2 segment where the facts allow, 【演练】 first."""

from dataclasses import replace
from datetime import timedelta

import pytest

from notifications.messages import (
    SEGMENT_CHARS,
    TWO_SEGMENTS,
    Facts,
    email_body,
    email_subject,
    facts_for,
    short_unit,
    sms_text,
    step_deadline,
    step_escalation,
)
from notifications.models import Notification
from reporting import links
from tests.conftest import NOW

DUE = NOW + timedelta(minutes=30)
LINK = "https://sj.example.cn/f/1z.1xXLpN.bNYDw9p8"


def facts(**over) -> Facts:
    base = dict(
        incident_number="SJ-2026-000123",
        incident_title="泗泾镇某厂房火灾",
        unit_name="泗泾镇",
        exercise=False,
        step="verbal_overdue",
        deadline="verbal",
        due_at=DUE,
        link=LINK,
    )
    base.update(over)
    return Facts(**base)


@pytest.mark.parametrize(
    ("over", "now", "expected"),
    [
        ({}, DUE + timedelta(minutes=12, seconds=30), f"SJ-2026-000123泗泾镇口头报已超时12分钟 {LINK}"),
        (
            {"step": "written_overdue", "deadline": "written"},
            DUE + timedelta(minutes=45),
            f"SJ-2026-000123泗泾镇书面报已超时45分钟 {LINK}",
        ),
        (
            {"step": "verbal_reminder", "reminder": True},
            DUE - timedelta(minutes=10),
            f"SJ-2026-000123泗泾镇口头报还剩10分钟 {LINK}",
        ),
        ({}, DUE + timedelta(seconds=20), f"SJ-2026-000123 泗泾镇：口头报已到时限 {LINK}"),
        (
            {"exercise": True},
            DUE + timedelta(minutes=5),
            f"【演练】SJ-2026-000123泗泾镇口头报超5分 {LINK}",
        ),
    ],
)
def test_sms_text_is_exact_and_fits_one_segment(over, now, expected):
    text = sms_text(facts(**over), now=now)
    assert text == expected
    assert len(text) <= SEGMENT_CHARS


def test_long_unit_name_is_shortened_before_anything_else():
    text = sms_text(facts(unit_name="上海市松江区方松街道办事处"), now=DUE + timedelta(minutes=7))
    assert text == f"SJ-2026-000123方松街道口头报已超时7分钟 {LINK}"
    assert len(text) <= SEGMENT_CHARS


def test_shortening_steps_are_in_order():
    text = sms_text(facts(unit_name="区政府总值班室"), now=DUE + timedelta(minutes=3))
    assert text == f"SJ-2026-000123总值班室口头报已超时3分钟 {LINK}"
    assert len(text) <= SEGMENT_CHARS
    roomy = "https://s.cn/f/1z.1xXLpN.bNYDw9p8"
    assert sms_text(facts(link=roomy), now=DUE + timedelta(minutes=3)) == (
        f"SJ-2026-000123 泗泾镇：口头报已超时3分钟，请立即报送 {roomy}"
    )


def test_when_the_facts_do_not_fit_the_full_text_is_sent():
    huge = "https://" + "x" * 60 + "/f/1z.1xXLpN.bNYDw9p8"
    text = sms_text(facts(link=huge), now=DUE + timedelta(minutes=3))
    assert text == f"SJ-2026-000123 泗泾镇：口头报已超时3分钟，请立即报送 {huge}"
    # Exercise prefix + a long unit: one character too many even at the shortest; nothing is dropped.
    text = sms_text(facts(unit_name="上海市松江区方松街道办事处", exercise=True), now=DUE + timedelta(minutes=7))
    assert text == f"【演练】SJ-2026-000123 上海市松江区方松街道办事处：口头报已超时7分钟，请立即报送 {LINK}"


def test_relay_text():
    text = sms_text(
        facts(unit_name="区政府总值班室", deadline="relay", step="verbal_overdue"), now=DUE + timedelta(minutes=2)
    )
    assert text == f"SJ-2026-000123总值班室转报两办超2分 {LINK}"
    assert len(text) <= SEGMENT_CHARS


def test_event_rule_texts():
    deaths = sms_text(facts(step="event_deaths", deadline="", unit_name="", deaths=2, link=""), now=NOW)
    assert deaths == "SJ-2026-000123 泗泾镇某厂房火灾：死亡2人，请分管区领导赶赴现场"
    grade = sms_text(
        facts(
            step="event_grade_IV", deadline="", unit_name="", grade="IV", deaths=1, injuries=3, link="", exercise=True
        ),
        now=NOW,
    )
    assert grade == "【演练】SJ-2026-000123 泗泾镇某厂房火灾：一般(IV)事件，死亡1人受伤3人"
    long_title = sms_text(facts(step="event_deaths", deadline="", incident_title="某" * 80, deaths=1), now=NOW)
    assert len(long_title) <= TWO_SEGMENTS
    assert long_title.endswith(f"…（泗泾镇报）：死亡1人，请分管区领导赶赴现场 {LINK}")


def test_a_leaders_event_sms_says_when_where_and_which_unit():
    """A district leader told of a death goes to the scene: the SMS says where, when (today: the time alone) and which
    unit reports, besides what and how many; two segments at most, the title cut first, then the place."""
    event = dict(deadline="", unit_name="泗泾镇", link="", location="泗泾镇泗砖公路588号", occurred_at=NOW)
    deaths = sms_text(facts(step="event_deaths", deaths=1, **event), now=NOW + timedelta(minutes=20))
    assert (
        deaths
        == "SJ-2026-000123 泗泾镇某厂房火灾（09:00，泗泾镇泗砖公路588号，泗泾镇报）：死亡1人，请分管区领导赶赴现场"
    )
    grade = sms_text(facts(step="event_grade_IV", grade="IV", injuries=3, **event), now=NOW + timedelta(days=1))
    assert grade == (
        "SJ-2026-000123 泗泾镇某厂房火灾（11月28日09:00，泗泾镇泗砖公路588号，泗泾镇报）：一般(IV)事件，死亡0人受伤3人"
    )
    long = sms_text(
        facts(step="event_deaths", deaths=1, **{**event, "location": "地" * 80}, incident_title="某" * 80),
        now=NOW,
    )
    assert (
        len(long) <= TWO_SEGMENTS
        and "（09:00，地地地地" in long
        and long.endswith("泗泾镇报）：死亡1人，请分管区领导赶赴现场")
    )
    body = email_body(facts(step="event_deaths", deaths=1, **event), now=NOW)
    assert "发生时间: 2026-11-28 09:00 (北京时间)" in body and "报送单位: 泗泾镇" in body


def test_event_texts_for_the_duty_room_name_the_leader_who_was_not_reached():
    """A district leader's event SMS failed: the duty room's fallback SMS says whom to phone."""
    event = dict(deadline="", unit_name="", link="", unreached="王副区长")
    deaths = sms_text(facts(step="event_deaths", deaths=2, **event), now=NOW)
    assert deaths == "SJ-2026-000123 泗泾镇某厂房火灾：死亡2人，王副区长短信未送达，请电话通知其赶赴现场"
    grade = sms_text(facts(step="event_grade_III", grade="III", deaths=3, exercise=True, **event), now=NOW)
    assert (
        grade
        == "【演练】SJ-2026-000123 泗泾镇某厂房火灾：较大(III)事件，死亡3人受伤0人；王副区长短信未送达，请电话通知"
    )
    long_title = sms_text(facts(step="event_deaths", incident_title="某" * 80, deaths=1, **event), now=NOW)
    assert long_title.endswith("某某：死亡1人，王副区长短信未送达，请电话通知其赶赴现场")  # fits two segments
    assert "发给王副区长的短信未送达，请电话通知。" in email_body(facts(step="event_deaths", **event), now=NOW)
    no_phone = facts(step="event_deaths", deaths=1, unreached_no_phone=True, **event)
    assert sms_text(no_phone, now=NOW).endswith("：死亡1人，王副区长无手机号码，请电话通知其赶赴现场")
    assert "王副区长无手机号码，请电话通知。" in email_body(no_phone, now=NOW)


def test_email_has_the_details():
    now = DUE + timedelta(minutes=12)
    f = facts(location="泗泾镇某路1号", exercise=True)
    assert email_subject(f, now=now) == "【演练】[催报] SJ-2026-000123 泗泾镇 口头报已超时12分钟"
    body = email_body(f, now=now)
    assert "时限: 口头报，截止 2026-11-28 09:30 (北京时间)" in body
    assert "地点: 泗泾镇某路1号" in body and LINK in body and body.startswith("【演练】")


# --- escalation (SPEC "Escalation": due + 5 min, the duty room on duty and the unit head) ----------------------

ROOM = "已升级区总值班室督办"


@pytest.mark.parametrize(
    ("over", "minutes", "expected"),
    [
        # The roomy link: everything, the verb too.
        (
            {"link": "https://s.cn/f/1"},
            6,
            "SJ-2026-000123 泗泾镇：口头报已超时6分钟，已升级区总值班室督办，请立即报送 https://s.cn/f/1",
        ),
        # Tighter: the verb, then the spacing go; the duty room stays named.
        (
            {"link": "https://s.cn/f/1z.1xXLpN.bNYDw9p8"},
            6,
            "SJ-2026-000123泗泾镇口头报已超时6分钟，已升级总值班室督办 https://s.cn/f/1z.1xXLpN.bNYDw9p8",
        ),
        ({}, 6, f"SJ-2026-000123泗泾镇口头报超6分升级督办 {LINK}"),
        # A long unit name: the unit and the delay are shortened before the duty room's name is dropped.
        (
            {
                "step": "written_escalate",
                "deadline": "written",
                "unit_name": "上海市松江区方松街道办事处",
                "link": "https://s.cn/f/1z.1xXLpN.bNYDw9p8",
            },
            5,
            "SJ-2026-000123方松街道书面报超5分，已升级总值班室督办 https://s.cn/f/1z.1xXLpN.bNYDw9p8",
        ),
    ],
)
def test_escalation_sms_says_it_was_escalated_and_fits_one_segment(over, minutes, expected):
    f = facts(**{"step": "verbal_escalate", "escalated_to": "duty_room", **over})
    text = sms_text(f, now=f.due_at + timedelta(minutes=minutes, seconds=10))
    assert text == expected
    assert len(text) <= SEGMENT_CHARS


def test_an_escalation_that_cannot_fit_is_sent_whole_never_without_the_escalation():
    f = facts(step="verbal_escalate", escalated_to="duty_room")
    late = DUE + timedelta(minutes=12)
    assert sms_text(f, now=late) == f"SJ-2026-000123 泗泾镇：口头报已超时12分钟，{ROOM}，请立即报送 {LINK}"
    exercise = sms_text(facts(step="verbal_escalate", escalated_to="duty_room", exercise=True), now=late)
    assert exercise == f"【演练】SJ-2026-000123 泗泾镇：口头报已超时12分钟，{ROOM}，请立即报送 {LINK}"
    roomy = "https://s.cn/f/1"
    drill = sms_text(facts(step="verbal_escalate", escalated_to="duty_room", exercise=True, link=roomy), now=late)
    assert drill == f"【演练】SJ-2026-000123 泗泾镇：口头报已超时12分钟，{ROOM}，请立即报送 {roomy}"


def test_the_overdue_step_and_a_reminder_do_not_say_escalated():
    overdue = sms_text(facts(), now=DUE + timedelta(minutes=6))
    reminder = sms_text(
        facts(step="verbal_reminder", reminder=True, escalated_to="duty_room"), now=DUE - timedelta(minutes=10)
    )
    assert "升级" not in overdue and "升级" not in reminder
    assert email_subject(facts(), now=DUE + timedelta(minutes=6)).startswith("[催报] ")


def test_a_relay_escalation_goes_to_the_duty_rooms_head_and_does_not_name_the_duty_room_to_itself():
    f = facts(unit_name="区政府总值班室", deadline="relay", step="verbal_escalate", escalated_to="unit_head")
    later = DUE + timedelta(minutes=6)
    tight = "https://s.cn/f/1z.1xXLpN.bNYDw9p8"
    text = sms_text(replace(f, link=tight), now=later)
    assert text == f"SJ-2026-000123总值班室转报两办超6分，已升级督办 {tight}" and len(text) <= SEGMENT_CHARS
    roomy = sms_text(replace(f, link="https://s.cn/f/1"), now=later)
    assert (
        roomy == "SJ-2026-000123 区政府总值班室：转报区委办区府办已超时6分钟，已升级督办，请立即转报 https://s.cn/f/1"
    )
    assert email_subject(f, now=later) == "[升级督办] SJ-2026-000123 区政府总值班室 转报区委办区府办已超时6分钟"


def test_escalation_email_has_its_own_tag_and_says_so():
    now = DUE + timedelta(minutes=6)
    f = facts(step="verbal_escalate", escalated_to="duty_room", exercise=True)
    assert email_subject(f, now=now) == "【演练】[升级督办] SJ-2026-000123 泗泾镇 口头报已超时6分钟"
    body = email_body(f, now=now)
    assert f"状态: 口头报已超时6分钟，{ROOM}" in body and body.startswith("【演练】")


ESCALATE = {"key": "verbal_escalate", "anchor": "verbal_due", "offset_minutes": 5, "audience": ["duty_room"]}


@pytest.mark.parametrize(
    ("step", "plan", "kind", "expected"),
    [
        ("verbal_escalate", [], "report", "duty_room"),  # no frozen plan: the default ladder's audience
        ("written_escalate", [], "report", "duty_room"),
        ("verbal_overdue", [], "report", ""),
        ("verbal_escalate", [ESCALATE], "report", "duty_room"),
        # A renamed step is judged by whom it reaches, not by its key.
        ("tell_room", [{**ESCALATE, "key": "tell_room"}], "report", "duty_room"),
        ("verbal_escalate", [{**ESCALATE, "audience": ["unit_head"]}], "report", "unit_head"),
        ("verbal_escalate", [{**ESCALATE, "audience": ["duty_officer"]}], "report", ""),
        ("verbal_escalate", [{**ESCALATE, "offset_minutes": -5}], "report", ""),  # a reminder escalates nothing
        # A relay is the duty room's own obligation: escalating it means its head.
        ("verbal_escalate", [], "relay", "unit_head"),
        ("verbal_escalate", [ESCALATE], "relay", ""),
    ],
)
def test_step_escalation(step, plan, kind, expected):
    assert step_escalation(step=step, plan=plan, kind=kind) == expected


@pytest.mark.parametrize(
    ("step", "plan", "kind", "expected"),
    [
        ("verbal_reminder", [], "report", ("verbal", True)),
        ("written_overdue", [], "report", ("written", False)),
        ("odd", [{"key": "odd", "anchor": "written_due", "offset_minutes": -5}], "report", ("written", True)),
        ("verbal_overdue", [], "relay", ("relay", False)),
    ],
)
def test_step_deadline(step, plan, kind, expected):
    assert step_deadline(step=step, plan=plan, kind=kind) == expected


@pytest.mark.parametrize(
    ("name", "short"),
    [("泗泾镇", "泗泾镇"), ("区公安分局", "公安分局"), ("区政府总值班室", "总值班室"), ("区委办公室", "区委办")],
)
def test_short_unit(name, short):
    assert short_unit(name) == short


def test_facts_for_a_row_carry_a_working_signed_link(db, units, settings):
    from reporting import services

    settings.PUBLIC_BASE_URL = "https://sj.example.cn"
    incident = services.incident_create(
        actor=None,
        now=NOW,
        units=[{"unit": units["sijing"], "first_known_at": NOW, "channel": "self"}],
        title="泗泾镇某厂房火灾",
        domain="production_safety",
        occurred_at=NOW - timedelta(minutes=5),
        location="泗泾镇某路1号",
    )
    obligation = incident.obligations.get()
    row = Notification(incident=incident, obligation=obligation, step="verbal_overdue", channel="sms", to="+86170")
    f = facts_for(row)
    assert (f.unit_name, f.deadline, f.due_at, f.incident_number) == ("泗泾镇", "verbal", DUE, incident.number)
    token = f.link.removeprefix("https://sj.example.cn/f/")
    assert links.obligation_from_token(token) == obligation.pk
    assert links.obligation_from_token(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    text = sms_text(f, now=DUE + timedelta(minutes=9))
    # The link's length grows with the obligation id; a longer one drops the spacing to stay in one segment.
    roomy = f"{incident.number} 泗泾镇：口头报已超时9分钟 {f.link}"
    tight = f"{incident.number}泗泾镇口头报已超时9分钟 {f.link}"
    assert text == (roomy if len(roomy) <= SEGMENT_CHARS else tight) and len(text) <= SEGMENT_CHARS


def test_an_escalation_row_is_worded_as_one(db, units, settings):
    from reporting import services

    settings.PUBLIC_BASE_URL = "https://s.cn"
    incident = services.incident_create(
        actor=None,
        now=NOW,
        units=[{"unit": units["sijing"], "first_known_at": NOW, "channel": "self"}],
        title="泗泾镇某厂房火灾",
        domain="production_safety",
        occurred_at=NOW - timedelta(minutes=5),
    )
    obligation = incident.obligations.get()
    later = DUE + timedelta(minutes=5, seconds=1)

    def text(step):
        row = Notification(incident=incident, obligation=obligation, step=step, channel="sms", to="+86170")
        return sms_text(facts_for(row), now=later), email_subject(facts_for(row), now=later)

    sms, subject = text("verbal_escalate")
    assert "已升级" in sms and "总值班室督办" in sms and len(sms) <= SEGMENT_CHARS
    assert subject.startswith("[升级督办] ")
    sms, subject = text("verbal_overdue")
    assert "升级" not in sms and subject.startswith("[催报] ")


def test_a_units_step_sent_to_the_duty_room_says_nobody_of_the_unit_is_on_post():
    """Nobody of the unit to reach: its reminder or overdue step goes to the duty room on post (notifications.roster),
    worded as the duty room's task (phone the unit), not as the unit's (请按时报送), and never as an escalation."""
    reminder = facts(step="verbal_reminder", reminder=True, unit_unstaffed=True)
    text = sms_text(reminder, now=DUE - timedelta(minutes=10))
    assert text == f"SJ-2026-000123 泗泾镇：口头报还剩10分钟，该单位无人在岗，请电话督促 {LINK}"  # nothing fits: whole
    short_link = "https://sj.example.cn/f/1z.abcABCDEFGH"  # the compact token (reporting.links)
    text = sms_text(replace(reminder, link=short_link), now=DUE - timedelta(minutes=10))
    assert text == f"SJ-2026-000123泗泾镇口头报剩10分无人在岗 {short_link}"
    overdue = facts(unit_unstaffed=True, link=short_link)
    text = sms_text(overdue, now=DUE + timedelta(minutes=3))
    assert "口头报" in text and "无人在岗" in text and "升级" not in text and len(text) <= SEGMENT_CHARS
    assert email_subject(overdue, now=DUE).startswith("[无人在岗督促] SJ-2026-000123 泗泾镇")
    assert "该单位无人在岗，请电话督促" in email_body(overdue, now=DUE)
    assert "无人在岗" not in sms_text(facts(), now=DUE) + email_subject(facts(), now=DUE)
