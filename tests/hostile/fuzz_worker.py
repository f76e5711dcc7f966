"""The fuzz worker: ``python -m tests.hostile.fuzz_worker KIND MEMORY_MB``; reads one file path
per line on stdin, answers one JSON verdict per line on stdout (see ``fuzz.Worker``)."""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path


def main() -> None:
    kind, memory_mb = sys.argv[1], int(sys.argv[2])
    cap = (2 * memory_mb) << 20  # as in the model sandbox: TensorFlow reserves more than it uses
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    from crnnaudit.config import quiet_tensorflow
    quiet_tensorflow()
    from .fuzz import entry
    from .mutate import verdict
    if kind in ("keras", "h5"):
        import crnnaudit.model  # noqa: F401  (TensorFlow, once, before the first case)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        outcome, detail = verdict(lambda: entry(kind, Path(line.strip())))
        print(json.dumps({"outcome": outcome, "detail": detail}), flush=True)


if __name__ == "__main__":
    main()
