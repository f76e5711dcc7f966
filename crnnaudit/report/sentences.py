"""The report's sentences for the authority and the approver, from the fact sheet alone.

The HTML, the PDF and the Countersign page print these sections (beside the images and data
tables of the body), so the three cannot say different things. Numbers are shown as the fact
sheet keeps them (:mod:`.facts`): times and probabilities with two decimals, scores with three.
The reviewer's reasons and the approver's comment are their own words, quoted, never rewritten.
"""

from __future__ import annotations

from ..decision import NO_RELIABLE_READING

DECISION_WORDS = {"confirm": "confirmed the model's reading", "override": "overrode the model's reading",
                  "escalate": "passed the case on for more checks"}
OUTCOME_WORDS = {"anomaly": "treated as an incident", "no_anomaly": "not treated as an incident",
                 "no_finding": "no finding can be drawn from this footage",
                 "own_finding": "the reviewer's own finding, with the reasons below",
                 "escalated": "nothing decided yet"}
STATE_WORDS = {"submitted": "submitted, awaiting a second reviewer (not final)",
               "countersigned": "countersigned by a second reviewer (final)",
               "returned": "returned to its author by a second reviewer (not final)",
               "rejected": "rejected by a second reviewer (the decision does not stand)"}


def _frames(frames: list[int]) -> str:
    from ..trust.counterfactual import frame_words
    return frame_words(frames)


def annex(facts: dict) -> list[tuple[str, list[str]]]:
    """The report's sections for the authority, as headings and sentences."""
    return [("Decision", decision(facts)), ("Contesting this decision", contesting(facts)),
            *([("The model reviewed", registry(facts))] if facts["model"].get("registry") else []),
            ("Output", output(facts)), ("Key frames", key_frames(facts)),
            ("What would have changed the outcome", counterfactual(facts)),
            ("How far to trust the explanations", trust(facts))]


def _who(person: dict) -> str:
    """A person as reports name them, with their role when the name is not already it ("Ana
    Lopez (auditor)", but "an auditor", not "an auditor (auditor)")."""
    return f"{person['shown']} ({person['role']})" if person.get("named") else person["shown"]


def registry(f: dict) -> list[str]:
    """The registry version reviewed, and where its alias pointed at signing and at the second
    reviewer's decision: the report is about the version reviewed, whatever the alias says now."""
    g = f["model"]["registry"]
    lines = [f"The model reviewed is {g['name']} version {g['version']} from the model registry, opened as "
             f"{g['uri']} on {g['pinned_on']}; its file's SHA-256 is {g['sha256']}."]
    for key, when in (("at_signing", "the report was signed"), ("at_decision", "the second reviewer decided")):
        s = g.get(key)
        if not s or not g.get("alias"):
            continue
        if not s["moved"]:
            lines.append(f"When {when} ({s['on']}), the alias {g['alias']} still pointed to version {g['version']}.")
        elif s["alias_version"] is None:
            lines.append(f"When {when} ({s['on']}), the alias {g['alias']} no longer existed; this report concerns "
                         f"version {g['version']}, the version reviewed.")
        else:
            lines.append(f"When {when} ({s['on']}), the alias {g['alias']} had moved to version {s['alias_version']}; "
                         f"this report concerns version {g['version']}, the version reviewed, not version "
                         f"{s['alias_version']}.")
    return lines


def decision(f: dict) -> list[str]:
    o, r, st, people = f["outcome"], f["reading"], f["status"], f["people"]
    w = f["window"]
    lines = [f"Window {w['index']}: frames {w['first_frame']}-{w['last_frame']} ({w['start_s']:.2f}-{w['end_s']:.2f} s).",
             f"The model said {r['decision']} (anomaly score {r['anomaly_score']:.3f}, threshold {r['threshold']:.2f}).",
             f"The reviewer, {_who(people['reviewer'])}, "
             f"{DECISION_WORDS[o['human_decision']]} at {st['reviewed_at']} UTC: {OUTCOME_WORDS[o['outcome']]}"
             + (f" ({o['class']})" if o["outcome"] == "anomaly" and o["class"] else "") + ".",
             f"Status: {STATE_WORDS[st['state']]}."]
    if people["approver"]["shown"]:
        lines.append(f"Second reviewer: {_who(people['approver'])}"
                     + (f", at {st['decided_at']} UTC" if st["decided_at"] else "") + ".")
    lines.append(f"Reasons: \u201c{o['reason']}\u201d" if o["reason"] else "Reasons: none given.")
    if st["comment"]:
        lines.append(f"The second reviewer's comment: \u201c{st['comment']}\u201d")
    return lines


def contesting(f: dict) -> list[str]:
    c = f["contest"]
    lines = [f"The person concerned may ask for a human to look again: contact {c['controller']}, {c['contact']}."]
    if not c["set"]:
        lines.append("PLACEHOLDER: the deployment has not set CRNNAUDIT_CONTROLLER and CRNNAUDIT_CONTEST_CONTACT; "
                     "this report cannot be countersigned until it does.")
    return lines


