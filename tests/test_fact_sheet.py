"""Every sentence true: reports across the cases (confirm, override, no reliable reading; a
counterfactual found, not found, found by greedy search; blank maps; a long contact; submitted,
countersigned, returned, rejected; English, French, German), each checked sentence by sentence
against its own fact sheet: the summary, the HTML, the PDF (as pdftotext reads it) and the
Countersign page."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

import architectures as arch
from crnnaudit import AuditedModel, ModelCard, explain, open_clip
from crnnaudit.report import build_report, write_report
from crnnaudit.report.facts import person
from crnnaudit.report.sentences import annex
from crnnaudit.report.summary import plain_summary, readability
from fact_checker import check_summary, numbers_not_in_facts

CLASSES = ["normal", "fight", "fire", "shooting"]


@pytest.fixture(autouse=True)
def _contact(monkeypatch):
    monkeypatch.setenv("CRNNAUDIT_CONTROLLER", "Example Transport Ltd")
    monkeypatch.setenv("CRNNAUDIT_CONTEST_CONTACT", "privacy@example.org")


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory):
    from crnnaudit.demo import synthesize
    clip = open_clip(synthesize(tmp_path_factory.mktemp("facts"), count=1, seed=3, frames=24, labels=["fight"])[0])
    model = AuditedModel(arch.td_cnn_gru_softmax(t=8, s=32, classes=4),
                         ModelCard(name="demo", version="1.2", classes=CLASSES, stride=8))
    window = clip.window(1, 8, 8, model.frame_size)
    es = explain(model, window, ["gradcam", "saliency", "frame_occlusion", "temporal_ig", "prefix_score"], cache=False)
    return model, clip, window, es


@pytest.fixture(scope="module")
def red(tmp_path_factory):
    """The red-square drill of tests/test_counterfactual.py: a decision that rests on two frames."""
    from test_counterfactual import _red_model, write_red_clip
    model = _red_model()
    clip = open_clip(write_red_clip(tmp_path_factory.mktemp("red") / "red.mp4"))
    window = clip.window(0, 6, 6, model.frame_size)
    return model, clip, window, explain(model, window, ["saliency", "frame_occlusion"], target="red", cache=False)


def _too_bright(model):
    from test_report import _too_bright as card
    return AuditedModel(model.model, card(model.card))


def _pdf_text(path) -> str:
    return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout


def _section_text(text: str, first: str, last: str) -> str:
    return text[text.index(first):text.index(last)]


def _check_everywhere(body: dict, out: dict, logins=("carol.auditor",)) -> dict:
    """The written report's summary, HTML and PDF sentences against its fact sheet."""
    written = json.loads(out["json"].read_text())["report"]
    facts = written["facts"]
    assert check_summary(written["summary"], facts, list(logins)) == []
    sentences = [line for _, lines in annex(facts) for line in lines]
    assert written["annex"] == [[title, lines] for title, lines in annex(facts)], "the JSON's annex is the sheet's"
    bad = [(line, numbers_not_in_facts(line, facts)) for line in sentences if numbers_not_in_facts(line, facts)]
    assert bad == [], bad
    import html as entities
    html = entities.unescape(re.sub(r"<[^>]+>", " ", out["html"].read_text(encoding="utf-8")))
    for text in (_section_text(html, "In plain words", "Integrity"),
                 _section_text(_pdf_text(out["pdf"]), "In plain words", "Integrity")):
        text = re.sub(r"report [0-9a-f-]{36}|\d+ words|[\w' ]+ reading ease[\w() ]* \d+|60 and above|out of 1\b",
                      " ", text)
        assert numbers_not_in_facts(text, facts) == [], numbers_not_in_facts(text, facts)
        for login in logins:
            assert login not in text
    return written


def test_confirm_on_an_anomaly_names_the_outcome_the_people_by_role_and_the_contact(reviewed, tmp_path):
    model, clip, window, es = reviewed
    body = build_report(model, clip, window, es, decision="confirm", reviewer="carol.auditor",
                        reviewer_person=person("carol.auditor", "auditor"), faithfulness=True, sanity=True)
    written = _check_everywhere(body, write_report(body, tmp_path / "c"))
    f, text = written["facts"], written["summary"]["text"]
    assert f["outcome"]["outcome"] == ("anomaly" if f["reading"]["decision"] == "anomaly" else "no_anomaly")
    assert "An auditor checked the footage and agreed with the system" in text  # the outcome, in plain words
    assert "A second person still has to check this decision. Until then it is not final." in text
    assert "contact Example Transport Ltd, privacy@example.org" in text and "carol" not in text
    w = f["window"]
    assert f"from second {w['start_s']:.2f} to second {w['end_s']:.2f}" in text  # times as in the body
    assert f"The frames that counted most for it were" in text
    assert all(str(k["frame"]) in text for k in f["key_frames"])
    cls = f["reading"]["predicted"]
    assert f"gave {cls} a probability of {f['reading']['probabilities'][cls]:.2f}" in text or \
        f"most likely class was {cls}, with a probability of {f['reading']['probabilities'][cls]:.2f}" in text


