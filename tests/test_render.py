"""Figures an auditor reads: the prediction bars and the timeline's training-data marks."""

import numpy as np
import pandas as pd

from crnnaudit import render
from crnnaudit.model import Timeline


def test_prediction_is_labelled_bars_on_a_zero_to_one_axis_with_anomalies_marked():
    fig = render.probability_figure(["normal", "fight", "fire"], np.array([0.7, 0.2, 0.1]), ["fight", "fire"])
    bar = fig.data[0]
    assert bar.type == "bar" and bar.orientation == "h" and len(fig.data) == 1
    assert list(bar.x) == [0.7, 0.2, 0.1]
    assert list(bar.y) == ["normal", "fight (anomaly)", "fire (anomaly)"]
    assert list(bar.text) == ["0.700", "0.200", "0.100"]
    colours = list(bar.marker.color)  # one colour per class, the same in every chart (Okabe-Ito)
    assert colours == [render.CLASS_PALETTE[0], render.CLASS_PALETTE[1], render.CLASS_PALETTE[2]]
    assert len(set(colours)) == 3, "each class its own colour; anomaly classes are marked in their labels"
    again = render.probability_figure(["normal", "fight", "fire"], np.array([0.1, 0.1, 0.8]), ["fight", "fire"])
    assert list(again.data[0].marker.color) == colours, "a class keeps its colour whatever the values"
    assert tuple(fig.layout.xaxis.range) == (0, 1) and fig.layout.showlegend is False


def test_timeline_marks_windows_unlike_the_training_data():
    table = pd.DataFrame({"window": [0, 1, 2], "start_s": [0.0, 1.0, 2.0], "end_s": [1.0, 2.0, 3.0],
                          "anomaly_score": [0.1, 0.9, 0.2], "unlike_training": [False, True, True]})
    fig = render.timeline_figure(Timeline(table, "c", "m", 16, 8, 0.5), selected=1)
    marks = [t for t in fig.data if t.name == "unlike the training data"]
    assert len(marks) == 1 and list(marks[0].customdata) == [1, 2]
    plain = render.timeline_figure(Timeline(table.drop(columns="unlike_training"), "c", "m", 16, 8, 0.5))
    assert [t.name for t in plain.data] == ["anomaly score"]


def test_a_video_rendered_twice_is_the_same_file_and_reads_back_as_drawn(tmp_path):
    """The demo's clips are rendered again on every machine: the same frames must give the same
    bytes, in this process (where TensorFlow has run) and in one without TensorFlow (PyAV's RGB
    conversion did not, nor libx264's macroblock tree beside TensorFlow), and decode to the
    frames drawn, within H.264's loss."""
    import subprocess
    import sys

    from crnnaudit.demo.synth import synth_clip
    from crnnaudit.footage.video import open_clip
    import tensorflow as tf
    x = tf.random.stateless_normal((512, 512), seed=[1, 2])
    float(tf.reduce_sum(x @ x))  # TensorFlow has run here (what upset libx264's macroblock tree)
    frames = synth_clip("fight", 129, frames=48, start=40).frames  # a clip it rendered differently
    paths = [render.write_video(tmp_path / f"v{i}.mp4", frames, 12) for i in range(4)]
    code = ("import sys; from crnnaudit import render; from crnnaudit.demo.synth import synth_clip; "
            "render.write_video(sys.argv[1], synth_clip('fight', 129, frames=48, start=40).frames, 12)")
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "other.mp4")], check=True, timeout=120)
    data = {p.read_bytes() for p in paths + [tmp_path / "other.mp4"]}
    assert len(data) == 1
    clip = open_clip(paths[0])
    back = np.stack([img for _, img in clip.iter_frames(0, clip.frame_count)]).astype(float)
    assert back.shape == frames.shape
    # Colours as drawn: 2.9 levels on the worst channel per pixel on average here, against 5.0
    # with red and blue swapped and 5.1 with the chroma planes swapped.
    assert np.abs(back - frames).max(axis=-1).mean() < 4


def test_maps_are_visible_at_the_defaults_on_the_sample_clips(full_demo, monkeypatch):
    """Through the app's path (show_map at the defaults) on each sample clip's top window: the
    share of pixels a map changes by more than 30 levels. The old rendering (jet, one scale per
    window, linear opacity) left Grad-CAM and saliency at 0.0% on all four."""
    from pathlib import Path
    from crnnaudit import explain, load_model, open_clip
    from crnnaudit import render
    from crnnaudit.demo.paths import demo_model_path
    monkeypatch.setenv("CRNNAUDIT_HOME", str(full_demo))
    model = load_model(demo_model_path())
    for clip_path in sorted((Path(__file__).resolve().parents[1] / "sample_videos").glob("*.mp4")):
        clip = open_clip(clip_path)
        w = clip.window(model.score(clip).top_window(), model.window_length, model.card.stride, model.frame_size)
        es = explain(model, w, ["gradcam", "saliency"], cache=False)
        seen = {}
        for m in es:
            # a frame whose map is flat (Grad-CAM all zero: no positive evidence there) has
            # nothing to show, and the Review page says so in its caption instead
            shown = [t for t in range(w.length) if np.ptp(es[m].maps[t]) > 1e-12]
            vis = [render.visibility(render.to_width(clip.frame(int(w.indices[t])), 720),
                                     render.show_map(clip.frame(int(w.indices[t])), es[m].maps, t))
                   for t in shown]
            seen[m] = (float(np.median(vis)), len(shown))
        assert 0.05 <= seen["saliency"][0] <= 0.9 and seen["saliency"][1] == w.length, (clip_path.name, seen)
        assert seen["gradcam"][0] >= 0.05 and seen["gradcam"][1] >= w.length // 2, (clip_path.name, seen)


def test_a_timeline_of_twelve_thousand_windows_is_summarised_without_losing_a_peak():
    rng = np.random.default_rng(0)
    n, threshold = 12_000, 0.5
    scores = rng.uniform(0, 0.4, n)
    spikes = rng.choice(n, 40, replace=False)
    scores[spikes] = rng.uniform(0.6, 1.0, 40)
    table = pd.DataFrame({"window": np.arange(n), "start_s": np.arange(n) * 0.4, "end_s": np.arange(n) * 0.4 + 1.6,
                          "anomaly_score": scores})
    fig = render.timeline_figure(Timeline(table, "c", "m", 16, 8, threshold), selected=int(spikes[0]))
    low, peak, over = fig.data[:3]
    size = -(-n // render.TIMELINE_POINTS)
    assert len(peak.x) == -(-n // size) <= render.TIMELINE_POINTS
    groups = [scores[i:i + size] for i in range(0, n, size)]
    assert np.allclose(peak.y, [g.max() for g in groups]) and np.allclose(low.y, [g.min() for g in groups])
    assert [scores[w] for w in peak.customdata] == list(peak.y), "a click on a group selects its highest window"
    assert sorted(over.customdata) == sorted(spikes), "every window over the threshold is drawn on its own"
    zoomed = render.timeline_figure(Timeline(table, "c", "m", 16, 8, threshold), span=(400.0, 800.0))
    (line,) = [t for t in zoomed.data if t.name == "anomaly score"]
    inside = table[(table["end_s"] >= 400) & (table["start_s"] <= 800)]
    assert list(line.customdata) == inside["window"].tolist(), "zoomed in, every window is drawn"
