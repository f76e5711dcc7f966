"""The audit log: append-only, hash-chained, transactional.

Every review is one row. A row holds its payload (canonical JSON), the hash of the row before
it and its own hash over both, so altering, inserting or deleting a row breaks the chain at
that row and :meth:`AuditLog.verify` names it. Rows are never updated or deleted, except by
a retention purge, which is itself a chained row recording what it removed and the hash of
the last removed row (the new chain's anchor).

SQLite under the data folder by default; any SQLAlchemy URL (PostgreSQL in larger
deployments). Appends take the database's write lock before reading the chain's head, so
concurrent writers land one after another, and a writer killed mid-append leaves no half row.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import sqlalchemy as sa

from .config import home
from .errors import AuditLogError

GENESIS = "0" * 64
_META = sa.MetaData()
ROWS = sa.Table(
    "audit_log", _META,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("ts", sa.String(40), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("row_hash", sa.String(64), nullable=False),
)


def canonical(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def row_hash(seq: int, ts: str, kind: str, payload: str, prev: str) -> str:
    return hashlib.sha256(canonical([seq, ts, kind, payload, prev]).encode()).hexdigest()


@dataclass
class Verification:
    ok: bool
    rows: int
    message: str
    first_bad_seq: int | None = None

    def __bool__(self) -> bool:
        return self.ok


def default_url() -> str:
    return f"sqlite:///{home() / 'audit.sqlite'}"


class AuditLog:
    """Open (and create) the log at ``url`` (default: SQLite in ``CRNNAUDIT_HOME``)."""

    def __init__(self, url: str | Path | None = None):
        if url is None:
            url = default_url()
        elif isinstance(url, Path) or "://" not in str(url):
            url = f"sqlite:///{Path(url)}"
        self.url = str(url)
        try:
            self.engine = sa.create_engine(self.url, connect_args={"timeout": 30} if self.url.startswith("sqlite") else {})
        except (sa.exc.ArgumentError, ImportError) as e:
            raise AuditLogError(f"audit log URL {self.url!r} is not usable ({e})") from e
        if self.engine.dialect.name == "sqlite":
            # Documented SQLAlchemy recipe: let us issue BEGIN IMMEDIATE, which takes the write
            # lock before the chain head is read, so two writers cannot fork the chain.
            @sa.event.listens_for(self.engine, "connect")
            def _connect(dbapi_conn, _record):
                dbapi_conn.isolation_level = None
                dbapi_conn.execute("PRAGMA journal_mode=WAL")

            @sa.event.listens_for(self.engine, "begin")
            def _begin(conn):
                conn.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            _META.create_all(self.engine)
        except sa.exc.SQLAlchemyError as e:
            raise AuditLogError(f"audit log {self.url}: cannot open or create ({e})") from e

    def _lock(self, conn):
        if self.engine.dialect.name == "postgresql":
            conn.exec_driver_sql("LOCK TABLE audit_log IN SHARE ROW EXCLUSIVE MODE")

    def _append(self, conn, kind: str, payload: dict, now: datetime | None = None) -> dict:
        head = conn.execute(sa.select(ROWS.c.seq, ROWS.c.row_hash).order_by(ROWS.c.seq.desc()).limit(1)).first()
        seq, prev = (head.seq + 1, head.row_hash) if head else (1, GENESIS)
        ts = (now or datetime.now(timezone.utc)).isoformat()
        body = canonical(payload)
        row = {"seq": seq, "ts": ts, "kind": kind, "payload": body, "prev_hash": prev,
               "row_hash": row_hash(seq, ts, kind, body, prev)}
        conn.execute(ROWS.insert().values(**row))
        return row

    def append(self, payload: dict, kind: str = "review", now: datetime | None = None) -> dict:
        """Append one row in one transaction; returns the row written."""
        try:
            with self.engine.begin() as conn:
                self._lock(conn)
                return self._append(conn, kind, payload, now)
        except sa.exc.SQLAlchemyError as e:
            raise AuditLogError(f"audit log {self.url}: cannot append ({e})") from e

    def rows(self) -> list[dict]:
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(sa.select(ROWS).order_by(ROWS.c.seq))]

    def apply_retention(self, days: float, now: datetime | None = None) -> dict | None:
        """Remove reviews older than ``days``, recording the purge as a chained row."""
        now = now or datetime.now(timezone.utc)
        cutoff = (now - timedelta(days=days)).isoformat()
        with self.engine.begin() as conn:
            self._lock(conn)
            old = conn.execute(sa.select(ROWS.c.seq, ROWS.c.row_hash).where(ROWS.c.ts < cutoff)
                               .order_by(ROWS.c.seq)).all()
            if not old:
                return None
            # Only a prefix of the chain can go: a purge never leaves a hole in the middle.
            first = conn.execute(sa.select(sa.func.min(ROWS.c.seq))).scalar()
            upto = first - 1
            for r in old:
                if r.seq != upto + 1:
                    break
                upto = r.seq
            if upto < first:
                return None
            anchor = conn.execute(sa.select(ROWS.c.row_hash).where(ROWS.c.seq == upto)).scalar()
            conn.execute(ROWS.delete().where(ROWS.c.seq <= upto))
            return self._append(conn, "retention", {"removed_from": first, "removed_through": upto,
                                                    "count": upto - first + 1, "anchor_hash": anchor,
                                                    "retention_days": days, "cutoff": cutoff}, now)

    def verify(self) -> Verification:
        """Walk the chain; name the first altered, inserted or deleted row."""
        try:
            rows = self.rows()
        except sa.exc.SQLAlchemyError as e:
            raise AuditLogError(f"audit log {self.url}: cannot read ({e})") from e
        if not rows:
            return Verification(True, 0, "the log is empty")
        expected_prev = GENESIS
        if rows[0]["seq"] != 1:
            purges = [json.loads(r["payload"]) for r in rows if r["kind"] == "retention"]
            match = [p for p in purges if p["removed_through"] == rows[0]["seq"] - 1]
            if not match:
                return Verification(False, len(rows), f"rows 1..{rows[0]['seq'] - 1} are missing and no "
                                    "retention purge records their removal: deleted", rows[0]["seq"])
            expected_prev = match[-1]["anchor_hash"]
        for i, r in enumerate(rows):
            if i and r["seq"] != rows[i - 1]["seq"] + 1:
                return Verification(False, len(rows), f"rows {rows[i - 1]['seq'] + 1}..{r['seq'] - 1} "
                                    "were deleted", rows[i - 1]["seq"] + 1)
            if row_hash(r["seq"], r["ts"], r["kind"], r["payload"], r["prev_hash"]) != r["row_hash"]:
                return Verification(False, len(rows), f"row {r['seq']} was altered (its hash does not "
                                    "match its contents)", r["seq"])
            if r["prev_hash"] != expected_prev:
                if i >= 2 and r["prev_hash"] == rows[i - 2]["row_hash"]:
                    msg = f"row {rows[i - 1]['seq']} was inserted (row {r['seq']} points past it)"
                    return Verification(False, len(rows), msg, rows[i - 1]["seq"])
                bad = rows[i - 1]["seq"] if i else r["seq"]
                return Verification(False, len(rows), f"the chain breaks before row {r['seq']}: row "
                                    f"{bad} was altered, replaced or inserted", bad)
            expected_prev = r["row_hash"]
        return Verification(True, len(rows), f"{len(rows)} rows, chain intact")

    def export(self, fmt: str = "json") -> str:
        """The whole log as JSON or CSV text, for a regulator."""
        rows = self.rows()
        if fmt == "json":
            return json.dumps([dict(r, payload=json.loads(r["payload"])) for r in rows], indent=2,
                              ensure_ascii=False)
        if fmt == "csv":
            buf = io.StringIO()
            w = csv.DictWriter(buf, fieldnames=[c.name for c in ROWS.columns])
            w.writeheader()
            w.writerows(rows)
            return buf.getvalue()
        raise AuditLogError(f"export format {fmt!r} is not one of 'json', 'csv'")
