"""The fact sheet: one structured record of everything a report says, in the report's JSON.

Every sentence of the summary for the person concerned (in each language), of the HTML and the
PDF and of the Countersign page is rendered from this record (:mod:`.sentences`,
:mod:`.summary`), and a checker in the suite finds every number, frame, time, class and name of
every sentence in it. Numbers are kept as they are shown: times and probabilities rounded to two
decimals, scores to three.
"""

from __future__ import annotations

import numpy as np

from ..config import setting
from ..decision import ANOMALY, NO_RELIABLE_READING, NORMAL

PLACEHOLDER = "[not set: CRNNAUDIT_{}]"

#: The reviewer's decision about the model's reading, as an outcome in plain words (a key the
#: message catalogues translate): what the decision now says about the footage.
OUTCOMES = {(ANOMALY, "confirm"): "anomaly", (ANOMALY, "override"): "no_anomaly",
            (NORMAL, "confirm"): "no_anomaly", (NORMAL, "override"): "anomaly",
            (NO_RELIABLE_READING, "confirm"): "no_finding", (NO_RELIABLE_READING, "override"): "own_finding"}
STATES = ("submitted", "countersigned", "returned", "rejected")


def contest() -> dict:
    """Who the person concerned writes to: the deployment's controller and contact, or
    placeholders marked as such (a report is not countersigned while either is unset)."""
    controller, contact = setting("CRNNAUDIT_CONTROLLER"), setting("CRNNAUDIT_CONTEST_CONTACT")
    return {"controller": controller or PLACEHOLDER.format("CONTROLLER"),
            "contact": contact or PLACEHOLDER.format("CONTEST_CONTACT"),
            "set": bool(controller and contact)}


def person(identity_or_name, role: str | None = None) -> dict:
    """How a report names a person: by the display name an admin set, else by role; by the
    login only where the deployment chose it (``CRNNAUDIT_REPORT_NAMES=login``)."""
    if identity_or_name is None:
        return {"shown": None, "role": None, "named": False}
    username = getattr(identity_or_name, "username", identity_or_name)
    role = getattr(identity_or_name, "role", role) or "auditor"
    if setting("CRNNAUDIT_REPORT_NAMES") == "login":
        return {"shown": str(username), "role": role, "named": True}
    display = getattr(identity_or_name, "display_name", None)
    if display:
        return {"shown": display, "role": role, "named": True}
    return {"shown": f"{'an' if role[0] in 'aeiou' else 'a'} {role}", "role": role, "named": False}


#: A report's status in its body (``human.status``) -> its state on the fact sheet.
STATE_OF = {"awaiting countersignature": "submitted", "final": "countersigned", "returned": "returned",
            "rejected": "rejected"}


def _r(x: float, digits: int = 2) -> float:
    """A number as reports show it: rounded, and never -0.0."""
    return round(float(x), digits) + 0.0


def fact_sheet(body: dict) -> dict:
    """The fact sheet of a report body (see the module): everything it says, from the body alone
    (the people as :func:`person` named them, the state from ``human.status``)."""
    out, w, hm = body["output"], body["clip"]["windows_reviewed"][0], body["human"]
    state = STATE_OF.get(hm.get("status"), "submitted")
    classes = list(out["probabilities"])
    predicted = max(classes, key=out["probabilities"].get)
    decision = out["model_decision"]
    human = hm["decision"]
    return {
        "language": body.get("language", "en"), "report_id": body["report_id"], "created": body["created"],
        "clip": {"name": body["clip"].get("file") or body["clip"].get("name"), "sha256": body["clip"]["sha256"]},
        "window": {"index": int(w["index"]), "first_frame": int(w["first_frame"]), "last_frame": int(w["last_frame"]),
                   "start_s": _r(w["start_s"]), "end_s": _r(w["end_s"])},
        "model": {"name": body["model"]["name"], "version": body["model"]["version"],
                  "registry": _registry(body["model"].get("registry"), hm.get("registry_at_decision"))},
        "reading": {"decision": decision, "anomaly_score": _r(out["anomaly_score"], 3),
                    "threshold": _r(out["threshold"]), "predicted": predicted, "classes": classes,
                    "probabilities": {c: _r(p) for c, p in out["probabilities"].items()},
                    "reliable": bool(out.get("reliable", True)),
                    "unlike_training": bool((out.get("training_data_check") or {}).get("unlike_training")),
                    "degraded": bool((out.get("quality_check") or {}).get("fired")),
                    "training": _training(out.get("training_data_check") or {}),
                    "quality": _quality(out.get("quality_check") or {}),
                    "anomaly_classes": list(body["model"]["card"].get("anomaly_classes", []))},
        "explained_class": out["explained_class"],
        "key_frames": [{"frame": int(f["frame"]), "time_s": _r(f["time_s"]), "ranked_by": f["ranked_by"]}
                       for f in body["key_frames"]],
        "blank_maps": list(body.get("blank_maps", [])),
        "verdicts": _verdicts(body),
        "counterfactual": _counterfactual(body, decision),
        "outcome": {"model_decision": decision, "human_decision": human,
                    "outcome": "escalated" if human == "escalate" else OUTCOMES[(decision, human)],
                    "class": predicted if decision == ANOMALY else None, "reason": hm["reason"]},
        "status": {"state": state, "final": state == "countersigned", "comment": hm.get("comment"),
                   "reviewed_at": hm["reviewed_at"][:19].replace("T", " "),
                   "decided_at": (hm.get("second_signed_at") or "")[:19].replace("T", " ") or None},
        "trust": _trust(body),
        "people": {"reviewer": hm.get("reviewer_person") or person(hm["reviewer"]),
                   "approver": hm.get("second_person") or person(hm.get("second_reviewer"), "approver")},
        "contest": hm.get("contest") or contest(),
    }


