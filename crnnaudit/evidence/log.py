"""The audit log: append-only, hash-chained under a key, anchored outside, transactional.

Every review is one row. The chain (:mod:`.chain`) makes altering, inserting or deleting a row
detectable, and nobody without the key (:mod:`.anchor`) can re-hash a chain or forge a row.
Every append also writes a signed checkpoint (row number and head) outside the database, so
deleting the tail, emptying or deleting the log is detected too. Rows are never updated or
deleted, except by a retention purge, which is itself a chained row recording what it removed
and the hash of the last removed row (the new chain's anchor).

The rows live in a store (:mod:`.store`): SQLite under the data folder by default, or any
SQLAlchemy URL whose write lock crnnaudit knows (PostgreSQL in larger deployments). Appends
take the write lock before reading the chain's head, so concurrent writers land one after
another, and a writer killed mid-append leaves no half row.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import sqlalchemy as sa

from ..errors import AuditLogError
from .anchor import log_key, read_checkpoint, write_checkpoint
from .chain import (GENESIS, RETENTION_FIELDS, Verification, against_checkpoint, new_row, parse_payload,  # noqa: F401
                    payload_or_raw, row_hash, walk)
from .store import SqlStore, as_url, default_url  # noqa: F401  (default_url: where the log is)


class AuditLog:
    """Open (and create) the log at ``url``: a SQLAlchemy URL, a SQLite file, or ``None``
    for the default (``CRNNAUDIT_AUDIT_DB``, else SQLite in ``CRNNAUDIT_HOME``)."""

    def __init__(self, url: str | Path | None = None):
        self.url = as_url(url)
        self.key = log_key()
        self.store = SqlStore(self.url)
        self.engine = self.store.engine

    def append(self, payload: dict, kind: str = "review", now: datetime | None = None) -> dict:
        """Append one row in one transaction, then move the checkpoint to it; returns the row."""
        try:
            with self.store.locked() as tx:
                row = new_row(tx.head(), kind, payload, self.key, now)
                tx.insert(row)
        except sa.exc.SQLAlchemyError as e:
            raise AuditLogError(f"audit log {self.url}: cannot append ({e})") from e
        write_checkpoint(self.url, self.key, row["seq"], row["row_hash"], row["ts"])
        return row

    def head(self) -> dict | None:
        """``{"seq", "row_hash"}`` of the last row, or None for an empty log."""
        return self.store.head()

    def rows(self) -> list[dict]:
        return self.store.rows()

    def apply_retention(self, days: float, now: datetime | None = None) -> dict | None:
        """Remove reviews older than ``days``, recording the purge as a chained row."""
        now = now or datetime.now(timezone.utc)
        cutoff = (now - timedelta(days=days)).isoformat()
        with self.store.locked() as tx:
            old = tx.older_than(cutoff)
            if not old:
                return None
            # Only a prefix of the chain can go: a purge never leaves a hole in the middle.
            first = tx.first_seq()
            upto = first - 1
            for seq, _ in old:
                if seq != upto + 1:
                    break
                upto = seq
            if upto < first:
                return None
            anchor = tx.hash_of(upto)
            # Numbering goes on from the head, even when every row goes: a log never restarts at 1.
            head = tx.head()
            tx.delete_through(upto)
            row = new_row(head, "retention", {"removed_from": first, "removed_through": upto,
                                              "count": upto - first + 1, "anchor_hash": anchor,
                                              "retention_days": days, "cutoff": cutoff}, self.key, now)
            tx.insert(row)
        write_checkpoint(self.url, self.key, row["seq"], row["row_hash"], row["ts"])
        return row

    def verify(self) -> Verification:
        """Walk the chain under the log's key, then hold its head against the checkpoint kept
        outside the database; name the first altered, inserted or deleted row, or say that the
        tail, or the whole log, is gone. A hand-edited database gives a message, never a
        traceback."""
        rows = self.rows()
        result = walk(rows, self.key)
        if not result.ok:
            return result
        try:
            checkpoint = read_checkpoint(self.url, self.key)
        except AuditLogError as e:
            return Verification(False, len(rows), str(e))
        return against_checkpoint(rows, checkpoint)

    def export(self, fmt: str = "json") -> str:
        """The whole log as JSON or CSV text, for a regulator."""
        rows = self.rows()
        if fmt == "json":
            return json.dumps([dict(r, payload=payload_or_raw(r)) for r in rows], indent=2, ensure_ascii=False)
        if fmt == "csv":
            buf = io.StringIO()
            w = csv.DictWriter(buf, fieldnames=SqlStore.columns())
            w.writeheader()
            w.writerows(rows)
            return buf.getvalue()
        raise AuditLogError(f"export format {fmt!r} is not one of 'json', 'csv'")
