"""The whole job in a real browser: the first admin (and the installation's key), accounts, an
auditor who reviews two clips in turn and an upload, explains, scrubs, compares and drafts a
report; a second approver countersigns after seeing the evidence; the report verifies.

It asserts what the auditor sees is what gets signed: one window everywhere (the number box,
the announced window, the report), a scrubber whose slider, buttons and caption agree, models
only from a picker, and refused uploads that help. Screenshots go to test-output/tour/ (the
README's tour)."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from tests.app.browser import ROOT, browser_page, explain_and_wait, running_app, sign_in, sign_out, wait_idle

pytestmark = pytest.mark.long  # a real browser, a minute or so: make test-long (CI runs it)

TOUR = ROOT / "test-output" / "tour"
WINDOW = re.compile(r"Window (\d+): frames (\d+)-(\d+)")


def _shot(page, name: str) -> None:
    """A screenshot for the tour, once every image on the page has loaded."""
    wait_idle(page)
    page.wait_for_function("() => [...document.images].every(i => i.complete && i.naturalWidth > 0)",
                           timeout=60_000)
    page.screenshot(path=str(TOUR / name), full_page=True)


def _announced(page) -> int:
    return int(WINDOW.search(page.get_by_text(WINDOW).first.inner_text()).group(1))


def _window_box(page) -> int:
    return int(page.get_by_label("Window", exact=True).input_value())


def _slider(page) -> int:
    frame = page.locator('[data-testid="stSlider"]').filter(has_text="Frame")
    return int(frame.locator('[data-testid="stSliderThumbValue"]').inner_text())


def _caption_frame(page) -> int:
    text = page.locator('[data-testid="stImage"]').first.inner_text()
    return int(re.search(r"frame (\d+) ·", text).group(1))


def _pick_sample(page, name: str) -> None:
    page.get_by_role("combobox").first.click()
    page.get_by_role("option", name=name).click()
    wait_idle(page)
    page.get_by_text(WINDOW).first.wait_for()


def _one_window_everywhere(page) -> int:
    k = _announced(page)
    assert _window_box(page) == k, "the number box and the announced window agree"
    return k


def _upload(page, path: Path) -> None:
    page.locator('[data-testid="stRadio"]').get_by_text("Upload", exact=True).click()
    wait_idle(page)
    page.locator('input[type="file"]').first.set_input_files(str(path))
    wait_idle(page)


def _step(page, name: str, expected: int) -> None:
    """Click a step button, then wait until the slider shows where it leads."""
    page.get_by_role("button", name=name).click()
    page.wait_for_function("(want) => [...document.querySelectorAll('[data-testid=\"stSlider\"]')]"
                           ".some(s => s.innerText.includes('Frame') && s.querySelector("
                           "'[data-testid=\"stSliderThumbValue\"]')?.innerText === String(want))", arg=expected,
                           timeout=60_000)
    wait_idle(page)


def _scrub_agrees(page, indices_of) -> None:
    for k in (1, 2, 3):
        _step(page, "▶", k)
        assert _caption_frame(page) == indices_of(k), "the caption shows the slider's frame"
    assert _slider(page) == 3, "three clicks on next: frame 3 of the window"
    page.get_by_text("contour", exact=True).click()  # changing the view keeps the frame
    wait_idle(page)
    assert _slider(page) == 3 and _caption_frame(page) == indices_of(3)
    _step(page, "◀", 2)
    assert _slider(page) == 2 and _caption_frame(page) == indices_of(2)


def _sign_out(page) -> None:
    sign_out(page)
    assert page.get_by_role("link", name="Review").count() == 0, "nothing is listed before sign-in"


def _first_admin_and_accounts(page) -> None:
    from crnnaudit.cli.main import main
    sign_in(page, "Ada Admin", "the admin's long password")
    page.get_by_role("button", name="Sign out").wait_for()
    wait_idle(page)
    os.environ["CRNNAUDIT_PASSWORD"] = "the admin's long password"
    for name, role in (("Aud Itor", "auditor"), ("Appro Ver", "approver")):
        os.environ["CRNNAUDIT_NEW_PASSWORD"] = f"{name}'s long password"
        assert main(["user", "add", name, "--role", role, "--as", "Ada Admin"]) == 0
    _sign_out(page)


def _review_as_auditor(page, tmp_path) -> tuple[int, str]:
    sign_in(page, "Aud Itor", "Aud Itor's long password")
    page.get_by_role("button", name="Explain this window").wait_for()
    wait_idle(page)
    _pick_sample(page, "fire_2026_002.mp4")
    _one_window_everywhere(page)
    _pick_sample(page, "shooting_2026_003.mp4")  # a second clip: its own top window, everywhere at once
    _one_window_everywhere(page)
    bad = tmp_path / "camera 7 export.mp4"
    bad.write_bytes(b"this is not a video at all" * 100)
    _upload(page, bad)
    page.get_by_text("Pick or upload a clip.").wait_for()  # the run after the refusal has ended
    wait_idle(page)
    error = page.locator('[data-testid="stAlertContentError"]').first.inner_text()
    assert error.startswith("camera 7 export.mp4:") and "Errno" not in error and "/uploads/" not in error, error
    assert "Nothing was kept" in error and page.get_by_text(WINDOW).count() == 0, "no clip stays on screen"
    assert not any((tmp_path / "home" / "uploads").glob("*")), "the rejected file is deleted"
    good = tmp_path / "lobby camera.avi"
    shutil.copy(ROOT / "tests" / "data" / "vtest.avi", good)
    _upload(page, good)
    page.get_by_text(WINDOW).first.wait_for()
    assert page.get_by_text("lobby camera.avi").count() >= 1, "the upload under the user's own name"
    k = _one_window_everywhere(page)
    _shot(page, "1-review-timeline.png")
    explain_and_wait(page)
    first = int(WINDOW.search(page.get_by_text(WINDOW).first.inner_text()).group(2))
    _scrub_agrees(page, lambda t: first + t)  # stride-free: a window's frames are consecutive
    _shot(page, "2-review-explained.png")
    return k, "lobby camera.avi"


def _compare_and_report(page, k: int) -> str:
    page.get_by_role("link", name="Compare").click()
    page.get_by_role("heading", name="Compare explanations").wait_for()
    page.get_by_text("Model A vs model B").wait_for()  # the page's last section: it has been drawn
    wait_idle(page)
    assert page.get_by_text("per frame:").count() >= 1, "the scaling rule is named"
    assert page.get_by_role("textbox", name=re.compile("model", re.I)).count() == 0, "no free path for model B"
    _shot(page, "3-compare.png")
    page.get_by_role("link", name="Report").click()
    page.get_by_role("heading", name="Justification report").wait_for()
    wait_idle(page)
    assert f"window {k} " in page.get_by_text(re.compile(r"window \d+ \(frames")).first.inner_text()
    page.get_by_text("escalate", exact=True).click()
    page.get_by_role("textbox", name="Reasons (required to override").fill("A crowd surge near the doors.")
    page.get_by_role("button", name="Build the report").click()
    page.get_by_text(re.compile("written and logged as audit row")).wait_for()
    wait_idle(page)
    _shot(page, "4-report.png")
    from crnnaudit.report.countersign import pending
    waiting = pending()
    assert len(waiting) == 1 and waiting[0]["decision"] == "escalate"
    _sign_out(page)
    return waiting[0]["report_id"]


def _countersign(page, report_id: str) -> None:
    sign_in(page, "Appro Ver", "Appro Ver's long password")
    page.get_by_role("link", name="Countersign").click()
    page.get_by_role("heading", name="Countersign").wait_for()
    wait_idle(page)
    assert page.get_by_text("A crowd surge near the doors.").count() >= 1, "the reasons, before the button"
    # the page draws its evidence in one run, but a loaded machine can show the heading and the
    # reasons before the images arrive: wait for them (a page without them still fails, after 60 s)
    page.wait_for_function("""() => document.querySelectorAll('[data-testid="stImage"]').length >= 2""",
                           timeout=60_000)
    assert page.locator('[data-testid="stImage"]').count() >= 2, "the key frames with the maps the author saw"
    _shot(page, "5-countersign.png")
    page.get_by_role("button", name="Countersign").first.click()
    page.get_by_text(re.compile(r"Countersigned: report .* is final")).wait_for()
    page.get_by_role("link", name="Audit log").click()
    page.get_by_role("heading", name="Audit log").wait_for()
    page.get_by_text(re.compile("Chain check: .*chain intact")).wait_for()
    wait_idle(page)
    _shot(page, "6-audit-log.png")
    from crnnaudit.evidence.chain import in_words
    from crnnaudit.evidence.log import AuditLog
    words = [in_words(r) for r in AuditLog().rows()]  # what the page's table shows (drawn on a canvas)
    assert any(w.startswith("Appro Ver countersigned Aud Itor's decision (escalate) on lobby camera.avi")
               for w in words), words
    assert any(w == "Ada Admin added the account Aud Itor as auditor" for w in words), words


def test_the_whole_job_in_a_browser(app_env, tmp_path, monkeypatch):
    if not Path("/usr/bin/chromium").exists():
        pytest.fail("Debian's chromium is required (make test installs it)")
    shutil.rmtree(TOUR, ignore_errors=True)
    TOUR.mkdir(parents=True)
    key = tmp_path / "secrets" / "signing.pem"  # a new installation: the first admin makes the key
    monkeypatch.setenv("CRNNAUDIT_SIGNING_KEY_FILE", str(key))
    monkeypatch.setenv("CRNNAUDIT_PASSWORD", "")
    env = {"CRNNAUDIT_MODEL": str(app_env), "CRNNAUDIT_HOME": str(tmp_path / "home"),
           "CRNNAUDIT_SIGNING_KEY_FILE": str(key)}
    with running_app(env) as url, browser_page(height=2400) as page:  # tall: the tour shows a whole page
        page.goto(url)
        try:
            _first_admin_and_accounts(page)
            k, shown = _review_as_auditor(page, tmp_path)
            report_id = _compare_and_report(page, k)
            _countersign(page, report_id)
        except Exception:
            page.screenshot(path=str(TOUR / "failure.png"), full_page=True)  # what the page showed
            raise
    from crnnaudit.evidence.log import AuditLog
    from crnnaudit.evidence.signing import verify_file
    final = tmp_path / "home" / "reports" / report_id / "countersigned" / f"report-{report_id}.json"
    assert verify_file(final, log=AuditLog())["ok"], verify_file(final, log=AuditLog())["message"]
    body = json.loads(final.read_text())["report"]
    assert body["view"]["window"] == k and body["output"]["window"] == k, "the report documents the window shown"
    assert body["clip"]["windows_reviewed"][0]["index"] == k
    assert body["human"]["second_reviewer"] == "Appro Ver" and body["human"]["second_signed_at"]
    assert len(list(TOUR.glob("*.png"))) == 6
