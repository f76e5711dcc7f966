"""Accessibility in a real browser (Debian's Chromium, Playwright): axe-core at WCAG 2.2 AA on the
sign-in page and on every page signed in, no violation of impact serious or critical; the whole
job done with the keyboard alone; every map with a text alternative naming method, frame and
window.

axe-core is the npm package (``make test`` installs it into ``.cache/axe``) injected into the page
by Playwright; nothing is downloaded at run time.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.app.browser import ROOT, browser_page, explain_and_wait, running_app, sign_in, sign_out, wait_idle

pytestmark = pytest.mark.long  # a real browser, a minute or so: make test-long (CI runs it)

AXE = ROOT / ".cache" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]
PAGES = ("Review", "Model", "Compare", "Temporal", "Report", "Dataset", "Queue", "Countersign", "Audit log")
#: what the focused element is called, as a screen reader would read it (tag, role, label, text, value)
FOCUSED = """() => { const e = document.activeElement; if (!e) return '';
  return [e.tagName, e.getAttribute('role') || '', e.getAttribute('aria-label') || '',
          e.labels && e.labels[0] ? e.labels[0].innerText : '', (e.innerText || '').slice(0, 60), e.value || ''].join(' | '); }"""


def _violations(page) -> list[dict]:
    """axe-core's serious and critical violations of WCAG 2.2 AA on the page as it is now."""
    page.add_script_tag(path=str(AXE))
    found = page.evaluate("""async (tags) => {
        const r = await axe.run(document, {runOnly: {type: 'tag', values: tags}});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                       nodes: v.nodes.slice(0, 3).map(n => n.html.slice(0, 200))})); }""", TAGS)
    return [v for v in found if v["impact"] in ("serious", "critical")]


def _env(app_env, tmp_path) -> dict:
    return {"CRNNAUDIT_MODEL": str(app_env), "CRNNAUDIT_HOME": str(tmp_path / "home"),
            "CRNNAUDIT_SAMPLES": str(ROOT / "sample_videos")}


@pytest.fixture
def accounts(app_env, tmp_path):
    if not Path("/usr/bin/chromium").exists() or not AXE.exists():
        pytest.fail("Debian's chromium and axe-core (.cache/axe) are required: make test installs both")
    from crnnaudit.evidence.accounts import Accounts
    known = Accounts()
    known.add("Ada Admin", "the admin's long password", "admin")
    known.add("Pat Approver", "the approver's long password", "approver")
    return known


def test_no_serious_accessibility_violation_on_any_page(app_env, tmp_path, accounts):
    with running_app(_env(app_env, tmp_path)) as url, browser_page() as page:
        page.goto(url)
        page.get_by_role("button", name="Sign in").wait_for()
        found = {"sign-in": _violations(page)}
        sign_in(page, "Ada Admin", "the admin's long password")
        page.get_by_role("button", name="Explain this window").wait_for()
        wait_idle(page)
        explain_and_wait(page)  # the pages then show maps, figures and verdicts
        alt = page.locator('[data-testid="stImage"] img').first.get_attribute("alt")
        assert re.fullmatch(r".+ map of frame \d+ \(position \d+ of \d+\) of window \d+.*", alt or ""), alt
        for title in PAGES:
            page.get_by_role("link", name=title).click()
            page.get_by_role("heading", level=1).first.wait_for()
            wait_idle(page)
            found[title] = _violations(page)
    assert all(v == [] for v in found.values()), {k: v for k, v in found.items() if v}


def _tab_to(page, pattern: str, limit: int = 120) -> str:
    """Press Tab until the focused element's name matches ``pattern`` (a regular expression)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        said = page.evaluate(FOCUSED)
        if re.search(pattern, said, flags=re.S):
            return said
    raise AssertionError(f"no element matching {pattern!r} within {limit} presses of Tab")


def _keyboard_sign_in(page, user: str, password: str) -> None:
    page.get_by_role("button", name="Sign in").wait_for()
    _tab_to(page, r"^INPUT .*\| User name \|")
    page.keyboard.type(user)
    _tab_to(page, r"^INPUT .*\| Password \|")
    page.keyboard.type(password)
    page.keyboard.press("Enter")  # submits the form


def _go(page, title: str) -> None:
    _tab_to(page, rf"^A \|.*\s{re.escape(title)} \|")
    page.keyboard.press("Enter")
    page.get_by_role("heading", level=1, name=re.compile(title.split()[0], re.I)).first.wait_for()
    wait_idle(page)


def test_the_whole_job_with_the_keyboard_alone(app_env, tmp_path, accounts):
    """Sign in, pick a clip, select a window, explain, scrub, draft and build the report; then an
    approver signs in and countersigns: never a mouse."""
    with running_app(_env(app_env, tmp_path)) as url, browser_page() as page:
        page.goto(url)
        _keyboard_sign_in(page, "Ada Admin", "the admin's long password")
        page.get_by_role("button", name="Explain this window").wait_for()
        wait_idle(page)
        _tab_to(page, r"combobox \| Sample clip")
        page.keyboard.type("fire_2026")
        page.keyboard.press("Enter")
        page.get_by_text(re.compile(r"Window \d+: frames")).first.wait_for()
        wait_idle(page)
        assert page.get_by_role("combobox", name=re.compile("Sample clip")).input_value().startswith("fire")
        _tab_to(page, r"\| Window \| Window \|")
        page.keyboard.press("Control+A")
        page.keyboard.type("1")
        page.keyboard.press("Enter")
        page.get_by_text(re.compile(r"^Window 1: frames")).first.wait_for()
        wait_idle(page)
        _tab_to(page, r"^BUTTON .*Explain this window")
        page.keyboard.press("Enter")
        page.locator('[data-testid="stImage"] img').first.wait_for(state="visible")
        wait_idle(page)
        _tab_to(page, r"^INPUT \|\s*\| Frame \|")
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowRight")
        # each press is a run of its own: wait for the map the second one asks for (a loaded machine
        # can end the first press's run, and pass an idle check, before the second reaches the server);
        # a page that never gets there fails the assertion below
        with contextlib.suppress(PlaywrightTimeout):
            page.wait_for_function("() => { const i = document.querySelector('[data-testid=\"stImage\"] img');"
                                   " return i && /position 3 of \\d+\\) of window 1/.test(i.alt); }", timeout=60_000)
        wait_idle(page)
        assert re.search(r"position 3 of \d+\) of window 1", page.locator('[data-testid="stImage"] img').first
                         .get_attribute("alt")), "two steps to the right: the third frame of window 1"
        _go(page, "Report")
        _tab_to(page, r"TEXTAREA .*Reasons")
        page.keyboard.type("Flames at the back of the room, confirmed by eye.")
        _tab_to(page, r"^BUTTON .*Build the report")
        page.keyboard.press("Enter")
        page.get_by_text(re.compile(r"written and logged as audit row")).wait_for(timeout=180_000)
        wait_idle(page)
        _tab_to(page, r"^BUTTON .*Sign out")
        page.keyboard.press("Enter")
        page.get_by_role("link", name="Sign in").wait_for()
        _tab_to(page, r"^A .*Sign in")
        page.keyboard.press("Enter")
        _keyboard_sign_in(page, "Pat Approver", "the approver's long password")
        page.get_by_role("link", name="Countersign").wait_for()
        wait_idle(page)
        _go(page, "Countersign")
        _tab_to(page, r"^BUTTON .*\| Countersign \|", limit=400)
        page.keyboard.press("Enter")
        page.get_by_text(re.compile(r"is final")).wait_for(timeout=120_000)
