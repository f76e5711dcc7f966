"""Random walks in the real browser: what the auditor sees holds together, whatever they do.

Seven seeded walks of 22 actions each, drawn from what a person does (sign out and in, reload,
switch pages, switch clips, upload, change the class and the overlay, explain, cancel, scrub,
draft a report), against ``make app``'s server (``serve.py``) and Debian's Chromium. After every
action the invariants are read off the page itself: the announced window is the Window box, the
timeline's shading and the window of the map; the Methods box shows a method (the review keeps
one); the Overlay selector is the method under the map and the method of its verdict; the frame caption is the slider; the clip named is the clip the
review holds; every other page names the same window. A failure prints the seed and the
shortest failing sequence found by replaying shorter ones, and saves screenshots.
"""

from __future__ import annotations

import random
import re
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import Error as PlaywrightError

from crnnaudit.explainers import REGISTRY  # the label a verdict names, whatever method is chosen
from tests.app.browser import CHROMIUM, ROOT, chromium, new_page, running_app, sign_in, sign_out, wait_idle

pytestmark = pytest.mark.long  # seven walks in a real browser: make test-long (CI runs it)

SEEDS, STEPS = range(7), 22
OUT = ROOT / "test-output" / "walks"
WINDOW = re.compile(r"Window (\d+): frames (\d+)-(\d+) \(([\d.]+)-([\d.]+) s\)")
ACTIONS = {"explain": 5, "window": 4, "step": 3, "slider": 2, "overlay": 3, "class": 2, "sample": 2, "page": 3,
           "reload": 1, "sign_out_in": 1, "upload": 1, "bad_upload": 1, "cancel": 1, "draft": 1}


