"""Dataset-audit runs in the app: which runs there are, a clip's review status, and opening a
clip of a run in Review at its most anomalous window."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import streamlit as st

from ..dataset.run_report import load_run_files
from ..config import runs_dir
from ..errors import CrnnauditError
from . import model_choice
from .session import send

STATUS_NONE = "not reviewed"


def run_choices() -> list[Path]:
    """Finished runs (a ``summary.json``) under the runs folder, newest first."""
    root = runs_dir()
    if not root.is_dir():
        return []
    runs = [p.parent for p in root.glob("*/summary.json")]
    return sorted(runs, key=lambda p: (p / "summary.json").stat().st_mtime, reverse=True)


def pick_run(key: str) -> dict | None:
    """A run picker; the chosen run's files (``load_run_files``) and ``path``, or ``None``."""
    runs = run_choices()
    if not runs:
        st.info(f"No dataset-audit run in {runs_dir()} yet: `crnnaudit batch MODEL CLIPS... --out "
                f"{runs_dir()}/NAME --explain flagged --as USER` makes one (CRNNAUDIT_RUNS_DIR moves the folder).")
        return None
    path = st.selectbox("Run", runs, format_func=lambda p: p.name, key=key)
    try:
        files = load_run_files(path)
    except CrnnauditError as e:
        st.error(str(e))
        return None
    files["path"] = path
    files["model"] = json.loads((path / "model.json").read_text(encoding="utf-8")) if (path / "model.json").exists() else {}
    return files


def with_status(clips: pd.DataFrame) -> pd.DataFrame:
    """The clips with their review status from the audit log."""
    from ..evidence.log import AuditLog
    from ..report.countersign import review_status
    status = review_status(AuditLog().rows())
    out = clips.copy()
    out["review"] = [status.get(s, STATUS_NONE) for s in out["sha256"]]
    return out


def open_in_review(review, files: dict, row: pd.Series) -> None:
    """Review the clip under the run's model (when it is one the app may open, and the account
    may load models) at the run's most anomalous window."""
    run_model = files.get("model", {})
    pinned = (run_model.get("registry") or {}).get("file")  # a registry version: the run's own pin
    model_path = pinned or run_model.get("name", "")
    if (model_path and (pinned or Path(model_path) in model_choice.model_choices()) and model_path != review.state.model_path
            and review.identity.may("manage_models")):
        send(review.use_model, model_path)
    send(review.open_clip, str(row["path"]), None, int(row["top_window"]))
    st.switch_page("views/review.py")


def clips_table(table: pd.DataFrame, columns: tuple[str, ...]) -> None:
    """A run's clips in an auditor's words: labelled columns, rounded numbers."""
    labels = {
        "clip": st.column_config.TextColumn("Clip"),
        "max_anomaly_score": st.column_config.NumberColumn("Highest anomaly score", format="%.3f"),
        "predicted": st.column_config.TextColumn("Predicted class"),
        "top_start_s": st.column_config.NumberColumn("Most anomalous from (s)", format="%.1f"),
        "label": st.column_config.TextColumn("Label"),
        "decision": st.column_config.TextColumn("Model decision"),
        "review": st.column_config.TextColumn("Review"),
        "unlike_training": st.column_config.CheckboxColumn("Unlike the training data"),
        "unlike_training_windows": st.column_config.NumberColumn("Windows unlike the training data"),
        "degraded_windows": st.column_config.NumberColumn("Windows with degraded footage"),
    }
    shown = [c for c in columns if c in table]
    st.dataframe(table[shown], hide_index=True, width="stretch", column_config={c: labels[c] for c in shown})
