"""The board's poll stays light (a wall screen polls all day): each row is sent once, as HTML; nothing changed is a
304 with an empty body; the countdowns tick on the screen from the server's time in a header, so they change nothing
the server has to send. A filed report, a deadline passing, the watchdog turning red, the language: a new answer."""

import gzip
import json
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from freezegun import freeze_time

from notifications.models import SweepHeartbeat
from reporting import report_services
from tests.conftest import NOW
from tests.web.conftest import WRITTEN, open_incident

pytestmark = pytest.mark.django_db

URL = "/board/data.json"


def poll(client, etag=None, **extra):
    if etag:
        extra["HTTP_IF_NONE_MATCH"] = etag
    return client.get(URL, **extra)


@pytest.fixture
def board(client, units, duty_room, sijing_officer):
    """The duty room's client with one row due in 20 minutes (verbal due NOW + 20 min) and a fresh heartbeat."""
    with freeze_time(NOW):
        incident = open_incident(sijing_officer, units["sijing"], known_minutes_ago=10, title="泗泾镇某厂房火灾")
        SweepHeartbeat.objects.create(name="sweep", beat_at=NOW)
    client.force_login(duty_room)
    return client, incident


def test_nothing_changed_is_a_304_with_an_empty_body(board):
    client, incident = board
    with freeze_time(NOW) as frozen:
        first = poll(client)
        assert first.status_code == 200
        etag = first["ETag"]
        assert etag
        frozen.tick(timedelta(seconds=5))
        SweepHeartbeat.objects.filter(name="sweep").update(beat_at=timezone.now())  # the sweeper beats: no change
        again = poll(client, etag)
        assert again.status_code == 304 and again.content == b""
        assert again["ETag"] == etag
        # What ticks is in headers, on the 304 too: the server's time (the countdowns run from it), the watchdog.
        assert again["X-Board-Now"].startswith("2026-11-28T09:00:05")
        assert again["X-Board-Heartbeat-Age"] == "0.0"
        # Three minutes later the countdown reads 17 instead of 20, which the screen works out itself: still 304.
        frozen.tick(timedelta(minutes=3))
        SweepHeartbeat.objects.filter(name="sweep").update(beat_at=timezone.now())
        assert poll(client, etag).status_code == 304
        # A client without the validator, or with another one, gets the whole answer.
        assert poll(client).status_code == 200
        assert poll(client, '"something-else"').status_code == 200


def test_filing_a_report_changes_the_answer(board, sijing_officer):
    client, incident = board
    obligation = incident.obligations.get()
    with freeze_time(NOW + timedelta(minutes=1)):
        etag = poll(client)["ETag"]
        report_services.report_create(
            obligation=obligation,
            kind="verbal",
            actor=sijing_officer,
            now=timezone.now(),
            **{**WRITTEN, "occurred_at": incident.occurred_at},
        )
        response = poll(client, etag)
    assert response.status_code == 200 and response["ETag"] != etag
    row = response.json()["html"]
    assert f'id="ob-{obligation.pk}"' in row and "state state-on_time" in row


def test_the_clock_passing_a_deadline_changes_the_answer(board):
    client, incident = board
    obligation = incident.obligations.get()
    with freeze_time(NOW + timedelta(minutes=20)) as frozen:  # exactly the verbal due time: not overdue yet
        SweepHeartbeat.objects.filter(name="sweep").update(beat_at=timezone.now())
        first = poll(client)
        assert f'id="ob-{obligation.pk}" class=""' in first.json()["html"]
        frozen.tick(timedelta(seconds=1))
        response = poll(client, first["ETag"])
    assert response.status_code == 200
    data = response.json()
    assert f'id="ob-{obligation.pk}" class="overdue"' in data["html"]
    assert data["overdue_count"] == 1 and data["open_count"] == 1


def test_the_watchdog_turning_red_changes_the_answer(board):
    client, _ = board
    with freeze_time(NOW) as frozen:
        etag = poll(client)["ETag"]
        frozen.tick(timedelta(seconds=121))  # no beat for over 2 minutes
        response = poll(client, etag)
    assert response.status_code == 200
    assert response.json()["heartbeat"]["stale"] is True
    assert response["X-Board-Heartbeat-Age"] == "121.0"


def test_another_language_is_another_answer(board):
    client, _ = board
    with freeze_time(NOW):
        chinese = poll(client)
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # the language switcher's choice
        english = poll(client, chinese["ETag"])
    assert english.status_code == 200 and english["ETag"] != chinese["ETag"]
    assert "left:" in english.json()["html"] and "剩余" in chinese.json()["html"]


def test_each_row_is_sent_once_as_html_and_compressed(board):
    """The rows used to be sent twice (as data and as HTML): 430 KB a poll at 300 rows. The answer holds no
    secret (no CSRF token, no signed link), so compressing it is safe from BREACH."""
    client, incident = board
    obligation = incident.obligations.get()
    with freeze_time(NOW):
        response = poll(client, HTTP_ACCEPT_ENCODING="gzip, deflate, br")
    assert response["Content-Encoding"] == "gzip" and "Accept-Encoding" in response["Vary"]
    text = gzip.decompress(response.content).decode()
    data = json.loads(text)
    assert "rows" not in data and data["html"].count(f'id="ob-{obligation.pk}"') == 1
    assert "泗泾镇某厂房火灾" in text  # UTF-8, not \\u escapes
    assert "csrf" not in text.lower() and "/f/" not in text
    # The countdown is rendered, and tagged with the moment it counts to (the screen recomputes it from X-Board-Now).
    due_ms = int(obligation.verbal_due_at.timestamp() * 1000)
    assert f'data-clock="left" data-clock-at="{due_ms}"' in data["html"]
    assert '<span class="minutes">20</span>' in data["html"]


def test_the_page_carries_its_etag_so_the_first_poll_need_not_send_the_rows_again(board):
    client, _ = board
    with freeze_time(NOW):
        SweepHeartbeat.objects.filter(name="sweep").update(beat_at=timezone.now())
        page = client.get("/board/").content.decode()
        etag = poll(client)["ETag"]
    assert f'data-etag="{etag}"' in page.replace("&quot;", '"')


def test_the_wall_screen_is_a_toggle_in_the_url_with_its_hold_from_the_settings(board, settings):
    """``/board/?wall=1`` is the unattended wall screen (board.js pages it, each page held BOARD_WALL_PAGE_SECONDS);
    the desk's board links to it and is otherwise unchanged. Each row says whether it is pinned on the wall."""
    client, incident = board
    settings.BOARD_WALL_PAGE_SECONDS = 20
    with freeze_time(NOW):
        desk = client.get("/board/").content.decode()
        wall = client.get("/board/?wall=1").content.decode()
        settings.BOARD_WALL_PAGE_SECONDS = 0  # nonsense: a page is still held a second
        fastest = client.get("/board/?wall=1").content.decode()
        rows = poll(client).json()["html"]
    assert 'class="board-page board-wall"' in wall and 'data-wall-hold-ms="20000"' in wall and 'id="wall-page"' in wall
    assert 'data-wall-hold-ms="1000"' in fastest
    assert "board-wall" not in desk and "data-wall-hold-ms" not in desk and 'href="?wall=1"' in desk
    assert 'id="wall-mode"' not in wall and 'id="new-incident"' not in wall
    assert f'data-obligation="{incident.obligations.get().pk}"' in rows and 'data-pinned="0"' in rows
