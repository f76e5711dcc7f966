"""Where the audit log's rows are kept: a SQLAlchemy database whose write lock crnnaudit knows.

The chain (:mod:`.chain`) decides what a row holds; a store only keeps rows, in one
transaction per change, under the database's write lock taken *before* the chain's head is
read, so two writers land one after another and never fork the chain. A database whose lock
is not known here is refused rather than written without one.

    sqlite      ``BEGIN IMMEDIATE`` (SQLAlchemy's documented recipe), WAL journal
    postgresql  ``LOCK TABLE audit_log IN SHARE ROW EXCLUSIVE MODE``

Adding a database: its SQLAlchemy dialect name and the statement that takes its write lock in
:data:`LOCKS`, and the evidence tests run against a real server of it (``tests/pg.py`` shows
how for PostgreSQL).
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import sqlalchemy as sa

from ..config import audit_db_url
from ..errors import AuditLogError

_META = sa.MetaData()
ROWS = sa.Table(
    "audit_log", _META,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("ts", sa.String(40), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("row_hash", sa.String(64), nullable=False),
    sa.Column("signature", sa.String(200), nullable=True),  # "ed25519:<public key>:<signature>"
)
#: Dialect -> the statement that takes the write lock inside a transaction (None: the
#: transaction's own BEGIN takes it, see _sqlite_write_lock).
LOCKS = {"sqlite": None, "postgresql": "LOCK TABLE audit_log IN SHARE ROW EXCLUSIVE MODE"}


def default_url() -> str:
    """``CRNNAUDIT_AUDIT_DB`` (any SQLAlchemy URL whose lock is known, e.g.
    ``postgresql+psycopg://user@host/db``), else SQLite in the data folder."""
    return audit_db_url()


def as_url(url: str | Path | None) -> str:
    """A URL from a URL, a SQLite file's path, or ``None`` (the default log)."""
    if url is None:
        return default_url()
    if isinstance(url, Path) or "://" not in str(url):
        return f"sqlite:///{Path(url)}"
    return str(url)


class Transaction:
    """What the chain may do to the rows inside one locked transaction."""

    def __init__(self, conn):
        self.conn = conn

    def head(self) -> dict | None:
        r = self.conn.execute(sa.select(ROWS.c.seq, ROWS.c.row_hash).order_by(ROWS.c.seq.desc()).limit(1)).first()
        return None if r is None else {"seq": int(r.seq), "row_hash": r.row_hash}

    def insert(self, row: dict) -> None:
        self.conn.execute(ROWS.insert().values(**row))

    def older_than(self, ts: str) -> list[tuple[int, str]]:
        """``(seq, row_hash)`` of the rows written before ``ts``, in order."""
        q = sa.select(ROWS.c.seq, ROWS.c.row_hash).where(ROWS.c.ts < ts).order_by(ROWS.c.seq)
        return [(int(r.seq), r.row_hash) for r in self.conn.execute(q)]

    def first_seq(self) -> int | None:
        return self.conn.execute(sa.select(sa.func.min(ROWS.c.seq))).scalar()

    def hash_of(self, seq: int) -> str:
        return self.conn.execute(sa.select(ROWS.c.row_hash).where(ROWS.c.seq == seq)).scalar()

    def delete_through(self, seq: int) -> None:
        self.conn.execute(ROWS.delete().where(ROWS.c.seq <= seq))


class SqlStore:
    """The rows of one log in a database.

    Raises:
        AuditLogError: an unusable URL, a database whose write lock crnnaudit does not know,
            or one that cannot be opened.
    """

    def __init__(self, url: str):
        self.url = url
        try:
            self.engine = sa.create_engine(url, connect_args={"timeout": 30} if url.startswith("sqlite") else {})
        except (sa.exc.ArgumentError, ImportError) as e:
            raise AuditLogError(f"audit log URL {url!r} is not usable ({e})") from e
        dialect = self.engine.dialect.name
        if dialect not in LOCKS:
            raise AuditLogError(f"audit log URL {_safe(url)!r}: crnnaudit cannot take a {dialect} database's "
                                "write lock, and without it two writers could fork the chain; use SQLite or "
                                f"PostgreSQL (known: {', '.join(LOCKS)})")
        if dialect == "sqlite":
            _sqlite_write_lock(self.engine)
        try:
            _META.create_all(self.engine)
            _add_signature_column(self.engine)
        except sa.exc.SQLAlchemyError as e:
            raise AuditLogError(f"audit log {_safe(url)}: cannot open or create ({e})") from e

    @contextmanager
    def locked(self) -> Iterator[Transaction]:
        """One transaction holding the write lock; committed when the block ends."""
        with self.engine.begin() as conn:
            lock = LOCKS[self.engine.dialect.name]
            if lock:
                conn.exec_driver_sql(lock)
            yield Transaction(conn)

    def head(self) -> dict | None:
        with self.engine.connect() as conn:
            return Transaction(conn).head()

    def rows(self) -> list[dict]:
        try:
            with self.engine.connect() as conn:
                return [dict(r._mapping) for r in conn.execute(sa.select(ROWS).order_by(ROWS.c.seq))]
        except sa.exc.SQLAlchemyError as e:
            raise AuditLogError(f"audit log {_safe(self.url)}: cannot read ({str(e).splitlines()[0]})") from e

    @staticmethod
    def columns() -> list[str]:
        return [c.name for c in ROWS.columns]


def _add_signature_column(engine) -> None:
    """A log made before rows were signed lacks the column: add it (its old rows stay unsigned,
    and verify names them)."""
    if "signature" not in {c["name"] for c in sa.inspect(engine).get_columns("audit_log")}:
        with engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE audit_log ADD COLUMN signature VARCHAR(200)")


def _sqlite_write_lock(engine) -> None:
    """SQLAlchemy's documented recipe: let us issue BEGIN IMMEDIATE, which takes the write lock
    before the chain's head is read."""
    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None
        dbapi_conn.execute("PRAGMA journal_mode=WAL")

    @sa.event.listens_for(engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _safe(url: str) -> str:
    """A URL without its password, for messages."""
    return url.split("@")[-1] if "@" in url else url
