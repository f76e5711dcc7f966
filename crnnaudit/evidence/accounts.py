"""Local accounts and roles: who may do what, in the project's own database.

Passwords are kept as argon2id hashes (``argon2-cffi``'s defaults); accounts live in the audit
log's database (``CRNNAUDIT_AUDIT_DB``, else SQLite in the data folder), and every change to an
account is a chained row of the audit log.

Roles, each allowed what the one before it is, and more:

    viewer     reads reports and the audit log
    auditor    reviews clips, takes decisions, drafts reports
    approver   countersigns another person's decision (four eyes)
    admin      models, model cards, accounts, retention
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import sqlalchemy as sa

from ..errors import AccessError

ROLES = ("viewer", "auditor", "approver", "admin")
PERMISSIONS = {
    "read": "viewer", "review": "auditor", "decide": "auditor", "draft_report": "auditor",
    "countersign": "approver", "manage_models": "admin", "edit_card": "admin",
    "manage_accounts": "admin", "retention": "admin",
}
_META = sa.MetaData()
ACCOUNTS = sa.Table(
    "accounts", _META,
    sa.Column("username", sa.String(80), primary_key=True),
    sa.Column("password_hash", sa.String(200), nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False, default=False),
    sa.Column("created", sa.String(40), nullable=False),
)


@dataclass(frozen=True)
class Identity:
    """Who is signed in: the name every report and log row carries, and the role."""

    username: str
    role: str
    source: str = "local"  # local | oidc | token

    def may(self, permission: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(PERMISSIONS[permission])

    def require(self, permission: str, what: str | None = None) -> None:
        if not self.may(permission):
            need = PERMISSIONS[permission]
            raise AccessError(f"{self.username} ({self.role}) may not {what or permission.replace('_', ' ')}: "
                              f"that takes the {need} role or above; ask an admin")


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise AccessError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
    return role


def _check_name(username: str) -> str:
    name = (username or "").strip()
    if not name or len(name) > 80 or any(c in name for c in "\x00\n\r\t"):
        raise AccessError(f"{username[:80]!r}: a user name is 1-80 characters on one line")
    return name


class Accounts:
    """The accounts in the database at ``url`` (default: the audit log's)."""

    def __init__(self, url: str | None = None, log=None):
        from .log import AuditLog
        self.log = log or AuditLog(url)
        self.engine = self.log.engine
        try:
            _META.create_all(self.engine)
        except sa.exc.SQLAlchemyError as e:
            raise AccessError(f"accounts at {self.log.url}: cannot open or create ({e})") from e
        from argon2 import PasswordHasher
        self.hasher = PasswordHasher()  # argon2id

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(ACCOUNTS)).scalar())

    def list(self) -> list[dict]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(ACCOUNTS.c.username, ACCOUNTS.c.role, ACCOUNTS.c.disabled,
                                          ACCOUNTS.c.created).order_by(ACCOUNTS.c.username)).all()
        return [dict(r._mapping) for r in rows]

    def add(self, username: str, password: str, role: str, by: str = "command line") -> Identity:
        name, role = _check_name(username), _check_role(role)
        if len(password or "") < 10:
            raise AccessError(f"{name}: a password has at least 10 characters")
        row = {"username": name, "password_hash": self.hasher.hash(password), "role": role,
               "disabled": False, "created": datetime.now(timezone.utc).isoformat()}
        try:
            with self.engine.begin() as conn:
                conn.execute(ACCOUNTS.insert().values(**row))
        except sa.exc.IntegrityError as e:
            raise AccessError(f"{name}: an account of that name exists") from e
        self.log.append({"action": "account added", "username": name, "role": role, "by": by}, kind="account")
        return Identity(name, role)

    def first_admin(self, username: str, password: str) -> Identity:
        """The first account, an admin; refused once any account exists."""
        if self.count():
            raise AccessError("accounts exist already: the first admin is made only once")
        return self.add(username, password, "admin", by="first start")

    def _update(self, username: str, by: str, action: str, **values) -> None:
        name = _check_name(username)
        with self.engine.begin() as conn:
            done = conn.execute(ACCOUNTS.update().where(ACCOUNTS.c.username == name).values(**values)).rowcount
        if not done:
            raise AccessError(f"{name}: no such account")
        self.log.append({"action": action, "username": name, "by": by,
                         **{k: v for k, v in values.items() if k != "password_hash"}}, kind="account")

    def disable(self, username: str, by: str = "command line") -> None:
        self._update(username, by, "account disabled", disabled=True)

    def set_role(self, username: str, role: str, by: str = "command line") -> None:
        self._update(username, by, "role changed", role=_check_role(role))

    def authenticate(self, username: str, password: str) -> Identity:
        """The identity of a valid, enabled account; one message for every failure (no hint
        whether the name exists)."""
        from argon2.exceptions import InvalidHashError, VerificationError
        refused = AccessError("sign-in refused: unknown user, wrong password or disabled account")
        try:
            name = _check_name(username)
        except AccessError:
            raise refused from None
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(ACCOUNTS).where(ACCOUNTS.c.username == name)).first()
        if row is None or row.disabled:
            raise refused
        try:
            self.hasher.verify(row.password_hash, password or "")
        except (VerificationError, InvalidHashError):
            raise refused from None
        return Identity(row.username, row.role)

    def identity(self, username: str) -> Identity | None:
        """The current role of an enabled account (a session re-reads it on every page)."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(ACCOUNTS).where(ACCOUNTS.c.username == username)).first()
        return None if row is None or row.disabled else Identity(row.username, row.role)
