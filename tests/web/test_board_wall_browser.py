"""The board as an unattended wall screen (大屏, ``/board/?wall=1``) at 1920×1080 with 300 open clocks: alarms and the
duty room's relays pinned on every page, the rest paged automatically, no row cut in half, no scrollbar, the red
watchdog banner and the offline notice on every page."""

import math
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from notifications.models import SweepHeartbeat
from reporting.models import Unit, UnitKind
from reporting.obligation_services import obligation_mark_not_required
from reporting.web.board import board_rows
from tests.web.conftest import login, open_incident
from tests.web.test_browser import keep_screenshot

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]


@pytest.fixture
def wall(browser, live_server):
    """A 1920×1080 screen on the duty room's wall."""
    context = browser.new_context(locale="en-US", viewport={"width": 1920, "height": 1080})
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


@pytest.fixture
def three_hundred(units, duty_room, sijing_officer):
    """300 open obligations: 4 alarms (first known 40-46 minutes ago), one major incident (10 deaths: its unit's row
    and the duty room's relay to 区委办 and 区府办, pinned), and 294 rows still in time over 24 towns. Returns the
    pinned rows' ids."""
    towns = [Unit.objects.create(code=f"t{i:02d}", name=f"第{i:02d}镇", kind=UnitKind.TOWN) for i in range(24)]
    alarms = [
        open_incident(duty_room, towns[n], known_minutes_ago=40 + 2 * n, title=f"超时未报事件{n}").obligations.get()
        for n in range(4)
    ]
    major = open_incident(duty_room, units["emergency"], known_minutes_ago=3, title="某化工企业爆炸", deaths=10)
    relay = major.obligations.get(kind="relay")
    for n in range(18):  # 12 incidents of 24 towns, 6 of one town: 294 rows, 1 to 18 minutes from their first known
        open_incident(
            duty_room,
            towns if n < 12 else towns[0],
            known_minutes_ago=1 + n,
            title=f"某路口第{n}起事件",
            exercise=n == 5,
        )
    rows = board_rows(now=timezone.now())
    assert len(rows) == 300
    pinned = [row["id"] for row in rows if row["alarm"] or row["kind"] == "relay"]
    assert sorted(pinned) == sorted([o.pk for o in alarms] + [relay.pk])
    return pinned


SCREEN = """() => {
  const wrap = document.querySelector('#board').parentElement.getBoundingClientRect();
  const rows = [...document.querySelectorAll('#board-rows tr[data-obligation]')].filter(r => r.getClientRects().length);
  const box = r => r.getBoundingClientRect();
  const last = rows[rows.length - 1];
  return {
    page: document.getElementById('wall-page').textContent.trim(),
    shown: rows.map(r => +r.dataset.obligation),
    pinned: rows.filter(r => r.dataset.pinned === '1').map(r => +r.dataset.obligation),
    clipped: rows.filter(r => box(r).top < wrap.top || box(r).bottom > Math.min(wrap.bottom, innerHeight) + 0.5)
      .map(r => +r.dataset.obligation),
    room: Math.min(wrap.bottom, innerHeight) - (last ? box(last).bottom : wrap.top),
    rowHeight: last ? box(last).height : 0,
    scrolls: document.documentElement.scrollHeight > innerHeight || document.documentElement.scrollWidth > innerWidth,
  };
}"""


def screen(page) -> dict:
    return page.evaluate(SCREEN)


def on_page(page, n: int, *, timeout=15_000) -> dict:
    page.wait_for_function(
        "n => document.getElementById('wall-page').textContent.trim().startsWith(n + ' /')", arg=n, timeout=timeout
    )
    return screen(page)


def assert_whole(shown: dict, pinned: list[int]) -> None:
    """Every pinned row on screen, at the top; no row cut in half at the bottom; nothing to scroll."""
    assert shown["shown"][: len(pinned)] == pinned
    assert shown["clipped"] == [] and not shown["scrolls"]


