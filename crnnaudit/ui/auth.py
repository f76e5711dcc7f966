"""Sign-in for the dashboard: no page shows a clip, a model, an explanation or a report before it.

Behind the front door (``serve.py``, :mod:`.web`), a sign-in is a server-side session
(:mod:`crnnaudit.evidence.sessions`) whose token the browser holds in an HttpOnly cookie: a
reload or a new tab stays signed in, a deep link lands on its page after sign-in, and signing
out ends the session in every tab. Run as a plain Streamlit script (``streamlit run app.py``,
Streamlit's AppTest), the app asks for the password itself and keeps the token in the browser
session only. Every page re-reads the account behind the token (its role as it is now; a
disabled account, or an ended or expired session, signs the page out) and then applies the
permission its row in :data:`~.navigation.PAGES` names.

Organisations sign in with OpenID Connect instead (Streamlit's ``st.login``, Authlib): set
``CRNNAUDIT_OIDC_PROVIDER`` to the provider's name in ``.streamlit/secrets.toml``; the role
comes from the ID token's claim ``CRNNAUDIT_OIDC_ROLE_CLAIM`` (default ``crnnaudit_role``; a list
of roles gives the highest), the name from ``email``, else ``preferred_username``, else ``sub``.
A token without a valid role is refused.
"""

from __future__ import annotations

import streamlit as st

from ..config import setting
from ..errors import CrnnauditError
from ..evidence import keys
from ..evidence.accounts import ROLES, Identity
from ..evidence.sessions import COOKIE
from . import navigation, session, web

TOKEN = "session_token"  # the token when the app signs people in itself (no front door)
FRONT_DOOR = "x-crnnaudit-front-door"  # set by web.SignInGate on the app's websocket


def accounts():
    return web.stores()[0]


def sessions():
    return web.stores()[1]


def _request(what: str, name: str) -> str | None:
    """A header or a cookie of the browser's request, when there is one (AppTest has none)."""
    try:
        value = getattr(st.context, what).get(name)
    except Exception:  # noqa: BLE001 - no request context
        return None
    return value if isinstance(value, str) else None


def behind_front_door() -> bool:
    return _request("headers", FRONT_DOOR) == "1"


def _token() -> str | None:
    return _request("cookies", COOKIE) or st.session_state.get(TOKEN)


def sign_in(identity: Identity) -> None:
    """Open a session for ``identity`` (the app's own form: no front door)."""
    st.session_state[TOKEN] = sessions().open(identity)


def sign_out(notice: str | None = None) -> None:
    """End every session of the account on the server (each tab and browser it is signed in from
    is signed out: its next step shows the sign-in page) and this tab's review with it."""
    token = _token()
    who = sessions().identity(token)
    if who is not None:
        sessions().end_all(who.username)
    else:
        sessions().end(token)
    st.session_state.pop(TOKEN, None)
    session.end()
    if notice:
        st.session_state["auth_notice"] = notice
    if oidc_provider() and st.user.is_logged_in:
        st.logout()  # the provider's session cookie too


def oidc_provider() -> str | None:
    return setting("CRNNAUDIT_OIDC_PROVIDER")


def _oidc_identity() -> Identity | None:
    """The identity from the organisation's ID token, once st.login has run."""
    if not oidc_provider() or not st.user.is_logged_in:
        return None
    claims = st.user.to_dict()
    claim = setting("CRNNAUDIT_OIDC_ROLE_CLAIM")
    given = claims.get(claim)
    roles = [r for r in (given if isinstance(given, list) else [given]) if r in ROLES]
    name = str(claims.get("email") or claims.get("preferred_username") or claims.get("sub") or "")
    if not roles or not name:
        st.error(f"Your organisation's sign-in gave {name or 'this account'} no crnnaudit role (claim "
                 f"'{claim}' must hold one of {', '.join(ROLES)}): ask your identity administrator.")
        st.button("Sign out", on_click=st.logout, key="oidc_refused_sign_out")
        st.stop()
    return Identity(name, max(roles, key=ROLES.index), source="oidc")


