"""The audit log's hash chain, apart from any storage: how a row is made, and how a list of
rows is checked against its signatures and its checkpoint. Pure functions over dicts; the
rows may come from any store (:mod:`.store`). Checking needs no secret.

A row is ``{"seq", "ts", "kind", "payload", "prev_hash", "row_hash", "signature"}``: its
payload is canonical JSON, ``prev_hash`` the hash of the row before it (``GENESIS`` for the
first), ``row_hash`` the SHA-256 of the rest, and ``signature`` the installation key's Ed25519
signature of ``row_hash``, with the public key (:mod:`.keys`). Altering, inserting or deleting
a row breaks the chain at that row; re-hashing the rest does not help, since the signatures
cannot be made without the private key. Every row is signed by the key in force: the first
row's, until a ``key`` row (signed by the old key) announces a new one. A retention purge
removes a prefix of the chain and is itself a row naming the removed range and the hash of
the last removed row (the new anchor).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone

from ..errors import AuditLogError
from . import keys
from .anchor import canonical

GENESIS = "0" * 64
RETENTION_FIELDS = ("removed_from", "removed_through", "anchor_hash")
_SCHEME = "ed25519"


def row_hash(seq: int, ts: str, kind: str, payload: str, prev: str) -> str:
    """The SHA-256 of a row's fields: anyone can compute it; only the signature binds it."""
    return hashlib.sha256(canonical([seq, ts, kind, payload, prev]).encode()).hexdigest()


def pack_signature(signed: dict) -> str:
    return f"{_SCHEME}:{signed['public_key']}:{signed['signature']}"


def unpack_signature(text) -> tuple[str, str] | None:
    """``(public key, signature)`` of a row's signature column, or None when it is not one."""
    parts = str(text or "").split(":")
    return (parts[1], parts[2]) if len(parts) == 3 and parts[0] == _SCHEME else None


def new_row(head: dict | None, kind: str, payload: dict, key: "keys.SigningKey", now: datetime | None = None) -> dict:
    """The row that follows ``head`` (``{"seq", "row_hash"}``, or None for an empty log),
    signed with ``key``."""
    seq, prev = (int(head["seq"]) + 1, head["row_hash"]) if head else (1, GENESIS)
    ts = (now or datetime.now(timezone.utc)).isoformat()
    body = canonical(payload)
    digest = row_hash(seq, ts, kind, body, prev)
    return {"seq": seq, "ts": ts, "kind": kind, "payload": body, "prev_hash": prev, "row_hash": digest,
            "signature": pack_signature(key.sign(digest.encode()))}


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
    """What a check found. ``signers``: fingerprints of the keys that signed the rows, in order;
    ``signer_at``: row number -> the public key that signed it."""

    ok: bool
    rows: int
    message: str
    first_bad_seq: int | None = None
    signers: list = field(default_factory=list)
    signer_at: dict = field(default_factory=dict)

    def __bool__(self) -> bool:
        return self.ok


def walk(rows: list[dict], trusted: set[str] | None = None) -> Verification:
    """Check every row's hash, link and signature, in order, and that each is signed by the key
    in force; name the first altered, inserted, deleted or foreign-signed row. With
    ``trusted`` fingerprints, the keys must be among them or announced by one that is."""
    if not rows:
        return Verification(True, 0, "the log is empty")
    expected_prev = GENESIS
    if rows[0]["seq"] != 1:
        anchor = purge_anchor(rows)
        if anchor is None:
            return Verification(False, len(rows), f"rows 1..{rows[0]['seq'] - 1} are missing and no "
                                "retention purge records their removal: deleted", rows[0]["seq"])
        expected_prev = anchor
    keys_seen = _KeysInForce(trusted)
    for i, r in enumerate(rows):
        bad = _link_problem(rows, i, expected_prev) or keys_seen.problem(r)
        if bad:
            return Verification(False, len(rows), bad[1], bad[0], keys_seen.signers, keys_seen.signer_at)
        expected_prev = r["row_hash"]
    fp = keys.fingerprint(keys_seen.in_force)
    _, note = keys.trust_note(fp, trusted)
    return Verification(True, len(rows), f"{len(rows)} rows, chain intact, signed by {note}",
                        None, keys_seen.signers, keys_seen.signer_at)


