import json

import numpy as np
import pandas as pd
import pytest

import architectures as arch
from crnnaudit import ModelCard, open_clip
from crnnaudit.cli.main import main


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    path = folder / "clf.keras"
    arch.td_cnn_gru_softmax(t=8, s=32, classes=4).save(path)
    ModelCard(name="clf", classes=["normal", "fight", "fire", "shooting"], stride=4).write(folder / "clf.card.json")
    return path


def test_info(small_model, capsys):
    assert main(["info", str(small_model), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["target_layer"] == "c2" and info["verify_max_abs_diff"] <= 1e-5
    assert info["card"]["name"] == "clf" and info["capabilities"]["spatial_cam"]
    assert main(["info", str(small_model)]) == 0
    assert "verify" in capsys.readouterr().out


def test_score_real_clip(small_model, vtest, tmp_path):
    out = tmp_path / "t.csv"
    assert main(["score", str(small_model), str(vtest), "--out", str(out)]) == 0
    table = pd.read_csv(out)
    assert len(table) == open_clip(vtest).window_count(8, 4)
    assert {"p_fight", "anomaly_score", "decision"} <= set(table.columns)


def test_explain_writes_everything(small_model, sample_clips, tmp_path):
    clip = [p for p in sample_clips if p.name.startswith("fight")][0]
    out = tmp_path / "exp"
    assert main(["explain", str(small_model), str(clip), "--methods", "gradcam,saliency,frame_occlusion,temporal_ig",
                 "--target", "fight", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["target"] == "fight" and set(summary["explanations"]) == {
        "gradcam", "saliency", "frame_occlusion", "temporal_ig"}
    assert "localisation" in summary["metrics"] and "agreement" in summary["metrics"]
    with np.load(out / "explanations.npz") as z:
        assert z["gradcam_maps"].shape[0] == 8 and z["frame_indices"].shape == (8,)
    assert len(list(out.glob("gradcam_frame*.png"))) == 8
    assert open_clip(out / "overlays.mp4").codec == "h264"


def test_synth(tmp_path, capsys):
    assert main(["synth", "--out", str(tmp_path), "--count", "2", "--seed", "5", "--frames", "8"]) == 0
    assert len(list(tmp_path.glob("*.mp4"))) == 2


@pytest.mark.parametrize("argv, words", [
    (["info", "nope.keras"], "no such model file"),
    (["score", "MODEL", "bad.mp4"], "bad.mp4"),
    (["explain", "MODEL", "CLIP", "--window", "x", "--out", "o"], "--window"),
    (["explain", "MODEL", "CLIP", "--methods", "lime", "--window", "0", "--out", "o"], "unknown methods"),
])
def test_errors_exit_2_with_the_message(small_model, sample_clips, tmp_path, capsys, argv, words):
    bad = tmp_path / "bad.mp4"
    bad.write_text("nope")
    argv = [str(small_model) if a == "MODEL" else str(sample_clips[0]) if a == "CLIP" else
            str(bad) if a == "bad.mp4" else str(tmp_path / a) if a == "o" else a for a in argv]
    assert main(argv) == 2
    assert words in capsys.readouterr().err


def test_score_says_which_windows_have_no_reliable_reading(small_model, vtest, tmp_path, capsys):
    """A card whose image-quality bounds come from dim footage: every window of the real clip
    fails the exposure check, and the command and the table say so."""
    from crnnaudit.footage import quality
    dim = [{"sharpness": 50.0, "brightness": 20.0 + i % 5, "contrast": 10.0, "noise": 1.0, "blockiness": 1.0,
            "still": 0.0} for i in range(40)]
    import hashlib
    from crnnaudit import load_model
    from crnnaudit.model.statistics import FeatureStats
    dims = int(np.prod(load_model(small_model).feature_shape))
    stats = FeatureStats(np.zeros(dims), np.ones(dims), 1e12, 99.5, 1).to_bytes()  # never unlike: quality alone
    (tmp_path / "dim.features.npz").write_bytes(stats)
    card = ModelCard.read(small_model.with_name("clf.card.json"))
    card.calibration = {"file": "dim.features.npz", "sha256": hashlib.sha256(stats).hexdigest(), "threshold": 1e12,
                        "quality": quality.calibrate_bounds(dim).to_dict()}
    card.write(tmp_path / "dim.card.json")
    out = tmp_path / "t.csv"
    assert main(["score", str(small_model), str(vtest), "--out", str(out), "--card", str(tmp_path / "dim.card.json")]) == 0
    table = pd.read_csv(out, keep_default_na=False)
    n = len(table)
    assert (table["decision"] == "no reliable reading").all() and table["quality_flags"].str.contains("exposure").all()
    said = capsys.readouterr().out
    assert f"{n} of {n} windows fail an image-quality check" in said and f"{n} of {n} windows have no reliable" in said


def test_explain_counterfactual_names_the_frames_the_decision_rests_on(tmp_path, capsys):
    """The hand-weighted red-pixel model, saved and loaded as a user's would be, on a real
    video whose frames 2 and 4 carry a red square: the command finds a verified set within
    them, prints it, writes it into summary.json and draws each of its frames."""
    from test_counterfactual import _red_model, write_red_clip
    model = _red_model()
    model.model.save(tmp_path / "red.keras")
    model.card.write(tmp_path / "red.card.json")
    write_red_clip(tmp_path / "red.mp4")
    out = tmp_path / "exp"
    assert main(["explain", str(tmp_path / "red.keras"), str(tmp_path / "red.mp4"), "--window", "0", "--methods",
                 "saliency,frame_occlusion", "--target", "red", "--counterfactual", "--out", str(out)]) == 0
    cf = json.loads((out / "summary.json").read_text())["counterfactual"]
    t = cf["temporal"]
    assert t["found"] and set(t["frames"]) <= {2, 4} and t["after"]["decision"] == "normal"
    assert t["before"]["decision"] == "anomaly" and t["baseline"] == "previous"
    printed = capsys.readouterr().out
    assert t["statement"] in printed and cf["region"]["statement"] in printed
    assert sorted(p.name for p in out.glob("counterfactual_frame*.png")) == [
        f"counterfactual_frame{n:05d}.png" for n in sorted(t["frames"])]


def _parsers(parser, path=("crnnaudit",)):
    """Every parser of the command line, with the words that reach it."""
    import argparse
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, path + (name,))


def test_every_argument_and_option_says_what_it_is():
    """``crnnaudit X --help`` explains every argument and option, and each command group is
    listed with a line of its own."""
    import argparse
    from crnnaudit.cli import build_parser
    bare, commands = [], 0
    for path, parser in _parsers(build_parser()):
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            if isinstance(action, argparse._SubParsersAction):
                bare += [f"{' '.join(path)} {c.dest}" for c in action._choices_actions if not c.help]
                continue
            if not (action.help or "").strip():
                bare.append(f"{' '.join(path)} {'/'.join(action.option_strings) or action.dest}")
        commands += 1
    assert commands > 25, "the walk reached the subcommands"
    assert not bare, bare


def test_report_verify_and_countersign_are_subcommands_of_their_own(tmp_path, capsys):
    from crnnaudit.cli import build_parser
    parser = build_parser()
    args = parser.parse_args(["report", "verify", "r.pdf", "--log"])
    assert (args.verb, args.file, args.log) == ("verify", "r.pdf", "")
    args = parser.parse_args(["report", "countersign", "abc", "--as", "pat"])
    assert (args.verb, args.report, args.as_user) == ("countersign", "abc", "pat")
    with pytest.raises(SystemExit):  # a model file may be called 'verify': the verb is explicit
        parser.parse_args(["report", "model.keras", "clip.mp4", "--decision", "confirm"])
    assert "invalid choice: 'model.keras'" in capsys.readouterr().err


def test_commands_print_no_tensorflow_start_up_lines(small_model, tmp_path):
    """A command prints what it has to say and nothing of TensorFlow's start-up; --verbose lets
    it through (and shows the C++ core's notices again)."""
    import subprocess
    import sys
    env = {k: v for k, v in __import__("os").environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    run = lambda *extra: subprocess.run([sys.executable, "-m", "crnnaudit", *extra, "info", str(small_model)],  # noqa: E731
                                        capture_output=True, text=True, env=env, timeout=300)
    quiet = run()
    assert quiet.returncode == 0, quiet.stderr[-2000:]
    assert quiet.stderr == "", quiet.stderr
    loud = run("--verbose")
    assert loud.returncode == 0 and ("absl" in loud.stderr or "oneDNN" in loud.stderr or "cuda" in loud.stderr)
