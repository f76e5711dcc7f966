"""Names a package exports but imports only on first use, so that importing the package costs
nothing (``crnnaudit report verify`` never imports TensorFlow because of it)."""

from __future__ import annotations

import importlib
from typing import Callable


def lazy_exports(package: str, exports: dict[str, str], renames: dict[str, str] | None = None,
                 namespace: dict | None = None) -> tuple[Callable, Callable]:
    """``__getattr__`` and ``__dir__`` for a package whose name ``X`` lives in the module
    ``exports[X]`` (relative to ``package``, e.g. ``".engine"``), under the name
    ``renames.get(X, X)`` there. A name once looked up is kept in ``namespace`` (the package's
    globals)."""
    renames = renames or {}

    def __getattr__(name: str):
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), renames.get(name, name))
        if namespace is not None:
            namespace[name] = value
        return value

    def __dir__():
        return sorted(set(namespace or ()) | set(exports))
    return __getattr__, __dir__


class LazyModule:
    """A third-party module imported on first attribute access: the engine's import chain
    then needs PyAV or pandas only where a clip is decoded or a table built, so the
    explanation passes run on a machine that has neither (a GPU machine with JAX alone)."""

    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attr: str):
        return getattr(importlib.import_module(self._name), attr)