def _link_problem(rows: list[dict], i: int, expected_prev: str) -> tuple[int, str] | None:
    r = rows[i]
    if i and r["seq"] != rows[i - 1]["seq"] + 1:
        return rows[i - 1]["seq"] + 1, f"rows {rows[i - 1]['seq'] + 1}..{r['seq'] - 1} were deleted"
    if row_hash(r["seq"], r["ts"], r["kind"], r["payload"], r["prev_hash"]) != r["row_hash"]:
        return r["seq"], f"row {r['seq']} was altered or forged (its hash does not match its contents)"
    if r["prev_hash"] != expected_prev:
        if i >= 2 and r["prev_hash"] == rows[i - 2]["row_hash"]:
            return rows[i - 1]["seq"], f"row {rows[i - 1]['seq']} was inserted (row {r['seq']} points past it)"
        bad = rows[i - 1]["seq"] if i else r["seq"]
        return bad, f"the chain breaks before row {r['seq']}: row {bad} was altered, replaced or inserted"
    return None


class _KeysInForce:
    """Which key must sign the next row, and whether it may be trusted."""

    def __init__(self, trusted: set[str] | None):
        self.trusted, self.in_force, self.in_force_trusted = trusted, None, False
        self.signers: list[str] = []
        self.signer_at: dict[int, str] = {}

    def problem(self, r: dict) -> tuple[int, str] | None:
        seq, signed = r["seq"], unpack_signature(r.get("signature"))
        if signed is None:
            return seq, f"row {seq} was altered or forged (it carries no signature)"
        public, signature = signed
        if not keys.verify(public, signature, str(r["row_hash"]).encode()):
            return seq, f"row {seq} was altered or forged (its signature does not match its hash)"
        fp = keys.fingerprint(public)
        if self.in_force is None:
            self.in_force, self.in_force_trusted = public, self.trusted is None or fp in self.trusted
        elif public != self.in_force:
            return seq, (f"row {seq} is signed by key {fp[:16]}…, but the key in force is "
                         f"{keys.fingerprint(self.in_force)[:16]}… and no row announced a new key: a key swap")
        if not self.in_force_trusted:
            return seq, (f"row {seq} is signed by key {fp[:16]}…, which is not among CRNNAUDIT_TRUSTED_KEYS "
                         "nor announced by a key that is")
        if not self.signers or self.signers[-1] != fp:
            self.signers.append(fp)
        self.signer_at[seq] = public
        if r["kind"] == "key":
            return self._announce(r)
        return None

    def _announce(self, r: dict) -> tuple[int, str] | None:
        try:
            new = parse_payload(r)["public_key"]
            keys.fingerprint(new)
        except (AuditLogError, KeyError, TypeError, ValueError):
            return r["seq"], f"row {r['seq']} announces a key that is not one"
        trusted_new = self.in_force_trusted or (self.trusted is not None and keys.fingerprint(new) in self.trusted)
        self.in_force, self.in_force_trusted = new, trusted_new
        return None


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


def against_checkpoint(rows: list[dict], cp: dict | None, where: str = "checkpoint",
                       signer_at: dict | None = None) -> Verification:
    """Hold a chain that walked intact against a signed checkpoint kept outside its store (the
    data folder's, or the witness's: ``where`` names it in messages). ``signer_at`` (from
    :func:`walk`) lets a checkpoint signed by another key than its row be named a key swap."""
    n = len(rows)
    if cp is None:
        if not rows:
            return Verification(True, 0, "the log is empty")
        return Verification(False, n, f"the log's {where} is missing (it was deleted, or the log was "
                            "written without crnnaudit): rows removed from the end cannot be ruled out")
    if not rows:
        return Verification(False, 0, f"the log is empty but its {where} records row {cp['seq']} "
                            f"({cp['ts']}): every row was deleted, or the database was replaced", 1)
    head = rows[-1]
    if head["seq"] < cp["seq"]:
        return Verification(False, n, f"rows {head['seq'] + 1}..{cp['seq']} are missing: deleted from "
                            f"the end (the {where} records row {cp['seq']} at {cp['ts']})", head["seq"] + 1)
    at = next((r for r in rows if r["seq"] == cp["seq"]), None)
    if at is not None and signer_at and cp.get("public_key") and signer_at.get(cp["seq"]) != cp["public_key"]:
        return Verification(False, n, f"row {cp['seq']} is signed by key "
                            f"{keys.fingerprint(signer_at[cp['seq']])[:16]}…, but the {where} was signed by key "
                            f"{keys.fingerprint(cp['public_key'])[:16]}…: a key swap, the chain re-signed", cp["seq"])
    if at is not None and at["row_hash"] != cp["head_hash"]:
        return Verification(False, n, f"row {cp['seq']} is not the row the {where} recorded: the chain "
                            "was rewritten from there", cp["seq"])
    return Verification(True, n, f"head matches its {where} (row {cp['seq']})")


