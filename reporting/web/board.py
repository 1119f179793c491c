"""The duty room's live board (区政府总值班室大屏): every open clock, overdue rows, alarms and the sweeper watchdog.

The page renders once; ``/board/data.json`` is polled every few seconds and carries the rows (once, as the
server-rendered table body), the counts and the watchdog, so the wall screen updates without a full reload. A wall
screen polls all day, so the poll is kept light: its answer has an ETag, a fingerprint of everything it shows except
what ticks, and a poll sending that ETag back while nothing changed gets 304 with an empty body. What ticks goes in
headers of every answer, the 304 too: the server's time (``X-Board-Now``; the screen shows it and counts each row's
minutes left or overdue from it and the row's ``data-clock-at``) and the sweeper's age (``X-Board-Heartbeat-Age``).
A row's state changing (a deadline or an alarm step passing, the watchdog turning red) changes the fingerprint, so the
screen shows it at the first poll after it, as before. The answer holds no secret (no CSRF token, no signed link), so
it is compressed (no BREACH exposure).
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.template.loader import get_template, render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.cache import get_conditional_response, patch_vary_headers
from django.views.decorators.cache import never_cache
from django.views.decorators.gzip import gzip_page
from django.views.decorators.http import require_GET

from notifications.models import SweepHeartbeat
from reporting import selectors
from reporting.models import DeadlineState, Grade, Obligation, ObligationKind, Role, Signal
from reporting.web.access import BOARD_ROLES, role_of
from reporting.web.display import LOCAL_TZ, local_short

#: SPEC "Watchdog": the board turns red when the sweeper has not run for 2 minutes.
HEARTBEAT_STALE_SECONDS = 120
#: A row's values that tick with the clock: the screen counts them itself (``data-clock-at``), so they are left out
#: of the poll's fingerprint. Everything else a row shows changes the fingerprint.
TICKING = ("overdue_minutes", "minutes_left")
#: SPEC escalation ladder: the "escalate" step (board alarm) is 5 minutes after each deadline.
DEFAULT_ALARM_STEPS = (("verbal_due", 5), ("written_due", 5))


def poll_ms() -> int:
    """How often the board polls, in milliseconds (``BOARD_POLL_SECONDS``, default 5 s)."""
    return int(float(getattr(settings, "BOARD_POLL_SECONDS", 5)) * 1000)


def wall_page_ms() -> int:
    """How long the wall screen (``/board/?wall=1``) holds each page of rows, in milliseconds
    (``BOARD_WALL_PAGE_SECONDS``, default 15 s; never under 1 s, so a page can be read)."""
    return max(1000, int(float(getattr(settings, "BOARD_WALL_PAGE_SECONDS", 15)) * 1000))


@dataclass(frozen=True)
class Heartbeat:
    age_seconds: float | None
    stale: bool


def heartbeat_state(beat_at: datetime | None, *, now: datetime) -> Heartbeat:
    """The sweeper is stale when it never ran or its last beat is older than 2 minutes."""
    if beat_at is None:
        return Heartbeat(age_seconds=None, stale=True)
    age = (now - beat_at).total_seconds()
    return Heartbeat(age_seconds=round(age, 1), stale=age > HEARTBEAT_STALE_SECONDS)


def alarm_steps(plan) -> list[tuple[str, int]]:
    """(anchor, offset minutes) of the board-alarm steps in an obligation's frozen escalation plan.

    The plan is frozen at creation by the chasing work; when it names no board-alarm step (or is empty), the SPEC's
    default ladder applies: verbal due + 5 min and written due + 5 min.
    """
    steps = []
    for step in plan or []:
        if isinstance(step, dict) and step.get("board_alarm") and step.get("anchor") in ("verbal_due", "written_due"):
            try:
                steps.append((step["anchor"], int(step.get("offset_minutes", 0))))
            except (TypeError, ValueError):
                continue
    return steps or list(DEFAULT_ALARM_STEPS)


@functools.cache
def _label_in(choices, value: str, language: str | None) -> str:
    return str(choices(value).label)


def _label(choices, value: str) -> str:
    """A choice's label in the active language, worked out once per language (the board asks 900 times a poll)."""
    return _label_in(choices, value, translation.get_language())


