"""Explanations in a dataset audit: per clip what each explained window shows, per run what
they show together.

Per clip (``RUN/explained/<sha256>.npz``): for every explained window its index, the class
explained (its own predicted class), each spatial method's map averaged over the window's
frames, resized to ``GRID x GRID`` and scaled to sum 1 (where the relevance lies, as a
share), and each temporal method's per-frame numbers. The full explanations go into the
content-keyed explanation cache, where the Review page finds them.

Per run (:func:`summarize`): per class and spatial method the mean map (where the model looks
on average), the distribution of the temporal peak's position in the window, agreement
between methods (Spearman rank correlation of maps, and of frame contributions), and the
shortcut screen (:mod:`.shortcuts`).
"""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import cv2
import numpy as np

GRID = 16  # maps are compared at 16 x 16 cells
PEAK_BINS = 8


def window_summary(eset, T: int) -> dict:
    """What one explained window keeps for the run: maps as shares of relevance on the grid,
    frame numbers per temporal method."""
    out = {"target": int(eset.target), "maps": {}, "scores": {}}
    for m in eset.spatial():
        out["maps"][m] = relevance_grid(eset[m].maps)
    for m in eset.temporal():
        out["scores"][m] = np.asarray(eset[m].frame_scores, np.float32)[:T]
    return out


SCREEN_METHOD = "saliency"  # computed for each clip's top window when no chosen method reads pixels


def screen_window(model, explained: list, table, measure: bool) -> dict:
    """What the shortcut screen reads of one clip: its most anomalous explained window's maps
    on the grid, for every chosen spatial method and :data:`SCREEN_METHOD` (computed here for
    that window alone when not chosen: a pixel-level method beside a conv-level one), and, when
    ``measure``, whether each map outranks random deletion there (:func:`ranks_above_random`)."""
    from .. import trust
    from ..explainers import REGISTRY, explain
    score = dict(zip(table["window"], table["anomaly_score"]))
    e = explained[max(range(len(explained)), key=lambda i: score.get(explained[i].window.index, -1.0))]
    sets = [e.explanations] if e.explanations.spatial() else []
    if SCREEN_METHOD not in e.explanations and not REGISTRY[SCREEN_METHOD].unavailable_on(model):
        sets.append(explain(model, e.window, [SCREEN_METHOD], target=e.explanations.target, cache=False))
    out = {"window": e.window.index, "target": int(e.explanations.target), "maps": {}, "beats": {}}
    for es in sets:
        for m in es.spatial():
            out["maps"][m] = relevance_grid(es[m].maps)
        if measure:
            out["beats"].update({m: ranks_above_random(f) for m, f in trust.verdicts(model, e.window, es).items()
                                 if f["kind"] == "spatial"})
    return out


def ranks_above_random(verdict: dict) -> bool:
    """The event the screen counts on one window: deleting what the map ranks first lowered the
    explained class more than every random deletion of the same size did (the verdict's Monte
    Carlo test passes, p <= 0.05), however small the change. A map no better than random does
    so at most 1 time in 21 (:func:`chance_rate`), whatever the model's confidence; the page's
    own verdict also asks the change to be large enough to rely on for that one window
    (:data:`~crnnaudit.trust.verdict.MIN_EFFECT`), which a confident model's windows rarely
    give and which has no known chance rate."""
    from ..trust.verdict import VERDICT_ALPHA
    return bool(verdict["p_value"] <= VERDICT_ALPHA)


def relevance_grid(maps: np.ndarray) -> np.ndarray:
    """Per-frame maps ``(T, h, w)`` -> one ``GRID x GRID`` map summing to 1 (positive part;
    all zero when the window has no positive relevance)."""
    m = np.maximum(np.asarray(maps, np.float64), 0).sum(axis=0)
    m = cv2.resize(m.astype(np.float32), (GRID, GRID),
                   interpolation=cv2.INTER_AREA if m.shape[0] >= GRID else cv2.INTER_LINEAR)
    m = np.maximum(m, 0)
    total = float(m.sum())
    return (m / total if total > 0 else m).astype(np.float32)


