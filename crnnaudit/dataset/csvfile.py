"""The CSV files a user hands a dataset audit (labels, conditions), read as hostile input: a
regular file only (never a pipe, which would hang the reader), bounded in bytes, columns, rows
and cell length, in UTF-8 (with or without its BOM), UTF-16 (with its BOM) or Latin-1, and every
problem a :class:`CrnnauditError` naming the file."""

from __future__ import annotations

import codecs
import csv
import io
import os
import stat
from pathlib import Path

from ..errors import CrnnauditError
from ..limits import MAX_CSV_BYTES, MAX_CSV_CELL, MAX_CSV_COLUMNS, MAX_CSV_ROWS


def _bytes(path: Path, what: str) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as e:
        raise CrnnauditError(f"{path}: cannot read the {what} ({e.strerror or e})") from e
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise CrnnauditError(f"{path}: the {what} must be a regular CSV file")
        chunks, size = [], 0
        while chunk := os.read(fd, 1 << 20):
            size += len(chunk)
            if size > MAX_CSV_BYTES:
                raise CrnnauditError(f"{path}: the {what} CSV is over {MAX_CSV_BYTES >> 20} MB")
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks)


def decode(data: bytes, path: Path, what: str) -> str:
    """The text: UTF-16 by its BOM, UTF-8 (its BOM dropped), else Latin-1 (every byte is a
    character; a Latin-1 file is the common spreadsheet export that is not UTF-8). NUL bytes
    without a UTF-16 BOM are refused: a binary file, or UTF-16 without a BOM."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as e:
            raise CrnnauditError(f"{path}: the {what} CSV is not valid UTF-16 ({e.reason})") from e
    if b"\x00" in data:
        raise CrnnauditError(f"{path}: the {what} CSV holds NUL bytes: not text (save it as UTF-8)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def read_csv_rows(path: str | Path, what: str) -> list[dict[str, str]]:
    """The rows of the CSV at ``path`` as dictionaries by column name.

    Raises:
        CrnnauditError: not a regular file, too large, too many columns or rows, a cell too
            long, or malformed; the message names the file and the limit.
    """
    path = Path(path)
    text = decode(_bytes(path, what), path, what)
    reader = csv.reader(io.StringIO(text, newline=""))
    old = csv.field_size_limit(MAX_CSV_CELL)
    try:
        header = next(reader, None)
        if header is None:
            return []
        if len(header) > MAX_CSV_COLUMNS:
            raise CrnnauditError(f"{path}: the {what} CSV has {len(header)} columns; at most {MAX_CSV_COLUMNS}")
        header = [h.strip() for h in header]
        rows = []
        for row in reader:
            if len(rows) >= MAX_CSV_ROWS:
                raise CrnnauditError(f"{path}: the {what} CSV has over {MAX_CSV_ROWS:,} rows")
            if len(row) > len(header):
                raise CrnnauditError(f"{path}: row {len(rows) + 2} of the {what} CSV has more cells than its header")
            rows.append(dict(zip(header, [c.strip() for c in row] + [""] * (len(header) - len(row)))))
    except csv.Error as e:
        raise CrnnauditError(f"{path}: the {what} CSV is malformed at line {reader.line_num} ({e})") from e
    finally:
        csv.field_size_limit(old)
    return rows
