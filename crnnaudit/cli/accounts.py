"""Local accounts: ``user add | disable | enable | list | set-role | set-name | unlock | reset-password``
(an admin's, except the very first account, which is an admin made without one). The Accounts page
(``views/accounts.py``) does the same through the same :class:`~crnnaudit.evidence.accounts.Accounts`."""

from __future__ import annotations

from ..config import setting
from ..errors import CrnnauditError
from .common import add_as, prompt, signed_in

ROLES = ("viewer", "auditor", "approver", "admin")


def cmd_user(args) -> int:
    from .. import Accounts
    accounts = Accounts(args.db)
    bootstrap = args.verb == "add" and accounts.count() == 0
    if bootstrap and (getattr(args, "role", None) or "admin") != "admin":
        raise CrnnauditError("the first account is an admin: user add NAME --role admin")
    by = "first account" if bootstrap else signed_in(args.as_user, "manage_accounts", "manage accounts",
                                                     accounts).username
    if args.verb == "list":
        for a in accounts.list():
            print(f"{a['username']}\t{a['role']}\t{'disabled' if a['disabled'] else 'enabled'}\t{a['created']}"
                  f"\t{a.get('display_name') or ''}")
    elif args.verb == "add":
        password = setting("CRNNAUDIT_NEW_PASSWORD") or prompt(f"password for {args.name}: ", "CRNNAUDIT_NEW_PASSWORD")
        who = accounts.add(args.name, password, args.role or ("admin" if bootstrap else "auditor"), by=by)
        print(f"account {who.username} added as {who.role}")
    elif args.verb == "unlock":
        accounts.lift_lock(args.name, by=by)
        print(f"sign-in lock on {args.name} lifted")
    elif args.verb == "set-name":
        accounts.set_display_name(args.name, args.display_name, by=by)
        print(f"reports now call {args.name} " + (repr(args.display_name.strip()) if args.display_name.strip()
                                                  else "by their role"))
    elif args.verb == "disable":
        accounts.disable(args.name, by=by)
        ended = _sessions(accounts).end_all(args.name)
        print(f"account {args.name} disabled; {ended} open session(s) ended")
    elif args.verb == "enable":
        accounts.enable(args.name, by=by)
        print(f"account {args.name} enabled")
    elif args.verb == "reset-password":
        password = setting("CRNNAUDIT_NEW_PASSWORD") or prompt(f"new password for {args.name}: ",
                                                               "CRNNAUDIT_NEW_PASSWORD")
        accounts.reset_password(args.name, password, by=by)
        ended = _sessions(accounts).end_all(args.name)
        print(f"password of {args.name} reset; {ended} open session(s) ended")
    else:
        accounts.set_role(args.name, args.role, by=by)
        print(f"account {args.name} is now {args.role}")
    return 0


def _sessions(accounts):
    from .. import Sessions
    return Sessions(accounts)


def add_commands(sub) -> None:
    """user add | disable | enable | list | set-role | set-name | unlock | reset-password."""
    group = sub.add_parser("user", help="local accounts: add, disable, enable, list, set-role, set-name, unlock, "
                                        "reset-password")
    verbs = group.add_subparsers(dest="verb", required=True,
                                 metavar="{add,disable,enable,list,set-role,set-name,unlock,reset-password}",
                                 parser_class=type(group))
    for verb, what in (("add", "add an account (password: CRNNAUDIT_NEW_PASSWORD or a prompt)"),
                       ("disable", "disable an account and end its sessions (the last admin stays)"),
                       ("enable", "let a disabled account sign in again"),
                       ("reset-password", "set a new password (CRNNAUDIT_NEW_PASSWORD or a prompt) and end the "
                                          "account's sessions"),
                       ("set-role", "change an account's role (the last admin stays one)"),
                       ("set-name", "set the name reports call the person by (empty: their role)"),
                       ("unlock", "lift a sign-in lock after too many wrong passwords"),
                       ("list", "list the accounts, their roles and whether they are enabled")):
        s = verbs.add_parser(verb, help=what)
        if verb != "list":
            s.add_argument("name", help="the account's user name")
        if verb == "set-name":
            s.add_argument("display_name", metavar="DISPLAY_NAME",
                           help="the name reports show, e.g. 'Ana Lopez' ('' to name them by role again)")
        if verb in ("add", "set-role"):
            s.add_argument("--role", choices=ROLES, required=verb == "set-role",
                           help="viewer, auditor, approver or admin (add: default auditor; the first account: admin)")
        s.add_argument("--db", help="the accounts' database (default: the audit log's)")
        add_as(s, "admin", "; not for the very first account" if verb == "add" else "")
        s.set_defaults(fn=cmd_user)
