"""Run the real app as ``make app`` does (`streamlit run serve.py`: the dashboard behind its
front door) and drive it with headless Chromium.

Shared by the browser tests and the benchmarks that drive the app (with what they watch: the
progress bars' texts in the page, the server's memory from /proc). Chromium comes from Debian
(`/usr/bin/chromium`); Playwright never downloads a browser here.
"""

from __future__ import annotations

import contextlib
import re
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_app(env: dict, timeout: float = 120, port: int | None = None, args: tuple = ()):
    port = port or free_port()
    # the server's output goes to a file, read when it fails to start (a pipe nobody reads stalls a
    # server that writes more than the pipe holds); CRNNAUDIT_HOME's folder keeps it for a failed test
    log_path = Path(env.get("CRNNAUDIT_HOME") or tempfile.mkdtemp()).parent / f"server-{port}.log"
    log = open(log_path, "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "serve.py"), "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
         *args],
        cwd=ROOT, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError("streamlit exited:\n" + log_path.read_text()[-4000:])
                time.sleep(0.5)
        else:
            raise RuntimeError("streamlit did not start in time")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@contextlib.contextmanager
def chromium():
    """Debian's Chromium, headless, driven by Playwright; closed on the way out."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def new_page(context_or_browser, width=1400, height=1000):
    """A page (in a browser's new context, or in a given context) that waits up to two minutes."""
    page = context_or_browser.new_page(**({"viewport": {"width": width, "height": height}}
                                          if hasattr(context_or_browser, "new_context") else {}))
    page.set_default_timeout(120_000)
    return page


@contextlib.contextmanager
def browser_page(width=1400, height=1000):
    with chromium() as browser:
        yield new_page(browser, width, height)


def overlay_src(page) -> str | None:
    img = page.locator('[data-testid="stImage"] img').first
    return img.get_attribute("src") if img.count() else None


IDLE = """() => !document.querySelector('[data-testid="stStatusWidget"]')
                && !document.querySelector('[data-stale="true"]')"""


def wait_idle(page, timeout=120_000):
    """Until the script run ends and nothing of the previous run is left on screen (Streamlit
    shows a 'running' status widget meanwhile, and marks what it has not redrawn yet stale);
    twice, a moment apart, so a run that starts right after another is waited for too."""
    for _ in range(2):
        page.wait_for_timeout(300)
        page.wait_for_function(IDLE, timeout=timeout)


def explain_and_wait(page):
    page.get_by_role("button", name="Explain this window").click()
    page.locator('[data-testid="stImage"] img').first.wait_for(state="visible")
    wait_idle(page)


def move_scrubber(page, steps: int = 1) -> None:
    slider = page.get_by_role("slider").last
    slider.focus()
    for _ in range(steps):
        page.keyboard.press("ArrowRight")


def wait_overlay_change(page, before: str, timeout_ms: int = 60_000) -> float:
    """Seconds until the overlay's source differs from ``before``."""
    t0 = time.perf_counter()
    page.wait_for_function(
        "(b) => { const i = document.querySelector('[data-testid=\"stImage\"] img'); return i && i.src !== b; }",
        arg=before, timeout=timeout_ms)
    return time.perf_counter() - t0


def sign_in(page, user: str, password: str) -> None:
    """Fill the front door's sign-in form (or, on a first start, the first-admin form); the
    browser then lands on the page it asked for."""
    first = page.get_by_role("button", name="Create the admin account")
    page.get_by_role("button", name=re.compile("^(Sign in|Create the admin account)$")).wait_for()
    if first.count():
        page.get_by_label("Admin user name").fill(user)
        page.get_by_label("Password (at least 10 characters)").fill(password)
        page.get_by_label("The password again").fill(password)
        first.click()
    else:
        page.get_by_label("User name").fill(user)
        page.get_by_label("Password", exact=True).fill(password)
        page.get_by_role("button", name="Sign in").click()


def ensure_account(user: str, password: str, role: str = "admin") -> None:
    """The account, in the database of the current CRNNAUDIT_HOME (made if missing)."""
    from crnnaudit.evidence.accounts import Accounts
    accounts = Accounts()
    if accounts.identity(user) is None:
        accounts.add(user, password, role)


def sign_out(page) -> None:
    """Sign out in the app, then go to the front door's form again."""
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("link", name="Sign in").click()
    page.get_by_role("button", name="Sign in").wait_for()


# Every text the page's progress bars showed, kept in the page (a bar is gone once its work ends).
WATCH_BARS = """() => { window.__bars = []; new MutationObserver(() => {
  for (const b of document.querySelectorAll('[data-testid="stProgress"]')) {
    const t = b.innerText; if (t && window.__bars[window.__bars.length - 1] !== t) window.__bars.push(t); }
}).observe(document, {subtree: true, childList: true, characterData: true}); }"""


def server_memory_mb(pid: int) -> tuple[float, float]:
    """(now, peak) resident memory of a process and its children, in MB, from /proc."""
    pids, found = [pid], True
    while found:
        found = False
        for status in Path("/proc").glob("[0-9]*/status"):
            try:
                text = status.read_text()
            except OSError:
                continue
            parent = re.search(r"PPid:\s+(\d+)", text)
            child = int(status.parent.name)
            if parent and int(parent.group(1)) in pids and child not in pids:
                pids.append(child)
                found = True
    now = peak = 0.0
    for p in pids:
        try:
            text = Path(f"/proc/{p}/status").read_text()
        except OSError:
            continue
        now += int(re.search(r"VmRSS:\s+(\d+)", text).group(1)) / 1024
        peak += int(re.search(r"VmHWM:\s+(\d+)", text).group(1)) / 1024
    return now, peak


def server_pid(url: str) -> int | None:
    """The pid of the streamlit process serving ``url``'s port."""
    port = url.rsplit(":", 1)[1]
    for cmd in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmd.read_bytes().split(b"\0")
        except OSError:
            continue
        if b"streamlit" in b" ".join(args) and port.encode() in args:
            return int(cmd.parent.name)
    return None
