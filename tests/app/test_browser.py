"""The real app in a real browser: open, pick a sample clip, explain, scrub, every page."""

from pathlib import Path

import pytest

from tests.app.browser import ROOT, browser_page, explain_and_wait, move_scrubber, overlay_src, running_app, \
    sign_in, sign_out, wait_idle, wait_overlay_change

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
                assert "Without frame" in words or "No set of up to" in words, words
                page.screenshot(path=str(OUT / "temporal.png"), full_page=True)
        sign_out(page)  # signed out: the form again
    assert len(list(OUT.glob("*.png"))) == 8
