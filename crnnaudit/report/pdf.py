"""PDF rendering with fpdf2, in Unicode fonts so that names and reasons in any script read
as they do in the HTML and JSON.

The fonts are Debian's Noto families (``make system-deps`` installs ``fonts-noto-core``,
``fonts-noto-cjk`` and ``fonts-noto-color-emoji``): Noto Sans for Latin, Greek and Cyrillic,
with Arabic, CJK and emoji as fallbacks, and text shaping (HarfBuzz, via ``uharfbuzz``) for
scripts that join or run right to left. Set ``CRNNAUDIT_FONT_DIRS`` (``:``-separated) to
look elsewhere. Without them the PDF falls back to the core Latin-1 font and says on its
first page that characters are missing.
"""

from __future__ import annotations

import base64
import functools
import io
from datetime import datetime
from pathlib import Path

from fpdf import FPDF

from ..config import folders

FONT_DIRS = ("/usr/share/fonts/truetype/noto", "/usr/share/fonts/opentype/noto",
             "/usr/share/fonts/truetype", "/usr/share/fonts/opentype", "/usr/share/fonts")
#: family -> (regular file, bold file); the first is the main font, the rest are fallbacks.
FONTS = {
    "NotoSans": ("NotoSans-Regular.ttf", "NotoSans-Bold.ttf"),
    "NotoSansArabic": ("NotoSansArabic-Regular.ttf", "NotoSansArabic-Bold.ttf"),
    "NotoSansHebrew": ("NotoSansHebrew-Regular.ttf", "NotoSansHebrew-Bold.ttf"),
    "NotoSansDevanagari": ("NotoSansDevanagari-Regular.ttf", "NotoSansDevanagari-Bold.ttf"),
    "NotoSansThai": ("NotoSansThai-Regular.ttf", "NotoSansThai-Bold.ttf"),
    "NotoSansCJK": ("NotoSansCJK-Regular.ttc", "NotoSansCJK-Bold.ttc"),
    "NotoColorEmoji": ("NotoColorEmoji.ttf", "NotoColorEmoji.ttf"),
}
MISSING_FONTS = ("This machine has no Unicode fonts (install fonts-noto-core, fonts-noto-cjk and "
                 "fonts-noto-color-emoji): characters outside Latin-1 print as '?' in this PDF. "
                 "The HTML and JSON versions of the report carry the full text.")


@functools.lru_cache(maxsize=1)
def font_files() -> dict[str, tuple[Path, Path]]:
    """The Noto fonts found on this machine, by family."""
    dirs = (folders("CRNNAUDIT_FONT_DIRS") or []) + [Path(d) for d in FONT_DIRS]
    found = {}
    for family, names in FONTS.items():
        paths = []
        for name in names:
            hit = next((d / name for d in dirs if (d / name).is_file()), None)
            if hit is None:
                break
            paths.append(hit)
        if len(paths) == 2:
            found[family] = (paths[0], paths[1])
    return found if "NotoSans" in found else {}


class _Fonts:
    """The family to write in, and how text must be prepared for it."""

    def __init__(self, pdf: FPDF):
        files = font_files()
        self.unicode = bool(files)
        if not self.unicode:
            self.family = "Helvetica"
            return
        for family, (regular, bold) in files.items():
            pdf.add_font(family, "", regular)
            pdf.add_font(family, "B", bold)
        pdf.set_fallback_fonts([f for f in files if f != "NotoSans"], exact_match=False)
        pdf.set_text_shaping(True)
        self.family = "NotoSans"

    def text(self, text) -> str:
        if self.unicode:
            return str(text)
        return str(text).encode("latin-1", "replace").decode("latin-1")


class _Writer:
    """Headings and paragraphs on an A4 page, in the report's two sizes."""

    def __init__(self, pdf: FPDF, fonts: _Fonts):
        self.pdf = pdf
        self.fonts = fonts
        self.family = fonts.family
        self.t = fonts.text
        self.width = pdf.w - pdf.l_margin - pdf.r_margin

    def h(self, text: str) -> None:
        self.pdf.ln(2)
        self.pdf.set_font(self.family, "B", 13)
        self.pdf.multi_cell(self.width, 7, self.t(text), new_x="LMARGIN", new_y="NEXT")
        self.pdf.set_font(self.family, "", 9.5)

    def p(self, text: str) -> None:
        self.pdf.multi_cell(self.width, 5, self.t(text), new_x="LMARGIN", new_y="NEXT")