def _registry(reg: dict | None, at_decision: dict | None) -> dict | None:
    """The registry version a report concerns, and where its alias pointed when the report was
    signed and when a second reviewer decided on it."""
    if not reg:
        return None
    pin = reg["pin"]

    def state(check: dict | None) -> dict | None:
        return None if not check else {"on": check["checked_at"][:10], "alias_version": check.get("alias_version"),
                                       "moved": bool(check.get("moved"))}
    return {"uri": pin["uri"], "name": pin["name"], "version": str(pin["version"]), "alias": pin.get("alias"),
            "sha256": pin["sha256"], "pinned_on": pin["pinned_at"][:10],
            "at_signing": state(reg.get("at_signing")), "at_decision": state(at_decision)}


def _verdicts(body: dict) -> dict:
    from ..explainers.base import REGISTRY
    out = {}
    for m, v in ((body.get("trust") or {}).get("evidence") or {}).items():
        out[m] = {"label": REGISTRY[m].label if m in REGISTRY else m, "beats": bool(v["better_than_random"]),
                  "as_much": int(v.get("as_much", 0)), "draws": int(v.get("draws", len(v["random_drops"]))),
                  "p_value": _r(v.get("p_value", 1.0)), "kind": v["kind"], "score": _r(v["score"]),
                  "change": _r(-v["drop"]), "fraction": _r(v["fraction"]), "too_small": bool(v.get("too_small"))}
    return out


def _training(check: dict) -> dict:
    if not check.get("checked"):
        return {"checked": False}
    return {"checked": True, "distance": _r(check["distance"]), "threshold": _r(check["threshold"]),
            "unlike": bool(check["unlike_training"])}


def _quality(check: dict) -> dict:
    fired = [{"check": f["check"], "measure": f["measure"], "value": float(f"{f['value']:.3g}"),
              "bound": float(f"{f['bound']:.3g}"), "side": f["side"]} for f in check.get("fired", [])]
    return {"checked": bool(check.get("checked")), "fired": fired}


def _trust(body: dict) -> dict:
    trust = body.get("trust") or {}
    faith = {m: {k: _r(v) for k, v in f.items() if k.endswith("_auc")} for m, f in (trust.get("faithfulness") or {}).items()}
    sanity = trust.get("sanity") or {}
    sane = {m: {"similarity": _r(sim), "flagged": bool(sanity["flagged"].get(m))}
            for m, sim in (sanity.get("final_similarity") or {}).items()}
    return {"faithfulness": faith, "sanity": sane}


def _counterfactual(body: dict, decision: str) -> dict | None:
    return counterfactual_facts(body.get("counterfactual"), decision, [f["frame"] for f in body["key_frames"]])


def counterfactual_facts(found: dict | None, decision: str, key_frames: list[int]) -> dict | None:
    """The counterfactual as the fact sheet keeps it, from :func:`crnnaudit.trust.counterfactual.summary`
    (``found``), the window's reading and its key frames (the frames ranked first): the report's
    and the Temporal page's sentences come from this."""
    cf = (found or {}).get("temporal")
    if not cf:
        return None
    region = (found or {}).get("region") or {}
    before, after = cf["before"], cf.get("after")
    return {"found": bool(cf["found"]), "frames": [int(f) for f in cf["frames"]], "search": cf["search"],
            "exact_up_to": int(cf["exact_up_to"]), "about_score": decision == NO_RELIABLE_READING,
            "before": {"decision": before["decision"], "class": before["class"],
                       "anomaly_score": _r(before["anomaly_score"], 3)},
            "after": None if not after else {
                "decision": after["decision"], "class": after["class"], "anomaly_score": _r(after["anomaly_score"], 3),
                "class_probability": _r(after["probabilities"][after["class"]])},
            "differ_from_key_frames": bool(cf["found"] and not set(cf["frames"]) <= set(key_frames)),
            "region_share": _r(region["share"]) if region.get("found") else None}


def blank_maps(window, expset, positions) -> list[dict]:
    """The key frames on which a method's map is the same value everywhere (it points nowhere
    there): every format says so, beside the map or in words."""
    from ..explainers.base import REGISTRY
    out = []
    for t in positions:
        for m in expset.spatial():
            values = np.asarray(expset[m].maps[t])
            if float(values.max() - values.min()) < 1e-12:
                out.append({"frame": int(window.indices[t]), "method": m,
                            "label": REGISTRY[m].label if m in REGISTRY else m, "value": _r(values.max(), 3)})
    return out
