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
from typing import Callable

import sqlalchemy as sa

from ..errors import AuditLogError
from .anchor import make_checkpoint, read_checkpoint, write_checkpoint
from .chain import (GENESIS, RETENTION_FIELDS, Verification, against_checkpoint, new_row, parse_payload,  # noqa: F401
                    payload_or_raw, row_hash, walk)
from .keys import load_signing_key, trusted_fingerprints
from .store import SqlStore, as_url, default_url  # noqa: F401  (default_url: where the log is)
from .witness import chain_problem, configured_witness


class AuditLog:
    """Open (and create) the log at ``url``: a SQLAlchemy URL, a SQLite file, or ``None``
    for the default (``CRNNAUDIT_AUDIT_DB``, else SQLite in ``CRNNAUDIT_HOME``)."""

    def __init__(self, url: str | Path | None = None):
        self.url = as_url(url)
        self.store = SqlStore(self.url)
        self.engine = self.store.engine
        self.witness = configured_witness(self.url)

    def _anchor(self, row: dict, key) -> None:
        """The signed checkpoint, in the data folder and at the witness."""
        doc = make_checkpoint(self.url, key, row["seq"], row["row_hash"], row["ts"])
        write_checkpoint(self.url, doc)
        if self.witness is not None:
            try:
                self.witness.record(self.url, doc)
            except AuditLogError as e:
                raise AuditLogError(f"audit log row {row['seq']} was written, but {e}") from e

    def append(self, payload: dict, kind: str = "review", now: datetime | None = None,
               change: Callable | None = None) -> dict:
        """Append one row, signed, in one transaction, then move the checkpoint (and the
        witness's) to it; returns the row. ``change(connection)``, when given, is the change the
        row records (an account added, say) made in the same transaction: both happen, or neither.

        Raises:
            SigningKeyError: no signing key (nothing is written). AuditLogError: the database
                or the witness cannot be written. Whatever ``change`` raises (nothing is written).
        """
        key = load_signing_key()
        try:
            with self.store.locked() as tx:
                if change is not None:
                    change(tx.conn)
                row = new_row(tx.head(), kind, payload, key, now)
                tx.insert(row)
        except sa.exc.SQLAlchemyError as e:
            raise AuditLogError(f"audit log {self.url}: cannot append ({e})") from e
        self._anchor(row, key)
        return row

    def head(self) -> dict | None:
        """``{"seq", "row_hash"}`` of the last row, or None for an empty log."""
        return self.store.head()

    def rows(self) -> list[dict]:
        return self.store.rows()

    def retention_plan(self, days: float, now: datetime | None = None) -> tuple[int, int]:
        """``(rows a purge at ``days`` would remove, rows in the log)``: to ask before purging all."""
        from ..limits import checked_days
        cutoff = ((now or datetime.now(timezone.utc)) - timedelta(days=checked_days(days))).isoformat()
        rows = self.rows()
        return sum(r["ts"] < cutoff for r in rows), len(rows)

    def apply_retention(self, days: float, now: datetime | None = None, *, force: bool = False,
                        reason: str = "") -> dict | None:
        """Remove reviews older than ``days``, recording the purge (and its reason) as a chained row.

        Raises:
            CrnnauditError: days not from 1 to 36,500. AuditLogError: below the six months the AI
                Act asks for (:data:`~.retention.AI_ACT_LOG_DAYS`) without ``force`` and a reason.
        """
        from ..limits import AI_ACT_LOG_DAYS, checked_days
        days = checked_days(days)
        if days < AI_ACT_LOG_DAYS and not (force and reason.strip()):
            raise AuditLogError(f"a log retention of {days:g} days is below the six months the EU AI Act asks "
                                "deployers to keep logs (Art. 19(1), 26(6)); to purge anyway give --force and "
                                "--reason, which the purge row records")
        now = now or datetime.now(timezone.utc)
        cutoff = (now - timedelta(days=days)).isoformat()
        key = load_signing_key()
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
                                              "retention_days": days, "cutoff": cutoff,
                                              "forced": bool(force), "reason": reason}, key, now)
            tx.insert(row)
        self._anchor(row, key)
        return row

    def verify(self) -> Verification:
        """Walk the chain (hashes, links, signatures, the key in force; with
        ``CRNNAUDIT_TRUSTED_KEYS``, pinned keys only), then hold its head against the signed
        checkpoint in the data folder and the witness's latest one. Names the first altered,
        inserted, deleted or foreign-signed row, or says that the tail, or the whole log, is
        gone. Needs no secret; a hand-edited database gives a message, never a traceback."""
        rows = self.rows()
        result = walk(rows, trusted_fingerprints())
        if not result.ok:
            return result
        said = [result.message]
        for where, read in (("checkpoint", lambda: read_checkpoint(self.url)),
                            ("witness's checkpoint", lambda: self.witness.latest(self.url) if self.witness else None)):
            if where.startswith("witness") and self.witness is None:
                said.append("no witness (CRNNAUDIT_WITNESS): a rollback by someone who can write the data folder "
                            "cannot be ruled out")
                continue
            try:
                check = against_checkpoint(rows, read(), where, result.signer_at)
            except AuditLogError as e:
                return Verification(False, len(rows), str(e))
            if not check.ok:
                return check
            said.append(check.message)
        if self.witness is not None:
            try:
                problem = chain_problem(self.witness.entries(self.url), rows)
            except AuditLogError as e:
                return Verification(False, len(rows), str(e))
            if problem:
                return Verification(False, len(rows), problem[0], problem[1])
            said.append("the witness's checkpoints form one chain")
        return Verification(True, len(rows), "; ".join(said), None, result.signers, result.signer_at)

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
