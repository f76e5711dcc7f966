"""The real app in a real browser: open, pick a sample clip, explain, scrub, every page."""

from pathlib import Path

import pytest

from tests.app.browser import ROOT, browser_page, explain_and_wait, move_scrubber, overlay_src, running_app, \
    sign_in, sign_out, wait_idle, wait_overlay_change

pytestmark = pytest.mark.long  # a real browser, a minute or so: make test-long (CI runs it)

OUT = ROOT / "test-output" / "screenshots"


def test_browser_review_explain_scrub_and_pages(app_env, tmp_path):
    if not Path("/usr/bin/chromium").exists():
        pytest.fail("Debian's chromium is required (make test installs it)")
    OUT.mkdir(parents=True, exist_ok=True)
    from crnnaudit.evidence.accounts import Accounts
    Accounts().add("Browser Admin", "a long browser password", "admin")  # in the app's data folder
    env = {"CRNNAUDIT_MODEL": str(app_env), "CRNNAUDIT_HOME": str(tmp_path / "home")}
    with running_app(env) as url, browser_page() as page:
        page.goto(url)  # nothing shows before sign-in: the front door's form
        sign_in(page, "Browser Admin", "a long browser password")
        page.get_by_role("button", name="Explain this window").wait_for()
        wait_idle(page)
        page.get_by_role("combobox").first.click()  # the sample-clip picker
        page.get_by_role("option", name="fire_2026_002.mp4").click()
        wait_idle(page)
        explain_and_wait(page)
        page.screenshot(path=str(OUT / "review.png"), full_page=True)
        before = overlay_src(page)
        assert before
        move_scrubber(page, 2)
        wait_overlay_change(page, before)
        wait_idle(page)
        assert overlay_src(page) != before
        page.screenshot(path=str(OUT / "review_scrubbed.png"), full_page=True)
        for title in ("Compare", "Temporal", "Model", "Report", "Countersign", "Audit log"):
            page.get_by_role("link", name=title).click()
            page.get_by_role("heading", level=1).first.wait_for()
            wait_idle(page)
            assert page.locator('[data-testid="stException"]').count() == 0, title
            page.screenshot(path=str(OUT / f"{title.lower().replace(' ', '_')}.png"), full_page=True)
            if title == "Temporal":  # the verified counterfactual, in words, as a person sees the page
                said = page.get_by_text("What would have changed the outcome.")
                said.wait_for(timeout=120_000)  # visible: the page switched and the search is done
                words = page.locator('[data-testid="stAlert"], [data-testid="stCaptionContainer"]').filter(
                    has_text="What would have changed the outcome.").inner_text()
                assert "Without frame" in words or "Removing any set of up to" in words, words
                page.screenshot(path=str(OUT / "temporal.png"), full_page=True)
        sign_out(page)  # signed out: the form again
    assert len(list(OUT.glob("*.png"))) == 8


def test_sessions_as_a_person_expects_them(app_env, tmp_path):
    """A deep link opens its page after sign-in (never "Page not found"); nothing, not even a
    page's name, shows before sign-in; a reload and a new tab stay signed in; signing out in
    one tab ends the account's session in every tab and every browser (each at its next step)."""
    if not Path("/usr/bin/chromium").exists():
        pytest.fail("Debian's chromium is required (make test installs it)")
    from tests.app.browser import chromium, new_page
    from crnnaudit.evidence.accounts import Accounts
    Accounts().add("Tab Walker", "a long tabbing password", "admin")
    env = {"CRNNAUDIT_MODEL": str(app_env), "CRNNAUDIT_HOME": str(tmp_path / "home")}
    with running_app(env) as url, chromium() as browser:
        # one browser context: the tabs share the session cookie
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        one = new_page(context)
        one.goto(url + "/compare")
        assert "/signin?next=/compare" in one.url
        body = one.content()
        assert not any(t in body for t in ("Temporal", "Countersign", "Audit log", "Dataset")), "no page's name"
        sign_in(one, "Tab Walker", "a long tabbing password")
        one.get_by_role("heading", name="Compare explanations").wait_for()  # the deep link, after sign-in
        assert one.url.rstrip("/").endswith("/compare") and one.get_by_text("Page not found").count() == 0
        one.reload()
        one.get_by_role("heading", name="Compare explanations").wait_for()  # a reload stays signed in
        assert one.get_by_role("button", name="Sign in").count() == 0
        two = new_page(context)
        two.goto(url + "/temporal")
        two.get_by_role("heading", name="Temporal contribution").wait_for()  # a new tab too
        elsewhere = new_page(browser.new_context())  # another browser: its own sign-in, its own cookie
        elsewhere.goto(url + "/temporal")
        sign_in(elsewhere, "Tab Walker", "a long tabbing password")
        elsewhere.get_by_role("heading", name="Temporal contribution").wait_for()
        one.get_by_role("button", name="Sign out").click()
        one.get_by_role("link", name="Sign in").wait_for()
        for page in (two, elsewhere):  # the other tab's and the other browser's next step
            page.get_by_role("link", name="Review").click()
            page.get_by_role("link", name="Sign in").wait_for()
            assert page.get_by_role("heading", name="Review").count() == 0, "signed out everywhere"
        two.goto(url + "/review")
        assert "/signin" in two.url, "the cookie no longer opens any page"


def test_ten_wrong_passwords_across_browsers_lock_the_account(app_env, tmp_path):
    """Nine wrong passwords in one browser, the tenth from another (fast, as a guesser types):
    the account is locked as the README says, and then the right password is refused too, in
    the same words as every failure; the lock is a logged row."""
    if not Path("/usr/bin/chromium").exists():
        pytest.fail("Debian's chromium is required (make test installs it)")
    import json
    from tests.app.browser import chromium, new_page
    from crnnaudit.evidence.accounts import REFUSED, Accounts
    from crnnaudit.evidence.log import AuditLog
    Accounts().add("Guessed One", "the right long password", "auditor")
    env = {"CRNNAUDIT_MODEL": str(app_env), "CRNNAUDIT_HOME": str(tmp_path / "home")}
    with running_app(env) as url, chromium() as browser:
        # two browsers' worth of sessions: separate contexts, no shared cookie
        pages = [new_page(browser.new_context()) for _ in range(2)]
        for k in range(10):
            page = pages[0] if k < 9 else pages[1]
            page.goto(url + "/signin")
            sign_in(page, "Guessed One", f"wrong password {k}")
            page.get_by_text(REFUSED).wait_for()
        pages[1].goto(url + "/signin")
        sign_in(pages[1], "Guessed One", "the right long password")
        pages[1].get_by_text(REFUSED).wait_for()
        assert pages[1].get_by_role("button", name="Sign out").count() == 0 and "/signin" in pages[1].url
    rows = [json.loads(r["payload"]) for r in AuditLog().rows() if r["kind"] == "account"]
    assert "account:Guessed One" in [r["key"] for r in rows if r.get("action") == "sign-in locked"]
