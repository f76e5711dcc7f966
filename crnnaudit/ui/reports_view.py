"""What an approver sees of a stored report before deciding on it (the Countersign page)."""

from __future__ import annotations

import json

import streamlit as st


def report_evidence(report_id: str) -> None:
    """What an approver looks at before countersigning: the stored report's decision and
    reasons, the window's key frames with the maps its author saw, the figures and warnings.

    Raises:
        CrnnauditError: the report is missing, or its file does not verify.
    """
    import base64
    from ..config import home
    from ..errors import ReportError
    from ..evidence.signing import verify_file
    path = home() / "reports" / str(report_id) / "report.json"
    if not path.is_file():
        raise ReportError(f"report {report_id}: its file is not under the data folder")
    check = verify_file(path)
    (st.caption if check["ok"] else st.error)(f"Report file: {check['message']}")
    body = json.loads(path.read_text(encoding="utf-8"))["report"]
    out, view = body["output"], body.get("view") or {}
    st.write(f"Window {out['window']} · the model said **{out['model_decision']}** (score "
             f"{out['anomaly_score']:.3f}, threshold {out['threshold']:.2f}) · explained class "
             f"{out['explained_class']}" + (f" · frames {view['frames'][0]}-{view['frames'][1]}" if view else ""))
    for frame in body.get("key_frames", []):
        cols = st.columns(len(frame["images"]))
        for col, (name, b64) in zip(cols, frame["images"].items()):
            col.image(base64.b64decode(b64), caption=f"frame {frame['frame']} · {name}", width="stretch")
    for line in body.get("trust", {}).get("reading", []):
        (st.warning if line.startswith("WARNING") else st.caption)(line)
    for warning in body.get("clip", {}).get("warnings", []):
        st.warning(warning)