def test_the_wall_screen_pins_alarms_and_pages_the_rest_at_300_clocks(
    wall, live_server, settings, three_hundred, tmp_path
):
    settings.BOARD_POLL_SECONDS = 1
    settings.BOARD_WALL_PAGE_SECONDS = 1.5
    page = wall
    login(page, live_server, "duty", next_path="/board/?wall=1")
    pinned = three_hundred
    rest = [row["id"] for row in board_rows(now=timezone.now()) if row["id"] not in pinned]

    first = on_page(page, 1)
    assert_whole(first, pinned)
    per_page = len(first["shown"]) - len(pinned)
    assert per_page >= 5 and first["shown"][len(pinned) :] == rest[:per_page]
    assert first["room"] < first["rowHeight"]  # the page is full: one more row would be cut
    assert first["page"].replace(" ", "") == f"1/{math.ceil(len(rest) / per_page)}"
    # The watchdog never beat: its red banner is on every page, above the rows.
    expect(page.locator("#sweeper-banner")).to_be_visible()
    # Legible from across the room: large type, no cursor, no navigation or buttons meant for a desk.
    assert page.evaluate("parseFloat(getComputedStyle(document.querySelector('#board-rows td')).fontSize)") >= 28
    assert page.evaluate("getComputedStyle(document.body).cursor") == "none"
    expect(page.locator("header.top")).to_be_hidden()
    expect(page.locator("#board-rows a.button").first).to_be_hidden()
    relay = page.locator("#board-rows tr[data-pinned='1']", has=page.locator(".relay-first"))
    expect(relay.locator(".relay-first")).to_be_visible()  # said first, not cut off with the end of the title
    expect(relay.locator(".relay-last")).to_be_hidden()
    expect(page.locator("#board-now")).to_have_text(re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$"))  # last updated

    for n in (2, 3):  # the pages advance on their own; the pinned rows stay
        shown = on_page(page, n)
        assert_whole(shown, pinned)
        assert shown["shown"][len(pinned) :] == rest[(n - 1) * per_page : n * per_page]
        expect(page.locator("#sweeper-banner")).to_be_visible()

    # The sweeper beats again: the banner goes and its room goes to the rows, still whole.
    SweepHeartbeat.objects.create(name="sweep", beat_at=timezone.now())
    expect(page.locator("#sweeper-banner")).to_be_hidden(timeout=10_000)
    page.wait_for_timeout(300)
    after = screen(page)
    assert_whole(after, pinned)
    assert len(after["shown"]) > len(first["shown"])
    keep_screenshot(tmp_path, page, "board-wall.png", animations="disabled")  # the alarm marker shown, not blinked


def test_a_new_alarm_is_pinned_at_the_next_poll_without_turning_back_to_page_one(
    wall, live_server, settings, units, duty_room, three_hundred
):
    settings.BOARD_POLL_SECONDS = 1
    settings.BOARD_WALL_PAGE_SECONDS = 5
    page = wall
    login(page, live_server, "duty", next_path="/board/?wall=1")
    on_page(page, 2, timeout=20_000)
    alarm = open_incident(duty_room, units["chedun"], known_minutes_ago=45, title="车墩镇某仓库火灾")
    row = page.locator(f"#ob-{alarm.obligations.get().pk}")
    expect(row).to_be_visible(timeout=3_000)  # one poll (1 s) and its answer
    shown = screen(page)
    assert alarm.obligations.get().pk in shown["pinned"]
    assert_whole(shown, shown["pinned"])
    assert len(shown["pinned"]) == len(three_hundred) + 1
    assert not shown["page"].startswith("1 /")  # the new data did not send the screen back to page 1


def test_a_failed_poll_shows_the_offline_notice_on_the_wall_screen(wall, live_server, settings, three_hundred):
    settings.BOARD_POLL_SECONDS = 1
    settings.BOARD_WALL_PAGE_SECONDS = 1
    page = wall
    login(page, live_server, "duty", next_path="/board/?wall=1")
    on_page(page, 1)
    page.route("**/board/data.json", lambda route: route.fulfill(status=503, body="down"))
    offline = page.locator("#board-offline")
    expect(offline).to_be_visible(timeout=10_000)
    page.wait_for_timeout(300)
    shown = screen(page)
    assert_whole(shown, three_hundred)  # the notice took its room from the rows, not from the pinned ones
    later = shown["page"].split(" /")[0]
    page.wait_for_function(
        "n => !document.getElementById('wall-page').textContent.trim().startsWith(n + ' /')", arg=later
    )
    assert_whole(screen(page), three_hundred)  # still paging, the notice still there
    expect(offline).to_be_visible()
    page.unroute("**/board/data.json")
    expect(offline).to_be_hidden(timeout=10_000)


def test_alarms_that_alone_fill_the_screen_say_how_many_more_there_are(wall, live_server, settings, units, duty_room):
    """20 units escalated at once: the wall shows the alarms that fit, whole, and a last line says how many more;
    nothing else (the rows still in time wait until the alarms leave room)."""
    settings.BOARD_WALL_PAGE_SECONDS = 1
    towns = [Unit.objects.create(code=f"t{i:02d}", name=f"第{i:02d}镇", kind=UnitKind.TOWN) for i in range(20)]
    for n, town in enumerate(towns):
        open_incident(duty_room, town, known_minutes_ago=40 + n, title=f"超时未报事件{n}")
    in_time = open_incident(duty_room, units["sijing"], known_minutes_ago=5, title="泗泾镇某厂房火灾")
    login(wall, live_server, "duty", next_path="/board/?wall=1")
    more = wall.locator("#board-rows tr.wall-more")
    expect(more).to_be_visible()
    shown = screen(wall)
    assert 0 < len(shown["pinned"]) < 20 and shown["shown"] == shown["pinned"]
    expect(more).to_have_text(f"另有 {20 - len(shown['pinned'])} 条告警或转报, 屏幕已放不下")
    assert shown["clipped"] == [] and not shown["scrolls"]
    assert more.bounding_box()["y"] + more.bounding_box()["height"] <= 1080
    expect(wall.locator(f"#ob-{in_time.obligations.get().pk}")).to_be_hidden()
    expect(wall.locator("#wall-page")).to_have_text("—")


def test_a_page_that_no_longer_exists_turns_the_screen_back_to_page_one(wall, live_server, settings, duty_room):
    """On the last page, half the rows are marked not required: that page is gone at the next poll, and the screen
    shows page 1 of the fewer pages at once (not an empty page, nor a stale count)."""
    settings.BOARD_POLL_SECONDS = 1
    settings.BOARD_WALL_PAGE_SECONDS = 5
    towns = [Unit.objects.create(code=f"t{i:02d}", name=f"第{i:02d}镇", kind=UnitKind.TOWN) for i in range(25)]
    open_incident(duty_room, towns, known_minutes_ago=5, title="某路口第1起事件")
    gone = open_incident(duty_room, towns, known_minutes_ago=3, title="某路口第2起事件")
    login(wall, live_server, "duty", next_path="/board/?wall=1")
    pages = int(on_page(wall, 1)["page"].split("/")[1])
    assert pages >= 3  # 50 rows; half of them fill at most half the pages, plus one
    on_page(wall, pages, timeout=30_000)
    for obligation in gone.obligations.all():
        obligation_mark_not_required(obligation=obligation, reason="误报", actor=duty_room, now=timezone.now())
    # Before the page's hold (5 s) ran out: the new rows turned the screen to page 1, as the page was gone.
    expect(wall.locator("#wall-page")).to_have_text(re.compile(r"^1 / \d+$"), timeout=3_000)
    shown = screen(wall)
    assert int(shown["page"].split("/")[1]) < pages
    assert len(shown["shown"]) > 0 and shown["clipped"] == [] and not shown["scrolls"]
