"""Accessibility in a real browser: every page of the web UI, as the role that uses it, in Chinese and in English,
checked with axe-core (WCAG 2.1 AA, the practical check for GB/T 37668) and a few rules of our own that axe cannot
see (an error shown next to a field is read with that field). The table is held against the URL conf, so a new page
without a row fails here; and an officer files a verbal report with the keyboard only."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.urls import get_resolver
from django.utils import timezone
from openpyxl import Workbook
from playwright.sync_api import Page, expect

from reporting import obligation_services, report_services
from reporting.findings_services import finding_roster_gap_record
from reporting.links import filing_token
from reporting.models import Report
from reporting.web import urls as web_urls
from tests.web.conftest import WRITTEN, login, open_incident
from tests.web.test_leaders_pages import safety_leader  # noqa: F401 (a fixture, asked for by name)
from tests.web.test_roster_pages import shift
from tests.web.test_signal_pages import make_signal

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]

#: Violations of these impacts fail the test (axe's "moderate" and "minor" are reported by the rules but do not).
FAILING_IMPACTS = {"serious", "critical"}
#: Rules kept at zero whatever impact axe gives them: the page's structure a screen reader navigates by (landmarks,
#: one <h1>, heading levels, table headers).
STRUCTURE_RULES = {
    "region",
    "landmark-one-main",
    "landmark-unique",
    "page-has-heading-one",
    "heading-order",
    "empty-heading",
    "empty-table-header",
    "th-has-data-cells",
    "td-headers-attr",
}
#: WCAG 2.0/2.1 A and AA, and axe's best practices (landmarks, heading order, one <h1>).
AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]},
    "resultTypes": ["violations", "incomplete"],
}


@dataclass(frozen=True)
class Row:
    """One page as one role sees it (on a wall screen or desk, or on a ``phone``): ``path`` from the world the test
    built, then ``then`` on the loaded page (choose a report kind, send a form empty to see it redisplayed with its
    errors)."""

    name: str
    label: str
    persona: str | None
    path: Callable[[dict], str]
    then: Callable[[Page], None] | None = field(default=None)
    status: int = 200
    phone: bool = False


def choose(kind: str) -> Callable[[Page], None]:
    def act(page: Page) -> None:
        page.check(f"input[name=kind][value={kind}]")

    return act


def send_written_empty(page: Page) -> None:
    page.check("input[name=kind][value=written]")
    for name in ("account", "measures", "contact_name", "contact_phone", "location"):
        page.fill(f"#id_{name}", "")
    page.click("button[value=file]")
    expect(page.locator("#error-summary")).to_be_visible()


def send_empty(form: str, *fields: str) -> Callable[[Page], None]:
    """Send ``form`` with ``fields`` emptied."""

    def act(page: Page) -> None:
        for name in fields:
            page.fill(f"{form} #id_{name}", "")
        page.click(f"{form} button[type=submit].primary")
        page.wait_for_load_state()
        expect(page.locator(".field-error").first).to_be_visible()

    return act


def upload_roster(*rows: tuple) -> Callable[[Page], None]:
    """Upload a roster workbook of ``rows`` (start, end, post, name, phone) on the import page."""

    def act(page: Page) -> None:
        book = Workbook()
        book.active.append(["开始时间", "结束时间", "岗位", "姓名", "手机号"])
        for row in rows:
            book.active.append(list(row))
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "roster.xlsx"
            book.save(path)
            page.set_input_files("#id_file", str(path))
            page.click("#import-form button[type=submit]")
            page.wait_for_load_state()
        expect(page.locator("#import-preview, #error-summary").first).to_be_visible()

    return act


TOMORROW = (timezone.localdate() + timedelta(days=1)).isoformat()


def refuse_not_required(page: Page) -> None:
    """Mark the first obligation not required, with no reason: the incident page comes back with the error."""
    row = page.locator("#incident-obligations tbody tr").first
    row.locator("summary").click()
    row.locator("form[action$='/not-required/'] button").click()
    page.wait_for_load_state()
    expect(page.locator("#incident-obligations .field-error").first).to_be_visible()


def refuse_restore(page: Page) -> None:
    """Undo the not-required mark with no reason: the incident page comes back with the error."""
    form = page.locator("#incident-obligations form[action$='/restore/']").first
    form.locator("xpath=ancestor::details").locator("summary").click()
    form.locator("button").click()
    page.wait_for_load_state()
    expect(page.locator("#incident-obligations .field-error").first).to_be_visible()


def refuse_signal_link(page: Page) -> None:
    """Link the waiting signal to an incident that does not exist: the inbox comes back with the error."""
    form = page.locator("#signals form[action$='/link/']").first
    form.locator("input[name=incident]").fill("SJ-1999-000001")
    form.locator("button").click()
    page.wait_for_load_state()
    expect(page.locator("#signals .field-error").first).to_be_visible()


def refuse_signal_unlink(page: Page) -> None:
    """Unlink the linked signal with no reason: the inbox comes back with the error on its row, the form open."""
    form = page.locator("#signals form[action*='/unlink/']").first
    form.locator("xpath=ancestor::details").locator("summary").click()
    form.locator("button").click()
    page.wait_for_load_state()
    expect(page.locator("#signals .field-error").first).to_be_visible()


#: Every page of the web UI (``reporting.web.urls``) as the role that uses it.
PAGES = [
    Row("login", "login page, signed out", None, lambda w: "/login/"),
    Row("board", "duty room: board", "duty", lambda w: "/board/"),
    Row("incident-new", "duty room: new incident form", "duty", lambda w: "/incidents/new/"),
    Row(
        "incident-new",
        "duty room: new incident form redisplayed with errors",
        "duty",
        lambda w: "/incidents/new/",
        send_empty("#incident-form", "title", "location"),
    ),
    Row("incidents", "duty room: incident list", "duty", lambda w: "/incidents/"),
    Row(
        "incidents",
        "duty room: incident list, a filter refused",
        "duty",
        lambda w: "/incidents/?grade=VII",
        status=400,
    ),
    Row("incident", "duty room: incident page", "duty", lambda w: f"/incidents/{w['filed'].obligation.incident_id}/"),
    Row(
        "incident",
        "duty room: incident page, an action refused",
        "duty",
        lambda w: f"/incidents/{w['open'].incident_id}/",
        refuse_not_required,
    ),
    Row(
        "incident",
        "duty room: incident page, undoing a not-required mark refused",
        "duty",
        lambda w: f"/incidents/{w['marked'].incident_id}/",
        refuse_restore,
    ),
    Row("signals", "duty room: signals inbox", "duty", lambda w: "/signals/?show=all"),
    Row("signals", "duty room: signals inbox, a link refused", "duty", lambda w: "/signals/", refuse_signal_link),
    Row(
        "signals",
        "duty room: every signal, an unlink refused",
        "duty",
        lambda w: "/signals/?show=all",
        refuse_signal_unlink,
    ),
    Row("roster", "duty room: roster overview", "duty", lambda w: "/roster/"),
    Row("roster-unit", "duty room: a unit's roster (week view, add form)", "duty", lambda w: "/roster/sijing/"),
    Row(
        "roster-unit",
        "duty room: a unit's roster, add form redisplayed with errors",
        "duty",
        lambda w: "/roster/sijing/",
        send_empty("#shift-form", "starts_at", "ends_at"),
    ),
    Row("roster-import", "duty room: roster import", "duty", lambda w: "/roster/sijing/import/"),
    Row(
        "roster-import",
        "duty room: roster import, the preview",
        "duty",
        lambda w: "/roster/sijing/import/",
        upload_roster((f"{TOMORROW} 08:30", f"{TOMORROW} 20:30", "值班员", "王某", None)),
    ),
    Row(
        "roster-import",
        "duty room: roster import, a file refused row by row",
        "duty",
        lambda w: "/roster/sijing/import/",
        upload_roster(("明天", f"{TOMORROW} 20:30", "值班员", "无此人", None)),
    ),
    Row("people", "duty room: a unit's people", "duty", lambda w: "/roster/sijing/people/"),
    Row("person", "duty room: a person", "duty", lambda w: f"/roster/people/{w['person'].pk}/"),
    Row("leaders", "duty room: district leaders", "duty", lambda w: "/roster/leaders/"),
    Row("leader", "duty room: a district leader", "duty", lambda w: f"/roster/leaders/{w['leader'].pk}/"),
    Row("obligations", "unit officer: home (obligations)", "sijing-officer", lambda w: "/obligations/"),
    Row(
        "file",
        "unit officer: filing form, verbal",
        "sijing-officer",
        lambda w: f"/obligations/{w['open'].pk}/file/",
        choose("verbal"),
    ),
    Row(
        "file",
        "unit officer: filing form, written",
        "sijing-officer",
        lambda w: f"/obligations/{w['open'].pk}/file/",
        choose("written"),
    ),
    Row(
        "file",
        "unit officer: filing form redisplayed with errors",
        "sijing-officer",
        lambda w: f"/obligations/{w['open'].pk}/file/",
        send_written_empty,
    ),
    Row(
        "file-link",
        "unit officer: filing form opened from the SMS link",
        "sijing-officer",
        lambda w: f"/f/{filing_token(w['open'].pk)}",
    ),
    Row(
        "file-link",
        "unit officer: filing form from the SMS link, on a phone",
        "sijing-officer",
        lambda w: f"/f/{filing_token(w['open'].pk)}",
        phone=True,
    ),
    Row("report", "unit officer: a filed report", "sijing-officer", lambda w: f"/reports/{w['filed'].pk}/"),
    Row("audit", "auditor: audit page", "auditor", lambda w: "/audit/"),
    Row("audit", "auditor: audit page, a period refused", "auditor", lambda w: "/audit/?since=2026-13-45", status=400),
    Row("board", "district leader: board on a phone", "leader", lambda w: "/board/", phone=True),
    Row(
        "incident",
        "district leader: incident page",
        "leader",
        lambda w: f"/incidents/{w['filed'].obligation.incident_id}/",
    ),
]

#: The URL conf's names that are no page of their own, and why.
NOT_PAGES = {
    "home": "redirects to the role's home page",
    "logout": "POST only, redirects to the login page",
    "board-data": "the board's JSON poll",
    "not-required": "POST only; a refusal redisplays the incident page",
    "restore": "POST only; a refusal redisplays the incident page (a row above)",
    "first-known": "POST only; a refusal redisplays the incident page",
    "city-report": "POST only; a refusal redisplays the incident page",
    "incident-add-unit": "POST only; a refusal redisplays the incident page",
    "incident-edit": "POST only; a refusal redisplays the incident page",
    "shift-add": "POST only; a refusal redisplays the unit's roster page (a row above)",
    "shift-delete": "POST only, redirects to the unit's roster page",
    "roster-import-template": "a spreadsheet download",
    "roster-import-confirm": "POST only, redirects to the unit's roster page",
    "signal-link": "POST only; a refusal redisplays the signals inbox",
    "signal-unlink": "POST only; a refusal redisplays the signals inbox (every signal)",
    "finding-review": "POST only; a refusal redisplays the audit page",
}


def test_every_page_of_the_url_conf_has_a_row_or_a_reason():
    names = {p.name for p in get_resolver(web_urls).url_patterns}
    rows = {row.name for row in PAGES}
    unlisted = names - rows - NOT_PAGES.keys()
    assert not unlisted, f"pages with no row in PAGES (or reason in NOT_PAGES): {sorted(unlisted)}"
    assert not (rows | NOT_PAGES.keys()) - names, "rows for pages the URL conf no longer has"


@pytest.fixture
def world(request, units, duty_room, sijing_officer, auditor, leader):
    """An open obligation (the filing form), one with a written report filed (the report and incident pages), a
    signal, a shift, a person and a district leader, and a finding for the audit page."""
    now = timezone.now()
    open_ = open_incident(
        sijing_officer, units["sijing"], known_minutes_ago=10, title="泗泾镇某厂房火灾"
    ).obligations.get()
    # Overdue for long enough to alarm on the board (its red rows and marker).
    open_incident(duty_room, units["chedun"], known_minutes_ago=200, title="车墩镇某仓库火灾", exercise=True)
    done = open_incident(
        sijing_officer, units["sijing"], known_minutes_ago=300, title="泗泾镇道路塌陷", deaths=1
    ).obligations.get()
    filed = report_services.report_create(
        obligation=done, kind="written", actor=sijing_officer, now=now, **WRITTEN, occurred_at=done.incident.occurred_at
    )
    marked = open_incident(duty_room, units["sijing"], known_minutes_ago=5, title="泗泾镇误报").obligations.get()
    obligation_services.obligation_mark_not_required(obligation=marked, reason="误派单位", actor=duty_room, now=now)
    make_signal(units)
    make_signal(units, external_id="110-linked", incident=done.incident)  # linked: its row offers the unlink form
    shift(units["sijing"], sijing_officer.contact, now - timedelta(hours=2))
    finding_roster_gap_record(
        unit=units["sijing"], at=now - timedelta(hours=4), obligation=done, detail={"step": "verbal_overdue"}
    )
    leader_contact = request.getfixturevalue("safety_leader")
    return {
        "open": open_,
        "filed": filed,
        "marked": marked,
        "person": sijing_officer.contact,
        "leader": leader_contact,
    }


#: Rules of our own, run in the page, for what axe does not check: an error shown for a field is read with it (the
#: field, or the group of boxes it belongs to, is described by the error and marked invalid); a form-wide error is an
#: alert instead; every id an aria-describedby or aria-labelledby names is on the page (axe only calls a missing one
#: "needs review"); the language switch names each language in itself, marked with its lang (WCAG 3.1.2: "English"
#: on a Chinese page is read as English). Each breach is one readable line.
OWN_RULES = """() => {
  const found = [];
  const name = (el) => el.id ? `#${el.id}` : `${el.tagName.toLowerCase()}[name=${el.getAttribute("name")}]`;
  const refs = (el, attr) => (el.getAttribute(attr) || "").split(/\\s+/).filter(Boolean);
  document.querySelectorAll(".field-error:not([role=alert])").forEach((error) => {
    const text = error.textContent.trim();
    const holders = error.id ? [...document.querySelectorAll("[aria-describedby]")]
      .filter((el) => refs(el, "aria-describedby").includes(error.id)) : [];
    if (!holders.length) {
      found.push(`field-error-described: "${text}" is read with no field`);
      return;
    }
    holders.forEach((holder) => {
      const controls = holder.matches("input, select, textarea") ? [holder]
        : [...holder.querySelectorAll("input:not([type=hidden]), select, textarea")];
      controls.filter((c) => c.getAttribute("aria-invalid") !== "true").forEach((c) => {
        found.push(`field-error-invalid: ${name(c)} shows "${text}" but is not aria-invalid="true"`);
      });
    });
  });
  document.querySelectorAll("[aria-describedby], [aria-labelledby]").forEach((el) => {
    ["aria-describedby", "aria-labelledby"].forEach((attr) => refs(el, attr).forEach((id) => {
      if (!document.getElementById(id)) { found.push(`aria-reference: ${name(el)} ${attr} names no element #${id}`); }
    }));
  });
  document.querySelectorAll("form.lang option").forEach((option) => {
    const lang = option.value === "en" ? "en" : "zh-Hans";
    if (option.lang !== lang) { found.push(`language-of-parts: "${option.textContent}" is not marked lang="${lang}"`); }
  });
  return found;
}"""


def short_text_below_contrast(result: dict) -> dict | None:
    """A "needs review" colour contrast that axe measured as too low but left open because the text is short (a
    count, a number): on these pages such a text is a figure someone must read, so it fails as a violation would."""
    if result["id"] != "color-contrast":
        return None
    nodes = [
        node
        for node in result["nodes"]
        if any((check.get("data") or {}).get("messageKey") == "shortTextContent" for check in node["any"])
    ]
    return {**result, "nodes": nodes} if nodes else None


def violations(page: Page, axe: Axe) -> list[str]:
    """The page's failing axe violations and breaches of our own rules, one readable line each."""
    response = axe.run(page, options=AXE_OPTIONS).response
    failing = [v for v in response["violations"] if v["impact"] in FAILING_IMPACTS or v["id"] in STRUCTURE_RULES]
    failing += [r for r in map(short_text_below_contrast, response["incomplete"]) if r is not None]
    found = []
    for violation in failing:
        for node in violation["nodes"]:
            target = " ".join(str(t) for t in node["target"])
            summary = node.get("failureSummary") or "; ".join(check["message"] for check in node["any"])
            data = next(
                (c["data"] for c in node["any"] if isinstance(c.get("data"), dict) and "contrastRatio" in c["data"]),
                None,
            )
            if data:
                summary += f" ({data['fgColor']} on {data['bgColor']}: {data['contrastRatio']}:1)"
            found.append(f"{violation['id']} ({violation['impact']}): {target}: {summary.strip()}")
    found += page.evaluate(OWN_RULES)
    return found


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_every_page_passes_axe_as_the_role_that_uses_it(browser, live_server, world, language):
    axe = Axe()
    tabs: dict[tuple[str | None, bool], Page] = {}
    failures = []
    try:
        for row in PAGES:
            if (row.persona, row.phone) not in tabs:
                screen = {"width": 390, "height": 844} if row.phone else {"width": 1400, "height": 900}
                context = browser.new_context(locale="zh-CN", viewport=screen, is_mobile=row.phone)
                context.set_default_timeout(15_000)
                context.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])
                tab = context.new_page()
                if row.persona is not None:
                    login(tab, live_server, row.persona)
                tabs[row.persona, row.phone] = tab
            page = tabs[row.persona, row.phone]
            response = page.goto(live_server.url + row.path(world))
            assert response is not None and response.status == row.status, (
                f"{row.label}: {response and response.status}"
            )
            expect(page.locator("html")).to_have_attribute("lang", "en" if language == "en" else "zh-Hans")
            if row.then is not None:
                row.then(page)
            found = violations(page, axe)
            if found:
                failures.append(f"{row.label} ({page.url}):\n    " + "\n    ".join(found))
    finally:
        for tab in tabs.values():
            tab.context.close()
    assert not failures, f"{len(failures)} page(s) in {language} fail:\n" + "\n".join(failures)


