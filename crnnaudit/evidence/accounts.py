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

import time
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


ATTEMPTS = sa.Table(
    "signin_attempts", _META,
    sa.Column("key", sa.String(300), primary_key=True),  # "account:<name>" or "client:<who>"
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("last_failure", sa.Float, nullable=False),
    sa.Column("locked_until", sa.Float, nullable=False, default=0.0),
)
#: Sign-in throttling, per account and per client: from the 5th failure each attempt waits
#: 1, 2, 4, ... seconds after the last failure; the 10th locks for 15 minutes.
THROTTLE_AFTER, LOCK_AFTER, LOCK_SECONDS = 5, 10, 15 * 60
REFUSED = "sign-in refused: unknown user, wrong password, or an account disabled or locked for a while"


def _printable(text, limit: int) -> str:
    """A name as a throttling key or log entry: one line, no control characters, bounded."""
    return "".join(c if c.isprintable() else "?" for c in str(text or "").strip()[:limit])


def _blocked(row, now: float) -> bool:
    """Whether an attempt now is refused unheard: locked, or inside the growing delay."""
    if row is None:
        return False
    if row.locked_until > now:
        return True
    return THROTTLE_AFTER <= row.failures < LOCK_AFTER and now < row.last_failure + 2 ** (row.failures - THROTTLE_AFTER)


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
        self.clock = time.time  # tests move it forward

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
        self._keep_an_admin(username, "disable")
        self._update(username, by, "account disabled", disabled=True)

    def set_role(self, username: str, role: str, by: str = "command line") -> None:
        role = _check_role(role)
        if role != "admin":
            self._keep_an_admin(username, "demote")
        self._update(username, by, "role changed", role=role)

    def _keep_an_admin(self, username: str, what: str) -> None:
        """Refuse to leave the installation without an active admin (no way back from that)."""
        admins = [a["username"] for a in self.list() if a["role"] == "admin" and not a["disabled"]]
        if admins == [_check_name(username)]:
            raise AccessError(f"{username} is the last active admin: cannot {what} it (nobody could manage "
                              "accounts, models or retention any more); make another admin first")

    def authenticate(self, username: str, password: str, client: str = "unknown client") -> Identity:
        """The identity of a valid, enabled account; one message for every failure (no hint
        whether the name exists, or whether it is locked). Failures are counted per account
        and per ``client`` (see :data:`THROTTLE_AFTER`); a success clears both."""
        from argon2.exceptions import InvalidHashError, VerificationError
        refused, now = AccessError(REFUSED), self.clock()
        keys = [f"account:{_printable(username, 80)}", f"client:{_printable(client, 200)}"]
        if any(_blocked(r, now) for r in self._attempts(keys)):
            raise refused  # unheard: neither counted nor checked
        try:
            name = _check_name(username)
            with self.engine.connect() as conn:
                row = conn.execute(sa.select(ACCOUNTS).where(ACCOUNTS.c.username == name)).first()
            if row is None or row.disabled:
                raise refused
            self.hasher.verify(row.password_hash, password or "")
        except (AccessError, VerificationError, InvalidHashError):
            self._failed(keys, now, username, client)
            raise refused from None
        with self.engine.begin() as conn:
            conn.execute(ATTEMPTS.delete().where(ATTEMPTS.c.key.in_(keys)))
        return Identity(row.username, row.role)

    def _attempts(self, keys: list[str]) -> list:
        with self.engine.connect() as conn:
            return list(conn.execute(sa.select(ATTEMPTS).where(ATTEMPTS.c.key.in_(keys))))

    def _failed(self, keys: list[str], now: float, username, client) -> None:
        """Count a failure for each key; the 5th and the 10th are logged (after the count is
        committed: the log may live in the same database)."""
        events = []
        with self.engine.begin() as conn:
            for key in keys:
                row = conn.execute(sa.select(ATTEMPTS).where(ATTEMPTS.c.key == key)).first()
                failures = 1 if row is None or 0 < row.locked_until <= now else row.failures + 1
                values = {"failures": failures, "last_failure": now,
                          "locked_until": now + LOCK_SECONDS if failures >= LOCK_AFTER else 0.0}
                if row is None:
                    conn.execute(ATTEMPTS.insert().values(key=key, **values))
                else:
                    conn.execute(ATTEMPTS.update().where(ATTEMPTS.c.key == key).values(**values))
                if failures in (THROTTLE_AFTER, LOCK_AFTER):
                    events.append({"action": "sign-in locked" if failures == LOCK_AFTER else "sign-in throttled",
                                   "key": key, "username": _printable(username, 80),
                                   "client": _printable(client, 200), "failures": failures})
        for event in events:
            self.log.append(event, kind="account")

    def lift_lock(self, username: str, by: str = "command line") -> None:
        """Clear an account's sign-in failures and lock (an admin's act, logged)."""
        name = _check_name(username)
        with self.engine.begin() as conn:
            conn.execute(ATTEMPTS.delete().where(ATTEMPTS.c.key == f"account:{name}"))
        self.log.append({"action": "sign-in lock lifted", "username": name, "by": by}, kind="account")

    def identity(self, username: str) -> Identity | None:
        """The current role of an enabled account (a session re-reads it on every page)."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(ACCOUNTS).where(ACCOUNTS.c.username == username)).first()
        return None if row is None or row.disabled else Identity(row.username, row.role)
