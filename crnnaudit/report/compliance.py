"""The evidence map: each legal clause that bears on a review, and the report and log fields
that answer it; :func:`assess` says which this deployment answers.

Fields are named ``report:<dotted path in the report's JSON body>`` or
``log:<row kind>.<payload key>`` (``log:*.<column>`` for a column every row has). A test
builds a real report and log and fails when a clause points at a field neither has.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..evidence.chain import payload_or_raw
from ..evidence.keys import anchors
from ..evidence.retention import retention_days
from ..limits import AI_ACT_LOG_DAYS

ANSWERED, PARTLY, NOT_ANSWERED = "answered", "partly answered", "not answered"


@dataclass(frozen=True)
class Clause:
    clause: str
    asks: str
    fields: tuple[str, ...]
    how: str


CLAUSES = (
    Clause("AI Act Art. 12(1)", "automatic recording of events over the system's lifetime",
           ("log:*.row_hash", "log:*.prev_hash", "log:*.signature", "log:*.ts", "log:review.report_id"),
           "every report, countersignature, account change, card edit, erasure and retention purge is a "
           "signed row chained to the one before"),
    Clause("AI Act Art. 12(2)", "logs that let situations of risk and substantial modifications be identified",
           ("log:review.model_sha256", "log:review.anomaly_score", "log:review.model_decision",
            "report:model.card_sha256", "report:output.training_data_check", "report:output.quality_check"),
           "each row names the model file's hash and what it said; each report the card's hash and whether the "
           "window was like the training data and fit to be read"),
    Clause("AI Act Art. 12(3)", "the period of each use, the input data, who verified the results",
           ("report:created", "report:human.window_shown_at", "report:human.reviewed_at", "report:clip.sha256",
            "log:review.clip_sha256", "log:review.reviewer", "log:review.second_reviewer"),
           "when the window was shown and decided, the clip's hash, the reviewer and the countersigner"),
    Clause("AI Act Art. 13(3)", "instructions for use: intended purpose, accuracy, known limitations",
           ("report:model.card.intended_use", "report:model.card.known_limitations", "report:limitations",
            "report:trust.evidence", "log:instructions.document_id", "log:instructions.files_sha256"),
           "`crnnaudit instructions RUN` writes the instructions for use from a labelled run (accuracy and "
           "per-class figures with 95% intervals, per condition; the card's intended use and limitations; how "
           "to read the logs), signed and logged; every report carries the card and each map's evidence"),
    Clause("AI Act Art. 14(4)", "overseers understand the output, stay aware of automation bias, can override",
           ("report:facts.verdicts", "report:output.model_decision", "report:output.reliable", "report:human.decision",
            "report:human.reason", "log:review.seconds_to_decision"),
           "each map's verdict against random deletion, 'no reliable reading' where the model is out of its "
           "depth, override with reasons, and per-reviewer confirm shares and times (oversight)"),
    Clause("AI Act Art. 14(5)", "two natural persons verify before a decision takes effect",
           ("report:human.second_reviewer", "report:human.second_signed_at", "log:countersign.second_reviewer"),
           "a decision is final only when an approver other than its author countersigns it"),
    Clause("AI Act Art. 19", "the provider keeps the automatically generated logs at least six months",
           ("log:*.ts", "log:retention.retention_days"),
           "a purge below six months needs --force and a reason, and is itself a logged row"),
    Clause("AI Act Art. 26(6)", "the deployer keeps the logs under its control at least six months",
           ("log:*.ts", "log:retention.retention_days"),
           "as Art. 19: the log's retention is checked against six months"),
    Clause("AI Act Art. 86", "a clear and meaningful explanation of the AI system's role and the decision's main elements",
           ("report:output.probabilities", "report:key_frames", "report:explanations", "report:legal",
            "report:counterfactual.temporal", "report:counterfactual.region", "report:summary.text"),
           "the report: a plain summary for the person concerned, what the model said, how sure, which frames "
           "and regions, what would have changed the outcome (verified), what the reviewer decided"),
    Clause("GDPR Art. 13-14", "information to the person concerned, including the logic involved",
           ("report:legal", "report:human.contest_channel", "report:summary.text"),
           "the report's summary and legal section in plain words, and how to contest"),
    Clause("GDPR Art. 15", "access, including meaningful information about the logic (15(1)(h))",
           ("report:model.card", "report:output", "report:explanations", "report:key_frames",
            "report:counterfactual.temporal", "report:summary.text"),
           "the report is the answer to an access request about a review; 15(1)(h) as the CJEU read it "
           "(C-203/22): the summary says how a change in the data (the counterfactual frames) would have "
           "changed the outcome"),
    Clause("GDPR Art. 22(3)", "human intervention, the person's point of view, the right to contest",
           ("report:human.decision", "report:human.reason", "report:human.contest_channel"),
           "a human decides, with reasons, and the report says how to contest"),
    Clause("GDPR Art. 30", "records of processing activities",
           ("log:*.kind", "log:erasure.clip_sha256"),
           "`crnnaudit audit export --out FILE` writes the record of processing beside the log; erasures "
           "are logged"),
)


def field_present(field: str, body: dict, rows: list[dict]) -> bool:
    """Whether a report body (its JSON) or a log row carries ``field``."""
    where, _, path = field.partition(":")
    if where == "report":
        node = body
        for part in path.split("."):
            if not isinstance(node, dict) or part not in node:
                return False
            node = node[part]
        return True
    kind, _, key = path.partition(".")
    for row in rows:
        if kind == "*" and key in row:
            return True
        if row.get("kind") == kind and isinstance(p := payload_or_raw(row), dict) and key in p:
            return True
    return False


def _days(value) -> float:
    """A purge row's retention period; one that is not a finite number (a hand-edited row) is 0."""
    try:
        days = float(value)
    except (TypeError, ValueError):
        return 0.0
    return days if math.isfinite(days) else 0.0


