"""A real MLflow tracking server for the suite: SQLite backend store, a local artifact folder
served through the server's artifact proxy, on a free port; and MLflow's own client (in the
server's virtual environment, ``make`` builds it from requirements-mlflow-server.txt) to register
models, move aliases and read tags, as a team would.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / os.environ.get("CRNNAUDIT_TEST_MLFLOW_VENV", ".cache/mlflow-venv")  # relative: to the checkout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MlflowServer:
    """``mlflow server`` in ``folder``; :meth:`stop` and :meth:`start` take it down and up again
    on the same port, with the same store."""

    def __init__(self, folder: Path):
        if not (VENV / "bin" / "mlflow").exists():
            raise RuntimeError(f"no MLflow server in {VENV}: `make test` installs it (requirements-mlflow-server.txt)")
        self.folder, self.port, self.process = Path(folder), _free_port(), None
        self.url = f"http://127.0.0.1:{self.port}"
        self.artifacts = self.folder / "artifacts"

    def start(self, timeout: float = 90.0) -> MlflowServer:
        self.folder.mkdir(parents=True, exist_ok=True)
        log = open(self.folder / "server.log", "ab")
        self.process = subprocess.Popen(
            [str(VENV / "bin" / "mlflow"), "server", "--backend-store-uri", f"sqlite:///{self.folder / 'store.db'}",
             "--artifacts-destination", str(self.artifacts), "--host", "127.0.0.1", "--port", str(self.port),
             "--workers", "1"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the MLflow server stopped: {(self.folder / 'server.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"the MLflow server did not answer in {timeout:.0f} s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None

    # --- MLflow's own client ----------------------------------------------------------
    def client(self, *actions: dict) -> list:
        done = subprocess.run([str(VENV / "bin" / "python"), str(Path(__file__).with_name("mlflow_register.py")),
                               self.url], input=json.dumps(list(actions)), capture_output=True, text=True,
                              timeout=180, check=False)
        if done.returncode:
            raise RuntimeError(f"MLflow's client failed: {done.stderr[-3000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])

    def register(self, name: str, *files: Path, folder: str = "model") -> str:
        return self.client({"register": name, "files": [str(f) for f in files], "folder": folder})[0]["version"]

    def alias(self, name: str, alias: str, version) -> None:
        self.client({"alias": alias, "name": name, "version": str(version)})

    def tags(self, name: str, version) -> dict:
        return self.client({"tags": name, "version": str(version)})[0]
