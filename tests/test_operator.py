"""What an admin's typo or a guessing client can do: retention and housekeeping refuse absurd
periods and ask before erasing everything, the last admin stays, sign-in is throttled per
account and per client, and odd but honest input ends in one line."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

import pytest

from crnnaudit.cli.main import main
from crnnaudit.errors import AccessError, AuditLogError, CrnnauditError
from crnnaudit.evidence.accounts import LOCK_AFTER, LOCK_SECONDS, REFUSED, THROTTLE_AFTER, Accounts
from crnnaudit.evidence.log import AuditLog


@pytest.fixture
def admin(monkeypatch):
    monkeypatch.setenv("CRNNAUDIT_NEW_PASSWORD", "the admin password")
    monkeypatch.setenv("CRNNAUDIT_PASSWORD", "the admin password")
    assert main(["user", "add", "root"]) == 0
    return "root"


@pytest.mark.parametrize("days", ["-1", "0", "0.5", "1e12", "nan", "inf", "thirty"])
@pytest.mark.parametrize("command", [["audit", "retention"], ["housekeeping"]])
def test_retention_refuses_absurd_periods_in_one_line(command, days, admin, capsys):
    before = len(AuditLog().rows())
    assert main([*command, "--days", days, "--as", admin, "--yes"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "must be a number of days from 1 to 36,500" in err and repr(days) in err
    assert len(AuditLog().rows()) == before, "nothing erased, nothing logged"


def test_log_retention_below_six_months_needs_force_and_a_reason(monkeypatch, capsys):
    log = AuditLog()
    old = datetime.now(timezone.utc) - timedelta(days=400)
    for i in range(3):  # the oldest rows first: a purge removes a prefix of the chain
        log.append({"report_id": f"old {i}"}, now=old)
    admin = "root"
    monkeypatch.setenv("CRNNAUDIT_NEW_PASSWORD", "the admin password")
    monkeypatch.setenv("CRNNAUDIT_PASSWORD", "the admin password")
    assert main(["user", "add", admin]) == 0
    assert main(["audit", "retention", "--days", "30", "--as", admin]) == 2
    assert "below the six months the EU AI Act asks" in capsys.readouterr().err
    assert main(["audit", "retention", "--days", "30", "--force", "--as", admin]) == 2  # a reason too
    assert main(["audit", "retention", "--days", "30", "--force", "--reason", "DPIA 2026-11: footage minimised",
                 "--as", admin]) == 0
    purge = [r for r in AuditLog().rows() if r["kind"] == "retention"][-1]
    payload = json.loads(purge["payload"])
    assert payload["forced"] and payload["reason"] == "DPIA 2026-11: footage minimised" and payload["count"] == 3
    assert AuditLog().verify().ok


def test_purging_everything_asks_first(admin, capsys):
    log = AuditLog()
    later = datetime.now(timezone.utc) + timedelta(days=400)
    assert log.retention_plan(365, now=later) == (len(log.rows()), len(log.rows()))
    with pytest.raises(AuditLogError, match="below the six months"):
        log.apply_retention(1)
    assert main(["audit", "retention", "--days", "200", "--as", admin]) == 0  # nothing that old: fine
    # every row older than the period: refused without --yes (no terminal to ask on)
    from crnnaudit.cli.common import confirm_all
    with pytest.raises(CrnnauditError, match="would erase all 5 rows of the audit log: confirm with --yes"):
        confirm_all(5, 5, "rows of the audit log", yes=False)
    confirm_all(4, 5, "rows of the audit log", yes=False)  # a part goes on
    confirm_all(5, 5, "rows of the audit log", yes=True)


def test_housekeeping_asks_before_erasing_every_upload(admin, capsys, monkeypatch):
    import os
    import time
    from crnnaudit.config import home
    uploads = home() / "uploads"
    uploads.mkdir(parents=True)
    for name in ("a-1.mp4", "b-2.mp4"):
        (uploads / name).write_bytes(name.encode())
        os.utime(uploads / name, (time.time() - 10 * 86400,) * 2)
    assert main(["housekeeping", "--days", "5", "--as", admin]) == 2
    assert "would erase all 2 uploads: confirm with --yes" in capsys.readouterr().err
    assert sorted(p.name for p in uploads.iterdir()) == ["a-1.mp4", "b-2.mp4"]
    assert main(["housekeeping", "--days", "5", "--as", admin, "--yes"]) == 0
    assert not list(uploads.iterdir())


def test_the_last_active_admin_stays(log_url):
    accounts = Accounts(log_url)
    accounts.first_admin("root", "the admin password")
    for act in (lambda: accounts.disable("root", by="root"), lambda: accounts.set_role("root", "approver", by="root")):
        with pytest.raises(AccessError, match="root is the last active admin"):
            act()
    accounts.add("second", "another admin password", "admin", by="root")
    accounts.set_role("root", "approver", by="second")  # with another admin, fine
    with pytest.raises(AccessError, match="second is the last active admin"):
        accounts.disable("second", by="second")
    assert accounts.identity("root").role == "approver" and accounts.identity("second").role == "admin"


def test_sign_in_is_throttled_then_locked_per_account_and_lifted_by_an_admin(log_url):
    accounts = Accounts(log_url)
    accounts.first_admin("root", "the admin password")
    accounts.add("ana", "ana's long password", "auditor", by="root")
    t = [1_000_000.0]
    accounts.clock = lambda: t[0]
    for k in range(THROTTLE_AFTER):  # five failures, each from another client
        with pytest.raises(AccessError, match=f"^{re.escape(REFUSED)}$"):
            accounts.authenticate("ana", "a guess", client=f"c{k}")
    with pytest.raises(AccessError, match=f"^{re.escape(REFUSED)}$"):  # the right password, too soon: unheard
        accounts.authenticate("ana", "ana's long password", client="c9")
    t[0] += 2.01  # the attempt inside the delay counted (a 6th failure): its delay (2 s) has passed
    assert accounts.authenticate("ana", "ana's long password", client="c9").role == "auditor"
    for k in range(LOCK_AFTER):  # a success cleared the count; now ten failures, spaced past each delay
        t[0] += 2 ** max(0, k - THROTTLE_AFTER + 1) + 0.01
        with pytest.raises(AccessError, match=f"^{re.escape(REFUSED)}$"):
            accounts.authenticate("ana", "a guess", client=f"d{k}")
    t[0] += 60
    with pytest.raises(AccessError, match=f"^{re.escape(REFUSED)}$"):  # locked: the same words
        accounts.authenticate("ana", "ana's long password", client="elsewhere")
    accounts.lift_lock("ana", by="root")
    assert accounts.authenticate("ana", "ana's long password", client="elsewhere").username == "ana"
    actions = [json.loads(r["payload"]).get("action") for r in AuditLog(log_url).rows() if r["kind"] == "account"]
    assert actions.count("sign-in throttled") == 2 and actions.count("sign-in locked") == 1
    assert actions[-1] == "sign-in lock lifted"


def test_forty_simultaneous_guesses_lock_the_account(log_url):
    """Forty wrong passwords at the same moment, from forty threads and clients: the count and
    the lock check are one transaction, so only the first five are checked, the account locks
    at the tenth, and then even the right password is refused."""
    import threading
    accounts = Accounts(log_url)
    accounts.first_admin("root", "the admin password")
    accounts.add("ana", "ana's long password", "auditor", by="root")
    checked, real = [], accounts.hasher

    class Counting:  # the real argon2id check, counted
        def verify(self, hashed, password):
            checked.append(password)
            return real.verify(hashed, password)
    accounts.hasher = Counting()
    start, refused = threading.Barrier(40), []

    def guess(k):
        start.wait()
        try:
            accounts.authenticate("ana", f"guess {k}", client=f"app:198.51.100.{k}")
        except AccessError as e:
            refused.append(str(e))
    threads = [threading.Thread(target=guess, args=(k,)) for k in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert refused == [REFUSED] * 40
    assert len(checked) == THROTTLE_AFTER, "the attempts after the 5th failure were refused unheard"
    with pytest.raises(AccessError, match=f"^{re.escape(REFUSED)}$"):
        accounts.authenticate("ana", "ana's long password", client="a new client")
    actions = [json.loads(r["payload"]).get("action") for r in AuditLog(log_url).rows() if r["kind"] == "account"]
    assert actions.count("sign-in locked") == 1


def test_a_guessing_client_is_throttled_across_accounts_and_a_lock_expires(log_url):
    accounts = Accounts(log_url)
    accounts.first_admin("root", "the admin password")
    t = [5_000_000.0]
    accounts.clock = lambda: t[0]
    for k in range(THROTTLE_AFTER):
        with pytest.raises(AccessError):
            accounts.authenticate(f"user{k}", "guess", client="app:203.0.113.9")
    with pytest.raises(AccessError):  # root's own password, from the guessing client: unheard
        accounts.authenticate("root", "the admin password", client="app:203.0.113.9")
    assert accounts.authenticate("root", "the admin password", client="app:198.51.100.7").username == "root"
    for k in range(LOCK_AFTER):
        t[0] += 2 ** LOCK_AFTER
        with pytest.raises(AccessError):
            accounts.authenticate("root", "guess", client=f"x{k}")
    t[0] += LOCK_SECONDS + 1  # the lock runs out by itself
    assert accounts.authenticate("root", "the admin password", client="x").username == "root"


def test_the_cli_is_throttled_too(admin, monkeypatch, capsys):
    monkeypatch.setenv("CRNNAUDIT_PASSWORD", "not the password")
    for _ in range(THROTTLE_AFTER):
        assert main(["user", "list", "--as", admin]) == 2
    monkeypatch.setenv("CRNNAUDIT_PASSWORD", "the admin password")
    assert main(["user", "list", "--as", admin]) == 2, "right away, even the right password is refused"
    assert capsys.readouterr().err.strip().splitlines()[-1] == f"crnnaudit: error: {REFUSED}"


def test_an_empty_password_without_a_terminal_is_one_line(admin, monkeypatch, capsys):
    monkeypatch.setenv("CRNNAUDIT_PASSWORD", "")
    monkeypatch.setattr("sys.stdin", open("/dev/null"))
    assert main(["user", "list", "--as", admin]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "CRNNAUDIT_PASSWORD is empty and there is no terminal" in err


def test_report_suffixes_in_any_case(tmp_path, capsys):
    from crnnaudit.evidence.keys import load_signing_key
    from crnnaudit.evidence.signing import seal_bytes, seal_json
    key = load_signing_key()
    (tmp_path / "report.HTML").write_bytes(seal_bytes(b"<html>x</html>", "html", key))
    (tmp_path / "report.Json").write_bytes(seal_json({"report_id": "x"}, key))
    (tmp_path / "report.PDF").write_bytes(seal_bytes(b"%PDF-1.4\n%%EOF", "pdf", key))
    for name in ("report.HTML", "report.Json", "report.PDF"):
        assert main(["report", "verify", str(tmp_path / name), "--accept-unanchored"]) == 0, capsys.readouterr()


def test_an_account_change_and_its_log_row_are_one_transaction(log_url, monkeypatch, tmp_path):
    """With the signing key unusable, adding an account or changing a role leaves no trace at all
    (neither the change nor a row); a refused change (a name taken) writes no row; with the key
    back, each change lands with its row."""
    import os
    from crnnaudit.errors import SigningKeyError
    accounts = Accounts(log_url)
    accounts.first_admin("root", "the admin password")
    rows = len(AuditLog(log_url).rows())
    key = os.environ["CRNNAUDIT_SIGNING_KEY_FILE"]
    monkeypatch.setenv("CRNNAUDIT_SIGNING_KEY_FILE", str(tmp_path / "gone.pem"))
    with pytest.raises(SigningKeyError):
        accounts.add("ana", "ana's long password", "auditor", by="root")
    with pytest.raises(SigningKeyError):
        accounts.set_display_name("root", "Rosa Root", by="root")
    assert [a["username"] for a in accounts.list()] == ["root"] and accounts.identity("root").display_name is None
    assert len(AuditLog(log_url).rows()) == rows
    monkeypatch.setenv("CRNNAUDIT_SIGNING_KEY_FILE", key)
    with pytest.raises(AccessError, match="root: an account of that name exists"):
        accounts.add("root", "another long password", "auditor", by="root")
    assert len(AuditLog(log_url).rows()) == rows
    accounts.add("ana", "ana's long password", "auditor", by="root")
    last = AuditLog(log_url).rows()[-1]
    assert len(AuditLog(log_url).rows()) == rows + 1 and json.loads(last["payload"])["username"] == "ana"
