"""A team behind a reverse proxy: the front door (uvicorn, under ``streamlit run serve.py``)
reads the client's address from ``X-Forwarded-For`` when the connection comes from a trusted
proxy (``FORWARDED_ALLOW_IPS``, uvicorn's setting; by default this host's own addresses), and
only the part of the header the proxies wrote: sign-in is throttled per client, not per proxy.
From a proxy it does not trust, the header is ignored and everyone behind it is one address. The
served app, over HTTP, with the headers a proxy sends."""

from __future__ import annotations

import http.client
import re
import urllib.parse

from tests.app.browser import ensure_account, running_app

PASSWORD = "a long team password"


def _sign_in(url: str, user: str, password: str, forwarded_for: str | None) -> tuple[int, str]:
    """One sign-in over HTTP, as a browser behind the proxy makes it: the form (for its CSRF
    token), then the post. Returns the status and the page's text (303: signed in)."""
    host = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(host.hostname, host.port, timeout=30)
    try:
        conn.request("GET", "/signin")
        page = conn.getresponse()
        body, cookies = page.read().decode(), page.headers.get_all("Set-Cookie") or []
        token = re.search(r'name="csrf" value="([^"]+)"', body).group(1)
        headers = {"Content-Type": "application/x-www-form-urlencoded",
                   "Cookie": "; ".join(c.split(";")[0] for c in cookies)}
        if forwarded_for is not None:
            headers["X-Forwarded-For"] = forwarded_for
        form = urllib.parse.urlencode({"user": user, "password": password, "csrf": token, "next": "/"})
        conn.request("POST", "/signin", body=form, headers=headers)
        done = conn.getresponse()
        return done.status, done.read().decode()
    finally:
        conn.close()


def _lock_out_one_address(url: str) -> None:
    """Someone behind the proxy guesses: the 10th failure locks the address they come from."""
    for k in range(10):
        status, _ = _sign_in(url, f"guess{k}", "wrong password", "6.6.6.6, 198.51.100.7")
        assert status == 401


def test_behind_a_trusted_proxy_one_address_locked_out_does_not_lock_the_team(app_env, monkeypatch):
    ensure_account("night.shift", PASSWORD, "auditor")
    monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)  # uvicorn's default: a proxy on this host
    with running_app({}) as url:
        _lock_out_one_address(url)
        status, page = _sign_in(url, "night.shift", PASSWORD, "198.51.100.7")
        assert status == 401 and "sign-in refused" in page, "the guessing address is locked"
        # the client's own entry is not read: claiming another address does not lift the lock
        status, _ = _sign_in(url, "night.shift", PASSWORD, "198.51.100.8, 198.51.100.7")
        assert status == 401
        # the rest of the team, behind the same proxy, signs in
        status, page = _sign_in(url, "night.shift", PASSWORD, "198.51.100.8")
        assert status == 303, page[-2000:]


def test_from_a_proxy_not_trusted_the_header_is_ignored(app_env, monkeypatch):
    ensure_account("night.shift", PASSWORD, "auditor")
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "10.0.0.0/8")  # the proxies are elsewhere: this host is not one
    with running_app({}) as url:
        _lock_out_one_address(url)  # every attempt counts against this host's address
        status, _ = _sign_in(url, "night.shift", PASSWORD, "198.51.100.8")
        assert status == 401, "a header from an untrusted connection chose the address"
