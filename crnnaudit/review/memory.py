"""Memory that finished work freed, handed back to the system.

A server that explains and drafts for several sessions grows to its peak while they work. With
``CRNNAUDIT_MEMORY=pooled`` (the default) TensorFlow's oneDNN kernels keep what they allocated in a
pool of their own, which nothing gives back while the process lives; with ``released`` they
allocate from the C library (:func:`crnnaudit.config.quiet_tensorflow` tells them so before
TensorFlow starts), and :func:`give_back` returns what is free once the server's long work is done
(:class:`.turns.WorkQueue` calls it when its last piece of work ends, and
:func:`keep_handing_back` while the server has nothing to do).
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
def _malloc_trim():
    """glibc's ``malloc_trim``, or None where the C library has none (musl, macOS)."""
    name = ctypes.util.find_library("c")
    try:
        return getattr(ctypes.CDLL(name), "malloc_trim", None) if name else None
    except OSError:
        return None


def give_back() -> bool:
    """Collect Python's unreachable cycles, then return the C heap's free pages to the system.
    Returns whether the C library could be asked (glibc)."""
    gc.collect()
    trim = _malloc_trim()
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
