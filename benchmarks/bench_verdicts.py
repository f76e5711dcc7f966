"""Each map's verdict for many windows at once (issue 36, point 3): the cost per window as the
batch of consecutive windows grows.

Paper shape: TimeDistributed(VGG19(weights=None)) + GRU(1024), T = 20, stride 10, 112 x 112,
the first windows of the real clip, each explained with the default set; then
``trust.verdicts_many`` on the first B windows (memo cleared), for each B. Frames through the
CNN are counted; seconds are measured in this one run, beside a compiled forward pass of one
window, so the ratios hold on a noisy machine.

Run: python benchmarks/bench_verdicts.py [--batches 1 2 4 8]
"""

from __future__ import annotations

import argparse
import time

import tensorflow as tf

from common import VTEST, commit, machine, median_time, paper_model


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 2, 4, 8])
    args = ap.parse_args()
    import crnnaudit as ca
    from crnnaudit import trust
    from crnnaudit.trust.verdict import VERDICT_DRAWS, verdicts_many
    model = ca.AuditedModel(paper_model(), ca.ModelCard(classes=["fight", "shooting", "fire", "normal"]))
    clip = ca.open_clip(VTEST)
    windows = [clip.window(k, 20, 10, model.frame_size) for k in range(max(args.batches))]
    x = tf.constant(model.prepare(windows[0].frames)[None])
    forward = tf.function(lambda z: model.model(z, training=False))
    t_fwd = median_time(lambda: forward(x).numpy(), 3)
    sets = [ca.explain(model, w, ca.DEFAULT_METHODS, cache=False) for w in windows]
    frames = []
    inner = model.frame_features

    def counted(z):
        frames.append(len(z))
        return inner(z)
    model.frame_features = counted
    rows = []
    for b in args.batches:
        trust.memo._MEMO.clear()  # measure the computation, not the memo
        frames.clear()
        t0 = time.perf_counter()
        verdicts_many(model, windows[:b], sets[:b])
        rows.append((b, (time.perf_counter() - t0) / b, sum(frames) / b))
    print(f"machine: {machine()}; commit {commit()}; default set, {VERDICT_DRAWS} random draws per map "
          f"resolution; forward pass of one window {t_fwd:.3f} s")
    print("| windows at once | seconds a window | x forward | CNN frames a window | seconds a window, vs 1 at once |")
    print("|---|---|---|---|---|")
    for b, t, n in rows:
        print(f"| {b} | {t:.2f} | {t / t_fwd:.1f} | {n:.0f} | {t / rows[0][1]:.2f} |")


if __name__ == "__main__":
    main()
