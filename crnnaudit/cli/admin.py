"""The administering commands of ``crnnaudit``: accounts, erasure, housekeeping, and how a
command signs in (``--as USER``). Split from ``cli.py`` to keep each file short."""

from __future__ import annotations

from ..config import setting



def _signed_in(username: str | None, permission: str, what: str, accounts=None):
    """The account the command runs as (``--as``): its password from CRNNAUDIT_PASSWORD or a
    prompt; refused unless its role allows ``permission``."""
    import getpass
    from ..evidence.accounts import AccessError, Accounts
    if not username:
        raise AccessError(f"to {what}, name the account the command runs as: --as USER")
    password = setting("CRNNAUDIT_PASSWORD") or getpass.getpass(f"password for {username}: ")
    who = (accounts or Accounts()).authenticate(username, password)
    who.require(permission, what)
    return who


def cmd_user(args) -> int:
    import getpass
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
        password = setting("CRNNAUDIT_NEW_PASSWORD") or getpass.getpass(f"password for {args.name}: ")
        who = accounts.add(args.name, password, args.role or ("admin" if bootstrap else "auditor"), by=by)
        print(f"account {who.username} added as {who.role}")
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
    from ..evidence.retention import apply_retention, retention_days
    days = args.days if args.days is not None else retention_days()
    _signed_in(args.as_user, "retention", "erase uploads")
    done = apply_retention(days)
    print(f"{len(done)} upload(s) older than {days:g} days erased" +
          "".join(f"\n  {d['clip_sha256'][:16]}… (audit log row {d['log_row']})" for d in done))
    return 0


def add_admin_commands(sub) -> None:
    """user, erase, housekeeping."""
    s = sub.add_parser("user", help="local accounts: add (password from CRNNAUDIT_NEW_PASSWORD or a "
                                    "prompt), disable, list, set-role")
    s.add_argument("action", choices=["add", "disable", "list", "set-role"]), s.add_argument("name", nargs="?")
    s.add_argument("--role", choices=["viewer", "auditor", "approver", "admin"])
    s.add_argument("--db", help="the database (default: the audit log's)")
    s.add_argument("--as", dest="as_user", metavar="ADMIN", help="the admin account it runs as (not for the first account)")
    s.set_defaults(fn=cmd_user)
    s = sub.add_parser("erase", help="erase an uploaded clip and what was derived from it (GDPR), by its SHA-256")
    s.add_argument("sha256"), s.add_argument("--as", dest="as_user", metavar="ADMIN")
    s.set_defaults(fn=cmd_erase)
    s = sub.add_parser("housekeeping", help="erase uploads older than the retention period (CRNNAUDIT_RETENTION_DAYS)")
    s.add_argument("--days", type=float, help="retention period in days (default: CRNNAUDIT_RETENTION_DAYS, 30)")
    s.add_argument("--as", dest="as_user", metavar="ADMIN")
    s.set_defaults(fn=cmd_housekeeping)