class Walk:
    """One browser, one account, the actions and the invariants."""

    def __init__(self, page, url: str, rng: random.Random, tmp: Path, user: str):
        self.page, self.url, self.rng, self.tmp, self.user = page, url, rng, tmp, user
        self.window = None  # the window the Review page last announced

    # --- actions ----------------------------------------------------------------------------
    def do(self, action: str, seed: int) -> None:
        """One action; its own choices (which window, which option) are drawn from ``seed``, so a
        shorter replay makes the same ones."""
        self.rng = random.Random(seed)
        getattr(self, f"_{action}")()
        wait_idle(self.page)
        if self.page.get_by_role("heading", name="Review", level=1).count():
            self.page.get_by_text(re.compile(WINDOW.pattern + "|Pick or upload a clip")).first.wait_for(timeout=120_000)
            wait_idle(self.page)

    def _explained(self) -> bool:
        return self.page.locator('[data-testid="stImage"] img').count() > 0

    def _review(self) -> None:
        if not self.page.get_by_role("heading", name="Review", level=1).count():
            self.page.get_by_role("link", name="Review").click()
            self.page.get_by_role("heading", name="Review", level=1).wait_for()
            wait_idle(self.page)

    def _explain(self) -> None:
        self._review()
        if not self.page.get_by_role("button", name="Explain this window").count():
            return  # no clip on screen (a refused upload): nothing to explain
        self.page.get_by_role("button", name="Explain this window").click()
        self.page.locator('[data-testid="stImage"] img').first.wait_for(state="visible", timeout=120_000)

    def _cancel(self) -> None:
        self._review()
        if not self.page.get_by_role("button", name="Explain this window").count():
            return
        self.page.get_by_role("button", name="Explain this window").click()
        cancel = self.page.get_by_role("button", name="Cancel")
        try:
            cancel.click(timeout=3000)
        except Exception:  # noqa: BLE001 - the work ended before the click: nothing to cancel
            pass

    def _window(self) -> None:
        self._review()
        if not self.page.get_by_label("Window", exact=True).count():
            return
        box = self.page.get_by_label("Window", exact=True)
        top = int(box.get_attribute("max") or box.get_attribute("aria-valuemax") or 4)
        box.fill(str(self.rng.randint(0, top)))
        box.press("Enter")

    def _step(self) -> None:
        self._review()
        if self._explained():
            self.page.get_by_role("button", name=self.rng.choice(["◀", "▶"])).click()

    def _slider(self) -> None:
        self._review()
        if self._explained():
            self.page.get_by_label("Frame", exact=True).focus()
            self.page.keyboard.press(self.rng.choice(["ArrowRight", "ArrowLeft", "End", "Home"]))

    def _choose(self, label: str) -> None:
        box = self.page.get_by_role("combobox", name=re.compile(label))
        box.click()
        options = self.page.get_by_role("option").all_inner_texts()
        if options:
            self.page.get_by_role("option", name=self.rng.choice(options), exact=True).click()
        else:
            self.page.keyboard.press("Escape")

    def _overlay(self) -> None:
        self._review()
        if self._explained():
            self._choose("Overlay")

    def _class(self) -> None:
        self._review()
        if self.page.get_by_role("combobox", name=re.compile("Explain the class")).count():
            self._choose("Explain the class")

    def _sample(self) -> None:
        self._review()
        self.page.get_by_text("Sample clip", exact=True).first.click()
        wait_idle(self.page)
        self._choose("Sample clip")

    def _page(self) -> None:
        title = self.rng.choice(["Compare", "Temporal", "Report", "Model", "Audit log", "Review"])
        self.page.get_by_role("link", name=title).click()
        self.page.get_by_role("heading", level=1).first.wait_for()

    def _reload(self) -> None:
        self.page.reload()
        self.page.get_by_role("heading", level=1).first.wait_for()

    def _sign_out_in(self) -> None:
        sign_out(self.page)
        sign_in(self.page, self.user, "a long walking password")
        self.page.get_by_role("heading", level=1).first.wait_for()

    def _upload_file(self, path: Path) -> None:
        self._review()
        # the radio's "Upload" (the uploader's own button says "Upload" too once it is shown)
        self.page.locator('[data-testid="stRadio"]').get_by_text("Upload", exact=True).click()
        wait_idle(self.page)
        self.page.locator('input[type="file"]').first.set_input_files(str(path))

    def _upload(self) -> None:
        path = self.tmp / f"camera {self.rng.randint(1, 99)}.mp4"
        shutil.copy(self.rng.choice(sorted((ROOT / "sample_videos").glob("*.mp4"))), path)
        self._upload_file(path)

    def _bad_upload(self) -> None:
        path = self.tmp / "broken export.mp4"
        path.write_bytes(b"not a video" * 300)
        self._upload_file(path)
        self.page.get_by_text("Pick or upload a clip.").wait_for()

    def _draft(self) -> None:
        self.page.get_by_role("link", name="Report").click()
        self.page.get_by_role("heading", level=1).first.wait_for()
        wait_idle(self.page)
        if self.page.get_by_label(re.compile("^Reasons")).count():
            self.page.get_by_label(re.compile("^Reasons")).fill("Seen on the walk.")
            self.page.get_by_role("button", name="Build the report").click()
            self.page.get_by_text(re.compile("written and logged|cannot|needs")).first.wait_for(timeout=180_000)

    # --- what the page shows ---------------------------------------------------------------------
    TRIES = 5  # reads of a page, 2 s apart, before a disagreement counts

    def check(self) -> list[str]:
        """The invariants, read off the page once it has settled: a widget can take a moment past the
        page's idle mark to show the value its last run sent (seen once in the Window box, re-read
        fine), and a fragment's rerun can leave its old and new slider both on the page for a moment
        (a strict-mode error, read again); what still disagrees after :data:`TRIES` reads does so
        for good."""
        for attempt in range(self.TRIES):
            try:
                bad = self._check()
            except PlaywrightError as e:
                if "strict mode violation" not in str(e) or attempt == self.TRIES - 1:
                    raise
                bad = [str(e).splitlines()[0]]
            if not bad:
                return bad
            self.page.wait_for_timeout(2000)
            wait_idle(self.page)
        return bad

    def _check(self) -> list[str]:
        """The invariants, read off the page; an empty list when they hold."""
        page, bad = self.page, []
        if page.get_by_role("heading", name="Review", level=1).count() == 0:
            said = page.get_by_text(re.compile(r"· window \d+ \(frames")).all_inner_texts()
            if said and self.window is not None and f"window {self.window} (" not in said[0]:
                bad.append(f"another page names {said[0][:80]!r}, the Review page announced window {self.window}")
            return bad
        if page.get_by_text(WINDOW).count() == 0:
            return bad  # no clip on screen (a refused upload): nothing announced, nothing to agree
        m = WINDOW.search(page.get_by_text(WINDOW).first.inner_text())
        k, first, last, start = int(m.group(1)), int(m.group(2)), int(m.group(3)), float(m.group(4))
        self.window = k
        box = int(page.get_by_label("Window", exact=True).input_value())
        if box != k:
            bad.append(f"the Window box reads {box}, the page announces window {k}")
        methods = page.locator('[data-testid="stMultiSelect"]').filter(has_text="Methods")
        if methods.count() and methods.first.locator("[data-tag]").count() == 0:  # the review keeps one at least
            bad.append("the Methods box shows no method")
        shade = page.evaluate("""() => { const p = document.querySelector('[data-testid="stPlotlyChart"] .js-plotly-plot');
            const s = (p && p._fullLayout.shapes || []).filter(s => s.type === 'rect'); return s.length ? s[0].x0 : null; }""")
        if shade is None or abs(float(shade) - start) > 0.02:
            bad.append(f"the timeline shades from {shade} s, window {k} starts at {start} s")
        if self._explained():
            bad += self._map_agrees(k, first, last)
        return bad

    def _map_agrees(self, k: int, first: int, last: int) -> list[str]:
        page, bad = self.page, []
        alt = page.locator('[data-testid="stImage"] img').first.get_attribute("alt") or ""
        caption = page.locator('[data-testid="stImage"]').first.inner_text()
        if f"of window {k}" not in alt:
            bad.append(f"the map is of {alt!r}, the page announces window {k}")
        frame = int(re.search(r"frame (\d+) ·", caption).group(1))
        slider = int(page.locator('[data-testid="stSlider"]').filter(has_text="Frame")
                     .locator('[data-testid="stSliderThumbValue"]').inner_text())
        if not first <= frame <= last or frame != first + slider:
            bad.append(f"the caption shows frame {frame}, the slider position {slider} of frames {first}-{last}")
        overlay = page.get_by_role("combobox", name=re.compile("Overlay")).input_value()
        if f"· {overlay} ·" not in caption:
            bad.append(f"the Overlay selector reads {overlay!r}, the caption says {caption[:80]!r}")
        verdict = page.locator('[data-testid="stAlert"]').filter(has_text="random").first.inner_text()
        label = REGISTRY[overlay].label if overlay in REGISTRY else overlay
        if label not in verdict:
            bad.append(f"the Overlay selector reads {overlay!r}, the verdict under the map is {verdict[:80]!r}")
        return bad


