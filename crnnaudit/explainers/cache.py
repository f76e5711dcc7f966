"""On-disk cache of explanations, keyed by content, bounded in size.

The key hashes the model's SHA-256, the clip's SHA-256, the window, the method, its
parameters, the target and crnnaudit's version, so a changed model, clip or parameter never
returns a stale map. Oldest entries are removed when the folder outgrows ``max_bytes``.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from ..limits import EXPLANATION_CACHE_BYTES
from .base import Explanation


class ExplanationCache:
    """Explanations on disk under ``folder``, keyed by content (see :meth:`key`)."""

    _defaults: dict[Path, "ExplanationCache"] = {}

    def __init__(self, folder: str | Path, max_bytes: int = EXPLANATION_CACHE_BYTES):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.max_bytes = int(max_bytes)

    @classmethod
    def default(cls) -> "ExplanationCache":
        """The cache under the data folder (``CRNNAUDIT_HOME/cache/explanations``); one
        instance per folder, so a changed ``CRNNAUDIT_HOME`` gets its own."""
        from ..config import home
        folder = home() / "cache" / "explanations"
        if folder not in cls._defaults:
            cls._defaults[folder] = cls(folder)
        return cls._defaults[folder]

    @staticmethod
    def key(**parts) -> str:
        blob = json.dumps(parts, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()

    def _path(self, key: str) -> Path:
        return self.folder / f"{key}.npz"

    def get(self, key: str) -> Explanation | None:
        path = self._path(key)
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(bytes(z["meta"]).decode())
                maps = z["maps"] if "maps" in z.files else None
                scores = z["frame_scores"]
                arrays = {k[6:]: z[k] for k in z.files if k.startswith("extra_")}
        except (OSError, KeyError, ValueError):
            return None  # absent or damaged: recompute
        os.utime(path)  # most recently used
        meta["extra"].update(arrays)
        return Explanation(meta["method"], maps, scores, meta["target"], meta["target_name"],
                           meta["params"], meta["seconds"], meta["provenance"], meta["extra"])

    def put(self, key: str, exp: Explanation) -> None:
        arrays = {k: v for k, v in exp.extra.items() if isinstance(v, np.ndarray)}
        meta = {"method": exp.method, "target": exp.target, "target_name": exp.target_name,
                "params": exp.params, "seconds": exp.seconds, "provenance": exp.provenance,
                "extra": {k: v for k, v in exp.extra.items() if k not in arrays}}
        payload = {"meta": np.frombuffer(json.dumps(meta, default=float).encode(), dtype=np.uint8),
                   "frame_scores": exp.frame_scores,
                   **{f"extra_{k}": v for k, v in arrays.items()}}
        if exp.maps is not None:
            payload["maps"] = exp.maps
        fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
        os.close(fd)
        with open(tmp, "wb") as f:
            np.savez(f, **payload)
        os.replace(tmp, self._path(key))  # atomic: readers never see half a file
        self.prune()

    def prune(self) -> None:
        entries = sorted(self.folder.glob("*.npz"), key=lambda p: p.stat().st_mtime)
        total = sum(p.stat().st_size for p in entries)
        while entries and total > self.max_bytes:
            oldest = entries.pop(0)
            total -= oldest.stat().st_size
            oldest.unlink(missing_ok=True)

    def erase_clip(self, clip_sha256: str) -> int:
        """Delete every explanation of the clip with this content hash (GDPR erasure); returns
        how many files went. Reads only each entry's small metadata member."""
        removed = 0
        for path in self.folder.glob("*.npz"):
            try:
                with np.load(path, allow_pickle=False) as z:
                    meta = json.loads(bytes(z["meta"]).decode())
            except (OSError, KeyError, ValueError):
                continue
            if meta.get("provenance", {}).get("clip_sha256") == clip_sha256:
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.folder.glob("*.npz"))
