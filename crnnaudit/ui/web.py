"""The dashboard's front door: sign-in before any page, a session that survives a reload.

``serve.py`` (what ``make app`` runs) mounts the Streamlit app (``app.py``) behind these routes:

- ``GET /signin`` shows the sign-in form (or, on the very first start, the first admin's form);
  ``POST /signin`` checks the password (throttled as the command line is) and opens a server-side
  session (:mod:`crnnaudit.evidence.sessions`) whose token goes to the browser as a signed-in
  cookie: HttpOnly, SameSite=Lax, Secure behind HTTPS, expiring with the session;
- a middleware sends any page asked for without a live session to ``/signin?next=<page>``, and
  refuses the app's websocket, so before sign-in no page, not even its name, reaches the browser;
  after sign-in the browser lands on the page it asked for (a deep link works).

The page re-reads the account behind the cookie on every run (its role as it is now), and
signing out ends the session on the server, so every tab is signed out at once. The forms carry
a token of their own (a double-submit cookie) against cross-site posts.
"""

from __future__ import annotations

import functools
import html
import secrets
from urllib.parse import quote, urlsplit

from ..config import setting
from ..errors import CrnnauditError
from ..evidence.sessions import COOKIE, session_minutes

CSRF = "crnnaudit_form"
FRONT_DOOR = b"x-crnnaudit-front-door"
OPEN_PATHS = ("/signin", "/first-admin", "/_stcore/health", "/_stcore/host-config", "/favicon.ico",
              "/robots.txt", "/auth/", "/oauth2callback")
ASSET_PREFIXES = ("/static/", "/_stcore/static", "/app/static/", "/component/")  # not /media/: frames


@functools.lru_cache(maxsize=4)
def _stores(url: str):
    from ..evidence.accounts import Accounts
    from ..evidence.sessions import Sessions
    accounts = Accounts(url)
    return accounts, Sessions(accounts)


def stores():
    """The accounts and their sessions in the configured database (one pair per server)."""
    from ..evidence.store import default_url
    return _stores(default_url())