def render_pdf(r: dict) -> bytes:
    """The report body as a PDF (fpdf2): the same sections as the HTML."""
    pdf = FPDF(format="A4")
    pdf.set_creation_date(datetime.fromisoformat(r["created"]))
    fonts = _Fonts(pdf)
    pdf.set_title(fonts.text(f"Justification report {r['report_id']}"))
    pdf.set_auto_page_break(True, 15)
    pdf.add_page()
    w = _Writer(pdf, fonts)
    pdf.set_font(w.family, "B", 16)
    pdf.multi_cell(w.width, 8, "Justification report: automated video analysis", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(w.family, "", 9.5)
    if not fonts.unicode:
        w.p(MISSING_FONTS)
    w.p(f"Report {r['report_id']}, created {r['created']}")
    if r.get("summary"):
        w.h("In plain words, for the person concerned")
        w.p(r["summary"]["text"])
        w.p(f"{r['summary']['words']} words; Flesch reading ease {r['summary']['flesch_reading_ease']:.0f} (60 and "
            "above is plain English). The sections below are the technical annex, for the authority.")
    _decision_and_facts(w, r)
    _key_frames(w, r)
    _counterfactual(w, r)
    _trust_and_rights(w, r)
    return bytes(pdf.output())


def _decision_and_facts(w: _Writer, r: dict) -> None:
    hm, out, c, m = r["human"], r["output"], r["clip"], r["model"]
    w.h("Decision")
    w.p(f"Human decision: {hm['decision'].upper()} (model output: {out['model_decision']}, anomaly score "
        f"{out['anomaly_score']:.3f}, threshold {out['threshold']:.2f})")
    w.p(f"Reviewer: {hm['reviewer']} at {hm['reviewed_at']}")
    w.p(f"Second reviewer: {hm['second_reviewer'] or 'none'}"
        + (f" at {hm['second_signed_at']}" if hm.get("second_signed_at") else ""))
    if r.get("signing_key"):
        w.p(f"Signed with the installation's Ed25519 key, fingerprint {r['signing_key']['fingerprint']}: anyone "
            "can check this file with `crnnaudit report verify`; compare the fingerprint with the one the "
            "organisation publishes.")
    if r.get("countersignature"):
        cs = r["countersignature"]
        w.p(f"Countersigned by {cs['by']} at {cs['at']}, bound to report {cs['report_sha256'][:16]}... "
            "(the content hash of the report it countersigns).")
    w.p(f"Reasons: {hm['reason'] or 'none given'}")
    w.h("Contesting this decision")
    w.p(hm["contest_channel"])
    w.h("Video")
    w.p(f"{c['file']}  SHA-256 {c['sha256']}")
    w.p(f"{c['duration_s']} s, {c['frames']} frames at {c['fps']} fps"
        + (" (variable frame rate)" if c.get("variable_frame_rate") else "")
        + f", {c['width']}x{c['height']}, {c['codec']}"
        + (f", turned {c['rotation_deg']} degrees as the file asks" if c.get("rotation_deg") else ""))
    for warning in c.get("warnings") or []:
        w.p(f"WARNING: {warning}")
    for win in c["windows_reviewed"]:
        w.p(f"Window {win['index']}: frames {win['first_frame']}-{win['last_frame']} "
            f"({win['start_s']:.2f}-{win['end_s']:.2f} s)" + (", padded" if win["padded"] else ""))
    w.h("Model")
    w.p(f"{m['name']} {m['version']}  SHA-256 {m['sha256']}")
    w.p(f"Intended use: {m['card']['intended_use']}")
    w.p(f"Training data: {m['card']['training_data']}")
    w.p(f"Decomposition check: max |difference| {m['verify_max_abs_diff']:.2g}")
    w.h("Output")
    w.p(", ".join(f"{k}: {v:.3f}" for k, v in out["probabilities"].items()))
    if "training_data_check" in out:
        w.p(out["training_data_check"]["statement"])
    if "quality_check" in out:
        w.p(out["quality_check"]["statement"])
    if out.get("model_decision") == "no reliable reading":
        w.p("The model gives no reliable reading on this window: its probabilities are shown above, no "
            "anomaly decision is drawn from them, and the reviewer decided with reasons.")
    w.p(f"Explained class: {out['explained_class']}; methods: {', '.join(r['explanations'])}")


def _key_frames(w: _Writer, r: dict, size: float = 58) -> None:
    pdf = w.pdf
    w.h("Key frames")
    for f in r["key_frames"]:
        w.p(f"Frame {f['frame']} ({f['time_s']:.2f} s), contribution {f['contribution']:.3g} ({f['ranked_by']})")
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
            pdf.set_font(w.family, "", 7)
            pdf.cell(size, 4, w.t(name))
            pdf.set_font(w.family, "", 9.5)
        pdf.set_xy(pdf.l_margin, y0 + size * 0.75)
    w.h("When the model became confident")
    pdf.image(io.BytesIO(base64.b64decode(r["temporal_plot"])), w=w.width * 0.9)


def _counterfactual(w: _Writer, r: dict, size: float = 58) -> None:
    cf = r.get("counterfactual")
    if not cf:
        return
    w.h("What would have changed the outcome")
    alone = "; on the model's score alone: this window has no reliable reading" if r["output"].get(
        "model_decision") == "no reliable reading" else ""
    w.p(f"{cf['temporal']['statement']} ({cf['temporal']['sets_scored']} versions of the window scored{alone}.)")
    w.p(cf["region"]["statement"])
    pdf = w.pdf
    if cf["images"] and pdf.get_y() + size > pdf.h - 20:
        pdf.add_page()
    y0 = pdf.get_y()
    for k, f in enumerate(cf["images"][:3]):
        pdf.image(io.BytesIO(base64.b64decode(f["image"])), x=pdf.l_margin + k * (size + 3), y=y0, w=size)
    if cf["images"]:
        pdf.set_xy(pdf.l_margin, y0 + size * 0.8)


def _trust_and_rights(w: _Writer, r: dict) -> None:
    w.h("How far to trust the explanations")
    for line in r["trust"]["reading"]:
        w.p("- " + line)
    w.h("Known limitations")
    for line in r["limitations"]:
        w.p("- " + line)
    w.h("Privacy")
    w.p(r["privacy"]["statement"] + f" (faces detected: {r['privacy']['faces_found']})")
    w.h("Your rights, in plain language")
    for a in r["legal"]:
        w.pdf.set_font(w.family, "B", 9.5)
        w.p(f"{a['article']}: {a['topic']} (see: {a['where']})")
        w.pdf.set_font(w.family, "", 9.5)
        w.p(a["plain"])
    if r.get("view"):
        v = r["view"]
        maps = ", ".join(f"{k} {val}" for k, val in v.get("map_settings", {}).items())
        w.p(f"On screen when the report was asked for: window {v['window']} (frames {v['frames'][0]}-"
            f"{v['frames'][1]}), methods {', '.join(v['methods'])}, explained class {v['explained_class']}"
            + (f"; maps: {maps}" if maps else "") + ".")
    w.h("Reproduce")
    w.p(f"Model {r['reproduce']['model_sha256']}; clip {r['reproduce']['clip_sha256']}; "
        f"target {r['reproduce']['target']}")
    w.p(r["reproduce"]["command"])


def document_pdf(title: str, created: str, sections: list[tuple[str, list[str]]]) -> bytes:
    """A plain document in the report's fonts: a title, then headings each with paragraphs
    (the instructions for use are written so)."""
    pdf = FPDF(format="A4")
    pdf.set_creation_date(datetime.fromisoformat(created))
    fonts = _Fonts(pdf)
    pdf.set_title(fonts.text(title))
    pdf.set_auto_page_break(True, 15)
    pdf.add_page()
    w = _Writer(pdf, fonts)
    pdf.set_font(w.family, "B", 16)
    pdf.multi_cell(w.width, 8, w.t(title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(w.family, "", 9.5)
    if not fonts.unicode:
        w.p(MISSING_FONTS)
    for heading, paragraphs in sections:
        w.h(heading)
        for text in paragraphs:
            w.p(text)
    return bytes(pdf.output())
