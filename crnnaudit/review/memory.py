"""Memory that finished work freed, handed back to the system.

A server that explains and drafts for several sessions grows to its peak while they work. With
``CRNNAUDIT_MEMORY=pooled`` (the default) TensorFlow's oneDNN kernels keep what they allocated in a
pool of their own, which nothing gives back while the process lives; with ``released`` they
allocate from the C library (:func:`crnnaudit.config.quiet_tensorflow` tells them so before
TensorFlow starts), and :func:`give_back` returns what is free once the server's long work is done
(:class:`.turns.WorkQueue` calls it when its last piece of work ends, and
:func:`keep_handing_back` while the server has nothing to do).

The C library keeps a separate heap (an *arena*) for each thread that allocates, up to eight per
core, and Streamlit runs every session's script in a thread of its own: what one session frees
stays in pieces across the arenas, and trimming cannot give back a page that still holds one
live piece. With ``released`` the server asks for :data:`ARENAS` arenas (:func:`prepare_server`,
called by ``serve.py`` and ``app.py`` before their threads start). Measured with six sessions
(docs/performance.md): 150 s after they ended, the server held 332 MB over its warm figure with
glibc's default and none with two heaps, at the same latency.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import threading
import time
import weakref


@functools.lru_cache(maxsize=1)
def _libc():
    """The C library, or None where it cannot be loaded."""
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name) if name else None
    except OSError:
        return None


def _libc_function(name: str):
    """glibc's ``malloc_trim`` or ``mallopt``, or None where the C library has none (musl, macOS)."""
    return getattr(_libc(), name, None)


ARENAS = 2  # the C heaps a released server's threads share (glibc's default: eight per core)
_M_ARENA_MAX = -8  # mallopt's parameter, from glibc's malloc.h


def limit_arenas(count: int = ARENAS) -> bool:
    """Ask glibc to keep at most ``count`` arenas (as ``MALLOC_ARENA_MAX`` would at start-up).
    Effective when called before the process has made more than eight; a no-op elsewhere.
    Returns whether the C library took it."""
    mallopt = _libc_function("mallopt")
    return bool(mallopt is not None and mallopt(_M_ARENA_MAX, int(count)) == 1)


def prepare_server() -> None:
    """What a server's entry point (``serve.py``, ``app.py``) does before its threads start: with
    ``CRNNAUDIT_MEMORY=released``, :func:`limit_arenas`."""
    from ..config import setting
    if setting("CRNNAUDIT_MEMORY") == "released":
        limit_arenas()


def give_back() -> bool:
    """Collect Python's unreachable cycles, then return the C heap's free pages to the system.
    Returns whether the C library could be asked (glibc)."""
    gc.collect()
    trim = _libc_function("malloc_trim")
    if trim is None:
        return False
    trim(0)
    return True


IDLE_CHECK_S = 30.0  # how often a server with nothing to do hands back what its sessions freed


def keep_handing_back(queue, every_s: float = IDLE_CHECK_S) -> threading.Thread:
    """Every ``every_s`` while ``queue`` (a :class:`.turns.WorkQueue`) is idle, :func:`give_back`:
    what a session frees when it ends (Streamlit drops a closed tab's session two minutes later)
    goes back without waiting for the next work. The thread ends with the queue."""
    ref = weakref.ref(queue)

    def run() -> None:
        while True:
            time.sleep(every_s)
            q = ref()
            if q is None:
                return
            if q.idle():
                give_back()
            del q
    thread = threading.Thread(target=run, name="crnnaudit-give-back", daemon=True)
    thread.start()
    return thread