def safe_next(target: str | None) -> str:
    """Where to go after sign-in: a path of this site only (never another host)."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _cookies(scope) -> dict[str, str]:
    from http.cookies import SimpleCookie
    raw = b"; ".join(v for k, v in scope.get("headers", []) if k == b"cookie").decode("latin-1")
    jar = SimpleCookie()
    try:
        jar.load(raw)
    except Exception:  # noqa: BLE001 - a malformed cookie header is no session
        return {}
    return {k: m.value for k, m in jar.items()}


def _signed_in(token: str | None) -> bool:
    try:
        return stores()[1].identity(token) is not None
    except CrnnauditError:
        return False


class SignInGate:
    """ASGI middleware: no page and no websocket without a live session (the sign-in routes,
    health checks and static files pass). With OpenID Connect configured, the app's own gate
    signs people in (Streamlit's ``st.login``), so this one lets the app through."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        from starlette.concurrency import run_in_threadpool
        kind, path = scope["type"], scope.get("path", "")
        guarded = kind in ("http", "websocket") and not path.startswith(OPEN_PATHS + ASSET_PREFIXES)
        if guarded and not setting("CRNNAUDIT_OIDC_PROVIDER"):
            if not await run_in_threadpool(_signed_in, _cookies(scope).get(COOKIE)):
                if kind == "websocket":
                    await send({"type": "websocket.close", "code": 4401})
                    return
                from starlette.responses import RedirectResponse
                query = scope.get("query_string", b"").decode("latin-1")
                target = path + (f"?{query}" if query else "")
                await RedirectResponse(f"/signin?next={quote(safe_next(target))}", status_code=303)(scope, receive, send)
                return
        if kind == "websocket":  # the app knows it is behind the front door (auth.behind_front_door)
            headers = [(k, v) for k, v in scope.get("headers", []) if k != FRONT_DOOR]
            scope = dict(scope, headers=headers + [(FRONT_DOOR, b"1")])
        await self.app(scope, receive, send)


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · crnnaudit</title>
<style>
body {{ font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: #1a1a1a; background: #fff;
       max-width: 26rem; margin: 4rem auto; padding: 0 1rem; line-height: 1.5; }}
h1 {{ font-size: 1.6rem; }} label {{ display: block; margin-top: 1rem; font-weight: 600; }}
input {{ width: 100%; box-sizing: border-box; padding: .55rem; font-size: 1rem; border: 1px solid #595959;
        border-radius: 4px; }}
input:focus, button:focus {{ outline: 3px solid #0b57d0; outline-offset: 2px; }}
button {{ margin-top: 1.4rem; padding: .6rem 1.2rem; font-size: 1rem; color: #fff; background: #0b57d0;
         border: 0; border-radius: 4px; cursor: pointer; }}
.error {{ color: #8b0000; background: #fdecea; padding: .6rem; border-radius: 4px; }}
.note {{ color: #333; }}
</style></head>
<body><main><h1>crnnaudit</h1><h2>{title}</h2>{body}</main></body></html>"""


def _form(action: str, fields: list[tuple[str, str, str, str]], button: str, csrf: str, next_path: str) -> str:
    rows = "".join(f'<label for="{name}">{html.escape(label)}</label>'
                   f'<input id="{name}" name="{name}" type="{kind}" autocomplete="{auto}" required>'
                   for name, label, kind, auto in fields)
    return (f'<form method="post" action="{action}">{rows}'
            f'<input type="hidden" name="csrf" value="{html.escape(csrf)}">'
            f'<input type="hidden" name="next" value="{html.escape(next_path)}">'
            f'<button type="submit">{html.escape(button)}</button></form>')


def _page(request, title: str, body: str, message: str | None = None, status: int = 200):
    from starlette.responses import HTMLResponse
    csrf = request.cookies.get(CSRF) or secrets.token_urlsafe(24)
    text = (f'<p class="error" role="alert">{html.escape(message)}</p>' if message else "") + body.replace(
        "__CSRF__", html.escape(csrf))
    response = HTMLResponse(_PAGE.format(title=html.escape(title), body=text), status_code=status,
                            headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY"})
    response.set_cookie(CSRF, csrf, httponly=True, samesite="strict", secure=_https(request), path="/")
    return response


def _https(request) -> bool:
    return request.url.scheme == "https" or request.headers.get("x-forwarded-proto", "") == "https"


def _sign_in_page(request, message: str | None = None, status: int = 200):
    next_path = safe_next(request.query_params.get("next") or "/")
    accounts = stores()[0]
    if accounts.count() == 0:
        from ..evidence import keys
        note = ("" if keys.has_signing_key() else
                f'<p class="note">This installation has no signing key yet: creating the admin also creates it '
                f"(Ed25519, at <code>{html.escape(str(keys.key_path()))}</code>). Back it up, move it to a secret "
                "store and publish its fingerprint.</p>")
        body = ('<p>No account exists yet. Create the first admin account; the admin then adds the others '
                "(Accounts page, or <code>crnnaudit user add</code>).</p>" + note +
                _form("/first-admin", [("user", "Admin user name", "text", "username"),
                                       ("password", "Password (at least 10 characters)", "password", "new-password"),
                                       ("again", "The password again", "password", "new-password")],
                      "Create the admin account", "__CSRF__", next_path))
        return _page(request, "First start", body, message, status)
    body = _form("/signin", [("user", "User name", "text", "username"),
                             ("password", "Password", "password", "current-password")],
                 "Sign in", "__CSRF__", next_path)
    return _page(request, "Sign in", body, message, status)


def _signed_in_response(request, identity, next_path: str):
    from starlette.responses import RedirectResponse
    token = stores()[1].open(identity)
    response = RedirectResponse(safe_next(next_path), status_code=303)
    response.set_cookie(COOKIE, token, max_age=int(session_minutes() * 60), httponly=True, samesite="lax",
                        secure=_https(request), path="/")
    return response


async def sign_in(request):
    """``GET``: the form. ``POST``: check the password, open a session, go where asked."""
    from starlette.concurrency import run_in_threadpool
    if request.method == "GET":
        return await run_in_threadpool(_sign_in_page, request)
    form = await request.form()
    if not _csrf_ok(request, form):
        return await run_in_threadpool(_sign_in_page, request, "The form had expired: sign in again.", 400)
    client = f"app:{request.client.host if request.client else 'unknown'}"
    try:
        who = await run_in_threadpool(stores()[0].authenticate, str(form.get("user", "")),
                                      str(form.get("password", "")), client)
    except CrnnauditError as e:
        return await run_in_threadpool(_sign_in_page, request, str(e), 401)
    return await run_in_threadpool(_signed_in_response, request, who, str(form.get("next", "/")))


async def first_admin(request):
    """The very first account, an admin (and the installation's signing key when it has none)."""
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import RedirectResponse
    if request.method == "GET":
        return RedirectResponse("/signin", status_code=303)
    form = await request.form()
    if not _csrf_ok(request, form):
        return await run_in_threadpool(_sign_in_page, request, "The form had expired: try again.", 400)
    if str(form.get("password", "")) != str(form.get("again", "")):
        return await run_in_threadpool(_sign_in_page, request, "The two passwords differ.", 400)

    def make():
        from ..evidence import keys
        if not keys.has_signing_key():
            keys.init_key()
        return stores()[0].first_admin(str(form.get("user", "")), str(form.get("password", "")))
    try:
        who = await run_in_threadpool(make)
    except CrnnauditError as e:
        return await run_in_threadpool(_sign_in_page, request, str(e), 400)
    return await run_in_threadpool(_signed_in_response, request, who, str(form.get("next", "/")))


def _csrf_ok(request, form) -> bool:
    given, kept = str(form.get("csrf", "")), request.cookies.get(CSRF, "")
    return bool(given) and bool(kept) and secrets.compare_digest(given, kept)


def routes() -> list:
    from starlette.routing import Route
    return [Route("/signin", sign_in, methods=["GET", "POST"]), Route("/first-admin", first_admin, methods=["GET", "POST"])]


def middleware() -> list:
    from starlette.middleware import Middleware
    return [Middleware(SignInGate)]
