"""Web fixtures: a live server (pytest-django), Debian's chromium through Playwright, and incidents to look at."""

import os
from datetime import timedelta

import pytest
from django.utils import timezone

from reporting import services

# Playwright's sync API runs an event loop in the test thread, which trips Django's async-unsafe guard there.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
# The live server listens on this helper's port (override for CI if it is taken).
os.environ.setdefault("DJANGO_LIVE_TEST_SERVER_ADDRESS", "127.0.0.1:8106")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser():
    """One chromium for the session: Debian's binary, never a downloaded one."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, live_server):
    """A fresh browser context per test (no cookies carried over), English Accept-Language on purpose: the pages
    must still be Chinese first."""
    context = browser.new_context(locale="en-US", viewport={"width": 1400, "height": 900})
    context.set_default_timeout(15_000)
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture
def phone_page(browser, live_server):
    """A phone in Shanghai with a Chinese system, as a unit officer opening the SMS link."""
    context = browser.new_context(
        locale="zh-CN", timezone_id="Asia/Shanghai", viewport={"width": 390, "height": 844}, is_mobile=True
    )
    context.set_default_timeout(15_000)
    tab = context.new_page()
    yield tab
    context.close()


def login(page, live_server, username: str, *, next_path: str = "/") -> None:
    page.goto(f"{live_server.url}/login/?next={next_path}")
    sign_in_here(page, username)
    page.wait_for_load_state()


def sign_in_here(page, username: str) -> None:
    """Sign in as ``username`` (password ``pw-<username>``) on the login page the browser is on, e.g. where a link
    opened while signed out led."""
    page.fill("#id_username", username)
    page.fill("#id_password", "pw-" + username)
    page.click("button[type=submit].primary")


def open_incident(actor, unit, *, known_minutes_ago: int, title: str, exercise: bool = False, **extra):
    """An incident with one obligation for ``unit`` (or for each unit of a list), first known ``known_minutes_ago``
    minutes before now."""
    now = timezone.now()
    return services.incident_create(
        actor=actor,
        now=now,
        title=title,
        domain="production_safety",
        occurred_at=now - timedelta(minutes=known_minutes_ago + 5),
        location="松江区某路1号",
        summary="",
        exercise=exercise,
        units=[
            {"unit": one, "first_known_at": now - timedelta(minutes=known_minutes_ago), "channel": "self"}
            for one in (unit if isinstance(unit, list) else [unit])
        ],
        **extra,
    )


WRITTEN = {
    "location": "泗泾镇某路1号",
    "account": "厂房起火, 明火已扑灭",
    "deaths": 0,
    "injuries": 1,
    "missing": 0,
    "measures": "消防到场处置",
    "contact_name": "王某",
    "contact_phone": "+8617000000001",
}