def _run(url: str, seed: int, actions: list[tuple[str, int]], tmp: Path, shots: Path | None):
    """Replay ``actions`` in a fresh browser; the first failing step and what failed, or None."""
    with chromium() as browser:
        page = new_page(browser)
        page.goto(url)
        sign_in(page, f"Walker {seed}", "a long walking password")
        page.get_by_role("heading", name="Review", level=1).wait_for()
        walk = Walk(page, url, random.Random(seed), tmp, f"Walker {seed}")
        for i, (action, choice) in enumerate(actions):
            try:
                walk.do(action, choice)
                bad = walk.check()
            except Exception as e:  # noqa: BLE001 - a page that never settles fails the walk too
                bad = [f"{action} did not complete: {str(e).splitlines()[0][:300]}"]
            if bad:
                if shots is not None:
                    page.screenshot(path=str(shots / f"seed{seed}-step{i}-{action}.png"), full_page=True)
                return i, bad
    return None


def _shortest(url: str, seed: int, actions: list, tmp: Path, budget: int = 8) -> list:
    """A shorter sequence that still fails, found by dropping one action at a time."""
    best = list(actions)
    for i in reversed(range(len(best) - 1)):
        if budget == 0:
            break
        trial = best[:i] + best[i + 1:]
        budget -= 1
        if _run(url, seed, trial, tmp, None) is not None:
            best = trial
    return best


@pytest.fixture(scope="module")
def walk_server(small_model_path, tmp_path_factory):
    """One server for the seven walks (each walks as its own account, in its own browser): the
    server's start is paid once, and later walks meet what earlier ones left (explanations
    served from the cache, other accounts' reviews), as on a shared server."""
    from crnnaudit.evidence.accounts import Accounts
    home = tmp_path_factory.mktemp("walks") / "home"
    env = {"CRNNAUDIT_MODEL": str(small_model_path), "CRNNAUDIT_HOME": str(home),
           "CRNNAUDIT_SAMPLES": str(ROOT / "sample_videos"), "CRNNAUDIT_CONTROLLER": "Example Transit Ltd",
           "CRNNAUDIT_CONTEST_CONTACT": "dpo@example.org"}
    with pytest.MonkeyPatch.context() as mp:
        for name, value in env.items():
            mp.setenv(name, value)
        for seed in SEEDS:
            Accounts().add(f"Walker {seed}", "a long walking password", "admin")
        with running_app(env) as url:
            yield url


@pytest.mark.parametrize("seed", list(SEEDS))
def test_a_random_walk_in_the_browser_shows_one_review(walk_server, tmp_path, seed):
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is required (make test installs it)")
    rng = random.Random(seed)
    actions = [(rng.choice([a for a, w in ACTIONS.items() for _ in range(w)]), rng.randrange(10 ** 6))
               for _ in range(STEPS)]
    OUT.mkdir(parents=True, exist_ok=True)
    failed = _run(walk_server, seed, actions, tmp_path, OUT)
    if failed is not None:
        step, bad = failed
        shortest = _shortest(walk_server, seed, actions[:step + 1], tmp_path)
        pytest.fail(f"seed {seed}: after step {step} ({actions[step][0]}) {bad}; the walk: "
                    f"{[a for a, _ in actions[:step + 1]]}; the shortest failing sequence found: "
                    f"{[a for a, _ in shortest]} (screenshots in {OUT})")
