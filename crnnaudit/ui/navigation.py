"""The app's pages in one table: the navigation, each page's guard and the permission test
are all built from :data:`PAGES`, so a page's permission is stated once.

Adding a page: write ``views/<id>.py`` (its first line after the imports:
``who = auth.require_page("<id>")``) and add one :class:`PageSpec` here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import CrnnauditError


@dataclass(frozen=True)
class PageSpec:
    """One page: its script, title and icon, the permission it needs (see
    :data:`crnnaudit.evidence.accounts.PERMISSIONS`) and what a refusal says the role may not do."""

    path: str
    title: str
    icon: str
    permission: str
    what: str

    @property
    def id(self) -> str:
        return Path(self.path).stem


PAGES: tuple[PageSpec, ...] = (
    PageSpec("views/review.py", "Review", ":material/movie:", "review", "review clips"),
    PageSpec("views/model.py", "Model", ":material/neurology:", "review", "open the Model page"),
    PageSpec("views/compare.py", "Compare", ":material/compare:", "review", "compare explanations"),
    PageSpec("views/temporal.py", "Temporal", ":material/timeline:", "review", "review clips"),
    PageSpec("views/report.py", "Report", ":material/description:", "draft_report", "draft reports"),
    PageSpec("views/dataset.py", "Dataset", ":material/folder_open:", "review", "open dataset audits"),
    PageSpec("views/queue.py", "Queue", ":material/checklist:", "review", "work through the review queue"),
    PageSpec("views/countersign.py", "Countersign", ":material/signature:", "countersign",
             "countersign decisions"),
    PageSpec("views/audit_log.py", "Audit log", ":material/link:", "read", "read the audit log"),
    PageSpec("views/accounts.py", "Accounts", ":material/group:", "manage_accounts", "manage accounts"),
)


def page(page_id: str) -> PageSpec:
    """The table's entry for a page (``review``, ``audit_log``, ...)."""
    for spec in PAGES:
        if spec.id == page_id:
            return spec
    raise CrnnauditError(f"no page {page_id!r} in the navigation table; pages: {[p.id for p in PAGES]}")


def allowed(identity) -> list[PageSpec]:
    """The pages an identity may open, in the table's order."""
    return [spec for spec in PAGES if identity.may(spec.permission)]
