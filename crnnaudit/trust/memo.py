"""Trust figures computed once per content: the Compare page's figures and the report's are
one computation. Keys are hashes of what a figure was computed from, never object identity."""

from __future__ import annotations

import hashlib
from collections import OrderedDict

import numpy as np

_MEMO: OrderedDict = OrderedDict()
_MEMO_SIZE = 256


def memo(key: tuple, compute):
    """Figures already computed for the same model, window, method and explanation (keyed by
    content: hashes, never object identity) are served again: the Compare page's figures and
    the report's are one computation."""
    if key in _MEMO:
        _MEMO.move_to_end(key)
        return _MEMO[key]
    value = compute()
    _MEMO[key] = value
    while len(_MEMO) > _MEMO_SIZE:
        _MEMO.popitem(last=False)
    return value


def known(key: tuple):
    """The figures kept under ``key``, or None (see :func:`memo`)."""
    if key in _MEMO:
        _MEMO.move_to_end(key)
        return _MEMO[key]
    return None


def content_key(model, window, *arrays) -> tuple:
    digest = hashlib.sha256(np.ascontiguousarray(window.indices).tobytes())
    for a in arrays:
        digest.update(np.ascontiguousarray(a).tobytes())
    return model.sha256, window.clip_sha256, window.index, window.stride, digest.hexdigest()
