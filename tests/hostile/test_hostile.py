"""The hostile-input suite: every case of ``cases.CASES`` reaches its verdict, the files that
are read give the right facts, and the limits hold (memory, time, upload size, names)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from crnnaudit.errors import CardError, CrnnauditError, ModelError, VideoError

from . import cases
from .cases import CASES, open_any

ROOT = Path(__file__).resolve().parents[2]
#: Smaller versions of the two slowest makers (the benchmark makes the full sizes).
SMALLER = {"config_declares_gigabytes": {"mb": 256}, "weights_zip_bomb": {"mb": 256}}


def make(case, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return case.make(folder, **SMALLER.get(case.make.__name__, {}))


@pytest.mark.parametrize("case", [c for c in CASES if c.verdict == "refused"], ids=lambda c: c.make.__name__)
def test_refused_with_a_message_that_names_the_file_and_the_problem(case, tmp_path, monkeypatch):
    # The endless loop can only be refused by the time limit: a short one. Every other case is
    # judged by its own refusal, so its limit leaves room for a loaded machine (load 10 made a
    # 10 s limit expire first, and the message named the limit instead of the cause).
    endless = case.make.__name__ == "hdf5_endless_loop"
    monkeypatch.setenv("CRNNAUDIT_MODEL_TIMEOUT_S", "10" if endless else "300")
    path = make(case, tmp_path)
    with pytest.raises(CrnnauditError) as info:
        open_any(case.kind, path)
    expected = {"model": ModelError, "clip": VideoError, "card": CardError}[case.kind]
    assert isinstance(info.value, expected)
    assert case.says in str(info.value) and str(path.name) in str(info.value)


def _case(name):
    return next(c for c in CASES if c.make.__name__ == name)


def test_rotation_is_applied_as_a_player_would(tmp_path):
    # Coded 64 wide x 48 high, white top-left quarter, display matrix -90 degrees: a player
    # turns it 90 degrees clockwise, so the clip is 48 wide x 64 high, white top-RIGHT.
    clip = open_any("clip", make(_case("rotated_phone_clip"), tmp_path))
    assert (clip.width, clip.height, clip.rotation) == (48, 64, 270)
    img = clip.frame(0)
    assert img.shape == (64, 48, 3)
    q = lambda a: float(a.mean())  # noqa: E731
    assert q(img[:32, 24:]) > 200 and q(img[:32, :24]) < 130 and q(img[32:, 24:]) < 130
    window = clip.window(0, 4, 4, (16, 16))
    assert window.frames[0, :8, 8:].mean() > 200  # the model sees it upright too


def test_variable_frame_rate_duration_comes_from_timestamps(tmp_path):
    clip = open_any("clip", make(_case("variable_frame_rate"), tmp_path))
    assert clip.variable_frame_rate and clip.frame_count == 24
    assert clip.duration == pytest.approx(8.88, abs=0.05)  # not 24 frames / 25 fps = 0.96 s
    assert clip.time_of(2) == pytest.approx(0.8, abs=1e-3)  # 40 ms + 760 ms
    assert clip.facts()["variable_frame_rate"] is True


def test_a_truncated_file_is_flagged_in_facts_timeline_and_report(tmp_path):
    from crnnaudit import explain
    from crnnaudit.model import AuditedModel
    from crnnaudit.report import build_report, render_html, render_pdf
    clip = open_any("clip", make(_case("truncated_avi"), tmp_path))
    facts = clip.facts()
    assert facts["truncated"] and facts["container_frames"] == 120 and clip.frame_count < 50
    assert "truncated" in clip.warnings()[0]
    model = AuditedModel(cases.tiny_model())
    timeline = model.score(clip)
    assert timeline.clip_truncated and "truncated" in timeline.clip_warnings[0]
    assert timeline.clip_end_s == pytest.approx(clip.duration)
    window = clip.window(timeline.top_window(), model.window_length, model.card.stride, model.frame_size)
    es = explain(model, window, methods=["gradcam", "frame_occlusion"])
    body = build_report(model, clip, window, es, decision="confirm", reviewer="A", timeline=timeline,
                        faithfulness=False, sanity=False)
    assert body["clip"]["truncated"] and "truncated" in body["clip"]["warnings"][0]
    assert "The file is truncated" in render_html(body)
    pdf = tmp_path / "r.pdf"
    pdf.write_bytes(render_pdf(body))
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "The file is truncated" in " ".join(text.split())


def test_a_whole_file_is_not_flagged(tmp_path, vtest):
    from crnnaudit.footage.video import open_clip
    for path in (cases.write_clip(tmp_path / "whole.avi", frames=120), cases.write_clip(tmp_path / "w.mp4"), vtest):
        clip = open_clip(path)
        assert not clip.truncated and clip.warnings() == [], path


def test_only_the_bytes_hashed_are_decoded(tmp_path):
    """A playlist would let the frames change under one hash: it is refused, and what is
    opened reads nothing beyond its own file (FFmpeg's format and protocol allowlists)."""
    from crnnaudit.footage.container import CONTAINERS, _OPEN_OPTIONS
    assert _OPEN_OPTIONS["protocol_whitelist"] == "file"
    assert set(_OPEN_OPTIONS["format_whitelist"].split(",")) == set(",".join(CONTAINERS).split(","))
    with pytest.raises(VideoError, match="no playlists"):
        open_any("clip", make(_case("ffconcat_playlist"), tmp_path))


# VmHWM, not ru_maxrss: Linux keeps a process's ru_maxrss across exec, so a child of this big
# test process would report the test process's own peak.
PEAK = ("\nimport re, resource\nhwm = int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read())[1])\n"
        "print('PEAK', max(hwm, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))\n")


def _peak_mb_of(code: str, env=None) -> tuple[int, float, str]:
    """Peak RSS (MB) of a fresh Python process running ``code`` and of any process it ran (the
    sandbox), and its seconds."""
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code + PEAK], capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, **(env or {})}, timeout=180)
    seconds = time.perf_counter() - t0
    peak = int(out.stdout.rsplit("PEAK", 1)[1].split()[0]) >> 10
    return peak, seconds, out.stdout + out.stderr


