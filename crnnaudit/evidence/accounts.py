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
    sa.Column("display_name", sa.String(120), nullable=True),  # what reports call the person (admin's choice)
)


@dataclass(frozen=True)
class Identity:
    """Who is signed in: the name every report and log row carries, and the role."""

    username: str
    role: str
    source: str = "local"  # local | oidc | token
    display_name: str | None = None  # what reports call the person; None: their role

    def as_shown(self) -> str:
        """How reports name this person: the display name an admin set, else their role."""
        if self.display_name:
            return self.display_name
        return f"{'an' if self.role[0] in 'aeiou' else 'a'} {self.role}"

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


def normalised(name) -> str:
    """A user name as identities are compared: Unicode NFKC, surrounding spaces dropped (so
    'ana ' and 'ana', or a full-width 'ａｎａ' and 'ana', are one person)."""
    import unicodedata
    return unicodedata.normalize("NFKC", str(name or "")).strip()


def _check_name(username: str) -> str:
    name = normalised(username)
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
#: 1, 2, 4, ... seconds after the last failure (an attempt inside the delay is refused unheard,
#: and counts); the 10th locks for 15 minutes.
THROTTLE_AFTER, LOCK_AFTER, LOCK_SECONDS = 5, 10, 15 * 60
REFUSED = "sign-in refused: unknown user, wrong password, or an account disabled or locked for a while"


def _printable(text, limit: int) -> str:
    """A name as a throttling key or log entry: one line, no control characters, bounded."""
    return "".join(c if c.isprintable() else "?" for c in str(text or "").strip()[:limit])