def _url_maker(name: str):
    """``reverse(name, args=[pk])`` for many pks, resolved once: the board links 600 times a poll."""
    marker = 987654321
    head, tail = reverse(name, args=[marker]).split(str(marker))
    return lambda pk: f"{head}{int(pk)}{tail}"


def board_row(obligation: Obligation, *, now: datetime) -> dict:
    """One board row as plain values: due times in Asia/Shanghai, minutes left or overdue, overdue and alarm flags."""
    pending = {
        "verbal_due": obligation.verbal_due_at if obligation.verbal_state == DeadlineState.PENDING else None,
        "written_due": obligation.written_due_at if obligation.written_state == DeadlineState.PENDING else None,
    }
    passed = [due for due in pending.values() if due is not None and now > due]
    upcoming = [due for due in pending.values() if due is not None and now <= due]
    alarm = any(
        pending[anchor] is not None and now > pending[anchor] + timedelta(minutes=offset)
        for anchor, offset in alarm_steps(obligation.escalation_plan)
    )
    overdue_minutes = math.floor((now - min(passed)).total_seconds() / 60) if passed else None
    minutes_left = math.ceil((min(upcoming) - now).total_seconds() / 60) if upcoming and not passed else None
    # The moment the row's clock counts from (overdue since) or to (next due), in ms since the epoch: the screen
    # recounts the minutes from it at each poll, and the board's order follows it.
    clock_at = min(passed) if passed else min(upcoming) if upcoming else None
    incident = obligation.incident
    relay = obligation.kind == ObligationKind.RELAY
    return {
        "id": obligation.pk,
        "incident_id": incident.pk,
        "incident_number": incident.number,
        "title": incident.title,
        "exercise": incident.exercise,
        "grade": incident.grade,
        "grade_label": _label(Grade, incident.grade) if incident.grade in Grade.values else incident.grade,
        "unit": obligation.unit.label,
        "unit_code": obligation.unit.code,
        "kind": obligation.kind,
        "first_known_at": local_short(obligation.first_known_at),
        "verbal_due_at": local_short(obligation.verbal_due_at),
        "written_due_at": local_short(obligation.written_due_at),
        "verbal_state": obligation.verbal_state,
        "verbal_state_label": _label(DeadlineState, obligation.verbal_state),
        "written_state": obligation.written_state,
        "written_state_label": _label(DeadlineState, obligation.written_state),
        "overdue": bool(passed),
        "overdue_minutes": overdue_minutes,
        "minutes_left": minutes_left,
        "clock_ms": round(clock_at.timestamp() * 1000) if clock_at else None,
        "alarm": alarm,
        # Kept on screen whatever else there is: the wall screen pages the other rows under these (board_order's
        # first two tiers).
        "pinned": alarm or relay,
    }


def board_order(row: dict) -> tuple:
    """Most urgent first: alarms (a unit escalated), then the duty room's own relays of major events to 区委办 and
    区府办 (SPEC rule 13: at top speed, pending or overdue; a 15-minute clock must not sit under a page of minor
    overdue units), then overdue (longest first), then by next due time. Within each of these a real incident comes
    before an exercise (演练): a drill runs every clock, but never pushes a real emergency down the board.

    Longest overdue and next due are compared to the millisecond (``clock_ms``: the earliest passed or next due
    time), not in whole minutes: rows a few seconds apart swapped places as their minutes ticked over, so the order
    changed every few seconds at 300 rows, and with it the poll's answer. It now changes only with a row's state."""
    tier = 0 if row["alarm"] else 1 if row["pinned"] else 2 if row["overdue"] else 3
    return (
        tier,
        row["exercise"],
        row["clock_ms"] if row["clock_ms"] is not None else 10**15,
        row["id"],
    )


def board_rows(*, now: datetime) -> list[dict]:
    """Open obligations, most urgent first (``board_order``)."""
    obligations = Obligation.objects.open().select_related("incident", "unit").defer("unit__domains")
    rows = [board_row(o, now=now) for o in obligations]
    rows.sort(key=board_order)
    return rows


def _sweep_heartbeat(now: datetime) -> Heartbeat:
    beat = SweepHeartbeat.objects.filter(name="sweep").values_list("beat_at", flat=True).first()
    return heartbeat_state(beat, now=now)


