"""The first quarter hour: a fresh data folder, no model configured, `streamlit run app.py`
started, a real browser opened on it -> seconds until the Review page shows the demo model's
timeline and its "Explain this window" button (the shipped demo assembled on the way).

Run: python benchmarks/bench_first_start.py   (after `make install`; target: at most 90 s on 2 cores)
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

from common import ROOT, commit, machine

sys.path.insert(0, str(ROOT))
from tests.app.browser import browser_page, running_app, sign_in, wait_idle  # noqa: E402


def main():
    home = tempfile.mkdtemp(prefix="crnnaudit-first-start-")
    env = {"CRNNAUDIT_HOME": home, "CRNNAUDIT_MODEL": ""}
    t0 = time.perf_counter()
    with running_app(env) as url, browser_page() as page:
        served = time.perf_counter() - t0
        page.goto(url)
        sign_in(page, "First Admin", "a long first-start password")  # the first start asks for an admin
        page.get_by_role("button", name="Explain this window").wait_for(timeout=600_000)
        wait_idle(page, timeout=600_000)
        ready = time.perf_counter() - t0
    print(f"machine: {machine()}; commit {commit()}")
    print("| what | seconds |")
    print("|---|---|")
    print(f"| `streamlit run app.py` serving (health check ok) | {served:.1f} |")
    print(f"| Review page with the demo model's timeline, from a fresh data folder | {ready:.1f} |")
    os.system(f"rm -rf {home}")


if __name__ == "__main__":
    main()
