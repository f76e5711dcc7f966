"""Organisations sign in with OpenID Connect: Streamlit's st.login against a real provider
process (oidc-provider-mock) on 127.0.0.1, in a real browser; the role comes from a claim."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.app.browser import browser_page, free_port, running_app, wait_idle

pytestmark = pytest.mark.long  # a real browser, a minute or so: make test-long (CI runs it)


def _provider(port: int):
    users = [{"sub": "ana", "email": "ana@example.org", "crnnaudit_role": "auditor"},
             {"sub": "nobody", "email": "nobody@example.org"}]
    args = [sys.executable, "-m", "oidc_provider_mock", "--port", str(port)]
    for u in users:
        args += ["--user-claims", json.dumps(u)]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/.well-known/openid-configuration"
    for _ in range(100):
        try:
            if urllib.request.urlopen(url, timeout=1).status == 200:
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the OIDC provider did not start")


def test_sign_in_with_the_organisation_role_from_a_claim(app_env, tmp_path):
    if not Path("/usr/bin/chromium").exists():
        pytest.fail("Debian's chromium is required (make test installs it)")
    idp_port, app_port = free_port(), free_port()
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(f"""[auth]
redirect_uri = "http://127.0.0.1:{app_port}/oauth2callback"
cookie_secret = "a test cookie secret, long enough"

[auth.org]
client_id = "crnnaudit"
client_secret = "test-secret"
server_metadata_url = "http://127.0.0.1:{idp_port}/.well-known/openid-configuration"
""")
    idp = _provider(idp_port)
    env = {"CRNNAUDIT_MODEL": str(app_env), "CRNNAUDIT_HOME": str(tmp_path / "home"),
           "CRNNAUDIT_OIDC_PROVIDER": "org"}
    try:
        with running_app(env, port=app_port, args=("--secrets.files", str(secrets))) as url, \
                browser_page() as page:
            page.goto(url)
            page.get_by_role("button", name="Sign in with your organisation").click()
            page.get_by_role("button", name="ana", exact=True).click()  # the provider's own page
            page.get_by_role("button", name="Explain this window").wait_for()
            wait_idle(page)
            assert page.get_by_text("ana@example.org").count() and page.get_by_text("(auditor)").count()
            assert page.get_by_role("link", name="Countersign").count() == 0  # an auditor's pages only
            other = page.context.browser.new_page()  # another person: a new context, no cookies
            other.goto(url)  # (sign-out runs through the provider's own end-session page: not tested here)
            other.get_by_role("button", name="Sign in with your organisation").click()
            other.get_by_role("button", name="nobody", exact=True).click()
            other.get_by_text("no crnnaudit role").wait_for()  # refused: no role claim
            assert other.get_by_role("button", name="Explain this window").count() == 0
    finally:
        idp.kill()
        idp.wait()
