"""Sign-in for the dashboard: no page shows a clip, a model, an explanation or a report before it.

Local accounts (:mod:`crnnaudit.evidence.accounts`); on the very first start, with no account at all,
the app asks for the first admin and nothing else. Organisations sign in with OpenID Connect
instead (Streamlit's ``st.login``, Authlib): set ``CRNNAUDIT_OIDC_PROVIDER`` to the provider's
name in ``.streamlit/secrets.toml`` (``[auth]`` with ``redirect_uri`` and ``cookie_secret``,
``[auth.<name>]`` with ``client_id``, ``client_secret``, ``server_metadata_url``); the role
comes from the ID token's claim ``CRNNAUDIT_OIDC_ROLE_CLAIM`` (default ``crnnaudit_role``; a
list of roles gives the highest), the name from ``email``, else ``preferred_username``, else
``sub``. A token without a valid role is refused. A session expires after
``CRNNAUDIT_SESSION_MINUTES`` (default 480) and re-reads the account's role on every page, so
a disabled account or a changed role takes effect at once. Every page calls :func:`require_page`,
which applies the permission its entry in :data:`~.navigation.PAGES` names (Streamlit may run a page without ``app.py`` around it, so the
page itself checks).
"""

from __future__ import annotations

import time

import streamlit as st

from ..evidence import keys
from ..evidence.accounts import ROLES, Accounts, Identity
from ..evidence.store import default_url
from ..config import number, setting
from ..errors import CrnnauditError
from . import navigation

KEY = "identity"


def session_minutes() -> float:
    return number("CRNNAUDIT_SESSION_MINUTES")


@st.cache_resource(show_spinner=False, max_entries=4)
def _accounts(url: str) -> Accounts:
    return Accounts(url)


def accounts() -> Accounts:
    return _accounts(default_url())


def sign_in(identity: Identity) -> None:
    st.session_state[KEY] = {"username": identity.username, "role": identity.role, "at": time.time(),
                             "source": identity.source}


def sign_out(notice: str | None = None) -> None:
    held = st.session_state.pop(KEY, None)
    if notice:
        st.session_state["auth_notice"] = notice
    if held and held.get("source") == "oidc" and st.user.is_logged_in:
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
    """The signed-in identity, with the account's current role; None when signed out,
    expired, or the account was disabled."""
    held = st.session_state.get(KEY)
    if not held:
        oidc = _oidc_identity()
        if oidc is not None:
            sign_in(oidc)
        return oidc
    if time.time() - held["at"] > session_minutes() * 60:
        sign_out("Your session expired: sign in again.")
        return None
    if held.get("source") == "oidc":  # the role is the token's, re-read on every page
        return _oidc_identity()
    who = accounts().identity(held["username"])
    if who is None:
        sign_out("Your account was disabled.")
    return who


def gate() -> Identity:
    """The signed-in identity; otherwise the sign-in (or first-admin) form, and the page stops."""
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
    try:
        first = accounts().count() == 0
    except CrnnauditError as e:
        st.error(str(e))
        st.stop()
    if first and oidc_provider():
        st.stop()  # organisations sign in with their provider; no local admin is asked for
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
    st.write("No account exists yet. Create the first admin account; the admin then adds the "
             "others (`crnnaudit user add NAME --role auditor`).")
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
