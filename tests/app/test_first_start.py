"""A user's first start: the demo is assembled from the shipped weights, and nothing of the
demo's laboratory (its training, evaluation, pretraining) is imported on the way."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import json, sys
from streamlit.testing.v1 import AppTest
from crnnaudit.ui import web
accounts, sessions = web.stores()
accounts.add("first.admin", "a long test password", "admin")
at = AppTest.from_file(sys.argv[1], default_timeout=600)
at.session_state["session_token"] = sessions.open(accounts.identity("first.admin"))  # as after sign-in
at.run()
print(json.dumps({"exception": [str(e.value) for e in at.exception],
                  "titles": [t.value for t in at.title],
                  "lab": sorted(m for m in sys.modules if m.startswith("crnnaudit.lab")),
                  "demo": sorted(m for m in sys.modules if m.startswith("crnnaudit.demo"))}))
"""


def test_the_first_start_assembles_the_demo_without_the_lab(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("CRNNAUDIT_MODEL", "CRNNAUDIT_MODELS_DIR")}
    env.update(CRNNAUDIT_HOME=str(tmp_path / "home"), CRNNAUDIT_SAMPLES=str(ROOT / "sample_videos"))
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(ROOT / "app.py")], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert not seen["exception"] and "Review" in seen["titles"], seen
    assert "crnnaudit.demo.assembly" in seen["demo"], "the demo was assembled on this start"
    assert seen["lab"] == [], f"the first start imported the lab: {seen['lab']}"
    assert (tmp_path / "home" / "demo" / "demo_vgg19_gru.keras").is_file() or \
        any((tmp_path / "home").rglob("demo_vgg19_gru.keras"))
