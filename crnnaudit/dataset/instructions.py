"""Instructions for use (EU AI Act Art. 13(3)) from a labelled dataset audit.

Art. 13(3)(b) asks the provider to tell deployers the system's level of accuracy, including for
the specific persons or groups and the conditions it is meant to be used in, and (d)-(f) how
human oversight works and how to read the logs. This module writes that document from a
finished, labelled run (``crnnaudit batch ... --labels``):

- accuracy, and per class recall and precision, each with a 95% confidence interval (Wilson
  score interval, from ``scipy.stats.binomtest``), on the clip-level decision the product shows
  (the most anomalous window's predicted class);
- detection rate and false-alarm rate on the card's threshold, with their intervals;
- the same per condition when a conditions CSV gives columns beside ``clip`` (camera, night or
  day, crowd...): one block per column and value;
- the card's intended use, training data and limitations, the threshold and its calibration;
- how to read the logs and the reports.

``write_instructions`` writes it as JSON, HTML and PDF, each sealed with the installation's
Ed25519 key like a report (``crnnaudit report verify`` checks them), and logs it.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from ..decision import ANOMALY, NO_RELIABLE_READING
from ..errors import CrnnauditError
from .run_report import load_run_files
from .runner import RunModel

SCHEMA = "crnnaudit-instructions/1"
CONFIDENCE = 0.95
NOT_GIVEN = "(not given)"
READING_THE_LOGS = [
    "Every review is one row of the audit log: who decided, when, on which clip (SHA-256) and window, the "
    "model's output and decision, the human decision and reasons, the second reviewer, and the SHA-256 of the "
    "report files. Rows are signed with the installation's Ed25519 key and chained: `crnnaudit audit verify` "
    "checks the chain, the checkpoint outside the database and the witness.",
    "`crnnaudit audit export --out FILE` writes the log with each reviewer's oversight figures (share of "
    "decisions that confirm the model, median seconds to decide) beside it.",
    "A report's HTML, PDF and JSON each carry a seal: `crnnaudit report verify FILE` says whether the file is "
    "intact and who signed it; `--log` also checks that the log recorded it.",
    "A window marked 'no reliable reading' was unlike the training data or failed an image-quality check: the "
    "model's probabilities are shown, no anomaly decision is drawn from them, and a person decides with reasons.",
]


def proportion(k: int, n: int, confidence: float = CONFIDENCE) -> dict:
    """``k`` of ``n`` with its Wilson score interval (scipy); the rate is None when ``n`` is 0."""
    from scipy.stats import binomtest
    if n == 0:
        return {"k": 0, "n": 0, "rate": None, "low": None, "high": None}
    ci = binomtest(int(k), int(n)).proportion_ci(confidence, method="wilson")
    return {"k": int(k), "n": int(n), "rate": k / n, "low": float(ci.low), "high": float(ci.high)}


def read_conditions(csv_path: str | Path | None) -> pd.DataFrame:
    """The condition columns of a CSV with a ``clip`` column (a ``label`` column is not a
    condition); one row per clip file name.

    Raises:
        CrnnauditError: the file cannot be read or has no ``clip`` column.
    """
    if csv_path is None:
        return pd.DataFrame({"clip": []})
    from .csvfile import read_csv_rows
    rows = read_csv_rows(csv_path, "conditions")
    if not rows or "clip" not in rows[0]:
        raise CrnnauditError(f"{csv_path}: the conditions CSV needs a 'clip' column and one row per clip")
    table = pd.DataFrame(rows).drop(columns=["label"], errors="ignore")
    table["clip"] = [Path(c).name for c in table["clip"]]
    return table.drop_duplicates("clip", keep="last")


def _figures(clips: pd.DataFrame, classes: list[str], anomaly: list[str]) -> dict:
    """Accuracy, per-class recall and precision, detection and false alarms of labelled clips."""
    right = clips["label"] == clips["predicted"]
    is_anomaly = clips["label"].isin(anomaly)
    flagged = clips["decision"] == ANOMALY
    return {"clips": len(clips), "accuracy": proportion(right.sum(), len(clips)),
            "per_class": {c: {"support": int((clips["label"] == c).sum()),
                              "recall": proportion((right & (clips["label"] == c)).sum(), (clips["label"] == c).sum()),
                              "precision": proportion((right & (clips["predicted"] == c)).sum(),
                                                      (clips["predicted"] == c).sum())} for c in classes},
            "detected": proportion((flagged & is_anomaly).sum(), is_anomaly.sum()),
            "false_alarms": proportion((flagged & ~is_anomaly).sum(), (~is_anomaly).sum()),
            "no_reliable_reading": int((clips["decision"] == NO_RELIABLE_READING).sum())}


def build_instructions(run: str | Path, conditions: str | Path | None = None, now: datetime | None = None,
                       author: str | None = None) -> dict:
    """The instructions' body from a finished run folder (and a conditions CSV), written by
    ``author`` (the signed-in account; the document and its log row name it).

    Raises:
        CrnnauditError: not a finished run, no labelled clip in it, or an unreadable CSV.
    """
    run = Path(run)
    files, model = load_run_files(run), RunModel(run)
    clips = files["clips"]
    ok = clips[clips["error"].isna()] if "error" in clips else clips
    labelled = ok[ok["label"].notna()] if "label" in ok else ok.iloc[0:0]
    if labelled.empty:
        raise CrnnauditError(f"{run}: no labelled clip in this run; instructions for use need a labelled run "
                             "(crnnaudit batch ... --labels LABELS.csv, or clips with ground truth)")
    card = model.card
    table = labelled.merge(read_conditions(conditions), on="clip", how="left")
    columns = [c for c in table.columns if c not in labelled.columns]
    by_condition = {col: {str(v): _figures(g, card.classes, card.anomaly_classes)
                          for v, g in table.fillna({col: NOT_GIVEN}).groupby(col, sort=True)} for col in columns}
    summary = files["summary"]
    return {
        "schema": SCHEMA, "document_id": str(uuid.uuid4()), "author": author,
        "created": (now or datetime.now(timezone.utc)).isoformat(),
        "model": {"name": card.name, "version": card.version, "sha256": model.sha256, "classes": card.classes,
                  "anomaly_classes": card.anomaly_classes, "threshold": card.threshold,
                  "intended_use": card.intended_use, "training_data": card.training_data,
                  "limitations": list(card.known_limitations), "calibration": card.calibration,
                  "registry": summary.get("model_registry")},
        "run": {"folder": run.name, "sealed_at": files["manifest"].get("sealed_at"),
                "manifest_files": len(files["manifest"].get("files", {})),
                "clips": int(summary.get("clips", len(clips))),
                "failed": int(summary.get("failed", 0)), "labelled": len(labelled)},
        "figures": _figures(labelled, card.classes, card.anomaly_classes),
        "detection_roc_auc": summary.get("detection_roc_auc"), "window_roc_auc": summary.get("window_roc_auc"),
        "conditions": by_condition,
        "method": (f"Figures on the clips of this run whose label is known, from the decision the product shows "
                   f"for each clip (its most anomalous window). Intervals: {CONFIDENCE:.0%} Wilson score "
                   "intervals (scipy.stats.binomtest); a figure on few clips has a wide interval, and one on "
                   "no clip is not given. The ROC-AUC figures have no interval."),
        "reading_the_logs": READING_THE_LOGS,
    }


def _rate(p: dict) -> str:
    if p["rate"] is None:
        return "no clip"
    return f"{p['rate']:.1%} ({p['k']} of {p['n']}; 95% CI {p['low']:.1%} to {p['high']:.1%})"


def _figure_lines(f: dict) -> list[str]:
    lines = [f"Accuracy: {_rate(f['accuracy'])}.",
             f"Anomalies detected (flagged at the threshold): {_rate(f['detected'])}.",
             f"False alarms (normal clips flagged): {_rate(f['false_alarms'])}."]
    for c, pc in f["per_class"].items():
        lines.append(f"{c}: {pc['support']} clips; recall {_rate(pc['recall'])}; precision {_rate(pc['precision'])}.")
    if f["no_reliable_reading"]:
        lines.append(f"{f['no_reliable_reading']} clips got no reliable reading (a person decides).")
    return lines


def registry_sentence(reg: dict) -> str:
    """The registry version a run, report or document concerns, in one sentence."""
    how = f" (the alias {reg['alias']} pointed to it then)" if reg.get("alias") else ""
    return (f"From the model registry: {reg['name']} version {reg['version']}, opened as {reg['uri']}{how} on "
            f"{str(reg['pinned_at'])[:10]}; file SHA-256 {reg['sha256']}.")


def sections(body: dict) -> list[tuple[str, list[str]]]:
    """The document as headings and paragraphs: the HTML and the PDF are both written from it."""
    m, r = body["model"], body["run"]
    out = [("The system", [f"Model {m['name']} {m['version']}, SHA-256 {m['sha256']}.",
                           *([registry_sentence(m["registry"])] if m.get("registry") else []),
                           f"Intended use: {m['intended_use']}", f"Training data: {m['training_data']}",
                           f"Classes: {', '.join(m['classes'])}; anomalies: {', '.join(m['anomaly_classes'])}. "
                           f"A window is flagged at an anomaly score of {m['threshold']:.2f} or more."]),
           ("Known limitations", list(m["limitations"]) or ["The model card states no known limitations."]),
           ("Accuracy", [f"Measured on run '{r['folder']}': {r['labelled']} labelled clips of {r['clips']} "
                         f"({r['failed']} could not be read).", *_figure_lines(body["figures"]),
                         *([f"Detection ROC-AUC: {body['detection_roc_auc']:.3f}."]
                           if body.get("detection_roc_auc") is not None else []), body["method"]])]
    for col, values in body["conditions"].items():
        lines = []
        for value, f in values.items():
            lines += [f"{col} = {value}: {f['clips']} clips.", *_figure_lines(f)]
        out.append((f"Accuracy by condition: {col}", lines))
    out.append(("Reading the logs and reports", list(body["reading_the_logs"])))
    return out


_HTML = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>
<style>body{font-family:system-ui,sans-serif;max-width:900px;margin:2em auto;line-height:1.45}
h2{border-bottom:1px solid #ccc}</style></head><body><h1>{{ title }}</h1>
<p>Document <code>{{ b.document_id }}</code>, created {{ b.created }}{% if b.author %} by {{ b.author }}{% endif %}.</p>
{% for heading, lines in sections %}<h2>{{ heading }}</h2>{% for line in lines %}<p>{{ line }}</p>{% endfor %}{% endfor %}
</body></html>"""


