"""Explanation methods, the registry and the shared-pass engine.

    base.py      Explanation, ExplanationSet, Method and the registry (what each method needs)
    engine.py    explain(): one forward and one backward pass shared by the methods asked for
    passes.py    the compiled gradient passes, kept per model
    spatial.py   maps per frame; temporal.py: one number per frame, from the head alone
    cache.py     explanations on disk, keyed by content; clip.py: every window of a clip

Names are imported on first use: the cache (which erasure needs) loads no TensorFlow; the
registry registers the built-in methods when it is first read.
"""

from __future__ import annotations

from ..lazy import lazy_exports

_EXPORTS = {"DEFAULT_METHODS": ".base", "REGISTRY": ".base", "Explanation": ".base",
            "ExplanationSet": ".base", "Method": ".base", "available_methods": ".base", "register": ".base",
            "ExplanationCache": ".cache", "explain": ".engine"}
__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, namespace=globals())