def _context(request, now: datetime) -> dict:
    rows = board_rows(now=now)
    may_file = role_of(request.user) in (Role.DUTY_ROOM, Role.ADMIN)
    file_url, incident_url = _url_maker("web:file"), _url_maker("web:incident")
    for row in rows:
        row["file_url"] = file_url(row["id"]) if may_file else ""
        row["incident_url"] = incident_url(row["incident_id"])
    return {
        "rows": rows,
        "heartbeat": _sweep_heartbeat(now),
        "now_local": local_short(now, seconds=True),
        "overdue_count": sum(1 for r in rows if r["overdue"]),
        "alarm_count": sum(1 for r in rows if r["alarm"]),
        # Feed signals no one has linked to an incident yet (the duty room's inbox, /signals/).
        "signals_waiting": Signal.objects.filter(incident__isnull=True).count(),
        # Units with fewer than two people on post right now (双人在岗, their 值班表).
        "units_short": selectors.units_short_on_post(at=now),
        "read_only": not may_file,
    }


@require_GET
@login_required
def board(request):
    if role_of(request.user) not in BOARD_ROLES:
        return HttpResponseRedirect(reverse("web:home"))
    context = _context(request, timezone.now())
    context["poll_ms"] = poll_ms()
    # The wall screen (大屏) nobody scrolls: alarms and relays pinned, the rest paged (board.js), for a screen seen
    # from across the room. A toggle in the URL, so the screen's browser opens straight on it.
    context["wall"] = request.GET.get("wall") == "1"
    context["wall_page_ms"] = wall_page_ms()
    context["etag"] = board_etag(context)  # the first poll, nothing changed meanwhile, is a 304 already
    return render(request, "web/board.html", context)


@functools.cache
def _rows_version() -> str:
    """The rows' template, as a fingerprint part: a changed template (a deploy) is a changed answer."""
    return hashlib.sha256(get_template("web/_board_rows.html").template.source.encode()).hexdigest()[:12]


def board_etag(context: dict) -> str:
    """A (weak) ETag of everything the poll's answer shows except what ticks (``TICKING``, the server's time and the
    sweeper's age, sent in headers): the rows in order with their states, flags, labels and links, the counts, the
    watchdog's red or not, the language and the rows' template."""
    shown = {
        "version": _rows_version(),
        "language": translation.get_language(),
        "rows": [{k: v for k, v in row.items() if k not in TICKING} for row in context["rows"]],
        "stale": context["heartbeat"].stale,
        **{k: context[k] for k in ("overdue_count", "alarm_count", "signals_waiting", "units_short", "read_only")},
    }
    digest = hashlib.sha256(json.dumps(shown, sort_keys=True, default=str).encode()).hexdigest()[:32]
    return f'W/"{digest}"'


@never_cache
@gzip_page
@require_GET
def board_data(request):
    """The board's poll: session-authenticated JSON (401 anonymous, 403 for roles without the board); 304 with an
    empty body when the ``If-None-Match`` ETag is the current one (``board_etag``)."""
    if not request.user.is_authenticated:
        return JsonResponse({"detail": "未登录 (authentication required)"}, status=401)
    if role_of(request.user) not in BOARD_ROLES:
        return JsonResponse({"detail": "无权查看大屏 (not allowed)"}, status=403)
    now = timezone.now()
    context = _context(request, now)
    heartbeat = context["heartbeat"]
    etag = board_etag(context)
    response = get_conditional_response(request, etag=etag)
    if response is None:
        html = render_to_string("web/_board_rows.html", context, request=request)
        response = JsonResponse(
            {
                "now": context["now_local"],
                "heartbeat": {"age_seconds": heartbeat.age_seconds, "stale": heartbeat.stale},
                "open_count": len(context["rows"]),
                "overdue_count": context["overdue_count"],
                "alarm_count": context["alarm_count"],
                "signals_waiting": context["signals_waiting"],
                "units_short": context["units_short"],
                "html": html,
            },
            json_dumps_params={"ensure_ascii": False},
        )
    response["ETag"] = etag
    response["X-Board-Now"] = now.astimezone(LOCAL_TZ).isoformat(timespec="milliseconds")
    response["X-Board-Heartbeat-Age"] = "" if heartbeat.age_seconds is None else str(heartbeat.age_seconds)
    patch_vary_headers(response, ("Accept-Encoding", "Cookie"))
    return response
