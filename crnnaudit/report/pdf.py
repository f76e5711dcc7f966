"""PDF rendering with fpdf2 (pip only, no system packages)."""

from __future__ import annotations

import base64
import io
from datetime import datetime

from fpdf import FPDF


def _t(text) -> str:
    # The core fonts are Latin-1; the HTML and JSON keep the full text.
    return str(text).encode("latin-1", "replace").decode("latin-1")


def render_pdf(r: dict) -> bytes:
    pdf = FPDF(format="A4")
    pdf.set_creation_date(datetime.fromisoformat(r["created"]))
    pdf.set_title(_t(f"Justification report {r['report_id']}"))
    pdf.set_auto_page_break(True, 15)
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin

    def h(text):
        pdf.ln(2)
        pdf.set_font("Helvetica", "B", 13)
        pdf.multi_cell(width, 7, _t(text), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "", 9.5)

    def p(text):
        pdf.multi_cell(width, 5, _t(text), new_x="LMARGIN", new_y="NEXT")

    pdf.set_font("Helvetica", "B", 16)
    pdf.multi_cell(width, 8, "Justification report: automated video analysis", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 9.5)
    p(f"Report {r['report_id']}, created {r['created']}")
    hm, out = r["human"], r["output"]
    h("Decision")
    p(f"Human decision: {hm['decision'].upper()} (model output: {out['model_decision']}, anomaly score "
      f"{out['anomaly_score']:.3f}, threshold {out['threshold']:.2f})")
    p(f"Reviewer: {hm['reviewer']} at {hm['reviewed_at']}")
    p(f"Second reviewer: {hm['second_reviewer'] or 'none'}")
    p(f"Reasons: {hm['reason'] or 'none given'}")
    h("Contesting this decision")
    p(hm["contest_channel"])
    h("Video")
    c = r["clip"]
    p(f"{c['file']}  SHA-256 {c['sha256']}")
    p(f"{c['duration_s']} s, {c['frames']} frames at {c['fps']} fps, {c['width']}x{c['height']}, {c['codec']}")
    for w in c["windows_reviewed"]:
        p(f"Window {w['index']}: frames {w['first_frame']}-{w['last_frame']} ({w['start_s']:.2f}-{w['end_s']:.2f} s)"
          + (", padded" if w["padded"] else ""))
    h("Model")
    m = r["model"]
    p(f"{m['name']} {m['version']}  SHA-256 {m['sha256']}")
    p(f"Intended use: {m['card']['intended_use']}")
    p(f"Training data: {m['card']['training_data']}")
    p(f"Decomposition check: max |difference| {m['verify_max_abs_diff']:.2g}")
    h("Output")
    p(", ".join(f"{k}: {v:.3f}" for k, v in out["probabilities"].items()))
    p(f"Explained class: {out['explained_class']}; methods: {', '.join(r['explanations'])}")
    h("Key frames")
    size = 58
    for f in r["key_frames"]:
        p(f"Frame {f['frame']} ({f['time_s']:.2f} s), contribution {f['contribution']:.3g} ({f['ranked_by']})")
        x0, y0 = pdf.get_x(), pdf.get_y()
        if y0 + size > pdf.h - 20:
            pdf.add_page()
            x0, y0 = pdf.get_x(), pdf.get_y()
        for k, (name, img) in enumerate(f["images"].items()):
            if k and k % 3 == 0:
                y0 += size * 0.75
                x0 = pdf.l_margin
            pdf.image(io.BytesIO(base64.b64decode(img)), x=x0 + (k % 3) * (size + 3), y=y0, w=size)
            pdf.set_xy(x0 + (k % 3) * (size + 3), y0 + size * 0.57)
            pdf.set_font("Helvetica", "", 7)
            pdf.cell(size, 4, _t(name))
            pdf.set_font("Helvetica", "", 9.5)
        pdf.set_xy(pdf.l_margin, y0 + size * 0.75)
    h("When the model became confident")
    pdf.image(io.BytesIO(base64.b64decode(r["temporal_plot"])), w=width * 0.9)
    h("How far to trust the explanations")
    for line in r["trust"]["reading"]:
        p("- " + line)
    h("Known limitations")
    for line in r["limitations"]:
        p("- " + line)
    h("Privacy")
    p(r["privacy"]["statement"] + f" (faces detected: {r['privacy']['faces_found']})")
    h("Your rights, in plain language")
    for a in r["legal"]:
        pdf.set_font("Helvetica", "B", 9.5)
        p(f"{a['article']}: {a['topic']} (see: {a['where']})")
        pdf.set_font("Helvetica", "", 9.5)
        p(a["plain"])
    h("Reproduce")
    p(f"Model {r['reproduce']['model_sha256']}; clip {r['reproduce']['clip_sha256']}; target {r['reproduce']['target']}")
    p(r["reproduce"]["command"])
    return bytes(pdf.output())
