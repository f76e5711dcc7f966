"""Justification reports: one body, three renderings (HTML, PDF, JSON), sealed and logged.

    build.py    the body of a report (one JSON-ready dict)
    files.py    render it as HTML, PDF and JSON, seal each file, log the review
    signing.py  SHA-256 / HMAC seals and their verification
    pdf.py      the PDF rendering; privacy.py: faces in exported frames; legal.py: the law
"""

from ..vocabulary import DECISIONS
from .build import build_report
from .files import render_html, write_report
from .legal import LEGAL
from .pdf import render_pdf
from .signing import verify_file

__all__ = ["DECISIONS", "LEGAL", "build_report", "render_html", "render_pdf", "verify_file", "write_report"]