def test_the_board_tells_a_screen_reader_when_its_counts_change(page, live_server, settings, units, duty_room):
    """The board swaps its rows without a reload: a duty officer with a screen reader hears the new counts (a polite
    live region), once per change, not every poll."""
    settings.BOARD_POLL_SECONDS = 1
    open_incident(duty_room, units["sijing"], known_minutes_ago=5, title="泗泾镇某厂房火灾")
    login(page, live_server, "duty", next_path="/board/")
    region = page.locator("#board-announce")
    expect(region).to_have_attribute("aria-live", "polite")
    expect(region).to_have_text("")  # nothing changed yet: nothing said on load or on a poll that finds the same
    page.wait_for_timeout(2_500)
    expect(region).to_have_text("")
    open_incident(duty_room, units["chedun"], known_minutes_ago=70, title="车墩镇某仓库火灾")
    expect(region).to_have_text("大屏已更新: 进行中 2 项, 已超时 1 项, 告警 1 项", timeout=10_000)


#: The focused element's focus ring, as seen: the best contrast of its outline (2px or more) or box-shadow colours
#: against the background it is drawn on (the nearest ancestor with a colour), WCAG 2.1 1.4.11 (3:1).
FOCUS_RING = """() => {
  const el = document.activeElement;
  const parse = (text) => {
    const m = /rgba?\\(([^)]+)\\)/.exec(text || "");
    if (!m) { return null; }
    const p = m[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number);
    return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
  };
  const lum = (c) => [c.r, c.g, c.b].map((v) => v / 255)
    .map((v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4))
    .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
  const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
  let bg = null;
  for (let up = el.parentElement; up && !bg; up = up.parentElement) {
    const c = parse(getComputedStyle(up).backgroundColor);
    if (c && c.a > 0) { bg = c; }
  }
  bg = bg || { r: 255, g: 255, b: 255, a: 1 };
  const style = getComputedStyle(el);
  const rings = (style.boxShadow.match(/rgba?\\([^)]+\\)/g) || []).map(parse);
  if (style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2) { rings.push(parse(style.outlineColor)); }
  const best = Math.max(0, ...rings.filter((c) => c && c.a > 0).map((c) => ratio(c, bg)));
  return { element: el.outerHTML.slice(0, 120), contrast: Math.round(best * 100) / 100 };
}"""


