"""The audit log's hash chain, apart from any storage: how a row is hashed, and how a list of
rows is checked against its key and its checkpoint. Pure functions over dicts; the rows may
come from any store (:mod:`.store`).

A row is ``{"seq", "ts", "kind", "payload", "prev_hash", "row_hash"}``: its payload is
canonical JSON, ``prev_hash`` the hash of the row before it (``GENESIS`` for the first) and
``row_hash`` an HMAC over the rest under the log's key, so altering, inserting or deleting a
row breaks the chain at that row. A retention purge removes a prefix of the chain and is
itself a row naming the removed range and the hash of the last removed row (the new anchor).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone

from ..errors import AuditLogError
from .anchor import canonical, keyed_hash, log_key

GENESIS = "0" * 64
RETENTION_FIELDS = ("removed_from", "removed_through", "anchor_hash")


def row_hash(seq: int, ts: str, kind: str, payload: str, prev: str, key: bytes | None = None) -> str:
    """The row's HMAC-SHA256 under the log's key (:func:`crnnaudit.evidence.anchor.log_key`)."""
    return keyed_hash(key if key is not None else log_key(), [seq, ts, kind, payload, prev])


def new_row(head: dict | None, kind: str, payload: dict, key: bytes, now: datetime | None = None) -> dict:
    """The row that follows ``head`` (``{"seq", "row_hash"}``, or None for an empty log)."""
    seq, prev = (int(head["seq"]) + 1, head["row_hash"]) if head else (1, GENESIS)
    ts = (now or datetime.now(timezone.utc)).isoformat()
    body = canonical(payload)
    return {"seq": seq, "ts": ts, "kind": kind, "payload": body, "prev_hash": prev,
            "row_hash": row_hash(seq, ts, kind, body, prev, key)}


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


def payload_or_raw(row: dict):
    """The payload for an export: parsed, or (hand-edited into something else) kept as text
    and marked, so that the export still shows every row as it is."""
    try:
        return parse_payload(row)
    except AuditLogError as e:
        return {"unreadable_payload": row["payload"], "problem": str(e)}


@dataclass
class Verification:
    ok: bool
    rows: int
    message: str
    first_bad_seq: int | None = None

    def __bool__(self) -> bool:
        return self.ok


def walk(rows: list[dict], key: bytes) -> Verification:
    """Check every row's keyed hash and link, in order; name the first altered, inserted or
    deleted row."""
    if not rows:
        return Verification(True, 0, "the log is empty")
    expected_prev = GENESIS
    if rows[0]["seq"] != 1:
        anchor = purge_anchor(rows)
        if anchor is None:
            return Verification(False, len(rows), f"rows 1..{rows[0]['seq'] - 1} are missing and no "
                                "retention purge records their removal: deleted", rows[0]["seq"])
        expected_prev = anchor
    for i, r in enumerate(rows):
        if i and r["seq"] != rows[i - 1]["seq"] + 1:
            return Verification(False, len(rows), f"rows {rows[i - 1]['seq'] + 1}..{r['seq'] - 1} "
                                "were deleted", rows[i - 1]["seq"] + 1)
        if row_hash(r["seq"], r["ts"], r["kind"], r["payload"], r["prev_hash"], key) != r["row_hash"]:
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


def purge_anchor(rows: list[dict]) -> str | None:
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


def against_checkpoint(rows: list[dict], cp: dict | None) -> Verification:
    """Hold a chain that walked intact against the checkpoint kept outside its store."""
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
