"""The administering commands of ``crnnaudit``: accounts, erasure, housekeeping, and how a
command signs in (``--as USER``). Split from ``cli.py`` to keep each file short."""

from __future__ import annotations

import json
from pathlib import Path

from ..config import setting



def _signed_in(username: str | None, permission: str, what: str, accounts=None):
    """The account the command runs as (``--as``): its password from CRNNAUDIT_PASSWORD or a
    prompt; refused unless its role allows ``permission``."""
    from ..evidence.accounts import AccessError, Accounts
    if not username:
        raise AccessError(f"to {what}, name the account the command runs as: --as USER")
    password = setting("CRNNAUDIT_PASSWORD") or _prompt(f"password for {username}: ", "CRNNAUDIT_PASSWORD")
    who = (accounts or Accounts()).authenticate(username, password, client=_cli_client())
    who.require(permission, what)
    return who


def _cli_client() -> str:
    """Who is at this command line, for sign-in throttling: the system user and host."""
    import getpass
    import os
    import socket
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"cli:{user}@{socket.gethostname()}"


def _prompt(question: str, variable: str) -> str:
    """A password typed at the terminal; without a terminal, a message instead of a hang or a
    foreign exception."""
    import getpass
    import sys
    from ..errors import AccessError
    if not sys.stdin or not sys.stdin.isatty():
        raise AccessError(f"no password: {variable} is empty and there is no terminal to ask on; set {variable}")
    return getpass.getpass(question)


def confirm_all(removed: int, total: int, what: str, yes: bool) -> None:
    """Purging everything asks first (or needs --yes); a purge of part goes on."""
    import sys
    from ..errors import CrnnauditError
    if not total or removed < total or yes:
        return
    if sys.stdin and sys.stdin.isatty():
        if input(f"This erases all {total} {what}. Type 'yes' to go on: ").strip() == "yes":
            return
        raise CrnnauditError("nothing erased")
    raise CrnnauditError(f"this would erase all {total} {what}: confirm with --yes")


def cmd_user(args) -> int:
    from ..evidence.accounts import Accounts
    accounts = Accounts(args.db)
    bootstrap = args.action == "add" and accounts.count() == 0
    if bootstrap and (args.role or "admin") != "admin":
        from ..errors import CrnnauditError
        raise CrnnauditError("the first account is an admin: user add NAME --role admin")
    by = "first account" if bootstrap else _signed_in(args.as_user, "manage_accounts", "manage accounts",
                                                      accounts).username
    if args.action == "list":
        for a in accounts.list():
            print(f"{a['username']}\t{a['role']}\t{'disabled' if a['disabled'] else 'enabled'}\t{a['created']}")
        return 0
    if not args.name:
        from ..errors import CrnnauditError
        raise CrnnauditError(f"user {args.action} needs a NAME")
    if args.action == "add":
        password = setting("CRNNAUDIT_NEW_PASSWORD") or _prompt(f"password for {args.name}: ", "CRNNAUDIT_NEW_PASSWORD")
        who = accounts.add(args.name, password, args.role or ("admin" if bootstrap else "auditor"), by=by)
        print(f"account {who.username} added as {who.role}")
    elif args.action == "unlock":
        accounts.lift_lock(args.name, by=by)
        print(f"sign-in lock on {args.name} lifted")
    elif args.action == "disable":
        accounts.disable(args.name, by=by)
        print(f"account {args.name} disabled")
    else:
        if not args.role:
            from ..errors import CrnnauditError
            raise CrnnauditError("user set-role needs --role")
        accounts.set_role(args.name, args.role, by=by)
        print(f"account {args.name} is now {args.role}")
    return 0


def cmd_erase(args) -> int:
    from ..evidence.retention import erase_clip
    _signed_in(args.as_user, "retention", "erase clips")
    done = erase_clip(args.sha256)
    print(f"erased clip {done['clip_sha256'][:16]}…: {done['uploads_removed']} upload(s), "
          f"{done['explanations_removed']} cached explanation(s); audit log row {done['log_row']}")
    return 0


def cmd_housekeeping(args) -> int:
    from ..evidence.retention import apply_retention, checked_days, retention_days, uploads_older_than
    days = checked_days(args.days) if args.days is not None else retention_days()
    _signed_in(args.as_user, "retention", "erase uploads")
    confirm_all(*uploads_older_than(days), "uploads", args.yes)
    done = apply_retention(days)
    print(f"{len(done)} upload(s) older than {days:g} days erased" +
          "".join(f"\n  {d['clip_sha256'][:16]}… (audit log row {d['log_row']})" for d in done))
    return 0


