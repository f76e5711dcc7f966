"""The sandbox's child process: ``python -m crnnaudit.model.sandbox_child PATH LIMIT_MB``.

It caps its own address space, does everything :func:`~crnnaudit.model.load_model` does
(without a sandbox of its own) and prints one JSON verdict line for :func:`~.sandbox.vet`.
Apart from ``sandbox.py`` so that the loader may import the sandbox and this child the
loader, without a circle.
"""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path

from .. import errors
from .sandbox import over_limit


def _child(path: str) -> dict:
    from ..config import quiet_tensorflow
    quiet_tensorflow()
    from .loading import load_model
    try:
        load_model(path, card=None, isolate=False)
    except errors.CrnnauditError as e:
        if "OOM when allocating" in str(e) or "ResourceExhausted" in str(e):
            return over_limit(Path(path), "it asked for more memory than the limit allows "
                                     f"({int(sys.argv[2]) if len(sys.argv) > 2 else '?'} MB, "
                                     "CRNNAUDIT_MODEL_MEMORY_MB)")
        return {"ok": False, "type": type(e).__name__, "message": str(e)}
    except MemoryError:
        return over_limit(Path(path), "it ran out of memory")
    except RecursionError:
        return {"ok": False, "type": "ModelError",
                "message": f"{path}: refused: the model nests too deeply to be read"}
    except Exception as e:  # noqa: BLE001 - anything else is still the file's fault
        return {"ok": False, "type": "ModelError",
                "message": f"{path}: cannot load the model ({type(e).__name__}: {str(e)[:300]})"}
    return {"ok": True}


def _limit_self(limit_mb: int) -> None:
    """Address space: TensorFlow reserves more than it touches, so the hard wall is twice the
    resident limit that the parent watches. Set here, in the child, rather than with
    ``preexec_fn``, which is unsafe in a threaded parent such as the Streamlit server."""
    cap = (2 * limit_mb) << 20
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


if __name__ == "__main__":
    _limit_self(int(sys.argv[2]))
    print(json.dumps(_child(sys.argv[1])), flush=True)
