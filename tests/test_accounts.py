"""Local accounts: argon2id hashes, roles, every change logged, one refusal message."""

from __future__ import annotations

import json
import re

import pytest

from crnnaudit.evidence.accounts import REFUSED, ROLES, AccessError, Accounts, Identity
from crnnaudit.evidence.log import AuditLog
from crnnaudit.cli.main import main


def test_accounts_hash_with_argon2id_and_authenticate(log_url):
    accounts = Accounts(log_url)
    assert accounts.count() == 0
    admin = accounts.first_admin("root admin", "correct horse battery")
    assert admin == Identity("root admin", "admin")
    with pytest.raises(AccessError, match="made only once"):
        accounts.first_admin("second", "correct horse battery")
    accounts.add("ana", "pa55word-ana!", "auditor")
    with accounts.engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT password_hash FROM accounts WHERE username='ana'").scalar()
    assert stored.startswith("$argon2id$") and "pa55word-ana!" not in stored
    assert accounts.authenticate("ana", "pa55word-ana!") == Identity("ana", "auditor")
    for k, (name, pw) in enumerate((("ana", "wrong password"), ("nobody", "pa55word-ana!"), ("", "x"),
                                    ("a\x00b", "x"))):
        with pytest.raises(AccessError, match=f"^{re.escape(REFUSED)}$"):
            accounts.authenticate(name, pw, client=f"client {k}")  # apart, so no throttling row is logged
    accounts.disable("ana", by="root admin")
    with pytest.raises(AccessError, match="sign-in refused"):
        accounts.authenticate("ana", "pa55word-ana!")
    assert accounts.identity("ana") is None
    kinds = [r["kind"] for r in AuditLog(log_url).rows()]
    assert kinds == ["account"] * 3 and AuditLog(log_url).verify().ok


def test_roles_allow_what_the_one_before_allows_and_more():
    allowed = {r: {p for p in ("read", "review", "countersign", "manage_models") if Identity("x", r).may(p)} for r in ROLES}
    assert allowed == {"viewer": {"read"}, "auditor": {"read", "review"},
                       "approver": {"read", "review", "countersign"},
                       "admin": {"read", "review", "countersign", "manage_models"}}
    with pytest.raises(AccessError, match="v \\(viewer\\) may not review: that takes the auditor role"):
        Identity("v", "viewer").require("review")


def test_bad_account_input_is_refused_clearly(tmp_path):
    accounts = Accounts(f"sqlite:///{tmp_path / 'a.sqlite'}")
    with pytest.raises(AccessError, match="at least 10 characters"):
        accounts.add("bo", "short", "auditor")
    with pytest.raises(AccessError, match="unknown role 'boss'"):
        accounts.add("bo", "long enough password", "boss")
    accounts.add("bo", "long enough password", "viewer")
    with pytest.raises(AccessError, match="exists"):
        accounts.add("bo", "long enough password", "viewer")
    with pytest.raises(AccessError, match="no such account"):
        accounts.set_role("nobody", "admin")


def test_user_commands(tmp_path, monkeypatch, capsys):
    db = f"sqlite:///{tmp_path / 'a.sqlite'}"
    monkeypatch.setenv("CRNNAUDIT_NEW_PASSWORD", "a long password 1")
    assert main(["user", "add", "zoë", "--role", "approver", "--db", db]) == 2  # the first is an admin
    assert "the first account is an admin" in capsys.readouterr().err
    assert main(["user", "add", "root", "--db", db]) == 0  # the first account needs no --as
    monkeypatch.setenv("CRNNAUDIT_PASSWORD", "a long password 1")
    assert main(["user", "add", "zoë", "--role", "approver", "--db", db]) == 2
    assert "--as USER" in capsys.readouterr().err
    assert main(["user", "add", "zoë", "--role", "approver", "--db", db, "--as", "root"]) == 0
    assert main(["user", "set-role", "zoë", "--role", "auditor", "--db", db, "--as", "root"]) == 0
    assert main(["user", "list", "--db", db, "--as", "root"]) == 0
    assert "zoë\tauditor\tenabled" in capsys.readouterr().out
    assert main(["user", "add", "eve", "--role", "admin", "--db", db, "--as", "zoë"]) == 2  # an auditor
    assert "zoë (auditor) may not manage accounts" in capsys.readouterr().err
    assert main(["user", "add", "zoë", "--db", db, "--as", "root"]) == 2
    assert "exists" in capsys.readouterr().err
    from crnnaudit import Sessions
    session = Sessions(Accounts(db)).open(Accounts(db).identity("zoë"))
    assert main(["user", "disable", "zoë", "--db", db, "--as", "root"]) == 0
    assert Accounts(db).identity("zoë") is None and Sessions(Accounts(db)).identity(session) is None
    assert "1 open session(s) ended" in capsys.readouterr().out
    assert main(["user", "enable", "zoë", "--db", db, "--as", "root"]) == 0
    assert Accounts(db).identity("zoë").role == "auditor"
    session = Sessions(Accounts(db)).open(Accounts(db).identity("zoë"))
    monkeypatch.setenv("CRNNAUDIT_NEW_PASSWORD", "a new long password")
    assert main(["user", "reset-password", "zoë", "--db", db, "--as", "root"]) == 0
    assert Sessions(Accounts(db)).identity(session) is None  # whoever held the old password is out
    assert Accounts(db).authenticate("zoë", "a new long password").username == "zoë"
    actions = [(json.loads(r["payload"])["action"], json.loads(r["payload"])["by"]) for r in AuditLog(db).rows()]
    assert actions == [("account added", "first account"), ("account added", "root"), ("role changed", "root"),
                       ("account disabled", "root"), ("account enabled", "root"), ("password reset", "root")]
    assert "password_hash" not in AuditLog(db).rows()[-1]["payload"]
