"""Model files are opened first in a child process with a memory and a time limit.

A model file is a program's description: a 4 MB ``.keras`` can declare layers whose weights
take 8 GB, or nest its config 100,000 levels deep. crnnaudit reads such a file first in a
child process (``python -m crnnaudit.model.sandbox_child``) that does everything
:func:`~crnnaudit.model.load_model` does (the safety scan, Keras in safe mode, the
decomposition) under

- an address-space limit (``RLIMIT_AS``) and a resident-memory watch by the parent, both
  from :func:`memory_limit_mb` (``CRNNAUDIT_MODEL_MEMORY_MB``, default 2048 MB, raised for
  model files large enough to need it), and
- a wall-clock limit (``CRNNAUDIT_MODEL_TIMEOUT_S``, default 45 s, so that with TensorFlow's
  start the verdict comes within a minute: a damaged HDF5 file can send the HDF5 library
  into an endless loop, which no Python-level timer interrupts).

Only when the child succeeds does the caller's process load the file itself. A file whose
content hash passed is remembered (in the process, and under ``CRNNAUDIT_HOME/vetted``), so
a model is vetted once per machine, not once per load.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from .. import errors
from ..config import child_environment, home
from ..limits import SANDBOX_POLL_S, model_memory_mb, model_timeout_s

_VETTED: set[str] = set()


def memory_limit_mb(size_bytes: int) -> int:
    """The child's memory limit (see :func:`crnnaudit.limits.model_memory_mb`)."""
    return model_memory_mb(size_bytes)


def timeout_s() -> float:
    return model_timeout_s()


def _marker(sha256: str) -> Path:
    return home() / "vetted" / f"{sha256}.ok"


def is_vetted(sha256: str) -> bool:
    return sha256 in _VETTED or _marker(sha256).exists()


def mark_vetted(sha256: str) -> None:
    """Remember that the file with this content hash loaded within the limits (or is the
    project's own, like the demo model)."""
    _VETTED.add(sha256)
    marker = _marker(sha256)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps({"vetted_at": time.time()}))


def trust_own_file(path: Path) -> str:
    """A model file crnnaudit wrote itself (the demo) needs no sandbox; returns its SHA-256."""
    from ..footage.video import sha256_file
    digest = sha256_file(path)
    mark_vetted(digest)
    return digest


def vet(path: Path, sha256: str) -> None:
    """Load ``path`` in a child process within the limits; return when it loaded, else raise.

    Raises:
        ModelError (or the subclass the child raised): the file failed, or went over a limit;
            the message names the file and the limit.
    """
    if is_vetted(sha256):
        return
    limit = memory_limit_mb(path.stat().st_size)
    verdict = _run_child(path, limit, timeout_s())
    if verdict.get("ok"):
        mark_vetted(sha256)
        return
    cls = getattr(errors, str(verdict.get("type")), None)
    if not (isinstance(cls, type) and issubclass(cls, errors.CrnnauditError)):
        cls = errors.ModelError
    raise cls(verdict["message"])


def _run_child(path: Path, limit_mb: int, limit_s: float) -> dict:
    env = child_environment(TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    proc = subprocess.Popen([sys.executable, "-m", "crnnaudit.model.sandbox_child", str(path), str(limit_mb)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    t0, peak = time.monotonic(), 0
    try:
        while proc.poll() is None:
            peak = max(peak, _rss_mb(proc.pid))
            if peak > limit_mb:
                proc.kill()
                return over_limit(path, f"it took more than {limit_mb} MB of memory "
                                   "(CRNNAUDIT_MODEL_MEMORY_MB)")
            if time.monotonic() - t0 > limit_s:
                proc.kill()
                return over_limit(path, f"it took more than {limit_s:g} s (CRNNAUDIT_MODEL_TIMEOUT_S)")
            time.sleep(SANDBOX_POLL_S)
        out = proc.stdout.read().decode("utf-8", "replace").strip().splitlines()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()
    try:
        return json.loads(out[-1])
    except (IndexError, json.JSONDecodeError):
        # Killed by the address-space wall (or a crash inside a native library).
        return over_limit(path, f"the loader stopped (exit {proc.returncode}) under the {limit_mb} MB "
                           "memory limit (CRNNAUDIT_MODEL_MEMORY_MB)")


def over_limit(path: Path, why: str) -> dict:
    """The verdict for a file that went over a limit."""
    return {"ok": False, "type": "ModelError",
            "message": f"{path}: refused: loading the model in a sandbox, {why}. A model file "
                       "that needs this much is either damaged or built to exhaust the server"}


def _rss_mb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) >> 10
    except OSError:
        pass
    return 0
