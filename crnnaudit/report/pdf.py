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
    """Headings and paragraphs on an A4 page, in the report's two sizes, ragged right (justified
    lines opened wide gaps in short lines)."""

    def __init__(self, pdf: FPDF, fonts: _Fonts):
        self.pdf = pdf
        self.fonts = fonts
        self.family = fonts.family
        self.t = fonts.text
        self.width = pdf.w - pdf.l_margin - pdf.r_margin

    def h(self, text: str) -> None:
        self.pdf.ln(2)
        self.pdf.set_font(self.family, "B", 13)
        self.pdf.multi_cell(self.width, 7, self.t(text), align="L", new_x="LMARGIN", new_y="NEXT")
        self.pdf.set_font(self.family, "", 9.5)

    def p(self, text: str) -> None:
        self.pdf.multi_cell(self.width, 5, self.t(text), align="L", new_x="LMARGIN", new_y="NEXT")


def render_pdf(r: dict) -> bytes:
    """The report body as a PDF (fpdf2): the same sentences as the HTML (the fact sheet's), the
    same images."""
    from .facts import fact_sheet
    from .sentences import annex
    pdf = FPDF(format="A4")
    pdf.set_creation_date(datetime.fromisoformat(r["created"]))
    fonts = _Fonts(pdf)
    pdf.set_title(fonts.text(f"Justification report {r['report_id']}"))
    pdf.set_auto_page_break(True, 15)
    pdf.add_page()
    w = _Writer(pdf, fonts)
    pdf.set_font(w.family, "B", 16)
    pdf.multi_cell(w.width, 8, "Justification report: automated video analysis", align="L", new_x="LMARGIN",
                   new_y="NEXT")
    pdf.set_font(w.family, "", 9.5)
    if not fonts.unicode:
        w.p(MISSING_FONTS)
    w.p(f"Report {r['report_id']}, created {r['created']}")
    if r.get("summary"):
        w.h("In plain words, for the person concerned")
        w.p(r["summary"]["text"])
        rd = r["summary"]["readability"]
        w.p(f"{r['summary']['words']} words; {rd['formula']} {rd['score']:.0f} (60 and above is plain language). "
            "The sections below are the technical annex, for the authority.")
    for title, lines in annex(r.get("facts") or fact_sheet(r)):
        w.h(title)
        for line in lines:
            w.p(line)
        if title == "Key frames":
            _key_frames(w, r)
        elif title == "What would have changed the outcome":
            _counterfactual_images(w, r)
    _annex_tables(w, r)
    return bytes(pdf.output())


def _png_height(b64: str, width: float) -> float:
    """The height an image of ``width`` takes on the page (its PNG header's aspect ratio)."""
    import struct
    head = base64.b64decode(b64[:44])
    w_px, h_px = struct.unpack(">II", head[16:24])
    return width * h_px / max(w_px, 1)


def _image_row(w: _Writer, images: list[tuple[str, str]], size: float = 58) -> None:
    """Up to three images side by side, each with its caption below it (never over it); a new
    page first when the row would not fit."""
    pdf = w.pdf
    for start in range(0, len(images), 3):
        row = images[start:start + 3]
        height = max(_png_height(b64, size) for _, b64 in row)
        if pdf.get_y() + height + 10 > pdf.h - pdf.b_margin:
            pdf.add_page()
        x0, y0 = pdf.l_margin, pdf.get_y()
        pdf.set_font(w.family, "", 7)
        for k, (caption, b64) in enumerate(row):
            x = x0 + k * (size + 3)
            pdf.image(io.BytesIO(base64.b64decode(b64)), x=x, y=y0, w=size)
            pdf.set_xy(x, y0 + height + 1)
            pdf.multi_cell(size, 3.2, w.t(caption), align="L")
        pdf.set_font(w.family, "", 9.5)
        pdf.set_xy(pdf.l_margin, y0 + height + 9)


def _key_frames(w: _Writer, r: dict) -> None:
    blank = {(b["frame"], b["method"]) for b in r.get("blank_maps", [])}
    for f in r["key_frames"]:
        _image_row(w, [(f"frame {f['frame']}, {name}" + (": points nowhere on this frame"
                                                          if (f["frame"], name) in blank else ""), img)
                       for name, img in f["images"].items()])
    w.h("When the model became confident")
    w.pdf.image(io.BytesIO(base64.b64decode(r["temporal_plot"])), w=w.width * 0.9)


def _counterfactual_images(w: _Writer, r: dict) -> None:
    images = (r.get("counterfactual") or {}).get("images") or []
    if images:
        _image_row(w, [(f"frame {f['frame']}, without it (the region outlined)", f["image"]) for f in images])


def _annex_tables(w: _Writer, r: dict) -> None:
    c, m = r["clip"], r["model"]
    w.h("Integrity")
    if r.get("signing_key"):
        w.p(f"Signed with the installation's Ed25519 key, fingerprint {r['signing_key']['fingerprint']}: anyone can "
            "check this file with `crnnaudit report verify`; compare the fingerprint with the one the organisation "
            "publishes.")
    if r.get("countersignature"):
        w.p(f"Countersignature bound to report {r['countersignature']['report_sha256'][:16]}... (the content hash "
            "of the report it countersigns).")
    w.h("Video")
    w.p(f"{c['file']}  SHA-256 {c['sha256']}")
    w.p(f"{c['duration_s']} s, {c['frames']} frames at {c['fps']} fps"
        + (" (variable frame rate)" if c.get("variable_frame_rate") else "")
        + f", {c['width']}x{c['height']}, {c['codec']}"
        + (f", turned {c['rotation_deg']} degrees as the file asks" if c.get("rotation_deg") else ""))
    for warning in c.get("warnings") or []:
        w.p(f"WARNING: {warning}")
    w.h("Model")
    w.p(f"{m['name']} {m['version']}  SHA-256 {m['sha256']}")
    w.p(f"Intended use: {m['card']['intended_use']}")
    w.p(f"Training data: {m['card']['training_data']}")
    w.p(f"Decomposition check: max |difference| {m['verify_max_abs_diff']:.2g}")
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
    pdf.multi_cell(w.width, 8, w.t(title), align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(w.family, "", 9.5)
    if not fonts.unicode:
        w.p(MISSING_FONTS)
    for heading, paragraphs in sections:
        w.h(heading)
        for text in paragraphs:
            w.p(text)
    return bytes(pdf.output())