@pytest.mark.long  # hostile models at full size: make test-long (CI runs it)
@pytest.mark.parametrize("maker", ["layer_needs_gigabytes", "config_declares_gigabytes"])
def test_a_hostile_model_stays_under_2_gb_and_60_s(maker, tmp_path):
    path = make(_case(maker), tmp_path)
    code = ("import sys; sys.path.insert(0, 'tests')\n"
            "from crnnaudit.model import load_model\nfrom crnnaudit.errors import ModelError\n"
            f"try:\n    load_model({str(path)!r})\nexcept ModelError as e:\n    print('REFUSED', e)\n")
    # Judged by its cause, not by the clock: with a time limit far away, the refusal must come
    # from the file itself or the memory limit. The 60 s figure is bench_hostile.py's, measured
    # alone; a loaded machine (a second suite beside this one) may take longer.
    peak, seconds, out = _peak_mb_of(code, env={"CRNNAUDIT_MODEL_TIMEOUT_S": "300"})
    assert "REFUSED" in out and "took more than 300" not in out, out[-2000:]
    assert peak < 2048 and seconds < 300, (peak, seconds)


def test_the_sandbox_time_limit_holds(tmp_path, monkeypatch):
    from crnnaudit.model import load_model, sandbox
    monkeypatch.setenv("CRNNAUDIT_MODEL_TIMEOUT_S", "0.5")
    path = cases.write_model(tmp_path / "slow_enough.keras")  # TensorFlow alone takes > 0.5 s
    t0 = time.perf_counter()
    with pytest.raises(ModelError, match="more than 0.5 s"):
        load_model(path)
    assert time.perf_counter() - t0 < 30  # killed at 0.5 s; room for a loaded machine's start
    monkeypatch.setenv("CRNNAUDIT_MODEL_TIMEOUT_S", "300")
    assert load_model(path).n_outputs == 3  # the same file, with time to load, passes
    assert sandbox.is_vetted(load_model(path).sha256)


def test_verify_commands_start_without_tensorflow(tmp_path):
    from crnnaudit.evidence.keys import load_signing_key
    from crnnaudit.evidence.signing import seal_json
    report = tmp_path / "r.json"
    report.write_bytes(seal_json({"report_id": "x", "human": {"decision": "confirm"}}, load_signing_key()))
    for argv in (["report", "verify", str(report), "--accept-unanchored"],
                 ["audit", "verify", "--db", str(tmp_path / "a.sqlite"), "--accept-unanchored"]):
        code = (f"import sys\nfrom crnnaudit.cli import main\nrc = main({argv!r})\n"
                "print('TF' if 'tensorflow' in sys.modules else 'NO-TF', rc)")
        peak, seconds, out = _peak_mb_of(code)
        assert "NO-TF 0" in out, out
        # the cause (no TensorFlow) is asserted above; the clock only catches a hang (0.4 s here)
        assert peak < 200 and seconds < 30, (argv, peak, seconds)