def output(f: dict) -> list[str]:
    from ..footage.quality import statement
    from ..model.statistics import familiarity_statement
    r = f["reading"]
    lines = ["Class probabilities: " + "; ".join(f"{c} {r['probabilities'][c]:.2f}" for c in r["classes"]) + "."]
    t = r["training"]
    lines.append(familiarity_statement(t.get("distance"), t.get("threshold")))
    if r["quality"]["checked"]:
        fired = [dict(q, why=f"{q['measure']} {q['value']:.3g}, {q['side']} the calibrated {q['bound']:.3g}")
                 for q in r["quality"]["fired"]]
        lines.append(statement(fired))
    if r["decision"] == NO_RELIABLE_READING:
        lines.append("The model gives no reliable reading on this window: its probabilities are shown, no anomaly "
                     "decision is drawn from them, and the reviewer decided with reasons.")
    lines.append(f"Explained class: {f['explained_class']}.")
    return lines


def key_frames(f: dict) -> list[str]:
    lines = [f"Frame {k['frame']} ({k['time_s']:.2f} s), ranked by {k['ranked_by']}." for k in f["key_frames"]]
    lines += [f"On frame {b['frame']}, {b['label']} is {b['value']:.3f} everywhere: it points nowhere on this frame."
              for b in f["blank_maps"]]
    return lines


def counterfactual(f: dict) -> list[str]:
    cf = f["counterfactual"]
    if not cf:
        return ["Not computed."]
    thr = f["reading"]["threshold"]
    b = cf["before"]
    if not cf["found"]:
        if cf["about_score"]:
            return [f"Removing any set of up to {cf['exact_up_to']} frames leaves the anomaly score on the same side "
                    f"of the threshold {thr:.2f}: every such set was tried."]
        return [f"Removing any set of up to {cf['exact_up_to']} frames leaves the model's answer unchanged "
                f"({b['decision']}; most likely class {b['class']}): every such set was tried."]
    a, gone = cf["after"], _frames(cf["frames"])
    how = ("the smallest such set (every smaller set tried)" if cf["search"] == "exact" else
           f"found by a greedy search and verified (no set of up to {cf['exact_up_to']} frames does it)")
    if cf["about_score"]:
        lines = [f"Reading the model's score alone (this window has no reliable reading): without {gone}, the anomaly "
                 f"score would have been {a['anomaly_score']:.3f} instead of {b['anomaly_score']:.3f}: {how}."]
    else:
        lines = [f"Without {gone}, the model would have said {a['decision']} ({a['class']} {a['class_probability']:.2f}; "
                 f"anomaly score {a['anomaly_score']:.3f}) instead of {b['decision']} (anomaly score "
                 f"{b['anomaly_score']:.3f}): {how}."]
        if cf["region_share"] is not None:
            where = "that frame" if len(cf["frames"]) == 1 else "each of those frames"
            lines.append(f"Blurring the {cf['region_share']:.0%} of {where} that the overlay's map ranks highest "
                         "changes the outcome too.")
    if cf["differ_from_key_frames"]:
        lines.append("Not all of these are key frames: the key frames are those the ranking method weighs most, "
                     "these are those the outcome needs.")
    return lines


def trust(f: dict) -> list[str]:
    lines = []
    for m, v in sorted(f["verdicts"].items()):
        what = "pixels" if v["kind"] == "spatial" else "frames"
        effect = (f"deleting the {v['fraction']:.0%} of {what} it ranks first moves {f['explained_class']} from "
                  f"{v['score']:.2f} by {v['change']:+.2f}; {v['as_much']} of {v['draws']} random deletions did as "
                  f"much (p = {v['p_value']:.2f})" + ("; too small a change to rely on" if v.get("too_small") else ""))
        lines.append(f"{v['label']} beats random deletion on this window: {effect}." if v["beats"] else
                     f"WARNING: {v['label']} does not beat random deletion on this window, so do not rely on it: "
                     f"{effect}.")
    names = {"deletion_auc": "deletion AUC", "insertion_auc": "insertion AUC", "random_auc": "random-order deletion AUC"}
    for m, fa in sorted(f["trust"]["faithfulness"].items()):
        parts = ", ".join(f"{names.get(k, k)} {v:.2f}" for k, v in fa.items())
        lines.append(f"{m}: {parts} (figures of the curves; the verdict above is the test).")
    for m, s in sorted(f["trust"]["sanity"].items()):
        lines.append(f"WARNING: {m}'s maps barely change when the model's weights are randomised (similarity "
                     f"{s['similarity']:.2f}): they may show the image, not the model." if s["flagged"] else
                     f"{m}'s maps change when the model's weights are randomised (similarity {s['similarity']:.2f}): "
                     "they depend on what the model learned.")
    return lines
