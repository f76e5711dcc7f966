"""A click that cuts the run of another click's work, in Debian's Chromium: both pieces of work are
made (widgets.asked_work). A button's value lives for one run only, and a run that waits in the
server's queue is cut by any rerun; before the requests were kept, the Compare page's sanity
check clicked and then Faithfulness clicked at once gave the faithfulness table alone, and the
sanity figures never came (checked against the earlier code: 120 s without them)."""

from __future__ import annotations

import re

import pytest

from crnnaudit.evidence.accounts import Accounts
from tests.app.browser import ROOT, chromium, explain_and_wait, new_page, running_app, sign_in, wait_idle

pytestmark = pytest.mark.long  # a real browser: make test-long (CI runs it)

PASSWORD = "a long clicking password"


def test_a_second_click_does_not_lose_the_first_clicks_work(small_model_path, tmp_path, monkeypatch):
    env = {"CRNNAUDIT_MODEL": str(small_model_path), "CRNNAUDIT_HOME": str(tmp_path / "home"),
           "CRNNAUDIT_SAMPLES": str(ROOT / "sample_videos"), "CRNNAUDIT_CONTROLLER": "Example Transit Ltd",
           "CRNNAUDIT_CONTEST_CONTACT": "dpo@example.org"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    Accounts().add("Clicker", PASSWORD, "admin")
    with running_app(env) as url, chromium() as browser:
        page = new_page(browser)
        page.goto(url)
        sign_in(page, "Clicker", PASSWORD)
        page.get_by_role("heading", name="Review", level=1).wait_for(timeout=300_000)
        wait_idle(page, timeout=300_000)
        explain_and_wait(page)
        page.get_by_role("link", name="Compare").click()
        page.get_by_role("heading", name="How far to trust each method").wait_for()
        wait_idle(page)
        page.get_by_role("button", name="Sanity check (randomise the model)").click()
        page.get_by_role("button", name="Faithfulness (deletion / insertion)").click()  # cuts the sanity run
        sanity = page.get_by_text(re.compile("similarity to the trained model's maps after full randomisation"))
        sanity.first.wait_for(timeout=120_000)
        page.locator('[data-testid="stDataFrame"]').nth(1).wait_for(timeout=120_000)  # the faithfulness table
        wait_idle(page)
        assert sorted(t.split(":")[0] for t in sanity.all_inner_texts()) == ["gradcam", "saliency"]
        assert page.locator('[data-testid="stDataFrame"]').count() == 2  # agreement, faithfulness: one each
        page.get_by_role("link", name="Report").click()
        page.get_by_label(re.compile("^Reasons")).fill("Seen in the browser.")
        page.get_by_role("button", name="Build the report").click()
        page.get_by_text(re.compile("written and logged as audit row")).first.wait_for(timeout=120_000)
        assert not page.locator('[data-testid="stException"]').count()