def tab_to(page: Page, selector: str, *, limit: int = 60) -> None:
    """Press Tab until ``selector`` has the focus, each stop on the way showing a focus ring that can be seen."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        ring = page.evaluate(FOCUS_RING)
        assert ring["contrast"] >= 3, f"focus ring hard to see ({ring['contrast']}:1) on {ring['element']}"
        if page.evaluate("(selector) => document.activeElement.matches(selector)", selector):
            return
    raise AssertionError(f"{selector} not reached with Tab")


def test_an_officer_files_a_verbal_report_with_the_keyboard_only(page, live_server, units, sijing_officer):
    obligation = open_incident(
        sijing_officer, units["sijing"], known_minutes_ago=10, title="泗泾镇某厂房火灾"
    ).obligations.get()
    login(page, live_server, "sijing-officer", next_path=f"/obligations/{obligation.pk}/file/")
    page.wait_for_url(f"{live_server.url}/obligations/{obligation.pk}/file/")
    tab_to(page, "input[name=kind]")
    for _ in range(4):  # arrows move through the radio group, as a keyboard user would
        if page.evaluate("() => document.activeElement.value") == "verbal":
            break
        page.keyboard.press("ArrowRight")
    page.keyboard.press("Space")
    expect(page.locator("input[name=kind][value=verbal]")).to_be_checked()
    tab_to(page, "#id_account")
    page.keyboard.type("厂房起火, 明火已扑灭, 一人轻伤")
    tab_to(page, "button[value=file]")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/reports/**")
    expect(page.locator("h1")).to_have_text("报送成功")
    expect(page.locator("#verdict")).to_contain_text("按时报送")
    report = Report.objects.filed().get()
    assert (report.kind, report.account) == ("verbal", "厂房起火, 明火已扑灭, 一人轻伤")
