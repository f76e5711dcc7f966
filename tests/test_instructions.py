"""Instructions for use (AI Act Art. 13(3)) from a labelled run: figures recomputed by hand
from the run's own clip table, intervals against the Wilson formula written out, per
condition, sealed and logged like a report, and bad input refused by name."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

import architectures as arch
from crnnaudit import ModelCard
from crnnaudit.cli.main import main
from crnnaudit.dataset.executors import run_batch
from crnnaudit.dataset.instructions import build_instructions, proportion
from crnnaudit.errors import CrnnauditError
from crnnaudit.evidence.log import AuditLog
from crnnaudit.evidence.signing import verify_file
from crnnaudit.model import AuditedModel

CLASSES = ["normal", "fight", "fire", "shooting"]


def _wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    centre = (k + z * z / 2) / (n + z * z)
    half = z / (n + z * z) * math.sqrt(k * (n - k) / n + z * z / 4)
    return centre - half, centre + half


@pytest.mark.parametrize("k, n", [(0, 5), (3, 8), (8, 8), (47, 120)])
def test_intervals_are_wilson_score_intervals(k, n):
    p = proportion(k, n)
    assert p["rate"] == k / n and (p["low"], p["high"]) == pytest.approx(_wilson(k, n), abs=1e-9)
    assert proportion(0, 0)["rate"] is None


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from crnnaudit.demo import synthesize
    folder = tmp_path_factory.mktemp("instr")
    synthesize(folder / "clips", count=8, seed=31, frames=24)
    model = AuditedModel(arch.td_cnn_gru_softmax(t=8, s=32, classes=4),
                         ModelCard(name="m", version="2", classes=CLASSES, stride=8, known_limitations=["no night"]))
    run_batch(model, [str(folder / "clips")], folder / "run")
    return folder


def test_instructions_hold_the_run_figures_per_condition_signed_and_logged(run, tmp_path, capsys, monkeypatch):
    from crnnaudit.evidence.accounts import Accounts
    Accounts().add("Ida Admin", "a long test password", "admin")
    monkeypatch.setenv("CRNNAUDIT_PASSWORD", "a long test password")
    clips = pd.read_parquet(run / "run" / "clips.parquet")
    names = sorted(clips["clip"])
    conditions = tmp_path / "conditions.csv"
    conditions.write_text("clip,label,camera,light\n" + "".join(
        f"{n},ignored,{'gate' if i < 5 else 'yard'},{'day' if i % 2 else 'night'}\n" for i, n in enumerate(names[:-1])))
    assert main(["instructions", str(run / "run"), "--conditions", str(conditions), "--out", str(tmp_path / "i")]) == 2
    assert "name the account the command runs as: --as USER" in capsys.readouterr().err  # nobody signs it
    assert main(["instructions", str(run / "run"), "--conditions", str(conditions), "--out", str(tmp_path / "i"),
                 "--as", "Ida Admin"]) == 0
    printed = capsys.readouterr().out
    doc = json.loads((tmp_path / "i" / "instructions.json").read_text())["report"]
    right = clips["label"] == clips["predicted"]
    acc = doc["figures"]["accuracy"]
    assert (acc["k"], acc["n"]) == (int(right.sum()), len(clips)) and f"accuracy {acc['rate']:.1%}" in printed
    for c in CLASSES:
        rec = doc["figures"]["per_class"][c]["recall"]
        assert (rec["k"], rec["n"]) == (int((right & (clips["label"] == c)).sum()), int((clips["label"] == c).sum()))
    normal = clips["label"] == "normal"
    flagged = clips["decision"] == "anomaly"
    assert doc["figures"]["false_alarms"]["k"] == int((flagged & normal).sum())
    assert doc["figures"]["detected"]["n"] == int((~normal).sum())
    assert set(doc["conditions"]) == {"camera", "light"}  # 'label' in the CSV is not a condition
    gate = clips[clips["clip"].isin(names[:5])]
    g = doc["conditions"]["camera"]["gate"]
    assert g["clips"] == 5 and g["accuracy"]["k"] == int((gate["label"] == gate["predicted"]).sum())
    assert doc["conditions"]["camera"]["(not given)"]["clips"] == 1  # the clip the CSV leaves out
    assert (doc["conditions"]["camera"]["yard"]["accuracy"]["low"], doc["conditions"]["camera"]["yard"]["accuracy"][
        "high"]) == pytest.approx(_wilson(doc["conditions"]["camera"]["yard"]["accuracy"]["k"], 2))
    assert doc["model"]["limitations"] == ["no night"] and doc["model"]["intended_use"]
    html = (tmp_path / "i" / "instructions.html").read_text()
    assert "Accuracy by condition: camera" in html and "95% CI" in html and "crnnaudit audit verify" in html
    assert (tmp_path / "i" / "instructions.pdf").read_bytes().startswith(b"%PDF")
    log = AuditLog()
    for ext in ("json", "html", "pdf"):
        check = verify_file(tmp_path / "i" / f"instructions.{ext}", log=log)
        assert check["ok"] and check["log_row"] == log.rows()[-1]["seq"], check["message"]
    assert log.rows()[-1]["kind"] == "instructions"
    from crnnaudit.evidence.chain import payload_or_raw
    assert doc["author"] == "Ida Admin" == payload_or_raw(log.rows()[-1])["by"], "the document and its row name its author"
    assert "by Ida Admin" in html
    raw = json.loads((tmp_path / "i" / "instructions.json").read_text())
    raw["report"]["figures"]["accuracy"]["rate"] = 0.99
    (tmp_path / "i" / "forged.json").write_text(json.dumps(raw))
    assert not verify_file(tmp_path / "i" / "forged.json")["ok"]


def test_bad_runs_and_tables_are_refused_by_name(run, tmp_path):
    with pytest.raises(CrnnauditError, match="not a finished crnnaudit run"):
        build_instructions(tmp_path)
    bad = tmp_path / "bad.csv"
    bad.write_text("file,camera\nx,gate\n")
    with pytest.raises(CrnnauditError, match="bad.csv: the conditions CSV needs a 'clip' column"):
        build_instructions(run / "run", bad)
    unlabelled = tmp_path / "u"
    import shutil
    shutil.copytree(run / "run", unlabelled)
    table = pd.read_parquet(unlabelled / "clips.parquet")
    table["label"] = None
    table.to_parquet(unlabelled / "clips.parquet")
    with pytest.raises(CrnnauditError, match="no labelled clip in this run"):
        build_instructions(unlabelled)