def save_clip(path: Path, windows: list[int], summaries: list[dict], top: dict | None = None) -> None:
    """The explained windows of one clip as one ``.npz`` (written whole, then renamed), with
    what the shortcut screen reads of its top window (:func:`screen_window`)."""
    arrays = {"windows": np.asarray(windows, np.int32),
              "targets": np.asarray([s["target"] for s in summaries], np.int32)}
    if top is not None:
        arrays["top"] = np.asarray([top["window"], top["target"]], np.int32)
        for m, grid in top["maps"].items():
            arrays[f"topmap__{m}"] = grid[None]
            arrays[f"topbeats__{m}"] = np.array([float(top["beats"][m]) if m in top["beats"] else np.nan])
    if summaries:
        for m in summaries[0]["maps"]:
            arrays[f"map__{m}"] = np.stack([s["maps"][m] for s in summaries])
        for m in summaries[0]["scores"]:
            arrays[f"scores__{m}"] = np.stack([s["scores"][m] for s in summaries])
    tmp = path.with_name(path.name + ".partial.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(path)


def load_run(out: Path) -> dict:
    """Every explained window of a run: ``sha256``, ``window``, ``target`` per row, and
    ``maps[method]`` / ``scores[method]`` stacked in the same order."""
    rows, top_rows, found = [], [], {"map": {}, "scores": {}, "topmap": {}, "topbeats": {}}
    for p in sorted((out / "explained").glob("*.npz")):
        with np.load(p, allow_pickle=False) as z:
            n = len(z["windows"])
            if not n:
                continue
            rows += [{"sha256": p.stem, "window": int(w), "target": int(t)} for w, t in zip(z["windows"], z["targets"])]
            if "top" in z.files:
                top_rows.append({"sha256": p.stem, "window": int(z["top"][0]), "target": int(z["top"][1])})
            for key in z.files:
                kind, _, m = key.partition("__")
                if kind in found:
                    found[kind].setdefault(m, []).append(z[key])
    stacked = {k: {m: np.concatenate(v) for m, v in d.items()} for k, d in found.items()}
    return {"rows": rows, "maps": stacked["map"], "scores": stacked["scores"],
            "top": {"rows": top_rows, "maps": stacked["topmap"], "beats": stacked["topbeats"]}}


TRUST_ALPHA = 0.05  # the binomial tests' level for each method, over its classes (Bonferroni)


def chance_rate() -> float:
    """How often a map no better than random outranks random deletion on a window
    (:func:`ranks_above_random`): the Monte Carlo test's exact level with
    :data:`~crnnaudit.trust.verdict.VERDICT_DRAWS` draws (1/21 with 20)."""
    from math import floor
    from ..trust.verdict import VERDICT_ALPHA, VERDICT_DRAWS
    return floor(VERDICT_ALPHA * (VERDICT_DRAWS + 1)) / (VERDICT_DRAWS + 1)


def _binomial(b: np.ndarray, chance: float, level: float) -> dict:
    """On how many windows a map outranked random deletion, and whether that is significantly
    more than chance (one-sided binomial test at ``level``), with the share, its 95% Wilson
    interval and the p-value."""
    from scipy.stats import binomtest
    n, k = int(len(b)), int(np.sum(b))
    entry = {"windows": n, "beats": k, "beats_random": k / n if n else None, "chance": chance, "level": level,
             "p_value": None, "interval": None, "trusted": False}
    if n:
        test = binomtest(k, n, chance, alternative="greater")
        ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")  # two-sided, as shown
        entry.update(p_value=float(test.pvalue), interval=[float(ci.low), float(ci.high)],
                     trusted=bool(test.pvalue <= level))
    return entry


def method_trust(top: dict, classes: list[str] | None = None) -> dict[str, dict]:
    """Per spatial method and per class explained: on how many of the run's measured windows of
    that class (the most anomalous explained window of a sample of clips) the method's map
    outranked random deletion (:func:`ranks_above_random`), and whether that is significantly
    more than chance (:func:`chance_rate`): a one-sided binomial test per class, at
    :data:`TRUST_ALPHA` over the method's classes together (Bonferroni). A method is trusted for
    a class only then, and the screen flags a cluster only on the maps of a method trusted for
    that cluster's class: a method that tracks the evidence of one class says nothing of its
    maps on another.

    Returns:
        ``{method: {"windows", "beats", "beats_random", "chance", "test", "classes": {class:
        {"windows", "beats", "beats_random", "chance", "level", "p_value", "interval",
        "trusted"}}, "trusted_classes", "trusted"}}``; ``trusted``: for at least one class.
    """
    chance, out = chance_rate(), {}
    targets = np.array([r["target"] for r in top["rows"]], int)
    names = classes or [str(k) for k in range(int(targets.max(initial=-1)) + 1)]
    for m in top["maps"]:
        b = np.asarray(top["beats"].get(m, np.full(len(targets), np.nan)), float)
        measured = ~np.isnan(b)
        present = [k for k in range(len(names)) if (measured & (targets == k)).any()]
        level = TRUST_ALPHA / max(1, len(present))
        per_class = {names[k]: _binomial(b[measured & (targets == k)], chance, level) for k in present}
        trusted = [c for c, e in per_class.items() if e["trusted"]]
        out[m] = {"windows": int(measured.sum()), "beats": int(np.nansum(b)),
                  "beats_random": float(np.nanmean(b)) if measured.any() else None, "chance": chance,
                  "test": (f"one-sided binomial test per class against the chance rate {chance:.3f}, at "
                           f"{TRUST_ALPHA:.0%} over the method's {len(present)} class(es) (Bonferroni: "
                           f"{level:.2%} each)"),
                  "classes": per_class, "trusted_classes": trusted, "trusted": bool(trusted)}
    return out


def _p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def class_trust_words(m: str, cls: str, e: dict) -> str:
    """How far a method's maps are trusted on one class's windows, in one sentence with its figures."""
    if not e.get("windows"):
        return f"{m} on {cls} windows: not measured on this run"
    from ..trust.verdict import VERDICT_DRAWS
    lo, hi = e["interval"]
    level = f", level {e['level']:.2%}" if "level" in e else ""  # runs written before the per-class test: none
    said = (f"{m} maps outranked all {VERDICT_DRAWS} random deletions on {e['beats']} of {e['windows']} measured "
            f"{cls} windows ({e['beats_random']:.0%}, 95% interval {lo:.0%} to {hi:.0%}; chance {e['chance']:.0%}, "
            f"binomial {_p(e['p_value'])}{level})")
    return said + (f": trusted for {cls}" if e["trusted"] else f": NOT to be trusted for {cls} on this model")


def trust_words(m: str, t: dict) -> str:
    """How far a method is trusted on a run, class by class, with its figures."""
    if not t.get("classes"):
        return f"{m}: not measured on this run"
    return "; ".join(class_trust_words(m, c, e) for c, e in t["classes"].items())


def screen_all(top: dict, classes: list[str], clip_names: dict[str, str]) -> dict:
    """The shortcut screen over each clip's most anomalous explained window, on the maps of
    every method trusted for at least one class (:func:`method_trust`). A cluster is flagged
    only on the maps of a method trusted for its class; when no method is trusted for any class
    every method is still clustered and shown, nothing is flagged, and the note says so. Each
    cluster names its method and how far that method is trusted for its class."""
    from . import shortcuts
    trust = method_trust(top, classes)
    trusted = [m for m, t in trust.items() if t["trusted"]]
    used = trusted or list(top["maps"])
    targets = np.array([r["target"] for r in top["rows"]])
    clusters, rule = [], None
    for m in used:
        one = shortcuts.screen(top["maps"][m], targets, top["rows"], classes, clip_names)
        rule = one["rule"]
        for c in one["clusters"]:
            entry = trust[m]["classes"].get(c["class"], {"windows": 0, "trusted": False})
            c.update(method=m, method_trust=entry, method_trusted=bool(entry["trusted"]),
                     flagged=bool(c["flagged"] and entry["trusted"]))
        clusters += one["clusters"]
    note = (f"Screened with {', '.join(used)}: the methods whose maps outrank random deletion on significantly "
            f"more windows of a class than chance; a cluster is flagged only on a method trusted for its class. "
            if trusted else
            "No method is trusted here: on no class do any method's maps outrank random deletion on significantly "
            "more windows than chance, so the clusters are shown but none is flagged, and none is evidence. ")
    note += "; ".join(trust_words(m, t) for m, t in trust.items()) + "."
    return {"clusters": clusters, "flagged": sum(c["flagged"] for c in clusters), "rule": rule or {},
            "methods": used, "method": ", ".join(used), "trust": trust, "trusted": trusted, "note": note}


def summarize(out: Path, classes: list[str], clip_names: dict[str, str]) -> dict:
    """The run's figures over every explained window; mean maps go to ``RUN/mean_maps.npz``."""
    from ..explainers import REGISTRY
    run = load_run(out)
    if not run["rows"]:
        return {"windows": 0}
    targets = np.array([r["target"] for r in run["rows"]])
    means = {}
    per_class = {}
    for k, c in enumerate(classes):
        sel = targets == k
        if not sel.any():
            continue
        entry = {"windows": int(sel.sum())}
        for m, stack in run["maps"].items():
            means[f"{c}__{m}"] = stack[sel].mean(axis=0)
        temporal = [m for m in run["scores"] if REGISTRY[m].contribution]
        if temporal:
            peaks = run["scores"][temporal[0]][sel].argmax(axis=1)
            T = run["scores"][temporal[0]].shape[1]
            entry["temporal_peak"] = {"method": temporal[0], "frames": T,
                                      "histogram": np.bincount(peaks, minlength=T).tolist(),
                                      "mean_position": float(peaks.mean() / max(T - 1, 1))}
        per_class[c] = entry
    np.savez_compressed(out / "mean_maps.npz", **means)
    screen = screen_all(run["top"], classes, clip_names) if run["top"]["maps"] else {}
    return {"windows": len(run["rows"]), "per_class": per_class, "agreement": agreement(run),
            "shortcut_screen": screen}


def agreement(run: dict) -> dict:
    """Mean Spearman rank correlation per pair of spatial methods (on the grid maps) and per
    pair of temporal contribution methods (on the frame numbers), over explained windows."""
    from scipy.stats import spearmanr

    from ..explainers import REGISTRY
    out = {}
    temporal = {m: v for m, v in run["scores"].items() if REGISTRY[m].contribution}
    for group in (run["maps"], temporal):
        for a, b in combinations(sorted(group), 2):
            rhos = [spearmanr(x.ravel(), y.ravel()).statistic for x, y in zip(group[a], group[b])]
            rhos = [r for r in rhos if np.isfinite(r)]
            out[f"{a} ~ {b}"] = float(np.mean(rhos)) if rhos else None
    return out