def assess(rows: list[dict] | None = None, verification=None) -> list[dict]:
    """For this deployment's configuration and log: per clause, answered, partly answered or
    not answered, and why. With ``verification`` (the log's own check) that failed, no clause is
    read from the log: each is not answered, and says the log is broken."""
    if verification is not None and not verification.ok:
        return [{"clause": c.clause, "asks": c.asks, "status": NOT_ANSWERED, "fields": list(c.fields),
                 "why": f"the audit log does not verify ({verification.message}): nothing can be read from it"}
                for c in CLAUSES]
    rows = rows or []
    out = []
    purges = [payload_or_raw(r) for r in rows if r.get("kind") == "retention"]
    kept = [_days(p.get("retention_days", AI_ACT_LOG_DAYS)) if isinstance(p, dict) else 0.0 for p in purges]
    short = [d for d in kept if d < AI_ACT_LOG_DAYS]  # an unreadable period counts as none kept
    uploads_days = retention_days()  # a setting that is not a number: ConfigError, naming it
    for c in CLAUSES:
        status, why = ANSWERED, c.how
        if c.clause in ("AI Act Art. 19", "AI Act Art. 26(6)"):
            if short:
                status = NOT_ANSWERED
                why = (f"the log was purged keeping {min(short):g} days, below the six months "
                       f"({AI_ACT_LOG_DAYS:g} days) this clause asks")
            elif uploads_days < AI_ACT_LOG_DAYS:
                status = PARTLY
                why = (f"the log is kept (no purge below {AI_ACT_LOG_DAYS:g} days), but CRNNAUDIT_RETENTION_DAYS="
                       f"{uploads_days:g} erases the input clips before six months: the log keeps only their hashes")
        elif c.clause == "AI Act Art. 12(1)" and "witness" not in (held := anchors()):
            status = PARTLY if held else NOT_ANSWERED
            why = c.how + ("; but no witness (CRNNAUDIT_WITNESS) keeps the checkpoints elsewhere: whoever holds the "
                           "data folder could rewind the log" + ("" if held else " or, with no pinned key "
                           "(CRNNAUDIT_TRUSTED_KEYS), re-key and rewrite the whole of it: an unanchored log"))
        elif c.clause == "AI Act Art. 13(3)" and not any(r.get("kind") == "instructions" for r in rows):
            status, why = PARTLY, ("no instructions for use written yet: run `crnnaudit instructions RUN` on a "
                                   "labelled batch run; " + c.how.split("; ", 1)[1])
        out.append({"clause": c.clause, "asks": c.asks, "status": status, "why": why, "fields": list(c.fields)})
    return out