def test_an_override_states_the_new_outcome(reviewed, tmp_path):
    model, clip, window, es = reviewed
    body = build_report(model, clip, window, es, decision="override", reviewer="carol.auditor",
                        reviewer_person=person("carol.auditor", "auditor"), reason="Two people hugging, 3 of them.",
                        faithfulness=False, sanity=False)
    written = _check_everywhere(body, write_report(body, tmp_path / "o"))
    f, text = written["facts"], written["summary"]["text"]
    said = {"anomaly": "decided the system was wrong: it is not treated as an incident",
            "normal": "decided the system was wrong: it is treated as an incident"}[f["reading"]["decision"]]
    assert said in text and "did not agree with the system" not in text


def test_no_reliable_reading_speaks_of_the_score_never_of_a_decision(red, tmp_path):
    model, clip, window, es = red
    strict = _too_bright(model)
    es2 = explain(strict, window, ["saliency", "frame_occlusion"], target="red", cache=False)
    body = build_report(strict, clip, window, es2, decision="escalate", reviewer="carol.auditor", reason="too bright",
                        faithfulness=False, sanity=False)
    written = _check_everywhere(body, write_report(body, tmp_path / "n"))
    f, text = written["facts"], written["summary"]["text"]
    assert f["reading"]["decision"] == "no reliable reading" and f["counterfactual"]["about_score"]
    assert "gave no finding of its own" in text and "Reading its score anyway" in text
    assert "would have flagged" not in text and "would not have flagged" not in text
    cf_lines = annex(f)[4][1]
    assert cf_lines[0].startswith("Reading the model's score alone") and "would have said" not in " ".join(cf_lines)


def test_a_counterfactual_found_names_its_frames_and_how_it_differs_from_the_key_frames(red, tmp_path):
    model, clip, window, es = red
    body = build_report(model, clip, window, es, decision="confirm", reviewer="carol.auditor", faithfulness=False,
                        sanity=False)
    written = _check_everywhere(body, write_report(body, tmp_path / "f"))
    f, text = written["facts"], written["summary"]["text"]
    cf = f["counterfactual"]
    assert cf["found"] and set(cf["frames"]) <= {2, 4} and cf["search"] == "exact"
    named = "frame 2" if cf["frames"] == [2] else "frame 4" if cf["frames"] == [4] else "frames 2 and 4"
    assert f"Without {named}, it would not have flagged it (score " in text
    assert ("not all among the frames that counted most" in text) == cf["differ_from_key_frames"]
    assert "each of frames" not in " ".join(line for _, lines in annex(f) for line in lines if "frames" in line) or \
        len(cf["frames"]) > 1


def test_a_counterfactual_found_by_greedy_search_says_so(red, tmp_path, monkeypatch):
    from crnnaudit.trust import counterfactual, memo
    model, clip, window, es = red
    monkeypatch.setattr(counterfactual, "EXACT_SETS", 3)  # no room for an exact search: the greedy one runs
    monkeypatch.setattr(memo, "_MEMO", type(memo._MEMO)())
    body = build_report(model, clip, window, es, decision="confirm", reviewer="carol.auditor", faithfulness=False,
                        sanity=False)
    written = _check_everywhere(body, write_report(body, tmp_path / "g"))
    cf = written["facts"]["counterfactual"]
    assert cf["found"] and cf["search"] == "greedy"
    assert "found by a greedy search and verified" in " ".join(annex(written["facts"])[4][1])


def test_a_blank_map_says_so_in_every_format(reviewed, tmp_path):
    model, clip, window, es = reviewed
    es["gradcam"].maps[:] = 0.0  # Grad-CAM points nowhere on any frame of this window
    try:
        body = build_report(model, clip, window, es, decision="confirm", reviewer="carol.auditor", faithfulness=False,
                            sanity=False)
        out = write_report(body, tmp_path / "b")
    finally:
        es["gradcam"].maps[:] = explain(model, window, ["gradcam"], cache=False)["gradcam"].maps
    written = _check_everywhere(body, out)
    blank = written["facts"]["blank_maps"]
    assert {b["frame"] for b in blank if b["method"] == "gradcam"} == {k["frame"] for k in written["key_frames"]}
    frame = blank[0]["frame"]
    said = f"On frame {frame}, Grad-CAM (per frame) is 0.000 everywhere: it points nowhere on this frame."
    assert said in out["html"].read_text(encoding="utf-8")
    assert said.replace(" ", "") in _pdf_text(out["pdf"]).replace(" ", "").replace("\n", "")
    assert f"frame {frame}, gradcam: points nowhere" in _pdf_text(out["pdf"]).replace("\n", " ")


