"""The summary for the person concerned: what the system did and why, in plain words.

GDPR Art. 15(1)(h) as the CJEU read it (C-203/22, Dun & Bradstreet Austria, 2025) and AI Act
Art. 86 ask for the procedure and principles actually applied, in a form the person can
understand, including how a change in the data would have changed the outcome. The report's
technical sections stay for the authority; this is the other audience.

Every fact in the summary is taken from the report's body and listed in ``facts`` with the
path it came from and the words it is shown as, so a test (and an auditor) can check each one
against the JSON. Readability is measured with textstat's Flesch reading ease (higher is
easier; 60-70 is plain English) and recorded beside the text.
"""

from __future__ import annotations

from ..decision import NO_RELIABLE_READING

LANGUAGE = "en"  # reports are written in English; the summary follows the report's language
MAX_WORDS = 200
_DECIDED = {"confirm": "agreed with the system", "override": "did not agree with the system",
            "escalate": "passed the case on for more checks"}


def _frames(numbers: list[int]) -> str:
    words = [str(n) for n in numbers]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


class _Facts:
    """Facts shown in the summary, each with the body path it came from."""

    def __init__(self, body: dict):
        self.body, self.items = body, []

    def __call__(self, path: str, shown: str | None = None, fmt: str = "{}") -> str:
        value = self.body
        for part in path.split("."):
            value = value[int(part)] if isinstance(value, list) else value[part]
        shown = fmt.format(value) if shown is None else shown
        self.items.append({"path": path, "value": value, "shown": shown})
        return shown


def plain_summary(body: dict) -> dict:
    """The summary of a report body: ``{"language", "text", "words", "flesch_reading_ease",
    "facts": [{"path", "value", "shown"}]}``."""
    import textstat
    fact = _Facts(body)
    out, human = body["output"], body["human"]
    start = fact("clip.windows_reviewed.0.start_s", fmt="{:.1f}")
    end = fact("clip.windows_reviewed.0.end_s", fmt="{:.1f}")
    s = [f"A computer system looked at a video from a camera, from second {start} to second {end}."]
    cls = max(out["probabilities"], key=out["probabilities"].get)
    if out["model_decision"] == NO_RELIABLE_READING:
        s.append("The video was not clear enough, or not like what the system learned from, so it "
                 f"{fact('output.model_decision', 'gave no finding of its own')}.")
    else:
        said = fact("output.model_decision", "flagged" if out["model_decision"] == "anomaly" else "did not flag")
        sure = fact(f"output.probabilities.{cls}", fmt="{:.0%}")
        score, threshold = fact("output.anomaly_score", fmt="{:.2f}"), fact("output.threshold", fmt="{:.2f}")
        s.append(f"The system {said} it. The most likely thing it saw was {cls} ({sure} sure). Its score was "
                 f"{score} out of 1; it flags a video at {threshold} or more.")
    frames = [f["frame"] for f in body["key_frames"]]
    for i in range(len(frames)):
        fact(f"key_frames.{i}.frame")
    s.append(f"The frames that counted most were {_frames(frames)}.")
    s += _changed(body, fact)
    s.append(f"{fact('human.reviewer')} checked the video and {fact('human.decision', _DECIDED[human['decision']])}.")
    if human.get("second_reviewer"):
        s.append(f"A second person, {fact('human.second_reviewer')}, checked it too.")
    else:
        s.append("A second person still has to check it.")
    contest = "If you think this is wrong, you can ask for a new look: "
    text = " ".join(s + [contest + human["contest_channel"]])
    if len(text.split()) > MAX_WORDS:  # a long contest channel: the report's own section gives it in full
        text = " ".join(s + [contest + "see 'Contesting this decision' in this report."])
    else:
        fact("human.contest_channel")
    return {"language": LANGUAGE, "text": text, "words": len(text.split()),
            "flesch_reading_ease": float(textstat.flesch_reading_ease(text)), "facts": fact.items}


def _changed(body: dict, fact: _Facts) -> list[str]:
    """What would have changed the outcome, from the verified counterfactuals."""
    cf = (body.get("counterfactual") or {}).get("temporal")
    if not cf:
        return []
    if not cf["found"]:
        return [f"Taking out any {fact('counterfactual.temporal.exact_up_to')} or fewer frames would not "
                "have changed its answer."]
    frames = _frames([fact(f"counterfactual.temporal.frames.{i}") for i in range(len(cf["frames"]))])
    after = cf["after"]["decision"]
    word = {"anomaly": "would have flagged it", "normal": "would not have flagged it"}.get(after, after)
    anyway = "Reading its score anyway: w" if body["output"]["model_decision"] == NO_RELIABLE_READING else "W"
    out = [f"{anyway}ithout frame{'s' if len(cf['frames']) > 1 else ''} {frames}, it "
           f"{fact('counterfactual.temporal.after.decision', word)}"
           f" ({fact('counterfactual.temporal.after.class')})."]
    region = body["counterfactual"].get("region") or {}
    if region.get("found"):
        out.append(f"Blurring just {fact('counterfactual.region.share', fmt='{:.0%}')} of "
                   f"{'that frame' if len(cf['frames']) == 1 else 'those frames'} would also have changed it.")
    return out
