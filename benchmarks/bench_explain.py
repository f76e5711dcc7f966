"""Explanation cost as ratios to one compiled forward pass of the same window.

Paper shape: TimeDistributed(VGG19(weights=None)) + GRU(1024), T = 20, 112 x 112, a window of
the real clip. Everything is measured in this one run (median of --repeats), so the ratios
hold on a noisy shared machine.

Run: python benchmarks/bench_explain.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
import tensorflow as tf

from common import VTEST, commit, machine, median_time, paper_model



def naive_fn(model, x, target):
    """What users are told to do: Grad-CAM frame by frame (one forward and backward through
    the whole clip each) plus a separate saliency pass."""
    @tf.function
    def cam_for_frame(x, t):
        with tf.GradientTape() as tape:
            a = model.conv(x[0])
            tape.watch(a)
            logits = model.head(model.pool(a)[None])
            y = logits[0, target]
        g = tape.gradient(y, a)[t]
        return tf.nn.relu(tf.reduce_sum(a[t] * tf.reduce_mean(g, axis=(0, 1)), -1))

    @tf.function
    def saliency(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = model.model(x, training=False)
            y = tf.math.log(y[0, target])  # log-softmax: the logit up to a constant
        return tf.reduce_max(tf.abs(tape.gradient(y, x)), -1)

    def run():
        for t in range(x.shape[1]):
            cam_for_frame(x, tf.constant(t)).numpy()
        saliency(x).numpy()
    return run


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    import crnnaudit as ca
    from crnnaudit import trust
    model = ca.AuditedModel(paper_model(), ca.ModelCard(classes=["fight", "shooting", "fire", "normal"]))
    clip = ca.open_clip(VTEST)
    window = clip.window(5, 20, 10, model.frame_size)
    x = tf.constant(model.prepare(window.frames)[None])
    forward = tf.function(lambda z: model.model(z, training=False))
    t_fwd = median_time(lambda: forward(x).numpy(), args.repeats)
    target = int(np.argmax(forward(x).numpy()))
    rows = [("compiled forward pass (1 window, 20 frames)", t_fwd)]
    t_default = median_time(lambda: ca.explain(model, window, ca.DEFAULT_METHODS, cache=False), args.repeats)
    rows.append(("crnnaudit default set (gradcam, saliency, frame_occlusion, temporal_ig, prefix_score)", t_default))
    t_shared = median_time(lambda: ca.explain(model, window, ["gradcam", "saliency"], cache=False), args.repeats)
    rows.append(("crnnaudit gradcam + saliency (one shared pass)", t_shared))
    es = ca.explain(model, window, ca.DEFAULT_METHODS, cache=False)

    def evidence():
        trust.memo._MEMO.clear()  # measure the computation, not the memo
        trust.verdicts(model, window, es)
    from crnnaudit.trust.verdict import VERDICT_DRAWS
    rows.append(("each map's evidence against random deletion, default set (20% deleted, "
                 f"{VERDICT_DRAWS} random draws per map resolution)", median_time(evidence, args.repeats)))
    from crnnaudit.trust import counterfactual

    def counterfactuals():
        trust.memo._MEMO.clear()
        return counterfactual.for_window(model, window, es)
    t_cf = median_time(counterfactuals, args.repeats)
    found = counterfactuals()
    rows.append((f"counterfactual: smallest frame set (verified; {found['temporal'].sets_scored} windows "
                 f"re-scored through the head, found: {found['temporal'].found}) + region on its frames", t_cf))
    t_naive = median_time(naive_fn(model, x, target), max(1, args.repeats - 2))
    rows.append(("naive: Grad-CAM frame by frame + separate saliency", t_naive))
    try:
        from tf_keras_vis.gradcam import Gradcam
        from tf_keras_vis.saliency import Saliency
        from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
        from tf_keras_vis.utils.scores import CategoricalScore
        sal = Saliency(model.model, model_modifier=ReplaceToLinear(), clone=True)
        cam = Gradcam(model.model, model_modifier=ReplaceToLinear(), clone=True)
        td = model.per_frame_layers[0]
        xn = x.numpy()
        rows.append(("tf-keras-vis Saliency", median_time(lambda: sal(CategoricalScore(target), xn), args.repeats)))
        rows.append(("tf-keras-vis Gradcam (weights pooled over the clip)",
                     median_time(lambda: cam(CategoricalScore(target), xn, penultimate_layer=td,
                                                     seek_penultimate_conv_layer=False), args.repeats)))
    except Exception as e:  # noqa: BLE001 - a reference, not ours
        rows.append((f"tf-keras-vis unavailable: {type(e).__name__}: {str(e)[:80]}", float("nan")))
    with tempfile.TemporaryDirectory() as d:
        cache = ca.ExplanationCache(d)
        ca.explain(model, window, ca.DEFAULT_METHODS, cache=cache)
        t0 = time.perf_counter()
        ca.explain(model, window, ca.DEFAULT_METHODS, cache=cache)
        t_cache = time.perf_counter() - t0
    rows.append(("repeated request served from the cache", t_cache))
    print(f"machine: {machine()}; commit {commit()}; median of {args.repeats}")
    print("| what | seconds | x forward |")
    print("|---|---|---|")
    for name, t in rows:
        print(f"| {name} | {t:.3f} | {t / t_fwd:.2f} |")
    print(f"\ncounterfactual / crnnaudit default set: {t_cf / t_default:.2f}x (issue 22's bar: at most 2x)")
    print(f"naive / crnnaudit default set: {t_naive / t_default:.1f}x")
    print(f"naive / crnnaudit gradcam + saliency (the same outputs as the naive way): {t_naive / t_shared:.1f}x")


if __name__ == "__main__":
    main()
