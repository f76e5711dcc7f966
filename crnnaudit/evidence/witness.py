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

import json
import os
from pathlib import Path

import sqlalchemy as sa

from ..config import home, setting
from ..errors import AuditLogError
from .anchor import log_id, open_checkpoint

_META = sa.MetaData()
_ROWS = sa.Table("crnnaudit_witness", _META,
                 sa.Column("log", sa.String(32), primary_key=True),
                 sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
                 sa.Column("doc", sa.Text, nullable=False))


class FolderWitness:
    """Checkpoints as files ``<folder>/<log id>/<seq>.json``, each created once."""

    def __init__(self, folder: Path):
        self.where = str(folder)
        self.folder = folder

    def record(self, url: str, doc: dict) -> None:
        target = self.folder / log_id(url) / f"{int(doc['checkpoint']['seq']):012d}.json"
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return  # written already: a witness never replaces what it holds
        except OSError as e:
            raise AuditLogError(f"witness {self.where}: cannot record the checkpoint ({e.strerror or e})") from e
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(doc, f)

    def latest(self, url: str) -> dict | None:
        folder = self.folder / log_id(url)
        files = sorted(folder.glob("*.json")) if folder.is_dir() else []
        if not files:
            return None
        try:
            doc = json.loads(files[-1].read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise AuditLogError(f"witness {files[-1]}: unreadable ({e})") from e
        return open_checkpoint(doc, f"witness {files[-1]}")


class DatabaseWitness:
    """Checkpoints as rows of ``crnnaudit_witness`` in a separate database."""

    def __init__(self, url: str):
        self.where = url.split("@")[-1]
        try:
            self.engine = sa.create_engine(url)
            _META.create_all(self.engine)
        except (sa.exc.SQLAlchemyError, ImportError) as e:
            raise AuditLogError(f"witness {self.where}: cannot open ({str(e).splitlines()[0]})") from e

    def record(self, url: str, doc: dict) -> None:
        row = {"log": log_id(url), "seq": int(doc["checkpoint"]["seq"]), "doc": json.dumps(doc)}
        try:
            with self.engine.begin() as conn:
                if conn.execute(sa.select(_ROWS.c.seq).where(_ROWS.c.log == row["log"], _ROWS.c.seq == row["seq"])).first():
                    return
                conn.execute(_ROWS.insert().values(**row))
        except sa.exc.IntegrityError:
            return  # another writer recorded this checkpoint first
        except sa.exc.SQLAlchemyError as e:
            raise AuditLogError(f"witness {self.where}: cannot record the checkpoint ({str(e).splitlines()[0]})") from e

    def latest(self, url: str) -> dict | None:
        try:
            with self.engine.connect() as conn:
                r = conn.execute(sa.select(_ROWS.c.doc).where(_ROWS.c.log == log_id(url))
                                 .order_by(_ROWS.c.seq.desc()).limit(1)).first()
        except sa.exc.SQLAlchemyError as e:
            raise AuditLogError(f"witness {self.where}: cannot read ({str(e).splitlines()[0]})") from e
        if r is None:
            return None
        try:
            doc = json.loads(r.doc)
        except ValueError as e:
            raise AuditLogError(f"witness {self.where}: an unreadable checkpoint ({e})") from e
        return open_checkpoint(doc, f"witness {self.where}")


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
        if text == log_url:
            raise AuditLogError("CRNNAUDIT_WITNESS is the audit log's own database: a witness must be a "
                                "separate database that the log's writers cannot rewrite")
        return DatabaseWitness(text)
    folder = Path(text).expanduser().resolve()
    if folder.is_relative_to(home().resolve()):
        raise AuditLogError(f"CRNNAUDIT_WITNESS={folder} lies inside the data folder ({home()}): whoever can "
                            "write the data folder could rewrite it; put it on another mount or host")
    return FolderWitness(folder)
