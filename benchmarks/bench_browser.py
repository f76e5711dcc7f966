"""Latency the auditor feels, measured in a real browser against `streamlit run app.py`.

- explain: click "Explain this window" on a sample clip -> the first overlay is shown
  (a cold engine cache, then a warm one);
- scrub: one step with the ▶ button, and one step of the frame slider by keyboard (which
  includes the slider's own debounce in the browser) -> the new overlay is shown (warm cache).

Run: python benchmarks/bench_browser.py   (uses CRNNAUDIT_MODEL if set, else the demo model
under CRNNAUDIT_HOME, building it first if needed)
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, commit, machine

sys.path.insert(0, str(ROOT))
from tests.app.browser import (browser_page, ensure_account, move_scrubber, overlay_src, running_app,  # noqa: E402
                               sign_in, wait_idle, wait_overlay_change)


def main():
    env = {}
    if "CRNNAUDIT_HOME" not in os.environ:
        env["CRNNAUDIT_HOME"] = str(ROOT / ".cache" / "demo-home")
    os.environ.update(env)
    if not os.environ.get("CRNNAUDIT_MODEL"):
        from crnnaudit.lab import ready_demo as ensure_demo
        ensure_demo()
    cache_home = tempfile.mkdtemp()
    results = {}
    ensure_account("Benchmark Admin", "a long benchmark password")
    with running_app({**env, "CRNNAUDIT_HOME": os.environ["CRNNAUDIT_HOME"]}) as url, browser_page() as page:
        page.goto(url)
        sign_in(page, "Benchmark Admin", "a long benchmark password")
        page.get_by_role("button", name="Explain this window").wait_for()
        wait_idle(page)
        for label in ("explain (cold engine cache)", "explain (warm engine cache)"):
            t0 = time.perf_counter()
            page.get_by_role("button", name="Explain this window").click()
            page.locator('[data-testid="stImage"] img').first.wait_for(state="visible")
            results[label] = time.perf_counter() - t0
            wait_idle(page)
            if label.startswith("explain (cold"):
                page.reload()
                page.get_by_role("button", name="Explain this window").wait_for()
                wait_idle(page)
        for how in ("step button", "slider key"):
            times = []
            for _ in range(6):
                before = overlay_src(page)
                if how == "step button":
                    page.get_by_role("button", name="▶").click()
                else:
                    move_scrubber(page, 1)
                times.append(wait_overlay_change(page, before))
                wait_idle(page)
                if how == "step button" and len(times) == 6:
                    page.get_by_role("slider").last.focus()
                    for _ in range(6):
                        page.keyboard.press("ArrowLeft")
                    wait_idle(page)
            results[f"scrub one frame by {how} -> new overlay (median of 6)"] = statistics.median(times)
            results[f"scrub one frame by {how} -> new overlay (max of 6)"] = max(times)
    del cache_home
    model = os.environ.get("CRNNAUDIT_MODEL") or "demo model (VGG19 + GRU, T=16, 112x112)"
    print(f"machine: {machine()}; commit {commit()}; model: {Path(model).name if '/' in model else model}")
    print("| what | seconds |")
    print("|---|---|")
    for k, v in results.items():
        print(f"| {k} | {v:.3f} |")


if __name__ == "__main__":
    main()
