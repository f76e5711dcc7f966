"""Dataset audits, local executor: one record per clip, resumable by content, figures checked
against a hand computation from the per-clip records."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

import architectures as arch
from crnnaudit import ModelCard
from crnnaudit.dataset.executors import run_batch
from crnnaudit.cli.main import main
from crnnaudit.errors import CrnnauditError
from crnnaudit.model import AuditedModel

CLASSES = ["normal", "fight", "fire", "shooting"]


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    from crnnaudit.demo import synthesize
    folder = tmp_path_factory.mktemp("archive")
    synthesize(folder / "a", count=4, seed=11, frames=24)
    synthesize(folder / "b", count=4, seed=12, frames=24)
    (folder / "b" / "broken.mp4").write_bytes(b"not a video")
    return folder


def _model():
    return AuditedModel(arch.td_cnn_gru_softmax(t=8, s=32, classes=4), ModelCard(classes=CLASSES, stride=8))


def _auc(pos, score):
    """Pairwise definition: P(score of a positive > score of a negative), ties half."""
    p, n = score[pos], score[~pos]
    return float(np.mean([(a > b) + 0.5 * (a == b) for a in p for b in n]))


def test_batch_records_every_clip_and_the_figures_hold(archive, tmp_path):
    model, seen = _model(), []
    summary = run_batch(model, [str(archive)], tmp_path / "run", progress=lambda d, t, r: seen.append((d, t)))
    clips = pd.read_parquet(tmp_path / "run" / "clips.parquet")
    assert len(clips) == 9 and summary["clips"] == 9 and summary["failed"] == 1
    assert "not a video file" in clips.loc[clips["clip"] == "broken.mp4", "error"].iloc[0]
    ok = clips[clips["error"].isna()]
    assert set(ok["label"]) <= set(CLASSES) and ok["windows"].min() >= 1
    windows = pd.read_parquet(tmp_path / "run" / "windows.parquet")
    assert len(windows) == ok["windows"].sum()
    cm = summary["confusion_matrix"]
    for t in CLASSES:
        for p in CLASSES:
            assert cm[t][p] == int(((ok["label"] == t) & (ok["predicted"] == p)).sum())
    anomalous = ok["label"].isin(["fight", "fire", "shooting"]).to_numpy()
    assert summary["detection_roc_auc"] == pytest.approx(_auc(anomalous, ok["max_anomaly_score"].to_numpy()))
    k = CLASSES.index("fight")
    assert summary["roc_auc"]["fight"] == pytest.approx(_auc((ok["label"] == "fight").to_numpy(),
                                                             ok[f"p_{CLASSES[k]}"].to_numpy()))
    assert seen[-1] == (9, 9)


def test_a_rerun_skips_what_is_done_and_redoes_what_is_missing(archive, tmp_path):
    model = _model()
    run_batch(model, [str(archive / "a")], tmp_path / "run")
    records = sorted((tmp_path / "run" / "clips").glob("*.json"))
    records[0].unlink()  # as if the run had been killed during that clip
    again = run_batch(model, [str(archive / "a")], tmp_path / "run")
    assert again["scored_this_run"] == 1  # only the clip that was in flight
    assert run_batch(model, [str(archive / "a")], tmp_path / "run")["scored_this_run"] == 0
    assert len(list((tmp_path / "run" / "clips").glob("*.json"))) == 4
    assert len(pd.read_parquet(tmp_path / "run" / "clips.parquet")) == 4
    first = json.loads(records[1].read_text())["record"]
    assert first["sha256"] == records[1].stem  # named by content


def test_labels_from_a_csv_override_and_bad_sources_are_clear(archive, tmp_path, capsys, monkeypatch):
    path = tmp_path / "m.keras"
    arch.td_cnn_gru_softmax(t=8, s=32, classes=4).save(path)
    ModelCard(classes=CLASSES, stride=8).write(tmp_path / "m.card.json")
    labels = tmp_path / "labels.csv"
    names = sorted(p.name for p in (archive / "a").glob("*.mp4"))
    labels.write_text("clip,label\n" + "".join(f"{n},normal\n" for n in names))
    assert main(["batch", str(path), str(archive / "a" / "*.mp4"), "--out", str(tmp_path / "r"),
                 "--labels", str(labels)]) == 2, "a run is sealed and logged in someone's name: --as"
    assert "name the account the command runs as: --as USER" in capsys.readouterr().err
    from crnnaudit.evidence.accounts import Accounts
    Accounts().add("Ada Auditor", "a long batch password", "auditor")
    monkeypatch.setenv("CRNNAUDIT_PASSWORD", "a long batch password")
    assert main(["batch", str(path), str(archive / "a" / "*.mp4"), "--out", str(tmp_path / "r"),
                 "--labels", str(labels), "--as", "Ada Auditor"]) == 0
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert sum(summary["confusion_matrix"]["normal"].values()) == 4  # every clip labelled normal
    from crnnaudit.evidence.log import AuditLog
    sealed = [json.loads(r["payload"]) for r in AuditLog().rows() if r["kind"] == "run"]
    assert [(r["by"], r["run"], r["clips"]) for r in sealed] == [("Ada Auditor", "r", 4)]
    said = capsys.readouterr()
    assert said.out.splitlines()[0].startswith("4 clips (4 scored now, 0 could not be read)"), said.out
    assert f"labelled: accuracy {summary['accuracy']:.3f}" in said.out and len(said.out.splitlines()) == 3
    progress = said.err.splitlines()  # not a terminal: one line per update, on stderr, never run together
    assert progress[-1].startswith("auditing: 4/4 clips, done in"), said.err
    assert all(re.fullmatch(r"auditing: \d/4 clips, (about|done in) [\d a-z]+( left)?", line) for line in progress), progress
    assert main(["batch", str(path), str(archive / "a" / "*.mp4"), "--out", str(tmp_path / "r"), "--json",
                 "--as", "Ada Auditor"]) == 0
    assert json.loads(capsys.readouterr().out)["clips"] == 4, "--json: the whole summary"
    assert main(["batch", str(path), str(tmp_path / "nothing-here"), "--out", str(tmp_path / "r2"),
                 "--as", "Ada Auditor"]) == 2
    assert "no clip there" in capsys.readouterr().err
    with pytest.raises(CrnnauditError, match="columns 'clip' and 'label'"):
        (tmp_path / "bad.csv").write_text("file,class\nx,y\n")
        from crnnaudit.dataset.runner import read_labels
        read_labels(tmp_path / "bad.csv")


def test_explain_all_scores_once_and_keeps_what_each_window_shows(archive, tmp_path):
    from crnnaudit.dataset.explained import GRID, relevance_grid
    from crnnaudit.explainers import explain
    from crnnaudit.footage.video import open_clip
    model = AuditedModel(arch.td_cnn_gru_softmax(t=8, s=32, classes=4), ModelCard(classes=CLASSES, stride=4))
    plain = run_batch(model, [str(archive / "a")], tmp_path / "plain")
    summary = run_batch(model, [str(archive / "a")], tmp_path / "run", explain="all")
    a = pd.read_parquet(tmp_path / "plain" / "windows.parquet")
    b = pd.read_parquet(tmp_path / "run" / "windows.parquet")  # the one-pass timeline is the scored one
    np.testing.assert_allclose(a["anomaly_score"], b["anomaly_score"], rtol=1e-5, atol=1e-6)
    assert summary["accuracy"] == plain["accuracy"]
    assert summary["explanations"]["windows"] == len(b)
    clips = pd.read_parquet(tmp_path / "run" / "clips.parquet")
    row = clips.iloc[0]
    with np.load(tmp_path / "run" / "explained" / f"{row['sha256']}.npz") as z:
        k = 1
        clip = open_clip(row["path"])
        ref = explain(model, clip.window(int(z["windows"][k]), 8, 4, model.frame_size),
                      ["gradcam", "frame_occlusion"], cache=False)
        assert z["map__gradcam"].shape[1:] == (GRID, GRID)
        np.testing.assert_allclose(z["map__gradcam"][k], relevance_grid(ref["gradcam"].maps), atol=1e-5)
        np.testing.assert_allclose(z["scores__frame_occlusion"][k], ref["frame_occlusion"].frame_scores, atol=1e-5)
        assert z["targets"][k] == ref.target
    # the per-class mean map is the mean of that class's window maps, by hand
    maps, targets = [], []
    for p in sorted((tmp_path / "run" / "explained").glob("*.npz")):
        with np.load(p) as z:
            maps.append(z["map__gradcam"])
            targets.append(z["targets"])
    maps, targets = np.concatenate(maps), np.concatenate(targets)
    with np.load(tmp_path / "run" / "mean_maps.npz") as means:
        for k, c in enumerate(CLASSES):
            if (targets == k).any():
                np.testing.assert_allclose(means[f"{c}__gradcam"], maps[targets == k].mean(axis=0), atol=1e-6)
    per_class = summary["explanations"]["per_class"]
    assert sum(v["windows"] for v in per_class.values()) == len(b)
    assert all(sum(v["temporal_peak"]["histogram"]) == v["windows"] for v in per_class.values())


def test_explain_flagged_explains_only_windows_over_the_threshold(archive, tmp_path):
    net = arch.td_cnn_gru_softmax(t=8, s=32, classes=4)
    run_batch(AuditedModel(net, ModelCard(classes=CLASSES, stride=4)), [str(archive / "a")], tmp_path / "plain")
    threshold = float(pd.read_parquet(tmp_path / "plain" / "windows.parquet")["anomaly_score"].median())
    model = AuditedModel(net, ModelCard(classes=CLASSES, stride=4, threshold=threshold))  # half the windows over it
    run_batch(model, [str(archive / "a")], tmp_path / "run", explain="flagged", methods=["gradcam"])
    w = pd.read_parquet(tmp_path / "run" / "windows.parquet")
    assert 0 < (w["anomaly_score"] >= threshold).sum() < len(w)
    for sha, group in w.groupby("sha256"):
        flagged = group.loc[group["anomaly_score"] >= threshold, "window"].tolist()
        path = tmp_path / "run" / "explained" / f"{sha}.npz"
        if flagged:
            with np.load(path) as z:
                assert z["windows"].tolist() == flagged
        else:
            assert not path.exists()


def test_methods_the_model_cannot_serve_are_refused_before_any_clip(archive, tmp_path):
    model = AuditedModel(arch.no_conv_dense(), ModelCard())
    with pytest.raises(CrnnauditError, match="method 'gradcam' needs a per-frame conv layer"):
        run_batch(model, [str(archive / "a")], tmp_path / "run", explain="all")
    with pytest.raises(CrnnauditError, match="unknown methods"):
        run_batch(_model(), [str(archive / "a")], tmp_path / "run", explain="all", methods=["gradcam", "nope"])
