"""The Accounts page (issue 34, point 4): an admin adds, changes, disables, enables, unlocks and
resets accounts in the app, with the command line's rules; each change is a log row naming the
admin; a disabled account or a reset password ends the account's sessions."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from crnnaudit import AuditLog
from tests.app.test_pages import APP, TIMEOUT, signed_in

PASSWORD = "a long test password"


def _page(user="Ada Admin", role="admin"):
    at = signed_in(AppTest.from_file(APP, default_timeout=TIMEOUT), user, role)
    at.switch_page("views/accounts.py").run()
    assert not at.exception, at.exception
    return at


def _rows(at):
    return at.dataframe[0].value.set_index("user name")


def _account_rows():
    from crnnaudit.evidence.chain import parse_payload
    log = AuditLog()
    assert log.verify().ok  # every change is a row of an intact chain
    return [parse_payload(r) for r in log.rows() if r["kind"] == "account"]


def _add(at, name, role="auditor", password=PASSWORD, again=None, display=""):
    at.text_input(key="acc_new_name").input(name)
    at.text_input(key="acc_new_display").input(display)
    at.selectbox(key="acc_new_role").select(role)
    at.text_input(key="acc_new_password").input(password)
    at.text_input(key="acc_new_again").input(password if again is None else again)
    at.button(key="FormSubmitter:account_add-Add the account").click().run()
    assert not at.exception, at.exception
    return at


def test_an_admin_manages_accounts_in_the_app_with_the_command_lines_rules(app_env):
    from crnnaudit.ui import web
    accounts, sessions = web.stores()
    at = _page()
    assert list(_rows(at).index) == ["Ada Admin"] and _rows(at).loc["Ada Admin", "role"] == "admin"
    _add(at, "Bea Approver", "approver", display="Beatriz Ortega")
    assert "Account Bea Approver added as approver." in [s.value for s in at.success]
    rows = _rows(at)
    assert rows.loc["Bea Approver", "role"] == "approver" and rows.loc["Bea Approver", "state"] == "enabled"
    assert rows.loc["Bea Approver", "reports call them"] == "Beatriz Ortega"
    assert accounts.authenticate("Bea Approver", PASSWORD).display_name == "Beatriz Ortega"
    added = [r for r in _account_rows() if r.get("username") == "Bea Approver"]
    assert [r["action"] for r in added] == ["account added", "display name set"]
    assert all(r["by"] == "Ada Admin" for r in added) and not any("password" in str(r) for r in added)

    # bad input: nothing is added, the page says why and stays up
    before = len(_account_rows())
    _add(at, "carl", password="too short", again="too short")
    assert any("at least 10 characters" in e.value for e in at.error)
    _add(at, "carl", password=PASSWORD, again="another one, longer")
    assert any("differ" in e.value for e in at.error)
    _add(at, "Bea Approver")
    assert any("exists" in e.value for e in at.error)
    assert len(_account_rows()) == before and "carl" not in _rows(at).index

    # change the role; a session of the account reads it on its next page
    token = sessions.open(accounts.identity("Bea Approver"))
    at.selectbox(key="acc_pick").select("Bea Approver").run()
    at.selectbox(key="acc_role_Bea Approver").select("auditor").run()
    at.button(key="acc_set_role").click().run()
    assert _rows(at).loc["Bea Approver", "role"] == "auditor" and sessions.identity(token).role == "auditor"
    assert _account_rows()[-1] == {"action": "role changed", "username": "Bea Approver", "by": "Ada Admin",
                                   "role": "auditor"}

    # disable: signed out everywhere, refused at sign-in; enable: back
    other_tab = sessions.open(accounts.identity("Bea Approver"))
    at.button(key="acc_disable").click().run()
    assert _rows(at).loc["Bea Approver", "state"] == "disabled"
    assert sessions.identity(token) is None and sessions.identity(other_tab) is None
    assert accounts.identity("Bea Approver") is None
    at.button(key="acc_enable").click().run()
    assert _rows(at).loc["Bea Approver", "state"] == "enabled"
    assert sessions.identity(token) is None, "an ended session stays ended"

    # a new password: the old one no longer works, sessions end
    token = sessions.open(accounts.identity("Bea Approver"))
    at.text_input(key="acc_reset_password").input("a brand new password")
    at.text_input(key="acc_reset_again").input("a brand new password")
    at.button(key="FormSubmitter:account_password-Reset the password").click().run()
    assert not at.exception, at.exception
    assert sessions.identity(token) is None
    assert accounts.authenticate("Bea Approver", "a brand new password").username == "Bea Approver"
    import pytest
    from crnnaudit import CrnnauditError
    with pytest.raises(CrnnauditError):
        accounts.authenticate("Bea Approver", PASSWORD)
    assert _account_rows()[-1]["action"] == "password reset" and "password_hash" not in _account_rows()[-1]

    # locked after failed sign-ins: the table says so, Unlock lifts it
    from crnnaudit.evidence.accounts import LOCK_AFTER
    clock = [accounts.clock()]
    accounts.clock = lambda: clock[0]
    for _ in range(LOCK_AFTER):  # (one failure is there already: the old password above)
        clock[0] += 3600  # past every delay, so each attempt is heard and counted
        with pytest.raises(CrnnauditError):
            accounts.authenticate("Bea Approver", "wrong password!", client=f"c{clock[0]}")
        if accounts.sign_in_failures()["Bea Approver"]["locked"]:
            break
    assert accounts.sign_in_failures()["Bea Approver"] == {"failures": LOCK_AFTER, "locked": True}
    accounts.clock = __import__("time").time
    at.run()
    assert _rows(at).loc["Bea Approver", "sign-in"] == "locked"
    with pytest.raises(CrnnauditError):
        accounts.authenticate("Bea Approver", "a brand new password")
    at.button(key="acc_unlock").click().run()
    assert _rows(at).loc["Bea Approver", "sign-in"] == ""
    assert accounts.authenticate("Bea Approver", "a brand new password").username == "Bea Approver"

    # the last admin stays one: refused in words, nothing changed, the page up
    at.selectbox(key="acc_pick").select("Ada Admin").run()
    at.button(key="acc_disable").click().run()
    assert any("last active admin" in e.value for e in at.error) and not at.exception
    assert _rows(at).loc["Ada Admin", "state"] == "enabled"
