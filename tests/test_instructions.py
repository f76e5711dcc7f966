"""Instructions for use (AI Act Art. 13(3)) from a labelled run: figures recomputed by hand
from the run's own clip table, intervals against the Wilson formula written out, per
condition, sealed and logged like a report, and bad input refused by name."""

from __future__ import annotations

import json
import math
import re

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
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CRNNAUDIT_HOME", str(folder))  # the run's seal is logged in folder/audit.sqlite
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
    with pytest.raises(CrnnauditError, match="u: clips.parquet was changed after the run was sealed"):
        build_instructions(unlabelled)
    from crnnaudit.dataset.seal import seal_run
    seal_run(unlabelled, json.loads((unlabelled / "summary.json").read_text()))  # sealed as it now is
    with pytest.raises(CrnnauditError, match="no labelled clip in this run"):
        build_instructions(unlabelled)


@pytest.mark.parametrize("edit", ["predictions set to labels", "manifest removed", "table added", "record changed",
                                  "manifest re-signed by another key"])
def test_an_edited_run_is_refused_by_name(run, tmp_path, edit, monkeypatch):
    """The run is sealed when written (a signed, logged manifest); a table edited afterwards (every
    prediction set to its label: 100% accuracy), a seal removed or forged, a file added among
    the tables: instructions for use and the Dataset page's files refuse the run by name."""
    import shutil
    from crnnaudit.dataset.run_report import load_run_files
    from crnnaudit.evidence.keys import load_signing_key
    edited = tmp_path / "edited"
    shutil.copytree(run / "run", edited)
    truth = build_instructions(edited)  # the copy, untouched, is the run as sealed
    assert truth["run"]["manifest_files"] >= 4 and truth["run"]["sealed_at"]
    says = "was changed after the run was sealed"
    if edit == "predictions set to labels":
        table = pd.read_parquet(edited / "clips.parquet")
        table["predicted"] = table["label"]
        table.to_parquet(edited / "clips.parquet")
        says = "clips.parquet " + says
    elif edit == "manifest removed":
        (edited / "manifest.json").unlink()
        says = "the run is not sealed"
    elif edit == "table added":
        pd.DataFrame({"x": [1]}).to_parquet(edited / "extra.parquet")
        says = "extra.parquet was added after the run was sealed"
    elif edit == "record changed":
        record = sorted((edited / "clips").glob("*.json"))[0]
        record.write_text(record.read_text().replace('"predicted"', '"predicted" '))
        says = f"clips/{record.name} " + says
    else:  # a whole new seal over edited content, by a key that is not the installation's
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        from crnnaudit.evidence.anchor import canonical
        from crnnaudit.evidence.keys import SigningKey
        monkeypatch.setenv("CRNNAUDIT_TRUSTED_KEYS", load_signing_key().fingerprint)
        doc = json.loads((edited / "manifest.json").read_text())
        doc["report"]["clips"] = 99
        doc["integrity"].update(SigningKey(Ed25519PrivateKey.generate()).sign(canonical(doc["report"]).encode()))
        (edited / "manifest.json").write_text(json.dumps(doc))
        says = "does not verify, or its key is not pinned here"
    for build in (build_instructions, load_run_files):
        with pytest.raises(CrnnauditError, match=f"^{re.escape(str(edited))}: .*{re.escape(says)}"):
            build(edited)


def test_a_run_is_sealed_and_logged_when_written(run):
    """The seal's log row names the run, its clips and files, and the manifest's hash."""
    from crnnaudit.dataset.seal import check_run
    from crnnaudit.evidence.anchor import canonical
    import hashlib
    body = check_run(run / "run")
    assert set(body["files"]) >= {"clips.parquet", "windows.parquet", "summary.json", "model.json"}
    assert body["clips"] == 8 and len(body["files"]) == 4 + 8  # the four tables and one record per clip
    assert hashlib.sha256((run / "run" / "clips.parquet").read_bytes()).hexdigest() == body["files"]["clips.parquet"]
    rows = [json.loads(r["payload"]) for r in AuditLog(run / "audit.sqlite").rows() if r["kind"] == "run"]
    assert [r["manifest_sha256"] for r in rows] == [hashlib.sha256(canonical(body).encode()).hexdigest()]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "latin-1", "utf-16"])
def test_a_conditions_csv_is_read_in_the_encodings_spreadsheets_write(tmp_path, encoding):
    from crnnaudit.dataset.instructions import read_conditions
    path = tmp_path / "conditions.csv"
    path.write_bytes("clip,caméra\r\nclip_1.mp4,entrée\r\n".encode(encoding))
    table = read_conditions(path)
    assert list(table.columns) == ["clip", "caméra"] and table.iloc[0].tolist() == ["clip_1.mp4", "entrée"]


@pytest.mark.parametrize("case", ["2,000 columns", "fifo", "binary", "folder", "a long cell", "ragged"])
def test_a_hostile_csv_is_refused_at_once_by_name(tmp_path, case):
    import os
    import time
    from crnnaudit.dataset.instructions import read_conditions
    from crnnaudit.dataset.runner import read_labels
    path = tmp_path / "table.csv"
    says = {"2,000 columns": "2001 columns; at most 64", "fifo": "must be a regular CSV file",
            "binary": "NUL bytes", "folder": "must be a regular CSV file|cannot read",
            "a long cell": "malformed", "ragged": "row 2 of the .* CSV has more cells"}[case]
    if case == "2,000 columns":
        path.write_text("clip," + ",".join(f"c{i}" for i in range(2000)) + "\nx.mp4," + ",".join("1" * 2000) + "\n")
    elif case == "fifo":
        os.mkfifo(path)
    elif case == "binary":
        path.write_bytes(b"PK\x03\x04\x00\x00clip,label")
    elif case == "folder":
        path.mkdir()
    elif case == "a long cell":
        path.write_text("clip,label\nx.mp4," + "y" * 10_000 + "\n")
    else:
        path.write_text("clip,label\nx.mp4,fire,extra\n")
    for read in (read_conditions, read_labels):
        t0 = time.perf_counter()
        with pytest.raises(CrnnauditError, match=f"^{re.escape(str(path))}: .*({says})"):
            read(path)
        assert time.perf_counter() - t0 < 5, "refused at once, never a hang"
