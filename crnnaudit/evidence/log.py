"""The audit log: append-only, hash-chained under a key, anchored outside, transactional.

Every review is one row. A row holds its payload (canonical JSON), the hash of the row before
it and its own HMAC over both under a key kept outside the database (:mod:`crnnaudit.evidence.anchor`),
so altering, inserting or deleting a row breaks the chain at that row and
:meth:`AuditLog.verify` names it, and nobody without the key can re-hash a chain or forge a
row. Every append also writes a signed checkpoint (row number and head) outside the database,
so deleting the tail, emptying or deleting the log is detected too. Rows are never updated or deleted, except by
a retention purge, which is itself a chained row recording what it removed and the hash of
the last removed row (the new chain's anchor).

SQLite under the data folder by default; any SQLAlchemy URL (PostgreSQL in larger
deployments). Appends take the database's write lock before reading the chain's head, so
concurrent writers land one after another, and a writer killed mid-append leaves no half row.
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import sqlalchemy as sa

from .anchor import canonical, keyed_hash, log_key, read_checkpoint, write_checkpoint
from ..config import home
from ..errors import AuditLogError

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


RETENTION_FIELDS = ("removed_from", "removed_through", "anchor_hash")


def row_hash(seq: int, ts: str, kind: str, payload: str, prev: str, key: bytes | None = None) -> str:
    """The row's HMAC-SHA256 under the log's key (:func:`crnnaudit.evidence.anchor.log_key`)."""
    return keyed_hash(key if key is not None else log_key(), [seq, ts, kind, payload, prev])


def parse_payload(row: dict) -> dict:
    """A row's payload as a mapping; a hand-edited one that is not gives a clear error."""
    try:
        data = json.loads(row["payload"])
    except (TypeError, ValueError) as e:
        raise AuditLogError(f"audit log row {row.get('seq')}: its payload is not valid JSON ({e}); "
                            "the database was edited by hand") from e
    if not isinstance(data, dict):
        raise AuditLogError(f"audit log row {row.get('seq')}: its payload is not a JSON object; the "
                            "database was edited by hand")
    return data


@dataclass
class Verification:
    ok: bool
    rows: int
    message: str
    first_bad_seq: int | None = None

    def __bool__(self) -> bool:
        return self.ok


def default_url() -> str:
    """``CRNNAUDIT_AUDIT_DB`` (any SQLAlchemy URL, e.g. ``postgresql+psycopg://user@host/db``),
    else SQLite in the data folder."""
    return os.environ.get("CRNNAUDIT_AUDIT_DB") or f"sqlite:///{home() / 'audit.sqlite'}"