def test_the_model_picker_lists_no_link_that_leads_out_of_the_models_folder(tmp_path, monkeypatch):
    """A symlink in the models folder to a model elsewhere (or to a folder, or dangling) is not
    offered: the picker lists exactly what ``allowed_model`` would open."""
    from crnnaudit.model.places import allowed_model
    from crnnaudit.ui.model_choice import model_choices
    inside, outside = tmp_path / "models", tmp_path / "elsewhere"
    inside.mkdir(), outside.mkdir()
    (inside / "good.keras").write_bytes(b"model")
    (outside / "secret.keras").write_bytes(b"model")
    (inside / "out.keras").symlink_to(outside / "secret.keras")
    (inside / "dir.keras").symlink_to(outside)
    (inside / "dangling.keras").symlink_to(tmp_path / "nothing.keras")
    (inside / "alias.keras").symlink_to(inside / "good.keras")  # a link that stays inside is fine
    monkeypatch.setenv("CRNNAUDIT_MODELS_DIR", str(inside))
    monkeypatch.setenv("CRNNAUDIT_HOME", str(tmp_path / "home"))
    assert [p.name for p in model_choices()] == ["alias.keras", "good.keras"]
    with pytest.raises(ModelError, match="models folders"):
        allowed_model(inside / "out.keras")


class _Upload(io.BytesIO):
    def __init__(self, name, data):
        super().__init__(data)
        self.name = name


@pytest.mark.parametrize("name", ["a" * 300 + ".mp4", "evil\x00name.mp4", "../../../etc/passwd.mp4",
                                  "..\\..\\win.mp4", "كاميرا ٣ — 摄像头.mp4"])
def test_upload_names_never_reach_the_file_system(name, tmp_path):
    from crnnaudit.review import uploads
    data = cases.write_clip(tmp_path / "c.mp4").read_bytes()
    path = uploads.save_upload(_Upload(name, data), "video", (".mp4",))
    assert path.parent == Path(os.environ["CRNNAUDIT_HOME"]) / "uploads"
    assert len(path.name.encode()) < 200 and "\x00" not in path.name and path.read_bytes() == data
    assert not list(path.parent.glob("*.partial"))


def test_upload_limit_is_checked_while_copying(tmp_path, monkeypatch):
    from crnnaudit.review import uploads
    monkeypatch.setenv("CRNNAUDIT_MAX_UPLOAD_MB", "1")
    with pytest.raises(VideoError, match="over the 1 MB upload limit"):
        uploads.save_upload(_Upload("big.mp4", bytes(3 << 20)), "video", (".mp4",))
    assert not list((Path(os.environ["CRNNAUDIT_HOME"]) / "uploads").iterdir())  # nothing left behind


def test_the_app_server_refuses_large_uploads_at_the_configured_size():
    make_app = subprocess.run(["make", "-n", "app", "CRNNAUDIT_MAX_UPLOAD_MB=512"], cwd=ROOT,
                              capture_output=True, text=True, check=True).stdout
    assert "--server.maxUploadSize 512" in make_app


@pytest.mark.parametrize("argv,says", [
    (["score", "M", "C", "--stride", "-1"], "must be a whole number >= 1"),
    (["score", "M", "C", "--stride", "0"], "must be a whole number >= 1"),
    (["score", "/nonexistent.keras", "C"], "no such model file"),
    (["info", "x" * 5000 + ".keras"], "not a usable file name"),
    (["info", "bad\x00name.keras"], "not a usable file name"),
    (["nonsense"], "invalid choice"),
])
def test_cli_failures_are_one_line_and_exit_2(argv, says, capsys):
    from crnnaudit.cli.main import main
    try:
        rc = main(argv)
    except SystemExit as e:  # argparse's own exits
        rc = e.code
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and says in err, err


def test_a_clip_over_the_pixel_limit_is_refused_before_decoding(tmp_path, monkeypatch):
    monkeypatch.setenv("CRNNAUDIT_MAX_FRAME_PIXELS", str(64 * 48 - 1))
    with pytest.raises(VideoError, match="over the limit of 3071 pixels"):
        open_any("clip", cases.write_clip(tmp_path / "small.mp4"))


def test_large_frames_are_scaled_in_the_decoder(tmp_path):
    from crnnaudit.footage.video import MAX_DECODE_SIDE, open_clip
    clip = open_clip(cases.write_clip(tmp_path / "wide.mp4", frames=2, size=(720, 2560)))
    img = clip.frame(0)
    assert img.shape == (MAX_DECODE_SIDE * 720 // 2560, MAX_DECODE_SIDE, 3)
    assert (clip.width, clip.height) == (2560, 720)  # the facts keep the real size
    assert np.abs(img[:100, :500].astype(int) - 255).max() < 10  # still the same picture
