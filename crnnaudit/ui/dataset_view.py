"""The Dataset and Queue pages: a run of `crnnaudit batch` at once, its figures, where the model
looks per class, the shortcut screen's clusters, where to look first, and any clip opened in
Review; the queue of clips a human must look at."""

from __future__ import annotations

import numpy as np
import streamlit as st

from ..card import ModelCard
from ..dataset import run_report
from . import runs, session


def dataset(who) -> None:
    """The Dataset page below its title."""
    files = runs.pick_run("dataset_run")
    if files is None:
        st.stop()
    s = files["summary"]
    cols = st.columns(5)
    for col, (label, key) in zip(cols, [("clips", "clips"), ("failed", "failed"), ("flagged", "flagged"),
                                        ("accuracy", "accuracy"), ("window ROC-AUC", "window_roc_auc")]):
        value = s.get(key)
        col.metric(label, "—" if value is None else (f"{value:.3f}" if isinstance(value, float) else value))
    if files["model"]:
        st.caption(f"model {files['model'].get('name', '')} · SHA-256 `{files['model'].get('sha256', '')}`")
    for title, fig in run_report.figures(files):
        st.subheader(title)
        st.plotly_chart(fig, width="stretch", key=f"fig_{title}")

    if files["mean_maps"]:
        st.subheader("Where the model looks on average")
        items = sorted(files["mean_maps"].items())
        for start in range(0, len(items), 6):
            for col, (key, m) in zip(st.columns(6), items[start:start + 6]):
                c, _, method = key.partition("__")
                col.image(run_report.map_image(m), caption=f"{c}: {method}")

    _shortcut_screen(files)
    _clips(who, files)


def _shortcut_screen(files: dict) -> None:
    s, clips = files["summary"], files["clips"]
    screen = s.get("explanations", {}).get("shortcut_screen") or {}
    if screen.get("clusters"):
        st.subheader(f"Shortcut screen: {screen['flagged']} cluster(s) flagged")
        st.caption(f"Spectral clustering of each class's {screen['method']} maps. Flagged: members from at least "
                   f"{screen['rule']['min_clips']} clips with on average {screen['rule']['concentration']:.0%} or more "
                   f"of their relevance in the {screen['rule']['area']:.0%} of the frame where the cluster's mean map "
                   "is highest. A question for a human, not a verdict. " + screen.get("note", ""))
        card = ModelCard.from_dict(files["model"]["card"]) if files["model"] else None
        paths = dict(zip(clips["sha256"], clips["path"]))
        for c in screen["clusters"]:
            head = ("🚩 " if c["flagged"] else "") + (f"{c['class']}, cluster {c['cluster']}: {c['windows']} windows "
                                                     f"from {c['clips']} clips, concentration {c['concentration']:.2f} · "
                                                     f"{run_report.cluster_method(c)}")
            with st.expander(head, expanded=c["flagged"]):
                m = np.asarray(c["mean_map"])
                shown = [(run_report.map_image(m), "mean map")]
                for x in c["members"][:run_report.THUMBNAILS] if card else []:
                    thumb = run_report.member_thumbnail(paths.get(x["sha256"], ""), x["window"], card, m)
                    if thumb is not None:
                        shown.append((thumb, f"{x['clip']} #{x['window']}"))
                for col, (img, caption) in zip(st.columns(len(shown)), shown):
                    col.image(img, caption=caption)
                st.write(", ".join(f"{x['clip']} #{x['window']}" for x in c["members"][:30])
                         + (" …" if len(c["members"]) > 30 else ""))



def _clips(who, files: dict) -> None:
    clips = files["clips"]
    st.subheader("Where to look first")
    anomaly_classes = (files["model"] or {}).get("card", {}).get("anomaly_classes", [])
    for _, title, rows in run_report.where_to_look(clips, anomaly_classes):
        with st.expander(f"{title}: {len(rows)}", expanded=False):
            if len(rows):
                runs.clips_table(rows, tuple(rows.columns))
            else:
                st.caption("none")

    st.subheader("Clips")
    ok = clips[clips["error"].isna()] if "error" in clips else clips
    table = runs.with_status(ok).sort_values("max_anomaly_score", ascending=False)
    runs.clips_table(table, ("clip", "max_anomaly_score", "predicted", "label", "decision", "review",
                             "unlike_training_windows", "degraded_windows"))
    pick = st.selectbox("Clip", table["clip"].tolist(), key="dataset_clip")
    if st.button("Open in Review at its most anomalous window", key="dataset_open"):
        runs.open_in_review(session.current(who), files, table[table["clip"] == pick].iloc[0])


def queue(who) -> None:
    """The Queue page below its title: flagged clips and clips with no reliable reading, highest
    score first, with where each review stands."""
    from .. import AuditLog
    from ..errors import CrnnauditError
    from . import widgets
    from .reports_view import returned_section
    returned_section(who)  # reports an approver sent back to this person, first
    files = runs.pick_run("queue_run")
    if files is None:
        st.stop()
    flagged = run_report.flagged_table(files["clips"])
    if flagged.empty:
        st.success("No clip of this run crossed the threshold, and every clip was read reliably.")
        st.stop()
    table = runs.with_status(files["clips"].loc[flagged.index])
    try:
        widgets.oversight(AuditLog().rows())  # reviewers who confirm nearly always, or decide very fast
    except CrnnauditError as e:
        st.error(str(e))
    only_open = st.toggle("Only clips not reviewed yet", value=True, key="queue_open_only")
    shown = table[table["review"] == runs.STATUS_NONE] if only_open else table
    counts = table["review"].value_counts()
    st.caption(" · ".join(f"{counts.get(k, 0)} {k}" for k in (runs.STATUS_NONE, "decided", "countersigned")))
    runs.clips_table(shown, ("clip", "decision", "max_anomaly_score", "predicted", "top_start_s", "review",
                             "unlike_training", "degraded_windows"))
    if shown.empty:
        st.info("Every flagged clip of this run has been reviewed.")
        st.stop()
    pick = st.selectbox("Clip", shown["clip"].tolist(), key="queue_clip")
    if st.button("Review it", key="queue_open"):
        runs.open_in_review(session.current(who), files, shown[shown["clip"] == pick].iloc[0])