def write_instructions(body: dict, out: str | Path, log=True) -> dict:
    """Write ``instructions.json``, ``.html`` and ``.pdf`` into ``out``, each sealed like a
    report, and log the document (a row of kind ``instructions`` with the files' SHA-256).

    Raises:
        SigningKeyError: no signing key (nothing is written). CrnnauditError: ``out`` cannot be made.
    """
    import hashlib

    import jinja2

    from ..evidence.keys import load_signing_key
    from ..evidence.log import AuditLog
    from ..evidence.signing import seal_bytes, seal_json
    from ..report.pdf import document_pdf
    key = load_signing_key()
    body = dict(body, signing_key={"fingerprint": key.fingerprint, "public_key": key.public_b64,
                                   "algorithm": "Ed25519"})
    title = f"Instructions for use: {body['model']['name']} {body['model']['version']}"
    parts = sections(body)
    html = jinja2.Environment(autoescape=True).from_string(_HTML).render(title=title, b=body, sections=parts)
    files = {"json": seal_json(body, key), "html": seal_bytes(html.encode(), "html", key),
             "pdf": seal_bytes(document_pdf(title, body["created"], parts), "pdf", key)}
    folder = Path(out)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CrnnauditError(f"{folder}: cannot create the folder ({e.strerror or e})") from e
    paths = {}
    for ext, data in files.items():
        paths[ext] = folder / f"instructions.{ext}"
        paths[ext].write_bytes(data)
    digests = {ext: hashlib.sha256(data).hexdigest() for ext, data in files.items()}
    row = None
    if log:
        log = AuditLog() if log is True else log
        row = log.append({"document_id": body["document_id"], "by": body.get("author"),
                          "model_sha256": body["model"]["sha256"],
                          "run": body["run"]["folder"], "files_sha256": digests}, kind="instructions")["seq"]
    return {**paths, "sha256": digests, "log_row": row}
