"""The Accounts page (admins): every account with its role, state and sign-in failures; add one;
change one (role, display name, disable or enable, unlock, a new password). The same rules as
``crnnaudit user`` (:class:`~crnnaudit.evidence.accounts.Accounts`): the last active admin stays,
every change is a signed log row naming the admin, and a disabled account or one whose password
was reset is signed out in every tab (:meth:`~crnnaudit.evidence.sessions.Sessions.end_all`)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ..evidence.accounts import ROLES
from ..errors import CrnnauditError
from . import auth

NOTICE = "accounts_notice"


def accounts_page(who) -> None:
    """The page below its title."""
    notice = st.session_state.pop(NOTICE, None)
    if notice:
        st.success(notice)
    try:
        rows, failures = auth.accounts().list(), auth.accounts().sign_in_failures()
    except CrnnauditError as e:
        st.error(str(e))
        st.stop()
    st.dataframe(pd.DataFrame([{
        "user name": a["username"], "reports call them": a.get("display_name") or f"(their role: {a['role']})",
        "role": a["role"], "state": "disabled" if a["disabled"] else "enabled",
        "sign-in": ("locked" if failures[a["username"]]["locked"] else
                    f"{failures[a['username']]['failures']} failed attempt(s)") if a["username"] in failures else "",
        "created": str(a["created"])[:19].replace("T", " ")} for a in rows]), hide_index=True, width="stretch")
    _add_form(who)
    _change(who, rows, failures)


def _act(what, done: str) -> None:
    """Run one change; its error in words (nothing changed), or its notice after a rerun."""
    try:
        what()
    except CrnnauditError as e:
        st.error(str(e))
        return
    st.session_state[NOTICE] = done
    st.rerun()


def _add_form(who) -> None:
    st.subheader("Add an account")
    with st.form("account_add", clear_on_submit=True):
        c1, c2 = st.columns(2)
        name = c1.text_input("User name", key="acc_new_name")
        shown = c2.text_input("Name in reports (optional)", key="acc_new_display")
        role = c1.selectbox("Role", ROLES, index=ROLES.index("auditor"), key="acc_new_role")
        password = c2.text_input("Password (at least 10 characters)", type="password", key="acc_new_password")
        again = c2.text_input("The password again", type="password", key="acc_new_again")
        go = st.form_submit_button("Add the account", type="primary")
    if not go:
        return
    if password != again:
        st.error("The two passwords differ: nothing was added.")
        return

    def add():
        made = auth.accounts().add(name, password, role, by=who.username)
        if shown.strip():
            auth.accounts().set_display_name(made.username, shown, by=who.username)
    _act(add, f"Account {name.strip()} added as {role}.")


def _change(who, rows: list[dict], failures: dict) -> None:
    st.subheader("Change an account")
    names = [a["username"] for a in rows]
    name = st.selectbox("Account", names, key="acc_pick")
    if name is None:
        return
    a = next(r for r in rows if r["username"] == name)
    c1, c2 = st.columns(2)
    role = c1.selectbox("Role", ROLES, index=ROLES.index(a["role"]), key=f"acc_role_{name}")
    if c1.button("Change the role", key="acc_set_role", disabled=role == a["role"]):
        _act(lambda: auth.accounts().set_role(name, role, by=who.username), f"{name} is now {role}.")
    shown = c2.text_input("Name in reports (empty: their role)", value=a.get("display_name") or "",
                          key=f"acc_display_{name}")
    if c2.button("Set the name", key="acc_set_display"):
        _act(lambda: auth.accounts().set_display_name(name, shown, by=who.username),
             f"Reports now call {name} " + (repr(shown.strip()) if shown.strip() else "by their role") + ".")
    c1, c2, c3 = st.columns(3)
    if a["disabled"]:
        if c1.button("Enable", key="acc_enable"):
            _act(lambda: auth.accounts().enable(name, by=who.username), f"{name} may sign in again.")
    elif c1.button("Disable", key="acc_disable", help="signs the account out in every tab"):
        def disable():
            auth.accounts().disable(name, by=who.username)
            auth.sessions().end_all(name)
        _act(disable, f"{name} is disabled and signed out everywhere.")
    if c2.button("Unlock sign-in", key="acc_unlock", disabled=name not in failures):
        _act(lambda: auth.accounts().lift_lock(name, by=who.username), f"The sign-in lock on {name} is lifted.")
    with st.form("account_password", clear_on_submit=True):
        st.write(f"A new password for {name} (they are signed out in every tab):")
        password = st.text_input("New password (at least 10 characters)", type="password", key="acc_reset_password")
        again = st.text_input("The new password again", type="password", key="acc_reset_again")
        go = st.form_submit_button("Reset the password")
    if go:
        if password != again:
            st.error("The two passwords differ: the password was not changed.")
            return

        def reset():
            auth.accounts().reset_password(name, password, by=who.username)
            auth.sessions().end_all(name)
        _act(reset, f"The password of {name} is reset; they are signed out everywhere.")
