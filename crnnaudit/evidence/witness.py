"""A witness: a second store, outside the data folder, that keeps every signed checkpoint of
the log and never overwrites one.

Whoever can write the data folder can delete the log's last rows and put an older (genuine,
signed) checkpoint back, or swap the key and re-sign everything. The witness is what they
cannot reach: ``CRNNAUDIT_WITNESS`` is

- a **folder** on another mount or host (NFS, a write-once bucket mount): one file per
  checkpoint, created and never replaced; or
- a **database URL** of a separate database (``postgresql+psycopg://witness@host/witness``):
  one row per checkpoint in ``crnnaudit_witness``; grant crnnaudit INSERT and SELECT there, and
  nothing else.

``audit verify`` holds the log against the witness's latest checkpoint. With no witness it says
that a rollback by someone who can write the data folder cannot be ruled out.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from pathlib import Path

import sqlalchemy as sa

from ..config import home, setting
from ..errors import AuditLogError
from .anchor import canonical, log_id, open_checkpoint

_META = sa.MetaData()
_ROWS = sa.Table("crnnaudit_witness", _META,
                 sa.Column("log", sa.String(32), primary_key=True),
                 sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
                 sa.Column("previous", sa.String(64), nullable=False),
                 sa.Column("doc", sa.Text, nullable=False),
                 sa.UniqueConstraint("log", "previous", name="crnnaudit_witness_one_successor"))


def entry_sha256(doc: dict, previous: str) -> str:
    """What the next entry names: the hash of a checkpoint and the entry it follows."""
    return hashlib.sha256(canonical({"checkpoint_doc": doc, "previous": previous}).encode()).hexdigest()


class FolderWitness:
    """Checkpoints as files ``<folder>/<log id>/<seq>.json``, each created once and naming the
    entry before it (under a lock file in the folder, so concurrent writers keep one chain)."""

    def __init__(self, folder: Path):
        self.where = str(folder)
        self.folder = folder

    def record(self, url: str, doc: dict) -> None:
        seq = int(doc["checkpoint"]["seq"])
        folder = self.folder / log_id(url)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with open(folder / ".lock", "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                last = self._read(max(folder.glob("*.json"), default=None))
                if last is not None and last["seq"] >= seq:
                    return  # a later checkpoint is there already (writers may finish out of order)
                previous = entry_sha256(last["doc"], last["previous"]) if last else ""
                fd = os.open(folder / f"{seq:012d}.json", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    json.dump(dict(doc, witness_previous=previous), f)
        except FileExistsError:
            return  # written already: a witness never replaces what it holds
        except OSError as e:
            raise AuditLogError(f"witness {self.where}: cannot record the checkpoint ({e.strerror or e})") from e

    def entries(self, url: str) -> list[dict]:
        """Every entry, in the order of its name: ``{"seq", "doc", "previous"}``."""
        folder = self.folder / log_id(url)
        return [self._read(path) for path in (sorted(folder.glob("*.json")) if folder.is_dir() else [])]

    @staticmethod
    def _read(path: Path | None) -> dict | None:
        if path is None:
            return None
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            return {"seq": int(path.stem), "previous": str(doc.pop("witness_previous", None)), "doc": doc,
                    "where": f"witness {path}"}
        except (OSError, ValueError, AttributeError) as e:
            raise AuditLogError(f"witness {path}: unreadable ({e})") from e

    def latest(self, url: str) -> dict | None:
        folder = self.folder / log_id(url)
        last = self._read(max(folder.glob("*.json"), default=None)) if folder.is_dir() else None
        return open_checkpoint(last["doc"], last["where"]) if last else None


class DatabaseWitness:
    """Checkpoints as rows of ``crnnaudit_witness`` in a separate database, each naming the row
    before it; a unique constraint lets only one entry follow each (INSERT and SELECT rights
    suffice: a writer that loses the race reads the chain again)."""

    def __init__(self, url: str):
        self.where = url.split("@")[-1]
        try:
            self.engine = sa.create_engine(url)
            _META.create_all(self.engine)
        except (sa.exc.SQLAlchemyError, ImportError) as e:
            raise AuditLogError(f"witness {self.where}: cannot open ({str(e).splitlines()[0]})") from e

    def record(self, url: str, doc: dict) -> None:
        seq = int(doc["checkpoint"]["seq"])
        for _ in range(20):
            last = self._last(url)
            if last is not None and last["seq"] >= seq:
                return
            previous = entry_sha256(last["doc"], last["previous"]) if last else ""
            try:
                with self.engine.begin() as conn:
                    conn.execute(_ROWS.insert().values(log=log_id(url), seq=seq, previous=previous, doc=json.dumps(doc)))
                return
            except sa.exc.IntegrityError:
                continue  # another writer extended the chain first: read it again
            except sa.exc.SQLAlchemyError as e:
                raise AuditLogError(f"witness {self.where}: cannot record the checkpoint "
                                    f"({str(e).splitlines()[0]})") from e
        raise AuditLogError(f"witness {self.where}: cannot record the checkpoint (the chain kept moving)")

    def _select(self, url: str, last: bool = False) -> list:
        q = sa.select(_ROWS).where(_ROWS.c.log == log_id(url))
        q = q.order_by(_ROWS.c.seq.desc()).limit(1) if last else q.order_by(_ROWS.c.seq)
        try:
            with self.engine.connect() as conn:
                return list(conn.execute(q))
        except sa.exc.SQLAlchemyError as e:
            raise AuditLogError(f"witness {self.where}: cannot read ({str(e).splitlines()[0]})") from e

    def _entry(self, r) -> dict:
        try:
            return {"seq": int(r.seq), "previous": r.previous, "doc": json.loads(r.doc),
                    "where": f"witness {self.where} (entry {r.seq})"}
        except ValueError as e:
            raise AuditLogError(f"witness {self.where}: an unreadable checkpoint ({e})") from e

    def _last(self, url: str) -> dict | None:
        rows = self._select(url, last=True)
        return self._entry(rows[0]) if rows else None

    def entries(self, url: str) -> list[dict]:
        """Every entry, in the order of its sequence number: ``{"seq", "doc", "previous"}``."""
        return [self._entry(r) for r in self._select(url)]

    def latest(self, url: str) -> dict | None:
        last = self._last(url)
        return open_checkpoint(last["doc"], last["where"]) if last else None


def chain_problem(entries: list[dict], rows: list[dict]) -> tuple[str, int | None] | None:
    """What is wrong with the witness's chain of checkpoints against the log's rows, or None:
    an entry renumbered, out of order, or not following the one before it (a replay, an insert
    or a removal); a recorded row the log no longer holds as recorded; a witness whose latest
    checkpoint is older than the log. Returns the words and the first row concerned."""
    previous, last_seq, by_seq = "", 0, {r["seq"]: r for r in rows}
    for e in entries:
        note = open_checkpoint(e["doc"], e["where"])
        seq = int(note["seq"])
        if seq != e["seq"]:
            return (f"{e['where']} holds the checkpoint of row {seq}: an entry renumbered (a replayed "
                    "checkpoint)", min(seq, e["seq"]))
        if e["previous"] != previous or seq <= last_seq:
            return (f"{e['where']} does not follow the witness's entry before it (row {last_seq}): a checkpoint "
                    "inserted, replayed or removed", seq)
        row = by_seq.get(seq)
        if row is not None and row["row_hash"] != note["head_hash"]:
            return (f"row {seq} is not the row the witness recorded: the chain was rewritten from there", seq)
        previous, last_seq = entry_sha256(e["doc"], e["previous"]), seq
    if rows and entries and last_seq < rows[-1]["seq"]:
        return (f"the witness's latest checkpoint (row {last_seq}) is older than the log (row {rows[-1]['seq']}): "
                "rows written past the witness, or its later checkpoints removed", last_seq + 1)
    return None


def configured_witness(log_url: str):
    """The witness ``CRNNAUDIT_WITNESS`` names, or None.

    Raises:
        AuditLogError: a witness that is no witness: inside the data folder, the log's own
            database, or a kind crnnaudit cannot write (HTTP).
    """
    text = setting("CRNNAUDIT_WITNESS")
    if not text:
        return None
    if text.startswith(("http://", "https://")):
        raise AuditLogError(f"CRNNAUDIT_WITNESS={text}: an HTTP witness is not supported; use a folder on "
                            "another mount or a separate database URL")
    if "://" in text:
        if _same_database(text, log_url):
            raise AuditLogError("CRNNAUDIT_WITNESS is the audit log's own database: a witness must be a "
                                "separate database that the log's writers cannot rewrite")
        inside = _sqlite_file(text)
        if inside is not None and inside.is_relative_to(home().resolve()):
            raise AuditLogError(f"CRNNAUDIT_WITNESS: its database file {inside} lies inside the data folder "
                                f"({home()}): whoever can write the data folder could rewrite it")
        return DatabaseWitness(text)
    folder = Path(text).expanduser().resolve()
    if folder.is_relative_to(home().resolve()):
        raise AuditLogError(f"CRNNAUDIT_WITNESS={folder} lies inside the data folder ({home()}): whoever can "
                            "write the data folder could rewrite it; put it on another mount or host")
    return FolderWitness(folder)


def _sqlite_file(url: str) -> Path | None:
    """The resolved file of a SQLite URL (``./`` and links undone), or None for another database."""
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        return None
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database).expanduser().resolve()


def _same_database(a: str, b: str) -> bool:
    """Whether two URLs name one database however they are spelled: one resolved SQLite file,
    or one server (host, port) and database name."""
    fa, fb = _sqlite_file(a), _sqlite_file(b)
    if fa is not None or fb is not None:
        return fa == fb
    try:
        ua, ub = sa.engine.make_url(a), sa.engine.make_url(b)
    except sa.exc.ArgumentError:
        return a == b

    def where(u):
        return (u.get_backend_name(), (u.host or "localhost").lower().replace("127.0.0.1", "localhost"),
                u.port or 0, u.database)
    return where(ua) == where(ub)
