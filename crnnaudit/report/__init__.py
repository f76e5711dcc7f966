"""Justification reports: one body, three renderings (HTML, PDF, JSON), sealed and logged.

    build.py        the body of a report (one JSON-ready dict)
    files.py        render it as HTML, PDF and JSON, seal each file, log the review
    countersign.py  four eyes: what waits for a countersignature; countersigning
    export.py       one window's explanations as files (``crnnaudit explain``)
    pdf.py          the PDF rendering; privacy.py: faces in exported frames; legal.py: the law

Seals and their verification live with the evidence (:mod:`crnnaudit.evidence.signing`).
Names are imported on first use, so that verifying a report never imports TensorFlow:
``crnnaudit report verify`` starts in well under a second.
"""

from __future__ import annotations

from ..lazy import lazy_exports

_EXPORTS = {"DECISIONS": "..vocabulary", "LEGAL": ".legal", "build_report": ".build",
            "render_html": ".files", "write_report": ".files", "render_pdf": ".pdf",
            "verify_file": "..evidence.signing"}
__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, namespace=globals())