def cmd_keys(args) -> int:
    from ..evidence import keys
    if args.action == "init":
        key = keys.init_key(args.out)
        print(f"signing key made: {args.out or keys.key_path()} (Ed25519, mode 600)\nfingerprint: {key.fingerprint}\n"
              "Back the key up somewhere safe, publish the fingerprint, and pin it where reports and logs are "
              "checked: CRNNAUDIT_TRUSTED_KEYS=" + key.fingerprint)
        return 0
    if args.action == "show":
        key = keys.load_signing_key()
        print(f"fingerprint: {key.fingerprint}\npublic key (Ed25519, base64): {key.public_b64}")
        return 0
    from ..evidence.log import AuditLog
    _signed_in(args.as_user, "manage_accounts", "rotate the signing key")
    old, new, row = keys.rotate_key(AuditLog(), args.out)
    print(f"new signing key {new.fingerprint}, announced in audit log row {row['seq']} signed by the old key "
          f"{old.fingerprint}" + (f"; written to {args.out}: install it in your secret store" if args.out else ""))
    return 0


def cmd_compliance(args) -> int:
    from ..evidence.log import AuditLog
    from ..report.compliance import NOT_ANSWERED, assess
    result = assess(AuditLog().rows())
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    for c in result:
        print(f"{c['clause']:<20} {c['status'].upper():<16} {c['asks']}\n{'':<37}{c['why']}")
    missing = sum(c["status"] == NOT_ANSWERED for c in result)
    print(f"\n{len(result) - missing} of {len(result)} clauses answered at least in part by this deployment "
          "(crnnaudit/report/compliance.py maps each to the report and log fields that answer it)")
    return 0


def cmd_instructions(args) -> int:
    from ..dataset.instructions import build_instructions, write_instructions
    body = build_instructions(args.run, args.conditions)
    out = write_instructions(body, args.out)
    f = body["figures"]["accuracy"]
    print(f"accuracy {f['rate']:.1%} (95% CI {f['low']:.1%} to {f['high']:.1%}) on {f['n']} labelled clips; "
          f"{len(body['conditions'])} condition column(s)")
    print(f"instructions for use -> {out['html']}, {out['pdf'].name}, {out['json'].name} (signed; audit log row "
          f"{out['log_row']})")
    return 0


def add_admin_commands(sub) -> None:
    """user, erase, housekeeping, keys, compliance, instructions."""
    s = sub.add_parser("user", help="local accounts: add (password from CRNNAUDIT_NEW_PASSWORD or a "
                                    "prompt), disable, list, set-role, unlock (lift a sign-in lock)")
    s.add_argument("action", choices=["add", "disable", "list", "set-role", "unlock"]), s.add_argument("name", nargs="?")
    s.add_argument("--role", choices=["viewer", "auditor", "approver", "admin"])
    s.add_argument("--db", help="the database (default: the audit log's)")
    s.add_argument("--as", dest="as_user", metavar="ADMIN", help="the admin account it runs as (not for the first account)")
    s.set_defaults(fn=cmd_user)
    s = sub.add_parser("erase", help="erase an uploaded clip and what was derived from it (GDPR), by its SHA-256")
    s.add_argument("sha256"), s.add_argument("--as", dest="as_user", metavar="ADMIN")
    s.set_defaults(fn=cmd_erase)
    s = sub.add_parser("housekeeping", help="erase uploads older than the retention period (CRNNAUDIT_RETENTION_DAYS)")
    s.add_argument("--days", help="retention period in days, 1 to 36,500 (default: CRNNAUDIT_RETENTION_DAYS, 30)")
    s.add_argument("--yes", action="store_true", help="erase even when that is every upload")
    s.add_argument("--as", dest="as_user", metavar="ADMIN")
    s.set_defaults(fn=cmd_housekeeping)
    s = sub.add_parser("keys", help="the installation's Ed25519 signing key: init (a new installation), show "
                                    "(its fingerprint), rotate (a new key announced by the old one; admin)")
    s.add_argument("action", choices=["init", "show", "rotate"])
    s.add_argument("--out", type=Path, help="(init, rotate) where to write the new key (default: "
                                            "CRNNAUDIT_SIGNING_KEY_FILE, else CRNNAUDIT_HOME/keys/signing.pem)")
    s.add_argument("--as", dest="as_user", metavar="ADMIN", help="(rotate) the admin account it runs as")
    s.set_defaults(fn=cmd_keys)
    s = sub.add_parser("compliance", help="which legal clauses this deployment's reports and log answer "
                                          "(AI Act Art. 12-14, 19, 26(6), 86; GDPR Art. 13-15, 22(3), 30)")
    s.add_argument("--json", action="store_true", help="the assessment as JSON")
    s.set_defaults(fn=cmd_compliance)
    s = sub.add_parser("instructions", help="instructions for use (AI Act Art. 13) from a labelled batch run: "
                                            "accuracy and per-class figures with 95%% intervals, per condition")
    s.add_argument("run", help="a finished, labelled run folder (crnnaudit batch ... --labels)")
    s.add_argument("--conditions", help="a CSV with a 'clip' column and condition columns (camera, light, crowd...)")
    s.add_argument("--out", required=True, help="the folder for instructions.html, .pdf and .json")
    s.set_defaults(fn=cmd_instructions)