def in_words(row: dict) -> str:
    """What a row records, in a sentence an auditor reads (the Audit log page, exports)."""
    p = payload_or_raw(row)
    if "unreadable_payload" in p:
        return "an unreadable row (edited by hand)"
    kind, a = row["kind"], p.get("action", "")
    if kind == "review":
        return (f"{p.get('reviewer')} decided {p.get('decision')} on {p.get('clip')} (window {p.get('window')}; "
                f"the model said {p.get('model_decision')}, score {_num(p.get('anomaly_score'))})")
    if kind == "countersign":
        return (f"{p.get('second_reviewer')} countersigned {p.get('reviewer')}'s decision ({p.get('decision')}) on "
                f"{p.get('clip')} at {p.get('second_signed_at')}")
    if kind in ("return", "reject"):
        did = "returned" if kind == "return" else "rejected"
        return (f"{p.get('second_reviewer')} {did} {p.get('reviewer')}'s decision ({p.get('decision')}) on "
                f"{p.get('clip')}: {p.get('comment')}")
    if kind == "account":
        return _account_words(a, p)
    if kind == "card":
        return (f"{p.get('by')} edited the card {p.get('card_file')} (version {p.get('card_version')}, SHA-256 "
                f"{str(p.get('card_sha256'))[:12]}…) of model {str(p.get('model_sha256'))[:12]}…")
    if kind == "erasure":
        return (f"erased clip {str(p.get('clip_sha256'))[:12]}… ({p.get('reason')}): {p.get('uploads_removed')} "
                f"upload(s), {p.get('explanations_removed')} cached explanation(s)")
    if kind == "retention":
        why = f"; forced: {p.get('reason')}" if p.get("forced") else ""
        return (f"purged rows {p.get('removed_from')}..{p.get('removed_through')} ({p.get('count')}) older than "
                f"{p.get('retention_days')} days{why}")
    if kind == "instructions":
        return (f"instructions for use {p.get('document_id')} written for model {str(p.get('model_sha256'))[:12]}… "
                f"from run {p.get('run')}")
    if kind == "run":
        return (f"{p.get('by')} sealed dataset run {p.get('run')}: {p.get('clips')} clips, {p.get('files')} files, "
                f"model {str(p.get('model_sha256'))[:12]}…")
    if kind == "key":
        return (f"signing key rotated: {str(p.get('previous_fingerprint'))[:16]}… → {str(p.get('fingerprint'))[:16]}…"
                if p.get("previous_fingerprint") else f"signing key {str(p.get('fingerprint'))[:16]}… announced")
    return f"{kind}: " + ", ".join(f"{k} {v}" for k, v in p.items())


def _account_words(action: str, p: dict) -> str:
    who, name = p.get("by"), p.get("username")
    if action == "account added":
        return f"{who} added the account {name} as {p.get('role')}"
    if action == "account disabled":
        return f"{who} disabled the account {name}"
    if action == "role changed":
        return f"{who} changed {name}'s role to {p.get('role')}"
    if action in ("sign-in throttled", "sign-in locked"):
        return f"{action} for {p.get('key')} after {p.get('failures')} failures (from {p.get('client')})"
    if action == "sign-in lock lifted":
        return f"{who} lifted the sign-in lock on {name}"
    if action == "display name set":
        return f"{who} set what reports call {name}: {p.get('display_name') or 'their role'}"
    return f"{action}: {name} by {who}"


def _num(value) -> str:
    return f"{value:.3f}" if isinstance(value, (int, float)) else str(value)