def current() -> Identity | None:
    """The signed-in identity with the account's current role; ``None`` when signed out, when
    the session ended (in another tab, too) or expired, or when the account was disabled."""
    oidc = _oidc_identity()
    if oidc is not None:
        return oidc
    token = _token()
    if not token:
        return None
    who = sessions().identity(token)
    if who is None:
        st.session_state.pop(TOKEN, None)
        session.end()
        st.session_state["auth_notice"] = ("Your session has ended (signed out, expired, or the account was "
                                           "disabled): sign in again.")
    return who


def gate() -> Identity:
    """The signed-in identity; otherwise the way to sign in, and the page stops."""
    who = current()
    if who is not None:
        return who
    # Before sign-in nothing is listed: not the pages, not the previous session's navigation.
    st.navigation([st.Page(_signed_out, title="Sign in", default=True)], position="hidden")
    st.title("crnnaudit")
    notice = st.session_state.pop("auth_notice", None)
    if notice:
        st.info(notice)
    if oidc_provider():
        st.button("Sign in with your organisation", type="primary", key="oidc_sign_in",
                  on_click=st.login, args=(oidc_provider(),))
        st.stop()
    if behind_front_door():  # the front door's form, in this tab (a link button would open another)
        st.html('<a href="/signin" style="display:inline-block;padding:.5rem 1rem;border-radius:.5rem;'
                'background:#0b57d0;color:#fff;text-decoration:none;font-weight:600">Sign in</a>')
        st.stop()
    try:
        first = accounts().count() == 0
    except CrnnauditError as e:
        st.error(str(e))
        st.stop()
    (_first_admin_form if first else _sign_in_form)()
    st.stop()


def _signed_out() -> None:
    """The one page before sign-in (the form is drawn by :func:`gate`)."""


def _sign_in_form() -> None:
    with st.form("sign_in"):
        st.subheader("Sign in")
        name = st.text_input("User name", key="signin_user")
        password = st.text_input("Password", type="password", key="signin_password")
        go = st.form_submit_button("Sign in", type="primary")
    if go:
        try:
            sign_in(accounts().authenticate(name, password, client=f"app:{st.context.ip_address or 'unknown'}"))
            st.rerun()
        except CrnnauditError as e:
            st.error(str(e))


def _first_admin_form() -> None:
    st.write("No account exists yet. Create the first admin account; the admin then adds the others "
             "(Accounts page, or `crnnaudit user add NAME --role auditor`).")
    new_key = not keys.has_signing_key()
    if new_key:
        st.info(f"This installation has no signing key yet. Creating the admin also creates it (Ed25519, at "
                f"`{keys.key_path()}`): it signs every log row and report. Back it up, move it to a secret "
                "store (CRNNAUDIT_SIGNING_KEY_FILE or CRNNAUDIT_SIGNING_KEY), and publish its fingerprint.")
    with st.form("first_admin"):
        name = st.text_input("Admin user name", key="first_user")
        password = st.text_input("Password (at least 10 characters)", type="password", key="first_password")
        again = st.text_input("The password again", type="password", key="first_again")
        go = st.form_submit_button("Create the admin account", type="primary")
    if go:
        if password != again:
            st.error("The two passwords differ.")
            return
        try:
            if new_key and not keys.has_signing_key():
                st.session_state["auth_notice"] = f"Signing key created: fingerprint {keys.init_key().fingerprint}"
            sign_in(accounts().first_admin(name, password))
            st.rerun()
        except CrnnauditError as e:
            st.error(str(e))


def require_page(page_id: str) -> Identity:
    """Call at the top of a page: the guard its entry in :data:`~.navigation.PAGES` states."""
    spec = navigation.page(page_id)
    return require(spec.permission, spec.what)


def require(permission: str, what: str | None = None) -> Identity:
    """Call at the top of a page: signed in, and allowed ``permission``; otherwise the page
    shows why and stops."""
    who = gate()
    if not who.may(permission):
        try:
            who.require(permission, what)
        except CrnnauditError as e:
            st.error(str(e))
        st.stop()
    return who