def test_a_long_contact_is_referred_to_and_the_summary_stays_short(reviewed, tmp_path, monkeypatch):
    model, clip, window, es = reviewed
    monkeypatch.setenv("CRNNAUDIT_CONTEST_CONTACT", "the office of the data protection officer, " * 30)
    body = build_report(model, clip, window, es, decision="confirm", reviewer="carol.auditor", faithfulness=False,
                        sanity=False)
    s = body["summary"]
    assert s["words"] <= 200 and s["sentences"][-1]["message"] == "contest_long"
    out = write_report(body, tmp_path / "l")
    assert "the office of the data protection officer" in out["html"].read_text(encoding="utf-8")
    _check_everywhere(body, out)


def test_the_second_reviewer_countersigns_returns_or_rejects_and_the_summary_says_which(reviewed, tmp_path):
    from crnnaudit.evidence.accounts import Accounts
    from crnnaudit.report.countersign import countersign, pending, reject, returned_to, send_back
    model, clip, window, es = reviewed
    accounts = Accounts()
    author = accounts.add("carol.auditor", "a long test password", "auditor")
    accounts.add("pat.approver", "a long test password", "approver")
    accounts.set_display_name("pat.approver", "Pat Okafor")
    pat = accounts.identity("pat.approver")
    said = {}
    for kind, act in (("countersigned", lambda p: countersign(p, pat)),
                      ("returned", lambda p: send_back(p, pat, "Look at frame 12 again.")),
                      ("rejected", lambda p: reject(p, pat, "The footage shows a hug."))):
        body = build_report(model, clip, window, es, decision="confirm", reviewer="carol.auditor",
                            reviewer_person=person(author), faithfulness=False, sanity=False)
        first = write_report(body, tmp_path / kind)
        out = act(first["json"])
        written = _check_everywhere(body, out)
        said[kind] = written["summary"]["text"]
        assert written["facts"]["status"]["state"] == kind
    assert "A second person, Pat Okafor, checked it and confirmed it. The decision is final." in said["countersigned"]
    assert "sent it back to be looked at again. It is not final." in said["returned"]
    assert "rejected it. The decision does not stand." in said["rejected"]
    assert pending() == []
    back = returned_to(author)
    assert len(back) == 1 and back[0]["comment"] == "Look at frame 12 again."


@pytest.mark.parametrize("language, words", [("fr", "Un système informatique a examiné"),
                                             ("de", "Ein Computersystem hat Aufnahmen")])
def test_the_summary_in_french_and_german_from_the_same_facts(reviewed, tmp_path, language, words):
    model, clip, window, es = reviewed
    body = build_report(model, clip, window, es, decision="confirm", reviewer="carol.auditor", faithfulness=False,
                        sanity=False, language=language)
    written = _check_everywhere(body, write_report(body, tmp_path / language))
    s = written["summary"]
    assert s["language"] == language and s["text"].startswith(words)
    assert s["readability"]["score"] == pytest.approx(readability(s["text"], language))
    english = plain_summary(written["facts"], "en")
    assert [x["message"] for x in english["sentences"]] == [x["message"] for x in s["sentences"]]


def test_the_checker_catches_a_sentence_that_is_not_true(reviewed):
    """The checker itself: a time rounded differently, a probability off by a hundredth, a login
    named: each is found."""
    model, clip, window, es = reviewed
    body = build_report(model, clip, window, es, decision="confirm", reviewer="carol.auditor", faithfulness=False,
                        sanity=False)
    facts, summary = body["facts"], body["summary"]
    end = f"{facts['window']['end_s']:.2f}"
    wrong = json.loads(json.dumps(summary))
    first = wrong["sentences"][0]
    first["text"] = first["text"].replace(end, end[:-1])  # "second 3.2" for a window that ends at 3.25 s
    first["fields"]["end"]["shown"] = end[:-1]
    wrong["text"] = " ".join(s["text"] for s in wrong["sentences"])
    assert check_summary(wrong, facts, []) != []
    assert numbers_not_in_facts("fight 0.99", facts) == ["0.99"] or facts["reading"]["probabilities"]["fight"] == 0.99
    login = json.loads(json.dumps(summary))
    login["sentences"][-2]["text"] += " (carol.auditor)"
    login["text"] = " ".join(s["text"] for s in login["sentences"])
    assert any("carol.auditor" in b for b in check_summary(login, facts, ["carol.auditor"]))
