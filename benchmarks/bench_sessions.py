"""Several auditors on one server: latency per action and the server's memory (issue 34, point 3).

One `streamlit run app.py` server (the demo model unless CRNNAUDIT_MODEL names another), three
accounts, two Chromium browsers each: six sessions at once. Each signs in (two seconds apart:
the per-address sign-in throttle counts attempts in flight), picks a sample clip, waits for the
others, then all six ask for an explanation at the same moment; then each steps the frames
three times, opens two other pages and comes back, and drafts a report. Every action is timed
from the click to the page settled (Streamlit's run over, nothing stale: at least 0.6 s by the
way it is read). Memory: the server and its children from /proc, peak while the sessions work,
then with the browsers closed, then after Streamlit's disconnected-session TTL (120 s) and a
margin.

Run: python benchmarks/bench_sessions.py [--idle 150] [--memory pooled|released] (the server's
CRNNAUDIT_MEMORY: with `released` it hands freed memory back when its long work is done)
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from common import ROOT, commit, machine

sys.path.insert(0, str(ROOT))
from tests.app.browser import (  # noqa: E402
    chromium,
    new_page,
    running_app,
    server_memory_mb,
    server_pid,
    sign_in,
    wait_idle,
)
from tests.app.test_load import PASSWORD, TeamWalk  # noqa: E402

ACCOUNTS, TABS = 3, 2


def _timed(times: dict, action: str, fn) -> None:
    t0 = time.perf_counter()
    fn()
    times.setdefault(action, []).append(time.perf_counter() - t0)


def _session(url: str, user: str, k: int, start: threading.Barrier, times: dict, tmp: Path, errors: list) -> None:
    try:
        with chromium() as browser:
            page = new_page(browser.new_context(viewport={"width": 1400, "height": 1000}))
            page.set_default_timeout(300_000)
            page.wait_for_timeout(2000 * k)
            page.goto(url)

            def signed_in():
                sign_in(page, user, PASSWORD)
                page.get_by_role("heading", name="Review", level=1).wait_for()
                wait_idle(page)
            _timed(times, "sign in", signed_in)
            walk = TeamWalk(page, url, random.Random(k), tmp, user)
            walk.built, walk.notes = [], []
            _timed(times, "pick a sample clip (scored)", lambda: walk.do("sample", k))
            start.wait(600)
            _timed(times, "explain (six at once)", lambda: walk.do("explain", k))
            for step in range(3):
                _timed(times, "step a frame", lambda: (page.get_by_role("button", name="▶").click(), wait_idle(page)))
            for title in ("Temporal", "Review"):
                _timed(times, "open a page", lambda: (page.get_by_role("link", name=title).click(),
                                                      page.get_by_role("heading", level=1).first.wait_for(),
                                                      wait_idle(page)))
            _timed(times, "draft a report", lambda: walk.do("draft", k))
            if not walk.built:
                errors.append(f"session {k}: no report drafted: {walk.notes}")
    except Exception as e:  # noqa: BLE001 - reported at the end
        start.abort()
        errors.append(f"session {k}: {type(e).__name__}: {str(e)[:300]}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--idle", type=float, default=150, help="seconds to wait with every browser closed")
    p.add_argument("--memory", choices=("pooled", "released"), default="pooled", help="the server's CRNNAUDIT_MEMORY")
    args = p.parse_args()
    work = Path(tempfile.mkdtemp())
    model = os.environ.get("CRNNAUDIT_MODEL")
    if not model:
        os.environ["CRNNAUDIT_HOME"] = str(ROOT / ".cache" / "demo-home")
        from crnnaudit.lab import ready_demo
        model = str(ready_demo())
    env = {"CRNNAUDIT_MODEL": model, "CRNNAUDIT_HOME": str(work / "home"), "CRNNAUDIT_WORK_SLOTS": "1",
           "CRNNAUDIT_SAMPLES": str(ROOT / "sample_videos"), "CRNNAUDIT_SIGNING_KEY_FILE": str(work / "signing.pem"),
           "CRNNAUDIT_CONTROLLER": "Example Transit Ltd", "CRNNAUDIT_CONTEST_CONTACT": "dpo@example.org",
           "CRNNAUDIT_MEMORY": args.memory}
    os.environ.update(env)
    from crnnaudit.evidence.accounts import Accounts
    from crnnaudit.evidence.keys import init_key
    init_key()  # a new installation's key, in the benchmark's own folder
    users = [f"Team {k}" for k in range(ACCOUNTS)]
    for user in users:
        Accounts().add(user, PASSWORD, "admin")
    times: dict[str, list[float]] = {}
    errors: list[str] = []
    with running_app(env) as url:
        with chromium() as browser:  # the first page loads TensorFlow and the model: not timed
            page = new_page(browser)
            page.goto(url)
            sign_in(page, users[0], PASSWORD)
            page.get_by_role("heading", name="Review", level=1).wait_for(timeout=300_000)
            wait_idle(page, timeout=300_000)
        pid = server_pid(url)
        warm_mb, _ = server_memory_mb(pid)
        start = threading.Barrier(ACCOUNTS * TABS)
        threads = [threading.Thread(target=_session, args=(url, users[k % ACCOUNTS], k, start, times, work, errors))
                   for k in range(ACCOUNTS * TABS)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join(1200)
        wall = time.perf_counter() - t0
        closed_mb, peak_mb = server_memory_mb(pid)  # every browser has closed with its thread
        time.sleep(args.idle)
        idle_mb, _ = server_memory_mb(pid)
    print(f"machine: {machine()}; commit {commit()}")
    print(f"model: {Path(model).name}; {ACCOUNTS} accounts x {TABS} browsers at once, CRNNAUDIT_WORK_SLOTS=1, "
          f"CRNNAUDIT_MEMORY={args.memory}; "
          f"the sessions' work took {wall:.0f} s\n")
    print("| action | count | median (s) | worst (s) |\n|---|---|---|---|")
    for action, ts in times.items():
        print(f"| {action} | {len(ts)} | {statistics.median(ts):.1f} | {max(ts):.1f} |")
    print("\n| server memory (the streamlit process and its children) | MB |\n|---|---|")
    print(f"| warm, one session signed in | {warm_mb:.0f} |\n| peak, six sessions | {peak_mb:.0f} |")
    print(f"| the six browsers just closed | {closed_mb:.0f} |\n| {args.idle:.0f} s later | {idle_mb:.0f} |")
    if errors:
        print("\nerrors:\n" + "\n".join(errors))
        sys.exit(1)


if __name__ == "__main__":
    main()