def _insert_unless_there(dialect: str, table, **values):
    """``INSERT ... ON CONFLICT DO NOTHING`` in the database's own words (the accounts live in
    the audit log's database: SQLite or PostgreSQL, see ``store.LOCKS``)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table).values(**values).on_conflict_do_nothing()


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
            _add_display_names(self.engine)
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
            rows = conn.execute(sa.select(ACCOUNTS.c.username, ACCOUNTS.c.role, ACCOUNTS.c.disabled, ACCOUNTS.c.created,
                                          ACCOUNTS.c.display_name).order_by(ACCOUNTS.c.username)).all()
        return [dict(r._mapping) for r in rows]

    def add(self, username: str, password: str, role: str, by: str = "command line") -> Identity:
        name, role = _check_name(username), _check_role(role)
        if len(password or "") < 10:
            raise AccessError(f"{name}: a password has at least 10 characters")
        row = {"username": name, "password_hash": self.hasher.hash(password), "role": role,
               "disabled": False, "created": datetime.now(timezone.utc).isoformat()}
        def insert(conn):
            if conn.execute(sa.select(ACCOUNTS.c.username).where(ACCOUNTS.c.username == name)).first():
                raise AccessError(f"{name}: an account of that name exists")
            conn.execute(ACCOUNTS.insert().values(**row))
        self.log.append({"action": "account added", "username": name, "role": role, "by": by}, kind="account",
                        change=insert)  # the account and its row: both, or neither
        return Identity(name, role)

    def first_admin(self, username: str, password: str) -> Identity:
        """The first account, an admin; refused once any account exists."""
        if self.count():
            raise AccessError("accounts exist already: the first admin is made only once")
        return self.add(username, password, "admin", by="first start")

    def _update(self, username: str, by: str, action: str, **values) -> None:
        name = _check_name(username)

        def update(conn):
            if not conn.execute(ACCOUNTS.update().where(ACCOUNTS.c.username == name).values(**values)).rowcount:
                raise AccessError(f"{name}: no such account")
        self.log.append({"action": action, "username": name, "by": by,
                         **{k: v for k, v in values.items() if k != "password_hash"}}, kind="account",
                        change=update)  # the change and its row: both, or neither

    def set_display_name(self, username: str, display_name: str | None, by: str = "command line") -> None:
        """What reports call the person (``None`` or empty: their role), a logged change."""
        shown = normalised(display_name)
        if len(shown) > 120 or any(c in shown for c in "\x00\n\r\t"):
            raise AccessError(f"{shown[:40]!r}: a display name is at most 120 characters on one line")
        self._update(username, by, "display name set", display_name=shown or None)

    def disable(self, username: str, by: str = "command line") -> None:
        self._keep_an_admin(username, "disable")
        self._update(username, by, "account disabled", disabled=True)

    def enable(self, username: str, by: str = "command line") -> None:
        """Let a disabled account sign in again (a logged change)."""
        self._update(username, by, "account enabled", disabled=False)

    def reset_password(self, username: str, password: str, by: str = "command line") -> None:
        """A new password for an account (an admin's act; the log row names who, never the
        password or its hash). The caller ends the account's sessions
        (:meth:`~.sessions.Sessions.end_all`): whoever held the old password is signed out."""
        name = _check_name(username)
        if len(password or "") < 10:
            raise AccessError(f"{name}: a password has at least 10 characters")
        self._update(name, by, "password reset", password_hash=self.hasher.hash(password))

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
        whether the name exists, or whether it is locked). Attempts are counted per account and
        per ``client`` (see :data:`THROTTLE_AFTER`) before the password is checked, in the same
        transaction as the lock check, so simultaneous guesses cannot slip past the count; an
        attempt inside a delay is refused unheard and counts; a success clears both counts."""
        from argon2.exceptions import InvalidHashError, VerificationError
        refused, now = AccessError(REFUSED), self.clock()
        keys = [f"account:{_printable(username, 80)}", f"client:{_printable(client, 200)}"]
        heard, events = self._count_attempt(keys, now, username, client)
        try:
            if not heard:
                raise refused  # locked, or inside the delay: never checked
            name = _check_name(username)
            with self.engine.connect() as conn:
                row = conn.execute(sa.select(ACCOUNTS).where(ACCOUNTS.c.username == name)).first()
            if row is None or row.disabled:
                raise refused
            self.hasher.verify(row.password_hash, password or "")
        except (AccessError, VerificationError, InvalidHashError):
            for event in events:
                self.log.append(event, kind="account")
            raise refused from None
        with self.engine.begin() as conn:
            conn.execute(ATTEMPTS.delete().where(ATTEMPTS.c.key.in_(keys)))
        return Identity(row.username, row.role, display_name=row.display_name)

    def _count_attempt(self, keys: list[str], now: float, username, client) -> tuple[bool, list[dict]]:
        """In one transaction, with the attempt rows locked (SQLite: the database's write lock,
        taken by the first statement; PostgreSQL: the rows, ``FOR UPDATE``): whether this attempt
        may be heard (no key locked or inside its delay), and count it as a failure unless a key
        is locked (a success clears the count again). Returns ``(heard, events)``: the 5th and
        10th failures' log rows, appended only if the attempt fails (the log may live in the same
        database, so after this transaction)."""
        events = []
        with self.engine.begin() as conn:
            for key in keys:
                conn.execute(_insert_unless_there(self.engine.dialect.name, ATTEMPTS, key=key, failures=0,
                                                  last_failure=0.0, locked_until=0.0))
            rows = {r.key: r for r in conn.execute(sa.select(ATTEMPTS).where(ATTEMPTS.c.key.in_(keys))
                                                   .with_for_update())}
            if any(r.locked_until > now for r in rows.values()):
                return False, []
            heard = not any(_blocked(r, now) for r in rows.values())
            for key, row in rows.items():
                failures = 1 if 0 < row.locked_until <= now else row.failures + 1
                conn.execute(ATTEMPTS.update().where(ATTEMPTS.c.key == key).values(
                    failures=failures, last_failure=now,
                    locked_until=now + LOCK_SECONDS if failures >= LOCK_AFTER else 0.0))
                if failures in (THROTTLE_AFTER, LOCK_AFTER):
                    events.append({"action": "sign-in locked" if failures == LOCK_AFTER else "sign-in throttled",
                                   "key": key, "username": _printable(username, 80),
                                   "client": _printable(client, 200), "failures": failures})
        return heard, events

    def lift_lock(self, username: str, by: str = "command line") -> None:
        """Clear an account's sign-in failures and lock (an admin's act, logged)."""
        name = _check_name(username)
        self.log.append({"action": "sign-in lock lifted", "username": name, "by": by}, kind="account",
                        change=lambda conn: conn.execute(ATTEMPTS.delete().where(ATTEMPTS.c.key == f"account:{name}")))

    def sign_in_failures(self) -> dict[str, dict]:
        """Per account with failed sign-ins since its last success: ``{"failures", "locked"}``
        (``locked``: refused unheard until an admin unlocks it or the lock runs out)."""
        now = self.clock()
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(ATTEMPTS).where(ATTEMPTS.c.key.like("account:%"))).all()
        return {r.key.split(":", 1)[1]: {"failures": int(r.failures), "locked": bool(r.locked_until > now)}
                for r in rows if r.failures or r.locked_until > now}

    def identity(self, username: str) -> Identity | None:
        """The current role of an enabled account (a session re-reads it on every page)."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(ACCOUNTS).where(ACCOUNTS.c.username == normalised(username))).first()
        return None if row is None or row.disabled else Identity(row.username, row.role,
                                                                 display_name=row.display_name)


def _add_display_names(engine) -> None:
    """An accounts table made before display names existed gets the column (SQLite, PostgreSQL)."""
    columns = {c["name"] for c in sa.inspect(engine).get_columns("accounts")}
    if "display_name" not in columns:
        with engine.begin() as conn:
            conn.execute(sa.text("ALTER TABLE accounts ADD COLUMN display_name VARCHAR(120)"))
