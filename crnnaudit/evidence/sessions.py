"""Sign-in sessions: what a browser's cookie stands for, kept on the server.

A sign-in opens a session: 32 random bytes go to the browser (an HttpOnly cookie), only their
SHA-256 is stored, beside the account, when it began and when it expires
(``CRNNAUDIT_SESSION_MINUTES``). Every page reads the account behind the cookie again (its role
as it is now; a disabled account has no identity). Signing out ends the session on the server,
so every tab that carries the cookie is signed out at its next step; a stolen copy of the
database holds no usable token.
"""

from __future__ import annotations

import hashlib
import secrets
import time

import sqlalchemy as sa

from ..config import number
from ..errors import AccessError

_META = sa.MetaData()
SESSIONS = sa.Table(
    "signin_sessions", _META,
    sa.Column("token_sha256", sa.String(64), primary_key=True),
    sa.Column("username", sa.String(80), nullable=False, index=True),
    sa.Column("started", sa.Float, nullable=False),
    sa.Column("expires", sa.Float, nullable=False),
    sa.Column("ended", sa.Float, nullable=True),
)
COOKIE = "crnnaudit_session"


def _digest(token: str) -> str:
    return hashlib.sha256(str(token).encode("utf-8", "replace")).hexdigest()


def session_minutes() -> float:
    """How long a sign-in lasts (``CRNNAUDIT_SESSION_MINUTES``)."""
    return number("CRNNAUDIT_SESSION_MINUTES")


class Sessions:
    """The sessions of the accounts in ``accounts`` (an :class:`~.accounts.Accounts`)."""

    def __init__(self, accounts):
        self.accounts, self.engine = accounts, accounts.engine
        try:
            _META.create_all(self.engine)
        except sa.exc.SQLAlchemyError as e:
            raise AccessError(f"sign-in sessions: cannot open or create their table ({e})") from e
        self.clock = time.time

    def open(self, identity) -> str:
        """A new session for a signed-in ``identity``; returns the token for its cookie."""
        token, now = secrets.token_urlsafe(32), self.clock()
        with self.engine.begin() as conn:
            conn.execute(SESSIONS.delete().where(SESSIONS.c.expires < now))  # expired ones go
            conn.execute(SESSIONS.insert().values(token_sha256=_digest(token), username=identity.username,
                                                  started=now, expires=now + session_minutes() * 60))
        return token

    def identity(self, token: str | None):
        """The account behind ``token`` as it is now (its current role), or ``None``: no such
        session, ended, expired, or the account was disabled."""
        if not token or len(token) > 200:
            return None
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(SESSIONS).where(SESSIONS.c.token_sha256 == _digest(token))).first()
        if row is None or row.ended is not None or row.expires <= self.clock():
            return None
        return self.accounts.identity(row.username)

    def end(self, token: str | None) -> None:
        """Sign out: the session ends for every tab that carries its cookie."""
        if not token:
            return
        with self.engine.begin() as conn:
            conn.execute(SESSIONS.update().where(SESSIONS.c.token_sha256 == _digest(token))
                         .where(SESSIONS.c.ended.is_(None)).values(ended=self.clock()))

    def end_all(self, username: str) -> int:
        """End every session of an account (it was disabled, or its password reset)."""
        with self.engine.begin() as conn:
            return int(conn.execute(SESSIONS.update().where(SESSIONS.c.username == username)
                                    .where(SESSIONS.c.ended.is_(None)).values(ended=self.clock())).rowcount)
