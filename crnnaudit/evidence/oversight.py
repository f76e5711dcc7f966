"""Automation bias in sight (EU AI Act Art. 14(4)(b)): how each reviewer decides, from the log.

Per reviewer, over their reports (log rows of kind ``review``): how many decisions, the share
that confirm the model, and the median time from the window being shown to the decision (the
report records when the reviewer first saw the window). A reviewer who confirms more than
:data:`CONFIRM_SHARE` of at least :data:`MIN_DECISIONS` decisions, or decides in under
:data:`FAST_SECONDS` seconds at the median, gets a warning: not a verdict on the person, a
prompt to look at how the review is done.
"""

from __future__ import annotations

import statistics

from .chain import payload_or_raw

CONFIRM_SHARE = 0.95
MIN_DECISIONS = 20
FAST_SECONDS = 10.0


def reviewer_figures(rows: list[dict]) -> list[dict]:
    """One entry per reviewer (sorted by name) from the log's rows: ``decisions``,
    ``confirmed``, ``confirm_share``, ``timed`` (decisions with a time), ``median_seconds``
    (None without any) and ``warnings`` (sentences; empty when none)."""
    by: dict[str, dict] = {}
    for row in rows:
        if row.get("kind") != "review":
            continue
        p = payload_or_raw(row)
        if not isinstance(p, dict) or not p.get("reviewer"):
            continue
        entry = by.setdefault(str(p["reviewer"]), {"decisions": 0, "confirmed": 0, "seconds": []})
        entry["decisions"] += 1
        entry["confirmed"] += p.get("decision") == "confirm"
        seconds = p.get("seconds_to_decision")
        if isinstance(seconds, (int, float)) and not isinstance(seconds, bool) and seconds >= 0:
            entry["seconds"].append(float(seconds))
    out = []
    for name in sorted(by):
        e = by[name]
        share = e["confirmed"] / e["decisions"]
        median = statistics.median(e["seconds"]) if e["seconds"] else None
        warnings = []
        if e["decisions"] >= MIN_DECISIONS and share > CONFIRM_SHARE:
            warnings.append(f"{name} confirmed the model in {share:.0%} of {e['decisions']} decisions (more than "
                            f"{CONFIRM_SHARE:.0%} of at least {MIN_DECISIONS}): watch for automation bias.")
        if median is not None and median < FAST_SECONDS:
            warnings.append(f"{name} decided {median:.1f} s after the window was shown, at the median of "
                            f"{len(e['seconds'])} timed decisions (under {FAST_SECONDS:g} s): too fast to have "
                            "looked at the evidence?")
        out.append({"reviewer": name, "decisions": e["decisions"], "confirmed": e["confirmed"],
                    "confirm_share": share, "timed": len(e["seconds"]), "median_seconds": median,
                    "warnings": warnings})
    return out


def rule() -> str:
    return (f"a warning when a reviewer confirms more than {CONFIRM_SHARE:.0%} of at least {MIN_DECISIONS} "
            f"decisions, or decides under {FAST_SECONDS:g} s after the window was shown (median)")
