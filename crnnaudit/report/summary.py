"""The summary for the person concerned: what the system did, what a person decided, whether it
is final, and who to write to, in plain words, in the report's language.

GDPR Art. 15(1)(h) as the CJEU read it (C-203/22, Dun & Bradstreet Austria, 2025) and AI Act
Art. 86 ask for the procedure and principles actually applied, in a form the person can
understand, including how a change in the data would have changed the outcome.

Every sentence is a message of the language's catalogue (:mod:`.messages`) filled from the
report's fact sheet (:mod:`.facts`) alone, and listed in ``sentences`` with its message and the
fact behind each field, so a checker (and an auditor) finds every number, frame, time, class and
name in the record. Readability is measured with a formula made for the language and recorded.
"""

from __future__ import annotations

from .messages import CATALOGUES, READABILITY

MAX_WORDS = 200
#: textstat's language for each summary language: its syllable dictionary (pyphen) and its
#: reading-ease constants (Flesch 1948 for English, Kandel and Moles 1958 for French, Amstad
#: 1978 for German).
TEXTSTAT_LANGUAGE = {"en": "en_US", "fr": "fr", "de": "de"}
ROLE_WORDS = {
    "en": {"auditor": "an auditor", "approver": "an approver", "admin": "an administrator", "viewer": "a viewer"},
    "fr": {"auditor": "un auditeur", "approver": "un approbateur", "admin": "un administrateur",
           "viewer": "un lecteur"},
    "de": {"auditor": "eine prüfende Person", "approver": "eine freigebende Person", "admin": "eine Verwaltungsperson",
           "viewer": "eine lesende Person"},
}


class _Writer:
    """Sentences from a catalogue, each with the facts its fields came from."""

    def __init__(self, facts: dict, language: str):
        self.facts, self.language, self.messages = facts, language, CATALOGUES[language]
        self.sentences: list[dict] = []

    def word(self, key: str) -> str:
        return self.messages[key]

    def __call__(self, key: str, **fields) -> None:
        """``fields``: name -> (shown text, fact path or paths)."""
        text = self.messages[key].format(**{k: v[0] for k, v in fields.items()})
        self.sentences.append({"message": key, "text": text[0].upper() + text[1:],
                               "fields": {k: {"shown": v[0], "fact": v[1]} for k, v in fields.items()}})

    def person(self, who: str) -> tuple[str, str]:
        """How the summary names a person (a display name, else the role in this language), and
        the fact it comes from."""
        p = self.facts["people"][who]
        if p.get("named"):
            return p["shown"], f"people.{who}.shown"
        return ROLE_WORDS[self.language].get(p["role"], p["shown"]), f"people.{who}.role"


def _listed(items: list[str], word: str) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + f" {word} " + items[-1]


def plain_summary(facts: dict, language: str | None = None) -> dict:
    """The summary of a fact sheet in ``language`` (default: the sheet's): ``{"language",
    "text", "words", "readability": {"formula", "score"}, "sentences"}``."""
    language = language or facts.get("language", "en")
    w = _Writer(facts, language)
    win, reading = facts["window"], facts["reading"]
    w("looked", start=(f"{win['start_s']:.2f}", "window.start_s"), end=(f"{win['end_s']:.2f}", "window.end_s"))
    _reading(w, reading)
    frames = [f"{f['frame']}" for f in facts["key_frames"]]
    w("frames", frames=(_listed(frames, w.word("and")), [f"key_frames.{i}.frame" for i in range(len(frames))]))
    _counterfactual(w, facts)
    _decision(w, facts)
    st = facts["status"]
    approver = w.person("approver") if facts["people"]["approver"]["shown"] else None
    w(st["state"], **({"approver": approver} if approver else {}))
    c = facts["contest"]
    w("contest", controller=(c["controller"], "contest.controller"), contact=(c["contact"], "contest.contact"))
    text = " ".join(s["text"] for s in w.sentences)
    if len(text.split()) > MAX_WORDS:  # a long contact: the report's own section gives it in full
        w.sentences.pop()
        w("contest_long")
        text = " ".join(s["text"] for s in w.sentences)
    return {"language": language, "text": text, "words": len(text.split()),
            "readability": {"formula": READABILITY[language], "score": readability(text, language)},
            "sentences": w.sentences}


def readability(text: str, language: str) -> float:
    """The reading ease of ``text`` by the formula made for its language (higher is easier)."""
    from textstat.textstat import textstatistics
    counter = textstatistics()
    counter.set_lang(TEXTSTAT_LANGUAGE[language])
    return float(counter.flesch_reading_ease(text))


def _reading(w: _Writer, reading: dict) -> None:
    cls, p = reading["predicted"], reading["probabilities"][reading["predicted"]]
    if reading["decision"] == "no reliable reading":
        w("no_reading")
        return
    w("flagged" if reading["decision"] == "anomaly" else "not_flagged",
      cls=(cls, "reading.predicted"), p=(f"{p:.2f}", f"reading.probabilities.{cls}"),
      score=(f"{reading['anomaly_score']:.3f}", "reading.anomaly_score"),
      threshold=(f"{reading['threshold']:.2f}", "reading.threshold"))


def _counterfactual(w: _Writer, facts: dict) -> None:
    cf = facts["counterfactual"]
    if not cf:
        return
    if not cf["found"]:
        key = "cf_none_score" if cf["about_score"] else "cf_none"
        w(key, k=(f"{cf['exact_up_to']}", "counterfactual.exact_up_to"),
          **({"threshold": (f"{facts['reading']['threshold']:.2f}", "reading.threshold")} if cf["about_score"] else {}))
        return
    frames = [f"{f}" for f in cf["frames"]]
    fields = {"frame_word": (w.word("frame") if len(frames) == 1 else w.word("frames_word"), None),
              "frames": (_listed(frames, w.word("and")), [f"counterfactual.frames.{i}" for i in range(len(frames))]),
              "after": (f"{cf['after']['anomaly_score']:.3f}", "counterfactual.after.anomaly_score"),
              "before": (f"{cf['before']['anomaly_score']:.3f}", "counterfactual.before.anomaly_score")}
    if cf["about_score"]:  # no reliable reading: the counterfactual speaks of the score, never a decision
        w("cf_score", **fields)
    else:
        after, before = cf["after"], cf["before"]
        if after["decision"] != before["decision"]:
            key = "cf_flag" if after["decision"] == "anomaly" else "cf_clear"
        else:
            key = "cf_class"
        if key != "cf_clear":
            fields["cls"] = (after["class"], "counterfactual.after.class")
        w(key, **fields)
        if cf["region_share"] is not None:
            w("region", share=(f"{cf['region_share']:.0%}", "counterfactual.region_share"),
              those=(w.word("that_frame") if len(frames) == 1 else w.word("those_frames"), None))
    if cf["differ_from_key_frames"]:
        w("cf_differ")


def _decision(w: _Writer, facts: dict) -> None:
    o = facts["outcome"]
    key = {"anomaly": "anomaly", "own_finding": "own_finding", "no_finding": "no_finding", "escalated": "escalated",
           "no_anomaly": "no_anomaly_confirm" if o["human_decision"] == "confirm" else "no_anomaly_override"}[
        o["outcome"]]
    if o["outcome"] == "anomaly" and o["human_decision"] == "override":
        key = "anomaly_override"
    reviewer, fact = w.person("reviewer")
    fields = {"Reviewer": (reviewer[0].upper() + reviewer[1:], fact)}
    if key == "anomaly":
        fields["cls"] = (o["class"], "outcome.class")
    w(key, **fields)
