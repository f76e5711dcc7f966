"""Trust figures computed once per content: the Compare page's figures and the report's are
one computation. Keys are hashes of what a figure was computed from, never object identity."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

import numpy as np

_MEMO: OrderedDict = OrderedDict()
_MEMO_SIZE = 256
_LOCK = threading.Lock()  # every session's thread reads and fills it
_MISSING = object()


def memo(key: tuple, compute):
    """Figures already computed for the same model, window, method and explanation (keyed by
    content: hashes, never object identity) are served again: the Compare page's figures and
    the report's are one computation. ``compute`` runs outside the lock: two sessions asking
    for the same figures at once may both compute them (the same values), never wait on each
    other's model passes."""
    value = _get(key)
    if value is _MISSING:
        value = compute()
        with _LOCK:
            _MEMO[key] = value
            while len(_MEMO) > _MEMO_SIZE:
                _MEMO.popitem(last=False)
    return value


def known(key: tuple):
    """The figures kept under ``key``, or None (see :func:`memo`)."""
    value = _get(key)
    return None if value is _MISSING else value


def _get(key: tuple):
    with _LOCK:
        if key not in _MEMO:
            return _MISSING
        _MEMO.move_to_end(key)
        return _MEMO[key]


def content_key(model, window, *arrays) -> tuple:
    digest = hashlib.sha256(np.ascontiguousarray(window.indices).tobytes())
    for a in arrays:
        digest.update(np.ascontiguousarray(a).tobytes())
    return model.sha256, window.clip_sha256, window.index, window.stride, digest.hexdigest()
