"""What a notification says: the SMS text (one 70-character UCS-2 segment where the facts allow) and the email.

Pure functions over plain values (``Facts``); ``facts_for()`` reads them off a notification row. The SMS starts with
the incident number and the unit (【演练】 first for exercises), says which deadline and how many minutes overdue
(or how many remain, for reminders) and ends with the short signed link to the filing form. An escalation step (the
ladder's ``escalate``: the duty room and the unit head are told, SPEC "Escalation") also says that it has been
escalated (已升级区总值班室督办), and its email is tagged [升级督办] instead of [催报]. When the text is too long, it is
shortened step by step (wording, then the unit name); if even the shortest form cannot fit, the full readable text is
sent in two segments rather than dropping a fact (the escalation is one).

An event rule's SMS (a district leader told of a death or a grade, or the duty room asked to phone one) says what,
when, where and which units report, then the figures or the ask, in at most two segments (``TWO_SEGMENTS``): a
leader going to the scene needs the place more than a one-segment text.

A voice call (``voice_text``) says the same facts as spoken Chinese: no link, the incident number as a year and a
sequence number, 演练 spoken first for exercises, and what to do; an event call also says when (as one says a time in
Shanghai, ``spoken_when``), where and which units report, as the event SMS does.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from notifications.escalation import ESCALATE_AUDIENCE
from reporting.models import Grade, ObligationKind

#: One UCS-2 SMS segment (any Chinese character switches the whole message to UCS-2).
SEGMENT_CHARS = 70
#: Two segments of a concatenated UCS-2 SMS (67 characters each: the rest of 70 is the concatenation header). An
#: event rule's SMS to a district leader may take both: where and when matter more to someone going to the scene
#: than one segment's cost, and leaders are told rarely.
TWO_SEGMENTS = 2 * 67
EXERCISE_PREFIX = "【演练】"
LOCAL_TZ = ZoneInfo("Asia/Shanghai")

VERBAL, WRITTEN, RELAY = "verbal", "written", "relay"
EVENT_DEATHS = "event_deaths"
DEADLINE_LABELS = {VERBAL: "口头报", WRITTEN: "书面报", RELAY: "转报区委办区府办"}

#: Whom an escalation step brings in (``Facts.escalated_to``): the district duty room on duty, or only the head of
#: the unit (a relay obligation is the duty room's own, so its escalation reaches the duty room's head).
TO_DUTY_ROOM, TO_UNIT_HEAD = "duty_room", "unit_head"
#: What an escalation adds to the text, longest first: (full, short, compact, shortest).
ESCALATION_NOTICES = {
    TO_DUTY_ROOM: ("已升级区总值班室督办", "已升级总值班室督办", "已升级督办", "升级督办"),
    TO_UNIT_HEAD: ("已升级督办", "已升级督办", "已升级督办", "升级督办"),
}
#: What a unit's own step says when it goes to the duty room on post because nobody of the unit can be reached
#: (``notifications.roster``: a roster gap with no default contact): the duty room is to phone the unit.
UNSTAFFED_NOTICES = ("该单位无人在岗，请电话督促", "无人在岗，请电话督促", "无人在岗请督促", "无人在岗")


@dataclass(frozen=True)
class Facts:
    """Everything a text needs, as plain values."""

    incident_number: str
    incident_title: str
    unit_name: str
    exercise: bool
    step: str
    deadline: str = ""  # verbal | written | relay; empty for incident-level event rules
    reminder: bool = False
    due_at: datetime | None = None
    link: str = ""
    deaths: int = 0
    injuries: int = 0
    serious_injuries: int = 0  # of ``injuries``; the grade counts these (SPEC rule 9)
    grade: str = ""
    location: str = ""
    occurred_at: datetime | None = None
    escalated_to: str = ""  # TO_DUTY_ROOM | TO_UNIT_HEAD for an escalation step; empty otherwise
    # An event rule's SMS to a district leader failed and this message goes to the duty room instead: the leader's
    # name, so the duty room phones them.
    unreached: str = ""
    # ``unreached`` has no mobile number on record (the duty room was asked at once), rather than an SMS that failed.
    unreached_no_phone: bool = False
    # A death in a domain no district leader's portfolio covers: the leaders on the list (or the duty room) are told
    # to find one, not asked to go as the leader in charge.
    no_leader_in_charge: bool = False
    # A unit's own step (not an escalation) sent to the duty room on post: nobody of the unit could be reached.
    unit_unstaffed: bool = False


def short_unit(name: str) -> str:
    """A unit name of at most 4 characters: 区公安分局 → 公安分局, 区政府总值班室 → 总值班室,
    上海市松江区方松街道办事处 → 方松街道."""
    if "总值班室" in name:
        return "总值班室"
    short = name
    for long, replacement in (("上海市", ""), ("松江区", ""), ("人民政府", ""), ("办事处", ""), ("办公室", "办")):
        short = short.replace(long, replacement)
    short = short.replace("委员会", "委")
    if short.startswith("区") and len(short) > 3:
        short = short[1:]
    return short[:4]


def minutes_overdue(due_at: datetime, now: datetime) -> int:
    """Whole minutes past the due time (0 in the first minute)."""
    return max(0, math.floor((now - due_at).total_seconds() / 60))


def minutes_left(due_at: datetime, now: datetime) -> int:
    """Minutes until the due time, rounded up (a reminder at due − 10 min says 10)."""
    return max(1, math.ceil((due_at - now).total_seconds() / 60))


def _phrase(facts: Facts, now: datetime, *, compact: bool) -> str:
    label = DEADLINE_LABELS.get(facts.deadline, "报送")
    if compact and facts.deadline == RELAY:
        label = "转报两办"  # 两办: 区委办 and 区府办, as the duty room says it
    if facts.due_at is None:
        return f"{label}已超时"
    if facts.reminder and now < facts.due_at:
        left = minutes_left(facts.due_at, now)
        return f"{label}剩{left}分" if compact else f"{label}还剩{left}分钟"
    late = minutes_overdue(facts.due_at, now)
    if late == 0:
        return f"{label}已到时限"
    return f"{label}超{late}分" if compact else f"{label}已超时{late}分钟"


def _prefix(facts: Facts) -> str:
    return EXERCISE_PREFIX if facts.exercise else ""


def _unreached_why(facts: Facts) -> str:
    return "无手机号码" if facts.unreached_no_phone else "短信未送达"


def _event_tail(facts: Facts, *, spoken: bool = False) -> str:
    """What an event rule's message says after the incident: the deaths, the grade, or whom to phone. ``spoken``
    (a call): no grade code or brackets, the figures apart."""
    ask = f"{facts.unreached}{_unreached_why(facts)}，请电话通知" if facts.unreached else ""
    if facts.step.startswith("event_deaths"):
        if facts.no_leader_in_charge:
            return f"死亡{facts.deaths}人，本领域无分管区领导，" + (
                f"{ask}其赶赴现场" if ask else "请安排区领导赶赴现场"
            )
        return f"死亡{facts.deaths}人，" + (f"{ask}其赶赴现场" if ask else "请分管区领导赶赴现场")
    if facts.step.startswith("event_grade"):
        label = Grade(facts.grade).label if facts.grade in Grade.values else facts.grade
        if spoken:
            return f"{label}事件，死亡{facts.deaths}人，受伤{facts.injuries}人" + (f"，{ask}" if ask else "")
        serious = f"(重伤{facts.serious_injuries}人)" if facts.serious_injuries else ""
        return f"{label}({facts.grade})事件，死亡{facts.deaths}人受伤{facts.injuries}人{serious}" + (
            f"；{ask}" if ask else ""
        )
    return ask or "请关注事件进展"


def _when(value: datetime | None, now: datetime) -> str:
    """When an incident occurred, as short as is clear at ``now``: 09:05 the same (local) day, else 11月27日23:50."""
    if value is None:
        return ""
    local = value.astimezone(LOCAL_TZ)
    if local.date() == now.astimezone(LOCAL_TZ).date():
        return local.strftime("%H:%M")
    return f"{local.month}月{local.day}日{local:%H:%M}"


def _cut(text: str, excess: int, *, keep: int) -> str:
    """``text`` shortened by ``excess`` characters (… marks the cut), never below ``keep`` characters."""
    if excess <= 0 or len(text) <= keep:
        return text
    return text[: max(len(text) - excess - 1, keep)] + "…"


def _event_text(facts: Facts, now: datetime) -> str:
    """Incident-level event rules (deaths ≥ 1, grade thresholds): what, when, where, which units report, the
    figures or the ask, and the link to the incident page, in two segments at most (``TWO_SEGMENTS``): the title is
    cut first, then the place."""
    units = f"{facts.unit_name}报" if facts.unit_name else ""
    tail = "：" + _event_tail(facts) + (f" {facts.link}" if facts.link else "")
    head = f"{_prefix(facts)}{facts.incident_number} "

    def text(title: str, location: str) -> str:
        context = "，".join(part for part in (_when(facts.occurred_at, now), location, units) if part)
        return f"{head}{title}" + (f"（{context}）" if context else "") + tail

    title = _cut(facts.incident_title, len(text(facts.incident_title, facts.location)) - TWO_SEGMENTS, keep=8)
    location = _cut(facts.location, len(text(title, facts.location)) - TWO_SEGMENTS, keep=10)
    return text(title, location)


def _notices(facts: Facts) -> tuple[str, str, str, str] | None:
    if facts.unit_unstaffed:
        return UNSTAFFED_NOTICES
    if facts.reminder:
        return None
    return ESCALATION_NOTICES.get(facts.escalated_to)


def sms_text(facts: Facts, *, now: datetime) -> str:
    """The SMS body at ``now`` (the moment of composing, just before sending)."""
    if not facts.deadline:
        return _event_text(facts, now)
    pfx, num, link = _prefix(facts), facts.incident_number, facts.link
    verb = "请立即转报" if facts.deadline == RELAY else ("请按时报送" if facts.reminder else "请立即报送")
    full, compact = _phrase(facts, now, compact=False), _phrase(facts, now, compact=True)
    unit, short = facts.unit_name, short_unit(facts.unit_name)
    notices = _notices(facts)
    if notices is not None:
        # Every form keeps the escalation: whoever reads it (the duty room, the unit head) must know it is theirs now.
        # Naming the duty room is worth more than the longer wording of the delay.
        full_notice, short_notice, compact_notice, shortest_notice = notices
        candidates = [
            f"{pfx}{num} {unit}：{full}，{full_notice}，{verb} {link}",
            f"{pfx}{num} {unit}：{full}，{full_notice} {link}",
            f"{pfx}{num}{unit}{full}，{short_notice} {link}",
            f"{pfx}{num}{short}{compact}，{short_notice} {link}",
            f"{pfx}{num}{unit}{full}，{compact_notice} {link}",
            f"{pfx}{num}{short}{compact}，{compact_notice} {link}",
            f"{pfx}{num}{short}{compact}{shortest_notice} {link}",
        ]
        if facts.unit_unstaffed:
            candidates = candidates[1:]  # its notice is the duty room's ask (请电话督促), not the unit's 请立即报送
    else:
        candidates = [
            f"{pfx}{num} {unit}：{full}，{verb} {link}",
            f"{pfx}{num} {unit}：{full} {link}",
            f"{pfx}{num}{unit}{full} {link}",
            f"{pfx}{num}{short}{full} {link}",
            f"{pfx}{num}{short}{compact} {link}",
        ]
    for text in candidates:
        if len(text) <= SEGMENT_CHARS:
            return text
    return candidates[0]


#: What the listener is asked to do, by deadline: the district duty room is where every report goes.
VOICE_ASKS = {
    RELAY: "请立即转报区委办区府办",
    "reminder": "请按时向区政府总值班室报送",
    "": "请立即向区政府总值班室报送",
}


def spoken_number(number: str) -> str:
    """An incident number as one says it: SJ-2026-000123 → 2026年第123号事件 (text-to-speech reads 2026年 digit by
    digit and 123 as a number, never the letters and six digits); another shape is read as it is."""
    match = re.fullmatch(r"[A-Za-z]+-(\d{4})-(\d+)", number)
    if match is None:
        return f"{number.replace('-', ' ')}号事件"
    return f"{match[1]}年第{int(match[2])}号事件"


_DIGITS = "零一二三四五六七八九"

#: The parts of the day one names with the time (凌晨 before 6, 早上 before 9, …), by the hour they end.
_DAY_PARTS = ((6, "凌晨"), (9, "早上"), (12, "上午"), (13, "中午"), (18, "下午"), (24, "晚上"))


def _spoken_count(n: int) -> str:
    """0 to 59 in Chinese numerals as said: 十, 十五, 三十, 四十五 (一十 is not said)."""
    tens, ones = divmod(n, 10)
    if tens == 0:
        return _DIGITS[ones]
    return ("" if tens == 1 else _DIGITS[tens]) + "十" + (_DIGITS[ones] if ones else "")


def spoken_when(value: datetime, *, now: datetime) -> str:
    """When something happened, in Asia/Shanghai, as one says it on the phone: 今天上午九点零五分, 昨天晚上十一点,
    11月26日下午两点三十分 (the day as 今天 or 昨天 when it is one, 两 for 2 o'clock, the part of the day said; numerals
    written out, so text-to-speech never reads 2点 as 二点 or 05 digit by digit)."""
    local, today = value.astimezone(LOCAL_TZ), now.astimezone(LOCAL_TZ).date()
    days = (today - local.date()).days
    day = {0: "今天", 1: "昨天"}.get(days, f"{local.month}月{local.day}日")
    hour = local.hour
    part = next(name for until, name in _DAY_PARTS if hour < until)
    twelve = hour if hour <= 12 else hour - 12
    clock = "两" if twelve == 2 else _spoken_count(twelve)
    minute = local.minute
    minutes = "" if minute == 0 else ("零" if minute < 10 else "") + _spoken_count(minute) + "分"
    return f"{day}{part}{clock}点{minutes}"


def _spoken_context(facts: Facts, now: datetime) -> str:
    """An event call's when, where and which units report (the SMS's parenthesis, ``_event_text``), spoken."""
    parts = [
        f"{spoken_when(facts.occurred_at, now=now)}发生" if facts.occurred_at else "",
        f"地点{facts.location}" if facts.location else "",
        f"{facts.unit_name}报送" if facts.unit_name else "",
    ]
    return "，".join(part for part in parts if part)


def voice_text(facts: Facts, *, now: datetime) -> str:
    """What a voice call says at ``now`` (spoken Chinese: said twice by the call, so it stays short)."""
    head = ("演练。" if facts.exercise else "") + "松江区突发事件报送督办。"
    number, title = spoken_number(facts.incident_number), facts.incident_title
    if not facts.deadline:
        # An event rule's call (a district leader): the facts of the event, the same as the SMS (when, where, which
        # units report, then the figures or the ask), without the link.
        context = _spoken_context(facts, now)
        context = f"{context}。" if context else ""
        return f"{head}{number}，{title}，{context}{_event_tail(facts, spoken=True)}。"
    notices = _notices(facts)
    state = _phrase(facts, now, compact=False) + (f"，{notices[0]}" if notices else "")
    ask = VOICE_ASKS[RELAY] if facts.deadline == RELAY else VOICE_ASKS["reminder" if facts.reminder else ""]
    return f"{head}{facts.unit_name}，{number}，{title}，{state}。{ask}。"


def local_text(value: datetime | None) -> str:
    return value.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M") if value else "—"


def email_subject(facts: Facts, *, now: datetime) -> str:
    if not facts.deadline:
        kind = "死亡事件" if facts.step.startswith("event_deaths") else "事件通报"
        return f"{_prefix(facts)}[{kind}] {facts.incident_number} {facts.incident_title}"
    tag = "无人在岗督促" if facts.unit_unstaffed else ("升级督办" if _notices(facts) else "催报")
    return f"{_prefix(facts)}[{tag}] {facts.incident_number} {facts.unit_name} {_phrase(facts, now, compact=False)}"


def email_body(facts: Facts, *, now: datetime) -> str:
    lines = []
    if facts.exercise:
        lines.append(f"{EXERCISE_PREFIX}本事件为演练，不计入督查统计。")
    lines += [
        f"事件编号: {facts.incident_number}",
        f"事件标题: {facts.incident_title}",
        f"地点: {facts.location or '—'}",
        f"伤亡: 死亡{facts.deaths}人，受伤{facts.injuries}人(其中重伤{facts.serious_injuries}人)",
    ]
    if facts.deadline:
        notices = _notices(facts)
        state = _phrase(facts, now, compact=False) + (f"，{notices[0]}" if notices else "")
        lines += [
            f"报送单位: {facts.unit_name}",
            f"时限: {DEADLINE_LABELS.get(facts.deadline, '报送')}，截止 {local_text(facts.due_at)} (北京时间)",
            f"状态: {state}",
            "",
            "请立即登录报送:" if not facts.reminder else "请按时登录报送:",
            facts.link,
            "",
            "回复短信 1、收到 或 OK 可确认已收到催报。",
        ]
    else:
        lines += [f"发生时间: {local_text(facts.occurred_at)} (北京时间)", f"报送单位: {facts.unit_name or '—'}"]
        if facts.step.startswith("event_deaths"):
            lines += ["", "按规定，死亡1人及以上的事件，分管该领域的区领导须赶赴现场。"]
            if facts.no_leader_in_charge:
                lines += ["本领域目前无分管区领导，请安排区领导赶赴现场。"]
        else:
            grade = Grade(facts.grade).label if facts.grade in Grade.values else facts.grade
            lines += ["", f"事件等级: {grade} ({facts.grade})"]
        if facts.unreached:
            why = f"{facts.unreached}无手机号码" if facts.unreached_no_phone else f"发给{facts.unreached}的短信未送达"
            lines += [f"{why}，请电话通知。"]
        if facts.link:
            lines += ["", "事件详情 (登录后查看):", facts.link]
    return "\n".join(lines) + "\n"


def _plan_entry(plan: list | None, step: str) -> dict | None:
    return next((s for s in plan or [] if isinstance(s, dict) and s.get("key") == step), None)


def step_deadline(*, step: str, plan: list, kind: str) -> tuple[str, bool]:
    """(deadline, is_reminder) of a step: from the obligation's frozen plan when it names the step, else from the
    step key (``verbal_reminder``, ``written_overdue``, …). Relay obligations have one deadline, the relay."""
    entry = _plan_entry(plan, step)
    anchor = (entry or {}).get("anchor") or ""
    offset = (entry or {}).get("offset_minutes")
    reminder = offset < 0 if isinstance(offset, int) else ("remind" in step)
    if kind == ObligationKind.RELAY:
        return RELAY, reminder
    if anchor.startswith(WRITTEN) or (not anchor and WRITTEN in step):
        return WRITTEN, reminder
    return VERBAL, reminder


def step_escalation(*, step: str, plan: list, kind: str) -> str:
    """Whom a step escalates to (``TO_DUTY_ROOM``, ``TO_UNIT_HEAD``) or "" for a step that does not: a step at or
    after its deadline whose audience (the frozen plan's, else the default ladder's for an ``*_escalate`` key) reaches
    beyond the unit's duty staff. A relay obligation is the duty room's own: only its head is an escalation."""
    entry = _plan_entry(plan, step)
    if entry is None:
        audience, offset = (ESCALATE_AUDIENCE if "escalate" in step else []), None
    else:
        audience, offset = list(entry.get("audience") or []), entry.get("offset_minutes")
    if isinstance(offset, int) and offset < 0:
        return ""  # a reminder: nothing is overdue yet
    if kind != ObligationKind.RELAY and TO_DUTY_ROOM in audience:
        return TO_DUTY_ROOM
    return TO_UNIT_HEAD if TO_UNIT_HEAD in audience else ""


def _unreached(notification) -> str:
    """The name of the person an event row asks its recipient to reach (``about``: the district leader whose SMS
    failed, named to the duty room; the leader its fallback chain started with, set by
    ``notifications.delivery.notification_fallback``, and on older rows by migration 0009); "" otherwise."""
    if notification.about_id is None:
        return ""
    return notification.about.name


def _recipient_unit_id(notification) -> int | None:
    """The recipient's unit (annotated as ``recipient_unit_id`` by the batch's read, so no query per row)."""
    if hasattr(notification, "recipient_unit_id"):
        return notification.recipient_unit_id
    return notification.recipient.unit_id if notification.recipient_id is not None else None


def reporting_units(incident) -> str:
    """The units that owe the incident's report (not the duty room's relay), by short name: 泗泾镇、车墩镇, or
    泗泾镇、车墩镇等 when there are more than two."""
    names = [
        short_unit(name)
        for name in incident.obligations.exclude(kind=ObligationKind.RELAY)
        .order_by("id")
        .values_list("unit__name", flat=True)
    ]
    return "、".join(names[:2]) + ("等" if len(names) > 2 else "")


def facts_for(notification, *, link_for=None) -> Facts:
    """The facts of one notification row (with its incident, obligation and unit)."""
    from notifications.roster import district_leaders
    from reporting.links import filing_link, incident_link

    incident = notification.incident
    base = {
        "incident_number": incident.number,
        "incident_title": incident.title,
        "exercise": incident.exercise,
        "step": notification.step,
        "deaths": incident.deaths,
        "injuries": incident.injuries,
        "serious_injuries": incident.serious_injuries,
        "grade": incident.grade,
        "location": incident.location,
    }
    obligation = notification.obligation
    if obligation is None:
        return Facts(
            unit_name=reporting_units(incident),
            occurred_at=incident.occurred_at,
            link=incident_link(incident.pk),
            unreached=_unreached(notification),
            # The duty room asked at once (``notifications.events``), not after a failed SMS (``fallback_of``).
            unreached_no_phone=notification.about_id is not None and notification.fallback_of_id is None,
            no_leader_in_charge=notification.step == EVENT_DEATHS and not district_leaders(domain=incident.domain),
            **base,
        )
    plan, kind = obligation.escalation_plan, obligation.kind
    deadline, reminder = step_deadline(step=notification.step, plan=plan, kind=kind)
    due_at = obligation.written_due_at if deadline == WRITTEN else obligation.verbal_due_at
    escalated_to = step_escalation(step=notification.step, plan=plan, kind=kind)
    recipient_unit = _recipient_unit_id(notification)
    return Facts(
        unit_name=obligation.unit.name,
        deadline=deadline,
        reminder=reminder,
        escalated_to=escalated_to,
        unit_unstaffed=not escalated_to and recipient_unit is not None and recipient_unit != obligation.unit_id,
        due_at=due_at,
        link=(link_for or filing_link)(obligation.pk),
        **base,
    )
