"""Byte-level mutations of valid files, as Hypothesis strategies, and the fuzz verdict.

A mutation is a short list of edits to a seed file: flip bits, overwrite a run with random
bytes or with boundary values (0, 0xFF.., 0x7FFFFFFF), cut the file, duplicate or delete a
chunk. Edits land anywhere, with extra weight on the first kilobytes where containers keep
their headers. The fuzz verdict of one case: the entry point either succeeds or raises one of
crnnaudit's errors; any other exception is a *foreign* exception, and a case that runs past
its time limit is a *hang*.
"""

from __future__ import annotations

import signal
import traceback
from contextlib import contextmanager

from hypothesis import strategies as st

BOUNDARY = [b"\x00\x00\x00\x00", b"\xff\xff\xff\xff", b"\x7f\xff\xff\xff", b"\x80\x00\x00\x00",
            b"\x00\x00\x00\x01", b"\xff", b"\x00", b"\x7f"]


@st.composite
def edits(draw, size: int, max_edits: int = 4):
    """A list of ``(op, position, argument)`` edits for a file of ``size`` bytes."""
    out = []
    for _ in range(draw(st.integers(1, max_edits))):
        head = draw(st.booleans())
        pos = draw(st.integers(0, min(size - 1, 4095) if head else size - 1))
        op = draw(st.sampled_from(["flip", "random", "boundary", "cut", "duplicate", "delete"]))
        if op == "flip":
            arg = draw(st.integers(0, 7))
        elif op == "random":
            arg = draw(st.binary(min_size=1, max_size=16))
        elif op == "boundary":
            arg = draw(st.sampled_from(BOUNDARY))
        else:
            arg = draw(st.integers(1, max(1, min(size // 4, 4096))))
        out.append((op, pos, arg))
    return out


def apply(data: bytes, edit_list) -> bytes:
    buf = bytearray(data)
    for op, pos, arg in edit_list:
        if not buf:
            break
        pos = min(pos, len(buf) - 1)
        if op == "flip":
            buf[pos] ^= 1 << arg
        elif op in ("random", "boundary"):
            buf[pos: pos + len(arg)] = arg
        elif op == "cut":
            del buf[max(1, pos):]
        elif op == "duplicate":
            buf[pos:pos] = buf[pos: pos + arg]
        elif op == "delete":
            del buf[pos: pos + arg]
    return bytes(buf)


class Hang(BaseException):
    """A case ran past its limit (BaseException: no ``except Exception`` swallows it)."""


@contextmanager
def time_limit(seconds: float):
    def fire(signum, frame):
        raise Hang(f"over {seconds} s")
    old = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def verdict(run, limit_s: float = 20.0) -> tuple[str, str]:
    """``("ok" | "refused" | "foreign" | "hang", detail)`` of calling ``run()``."""
    from crnnaudit.errors import CrnnauditError
    try:
        with time_limit(limit_s):
            run()
    except CrnnauditError as e:
        return "refused", str(e)[:200]
    except Hang as e:
        return "hang", str(e)
    except Exception as e:  # noqa: BLE001 - that is what is being counted
        return "foreign", "".join(traceback.format_exception_only(type(e), e)).strip()[:500]
    return "ok", ""