class AuditLog:
    """Open (and create) the log at ``url`` (default: SQLite in ``CRNNAUDIT_HOME``)."""

    def __init__(self, url: str | Path | None = None):
        if url is None:
            url = default_url()
        elif isinstance(url, Path) or "://" not in str(url):
            url = f"sqlite:///{Path(url)}"
        self.url = str(url)
        self.key = log_key()
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

    def _append(self, conn, kind: str, payload: dict, now: datetime | None = None, head=None) -> dict:
        head = head or conn.execute(sa.select(ROWS.c.seq, ROWS.c.row_hash).order_by(ROWS.c.seq.desc()).limit(1)).first()
        seq, prev = (head.seq + 1, head.row_hash) if head else (1, GENESIS)
        ts = (now or datetime.now(timezone.utc)).isoformat()
        body = canonical(payload)
        row = {"seq": seq, "ts": ts, "kind": kind, "payload": body, "prev_hash": prev,
               "row_hash": row_hash(seq, ts, kind, body, prev, self.key)}
        conn.execute(ROWS.insert().values(**row))
        return row

    def append(self, payload: dict, kind: str = "review", now: datetime | None = None) -> dict:
        """Append one row in one transaction, then move the checkpoint to it; returns the row."""
        try:
            with self.engine.begin() as conn:
                self._lock(conn)
                row = self._append(conn, kind, payload, now)
        except sa.exc.SQLAlchemyError as e:
            raise AuditLogError(f"audit log {self.url}: cannot append ({e})") from e
        write_checkpoint(self.url, self.key, row["seq"], row["row_hash"], row["ts"])
        return row

    def head(self) -> dict | None:
        """``{"seq", "row_hash"}`` of the last row, or None for an empty log."""
        with self.engine.connect() as conn:
            r = conn.execute(sa.select(ROWS.c.seq, ROWS.c.row_hash).order_by(ROWS.c.seq.desc()).limit(1)).first()
        return None if r is None else {"seq": int(r.seq), "row_hash": r.row_hash}

    def rows(self) -> list[dict]:
        try:
            with self.engine.connect() as conn:
                return [dict(r._mapping) for r in conn.execute(sa.select(ROWS).order_by(ROWS.c.seq))]
        except sa.exc.SQLAlchemyError as e:
            raise AuditLogError(f"audit log {self.url}: cannot read ({str(e).splitlines()[0]})") from e

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
            # Numbering goes on from the head, even when every row goes: a log never restarts at 1.
            head = conn.execute(sa.select(ROWS.c.seq, ROWS.c.row_hash).order_by(ROWS.c.seq.desc()).limit(1)).first()
            conn.execute(ROWS.delete().where(ROWS.c.seq <= upto))
            row = self._append(conn, "retention", {"removed_from": first, "removed_through": upto,
                                                   "count": upto - first + 1, "anchor_hash": anchor,
                                                   "retention_days": days, "cutoff": cutoff}, now, head)
        write_checkpoint(self.url, self.key, row["seq"], row["row_hash"], row["ts"])
        return row

    def verify(self) -> Verification:
        """Walk the chain under the log's key, then hold its head against the checkpoint kept
        outside the database; name the first altered, inserted or deleted row, or say that the
        tail, or the whole log, is gone. A hand-edited database gives a message, never a
        traceback."""
        rows = self.rows()
        result = self._walk(rows)
        if not result.ok:
            return result
        try:
            checkpoint = read_checkpoint(self.url, self.key)
        except AuditLogError as e:
            return Verification(False, len(rows), str(e))
        return self._against_checkpoint(rows, checkpoint)

    def _walk(self, rows: list[dict]) -> Verification:
        if not rows:
            return Verification(True, 0, "the log is empty")
        expected_prev = GENESIS
        if rows[0]["seq"] != 1:
            anchor = self._purge_anchor(rows)
            if anchor is None:
                return Verification(False, len(rows), f"rows 1..{rows[0]['seq'] - 1} are missing and no "
                                    "retention purge records their removal: deleted", rows[0]["seq"])
            expected_prev = anchor
        for i, r in enumerate(rows):
            if i and r["seq"] != rows[i - 1]["seq"] + 1:
                return Verification(False, len(rows), f"rows {rows[i - 1]['seq'] + 1}..{r['seq'] - 1} "
                                    "were deleted", rows[i - 1]["seq"] + 1)
            if row_hash(r["seq"], r["ts"], r["kind"], r["payload"], r["prev_hash"], self.key) != r["row_hash"]:
                return Verification(False, len(rows), f"row {r['seq']} was altered or forged (its keyed "
                                    "hash does not match its contents)", r["seq"])
            if r["prev_hash"] != expected_prev:
                if i >= 2 and r["prev_hash"] == rows[i - 2]["row_hash"]:
                    msg = f"row {rows[i - 1]['seq']} was inserted (row {r['seq']} points past it)"
                    return Verification(False, len(rows), msg, rows[i - 1]["seq"])
                bad = rows[i - 1]["seq"] if i else r["seq"]
                return Verification(False, len(rows), f"the chain breaks before row {r['seq']}: row "
                                    f"{bad} was altered, replaced or inserted", bad)
            expected_prev = r["row_hash"]
        return Verification(True, len(rows), f"{len(rows)} rows, chain intact")

    def _purge_anchor(self, rows: list[dict]) -> str | None:
        """The anchor hash of the retention purge that removed the rows before the first one
        (its own row's keyed hash is checked in the walk), or None."""
        for r in reversed(rows):
            if r["kind"] != "retention":
                continue
            try:
                p = parse_payload(r)
            except AuditLogError:
                continue  # the walk names this row: its hash cannot match
            if all(k in p for k in RETENTION_FIELDS) and p["removed_through"] == rows[0]["seq"] - 1:
                return str(p["anchor_hash"])
        return None

    def _against_checkpoint(self, rows: list[dict], cp: dict | None) -> Verification:
        n = len(rows)
        if cp is None:
            if not rows:
                return Verification(True, 0, "the log is empty")
            return Verification(False, n, "the log's checkpoint is missing (it was deleted, or the log was "
                                "written without crnnaudit): rows removed from the end cannot be ruled out")
        if not rows:
            return Verification(False, 0, f"the log is empty but its checkpoint records row {cp['seq']} "
                                f"({cp['ts']}): every row was deleted, or the database was replaced", 1)
        head = rows[-1]
        if head["seq"] < cp["seq"]:
            return Verification(False, n, f"rows {head['seq'] + 1}..{cp['seq']} are missing: deleted from "
                                f"the end (the checkpoint records row {cp['seq']} at {cp['ts']})", head["seq"] + 1)
        at = next((r for r in rows if r["seq"] == cp["seq"]), None)
        if at is not None and at["row_hash"] != cp["head_hash"]:
            return Verification(False, n, f"row {cp['seq']} is not the row the checkpoint recorded: the chain "
                                "was rewritten from there", cp["seq"])
        return Verification(True, n, f"{n} rows, chain intact, head matches its checkpoint (row {cp['seq']})")

    def export(self, fmt: str = "json") -> str:
        """The whole log as JSON or CSV text, for a regulator."""
        rows = self.rows()
        if fmt == "json":
            return json.dumps([dict(r, payload=payload_or_raw(r)) for r in rows], indent=2, ensure_ascii=False)
        if fmt == "csv":
            buf = io.StringIO()
            w = csv.DictWriter(buf, fieldnames=[c.name for c in ROWS.columns])
            w.writeheader()
            w.writerows(rows)
            return buf.getvalue()
        raise AuditLogError(f"export format {fmt!r} is not one of 'json', 'csv'")


def payload_or_raw(row: dict):
    """The payload for an export: parsed, or (hand-edited into something else) kept as text
    and marked, so that the export still shows every row as it is."""
    try:
        return parse_payload(row)
    except AuditLogError as e:
        return {"unreadable_payload": row["payload"], "problem": str(e)}
