import json
from html import unescape
import shutil
import subprocess

import numpy as np
import pytest

import architectures as arch
from crnnaudit import AuditedModel, ModelCard, ReportError, explain, open_clip
from crnnaudit.evidence.log import AuditLog
from crnnaudit.cli.main import main
from crnnaudit.report import build_report, verify_file, write_report
from crnnaudit.report.privacy import blur_faces, find_faces


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rep")
    from crnnaudit.demo import synthesize
    clip = open_clip(synthesize(folder, count=2, seed=3, frames=24, labels=["fight"])[0])
    model = AuditedModel(arch.td_cnn_gru_softmax(t=8, s=32, classes=4),
                         ModelCard(name="demo", version="1.2", classes=["normal", "fight", "fire", "shooting"],
                                   stride=8, known_limitations=["untested at night"]))
    window = clip.window(1, 8, 8, model.frame_size)
    es = explain(model, window, ["gradcam", "saliency", "frame_occlusion", "temporal_ig", "prefix_score"], cache=False)
    return model, clip, window, es


def test_confirmed_review_report_contents(reviewed, tmp_path):
    model, clip, window, es = reviewed
    body = build_report(model, clip, window, es, decision="confirm", reviewer="A. Auditor",
                        second_reviewer="B. Checker", contest_channel="dpo@example.org")
    assert body["human"]["decision"] == "confirm" and body["human"]["second_reviewer"] == "B. Checker"
    assert body["clip"]["sha256"] == clip.sha256 and body["model"]["sha256"] == model.sha256
    assert body["model"]["verify_max_abs_diff"] <= 1e-5
    assert set(body["output"]["probabilities"]) == {"normal", "fight", "fire", "shooting"}
    assert sum(body["output"]["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    # key frames are the frames frame_occlusion ranks highest
    top = set(int(window.indices[i]) for i in np.argsort(-es["frame_occlusion"].frame_scores)[:3])
    assert {f["frame"] for f in body["key_frames"]} == top
    assert set(body["key_frames"][0]["images"]) == {"gradcam", "saliency", "original"}
    assert "untested at night" in body["limitations"]
    assert [a["article"] for a in body["legal"]][:2] == ["GDPR Art. 15(1)(h)", "GDPR Art. 22(3)"]
    assert body["trust"]["sanity"]["flagged"].keys() == {"gradcam", "saliency"}
    from crnnaudit.report.sentences import trust as trust_sentences
    assert any("deletion AUC" in line for line in trust_sentences(body["facts"]))
    assert body["reproduce"]["params"]["gradcam"] == {"pooled": False}
    out = write_report(body, tmp_path / "r")
    html = unescape(out["html"].read_text())
    assert "confirmed the model's reading" in html and "an auditor" in html and "an auditor (auditor)" not in html and "dpo@example.org" in html and "data:image/png;base64," in html
    doc = json.loads(out["json"].read_text())
    assert doc["report"]["report_id"] == body["report_id"]
    assert all(verify_file(out[k])["ok"] for k in ("html", "pdf", "json"))
    row = AuditLog().rows()[-1]
    assert row["seq"] == out["log_row"] and json.loads(row["payload"])["files_sha256"] == out["sha256"]


def test_override_needs_reasons_and_is_recorded(reviewed, tmp_path):
    model, clip, window, es = reviewed
    with pytest.raises(ReportError, match="reasons"):
        build_report(model, clip, window, es, decision="override", reviewer="A")
    with pytest.raises(ReportError, match="reviewer"):
        build_report(model, clip, window, es, decision="confirm", reviewer="  ")
    with pytest.raises(ReportError, match="not one of"):
        build_report(model, clip, window, es, decision="maybe", reviewer="A")
    body = build_report(model, clip, window, es, decision="override", reviewer="A. Auditor",
                        reason="Two people hugging, not fighting.", blur=False, faithfulness=False, sanity=False)
    out = write_report(body, tmp_path / "o")
    html = unescape(out["html"].read_text())
    assert "overrode the model's reading" in html and "Two people hugging" in html and "turned face blurring OFF" in html
    assert json.loads(AuditLog().rows()[-1]["payload"])["decision"] == "override"


def test_pdf_renders_to_non_blank_pages(reviewed, tmp_path):
    if not shutil.which("pdftoppm"):
        pytest.fail("pdftoppm (poppler-utils) is required: make test installs it")
    model, clip, window, es = reviewed
    out = write_report(build_report(model, clip, window, es, decision="escalate", reviewer="Zoë Ünal",
                                    faithfulness=False, sanity=False), tmp_path / "p", log=False)
    subprocess.run(["pdftoppm", "-png", "-r", "40", str(out["pdf"]), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page*.png"))
    assert len(pages) >= 2
    import cv2
    for p in pages:
        img = cv2.imread(str(p), cv2.IMREAD_GRAYSCALE)
        assert (img < 200).mean() > (0.005 if p != pages[-1] else 0.0002), f"{p.name} is blank"


@pytest.mark.parametrize("kind", ["html", "pdf", "json"])
def test_tampering_is_detected(reviewed, tmp_path, kind, monkeypatch, capsys):
    model, clip, window, es = reviewed
    out = write_report(build_report(model, clip, window, es, decision="confirm", reviewer="A",
                                    faithfulness=False, sanity=False), tmp_path / "t", log=False)
    path = out[kind]
    res = verify_file(path)
    assert res["ok"] and res["signed"] and res["signature_ok"]
    assert main(["report", "verify", str(path), "--accept-unanchored"]) == 0
    data = path.read_bytes()
    if kind == "json":
        doc = json.loads(data)
        doc["report"]["human"]["decision"] = "override"
        path.write_text(json.dumps(doc))
    else:
        i = data.find(b"confirm") if kind == "html" else len(data) // 2
        path.write_bytes(data[:i] + bytes([data[i] ^ 1]) + data[i + 1:])
    res = verify_file(path)
    assert not res["ok"] and "altered" in res["message"]
    assert main(["report", "verify", str(path)]) == 1
    # the intact file, checked where only another organisation's key is trusted
    path.write_bytes(data)
    assert verify_file(path)["ok"]
    monkeypatch.setenv("CRNNAUDIT_TRUSTED_KEYS", "0" * 64)
    assert not verify_file(path)["ok"] and "NOT among" in verify_file(path)["message"]


def test_verify_rejects_non_reports(tmp_path):
    p = tmp_path / "x.html"
    p.write_text("<html></html>")
    with pytest.raises(ReportError, match="not a crnnaudit report"):
        verify_file(p)
    with pytest.raises(ReportError, match="cannot read"):
        verify_file(tmp_path / "missing.json")


def test_faces_are_blurred_on_a_real_photo():
    from skimage import data
    img = data.astronaut()  # a real portrait photograph shipped with scikit-image
    faces = find_faces(img)
    assert len(faces) >= 1
    blurred, n = blur_faces(img)
    x, y, w, h = faces[0]
    face_before, face_after = img[y:y + h, x:x + w], blurred[y:y + h, x:x + w]
    sharp = lambda a: float(np.abs(np.diff(a.astype(float), axis=1)).mean())  # noqa: E731
    assert n == len(faces) and sharp(face_after) < 0.5 * sharp(face_before)
    assert np.array_equal(blurred[-40:, -40:], img[-40:, -40:])  # away from faces, untouched
    # the face's detail is gone: its high-pass content no longer correlates with the original
    hp = lambda a: a.astype(float).mean(-1) - __import__("cv2").GaussianBlur(a, (0, 0), 3).astype(float).mean(-1)  # noqa: E731
    corr = np.corrcoef(hp(face_before).ravel(), hp(face_after).ravel())[0, 1]
    assert abs(corr) < 0.2, corr


def test_cli_report_end_to_end(tmp_path, capsys, sample_clips, monkeypatch):
    from crnnaudit.evidence.accounts import Accounts
    from crnnaudit.report.countersign import pending
    Accounts().add("R", "auditor password", "auditor")
    Accounts().add("V", "viewer password", "viewer")
    Accounts().add("P", "approver password", "approver")
    path = tmp_path / "m.keras"
    arch.td_cnn_gru_softmax(t=8, s=32, classes=4).save(path)
    ModelCard(classes=["normal", "fight", "fire", "shooting"], stride=8).write(tmp_path / "m.card.json")
    out = tmp_path / "rep"
    monkeypatch.setenv("CRNNAUDIT_PASSWORD", "auditor password")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.setenv("CRNNAUDIT_MODELS_DIR", str(elsewhere))  # the model is not where models may come from
    (elsewhere / "link.keras").symlink_to(path)
    for given in (path, elsewhere / ".." / "m.keras", elsewhere / "link.keras"):
        assert main(["report", "write", str(given), str(sample_clips[1]), "--decision", "escalate", "--as", "R",
                     "--out", str(out)]) == 2
        assert "load only from the models folders" in capsys.readouterr().err
    assert not out.exists(), "nothing written from a model from elsewhere"
    monkeypatch.setenv("CRNNAUDIT_MODELS_DIR", str(tmp_path))
    assert main(["report", "write", str(path), str(sample_clips[1]), "--decision", "escalate", "--as", "R",
                 "--out", str(out)]) == 0
    written = {p.name for p in out.iterdir()}
    (rid,) = {n.split(".")[0].removeprefix("report-") for n in written}
    assert written == {f"report-{rid}.html", f"report-{rid}.pdf", f"report-{rid}.json"}
    report = out / f"report-{rid}.json"
    body = json.loads(report.read_text())["report"]
    assert body["human"]["reviewer"] == "R" and body["human"]["status"] == "awaiting countersignature"
    assert main(["audit", "verify", "--accept-unanchored"]) == 0
    assert main(["report", "write", str(path), str(sample_clips[1]), "--decision", "override", "--as", "R",
                 "--out", str(out)]) == 2
    assert "reasons" in capsys.readouterr().err
    monkeypatch.setenv("CRNNAUDIT_PASSWORD", "not the password")
    assert main(["report", "write", str(path), str(sample_clips[1]), "--decision", "confirm", "--as", "R",
                 "--out", str(out)]) == 2
    assert "sign-in refused" in capsys.readouterr().err
    monkeypatch.setenv("CRNNAUDIT_PASSWORD", "viewer password")
    assert main(["report", "write", str(path), str(sample_clips[1]), "--decision", "confirm", "--as", "V",
                 "--out", str(out)]) == 2
    assert "V (viewer) may not draft reports" in capsys.readouterr().err
    assert [p["reviewer"] for p in pending()] == ["R"]
    # four eyes: the author cannot countersign; an approver can, once
    Accounts().set_role("R", "approver")
    monkeypatch.setenv("CRNNAUDIT_PASSWORD", "auditor password")
    assert main(["report", "countersign", str(report), "--as", "R"]) == 2
    assert "R wrote this decision" in capsys.readouterr().err
    monkeypatch.setenv("CRNNAUDIT_PASSWORD", "approver password")
    assert main(["report", "countersign", str(report), "--as", "P"]) == 2  # nobody said who to write to
    assert "CRNNAUDIT_CONTEST_CONTACT" in capsys.readouterr().err and len(pending()) == 1
    monkeypatch.setenv("CRNNAUDIT_CONTROLLER", "Example Transit Ltd")
    monkeypatch.setenv("CRNNAUDIT_CONTEST_CONTACT", "dpo@example.org")
    assert main(["report", "countersign", str(report), "--as", "P"]) == 0
    doc = json.loads((out / "countersigned" / report.name).read_text())["report"]
    final = doc["human"]
    assert (final["reviewer"], final["second_reviewer"], final["status"]) == ("R", "P", "final")
    assert final["second_signed_at"] >= final["reviewed_at"] and pending() == []
    assert "contact Example Transit Ltd, dpo@example.org." in doc["summary"]["text"]
    assert main(["report", "countersign", str(report), "--as", "P"]) == 2  # once
    assert main(["report", "verify", str(out / "countersigned" / f"report-{rid}.pdf"), "--log", "--accept-unanchored"]) == 0
    assert main(["audit", "verify", "--accept-unanchored"]) == 0


NAMES = {"arabic": "محمد", "chinese": "王小明", "emoji": "😀", "greek": "Ελένη", "cyrillic": "Дмитрий"}


def test_pdf_keeps_names_and_reasons_in_any_script(reviewed, tmp_path, monkeypatch):
    """pdftotext (an independent reader) finds every script's text in the PDF, as in the HTML
    and JSON; nothing turned into '?' (the deployment names people by login here)."""
    monkeypatch.setenv("CRNNAUDIT_REPORT_NAMES", "login")
    from crnnaudit.report.pdf import font_files
    assert {"NotoSans", "NotoSansArabic", "NotoSansCJK", "NotoColorEmoji"} <= set(font_files()), \
        "make test installs fonts-noto-core, fonts-noto-cjk and fonts-noto-color-emoji"
    model, clip, window, es = reviewed
    reviewer = f"{NAMES['arabic']} الأحمد / {NAMES['chinese']} {NAMES['emoji']}"
    reason = f"{NAMES['greek']} {NAMES['cyrillic']} saw it"
    out = write_report(build_report(model, clip, window, es, decision="override", reviewer=reviewer,
                                    reason=reason, faithfulness=False, sanity=False), tmp_path / "u", log=False)
    text = subprocess.run(["pdftotext", str(out["pdf"]), "-"], capture_output=True, text=True, check=True).stdout
    for script, word in NAMES.items():
        assert word in text, f"{script} text {word!r} is missing from the PDF"
        assert word in out["html"].read_text(encoding="utf-8")
    assert "?" not in text.split("The reviewer, ")[1].splitlines()[0]


def _too_bright(card):
    """The card with image-quality bounds calibrated on dim footage (brightness 20-24): every
    clip here fails the exposure check, so its windows get no reliable reading."""
    import dataclasses
    from crnnaudit.footage import quality
    dim = [{"sharpness": 50.0, "brightness": 20.0 + i % 5, "contrast": 10.0, "noise": 1.0, "blockiness": 1.0,
            "still": 0.0} for i in range(40)]
    return dataclasses.replace(card, calibration={"file": "unused.npz", "threshold": 1.0,
                                                  "quality": quality.calibrate_bounds(dim).to_dict()})


def test_a_window_with_no_reliable_reading_needs_reasons_and_says_so(reviewed, tmp_path):
    """A card whose quality bounds this clip fails (its brightness lies far above them): the
    report's model decision is 'no reliable reading', any decision needs reasons, and the
    report carries the check that fired, with the evidence verdict of every map."""
    import dataclasses
    model, clip, window, es = reviewed
    card = _too_bright(model.card)
    strict = AuditedModel(model.model, card)
    with pytest.raises(ReportError, match="no reliable reading"):
        build_report(strict, clip, window, es, decision="confirm", reviewer="A")
    body = build_report(strict, clip, window, es, decision="escalate", reviewer="A. Auditor",
                        reason="The footage is too bright for this model.", faithfulness=False, sanity=False)
    out = body["output"]
    assert out["model_decision"] == "no reliable reading" and out["reliable"] is False
    fired = {f["check"]: f for f in out["quality_check"]["fired"]}
    assert fired["exposure"]["side"] == "above" and fired["exposure"]["value"] > 80  # the clip's floor is ~110
    assert set(body["trust"]["evidence"]) == {"gradcam", "saliency", "frame_occlusion", "temporal_ig"}
    from crnnaudit.report.sentences import trust as trust_sentences
    lines = " ".join(trust_sentences(body["facts"]))
    assert all(body["facts"]["verdicts"][m]["label"] in lines for m in body["trust"]["evidence"])
    html = write_report(body, tmp_path / "n")["html"].read_text()
    assert "no reliable reading" in html and "Degraded footage (exposure" in html
    keep = dataclasses.replace(card, withhold_unreliable=False)
    decided = build_report(AuditedModel(model.model, keep), clip, window, es, decision="confirm", reviewer="A",
                           faithfulness=False, sanity=False)["output"]
    assert decided["model_decision"] in ("anomaly", "normal") and decided["reliable"] is False


def _at(body: dict, path: str):
    for part in path.split("."):
        body = body[int(part)] if isinstance(body, list) else body[part]
    return body


def _check_summary(body: dict) -> str:
    """The summary passes the fact checker (every field is its fact, every number a fact's value,
    under 200 words), its readability is textstat's own figure for English and at least 50,
    and it names the key frames, the decision and the contact."""
    from crnnaudit.report.summary import readability
    from fact_checker import check_summary
    import textstat
    s, facts = body["summary"], body["facts"]
    assert check_summary(s, facts, logins=[]) == []
    assert s["language"] == "en" and s["words"] == len(s["text"].split()) <= 200
    score = s["readability"]["score"]
    assert score == pytest.approx(textstat.flesch_reading_ease(s["text"])) and score >= 50
    used = {p for x in s["sentences"] for f in x["fields"].values()
            for p in (f["fact"] if isinstance(f["fact"], list) else [f["fact"]])}
    assert {f"key_frames.{i}.frame" for i in range(len(facts["key_frames"]))} <= used
    assert "contest.contact" in used or "section 'Contesting this decision'" in s["text"]
    return s["text"]


def test_every_report_carries_the_verified_counterfactual_and_a_plain_summary(reviewed, tmp_path):
    from crnnaudit.trust import counterfactual
    model, clip, window, es = reviewed
    body = build_report(model, clip, window, es, decision="override", reviewer="A. Auditor", reason="a hand, not a fist",
                        contest_channel="Write to dpo@example.org.", faithfulness=False, sanity=False,
                        view={"method": "saliency"})
    direct = counterfactual.temporal(model, window)  # the report's figure is the module's own, recomputed
    cf = body["counterfactual"]
    assert cf["temporal"]["positions"] == direct.positions and cf["temporal"]["found"] == direct.found
    assert cf["region"]["method"] == ("saliency" if direct.found else "saliency")
    assert [i["frame"] for i in cf["images"]] == direct.frames
    text = _check_summary(body)
    assert "decided the system was wrong: it is not treated as an incident" in text
    assert "A second person still has to check this decision." in text
    if direct.found:
        assert all(str(n) in text for n in direct.frames)
        assert {f"counterfactual.temporal.frames.{i}" for i in range(len(direct.frames))} <= {
            f["path"] for f in body["summary"]["facts"]}
    else:
        assert f"Taking out any {direct.exact_up_to} or fewer frames" in text
    out = write_report(dict(body, human=dict(body["human"], second_reviewer="B. Checker", status="final")), tmp_path / "r")
    written = json.loads(out["json"].read_text())["report"]
    assert "A second person, an approver, checked it and confirmed it." in _check_summary(written)  # refreshed when written
    html = out["html"].read_text()
    assert "In plain words, for the person concerned" in html and "What would have changed the outcome" in html


def test_the_summary_of_a_window_with_no_reliable_reading(reviewed):
    model, clip, window, es = reviewed
    body = build_report(AuditedModel(model.model, _too_bright(model.card)), clip, window, es, decision="escalate", reviewer="A",
                        reason="too bright", second_reviewer="B", faithfulness=False, sanity=False)
    text = _check_summary(body)
    assert "gave no finding of its own" in text and "passed the case on for more checks" in text


def test_a_report_whose_decision_rests_on_two_frames_names_them_in_plain_words(tmp_path):
    """A hand-weighted model that reads the reddest pixel of each frame (tests/test_counterfactual.py)
    on a real video file whose frames 2 and 4 carry a red square: the report's counterfactual lies
    within those frames, verified, and the summary names it and what the model would have said."""
    from test_counterfactual import _red_model, write_red_clip
    model = _red_model()
    clip = open_clip(write_red_clip(tmp_path / "red.mp4"))
    window = clip.window(0, 6, 6, model.frame_size)
    es = explain(model, window, ["saliency", "frame_occlusion"], target="red", cache=False)
    body = build_report(model, clip, window, es, decision="confirm", reviewer="A. Auditor", faithfulness=False,
                        sanity=False)
    cf = body["counterfactual"]
    assert body["output"]["model_decision"] == "anomaly"
    gone = cf["temporal"]["frames"]
    assert cf["temporal"]["found"] and set(gone) <= {2, 4}
    assert cf["temporal"]["after"]["decision"] == "normal" and len(cf["images"]) == len(gone)
    text = _check_summary(body)
    named = "frame 2" if gone == [2] else "frame 4" if gone == [4] else "frames 2 and 4"
    assert f"Without {named}, it would not have flagged it (score " in text
    assert ("Blurring just" in text) == cf["region"]["found"]


def test_a_long_contest_channel_keeps_the_summary_under_200_words(reviewed):
    model, clip, window, es = reviewed
    channel = "Write to the office of the data protection officer " * 30  # 270 words
    body = build_report(model, clip, window, es, decision="confirm", reviewer="A", contest_channel=channel,
                        faithfulness=False, sanity=False)
    s = body["summary"]
    assert s["words"] <= 200 and "the section 'Contesting this decision' of this report says how" in s["text"]
    from crnnaudit.report.files import render_html
    assert channel.strip() in unescape(render_html(body))  # in full in the report's own section
    _check_summary(body)


def test_a_counterfactual_on_a_window_with_no_reliable_reading_says_it_reads_the_score(tmp_path):
    """The red-square clip under a card whose quality bounds it fails (far too bright): the
    model gives no reliable reading, so the summary's counterfactual is about its score."""
    from test_counterfactual import _red_model, write_red_clip
    model = _red_model()
    strict = AuditedModel(model.model, _too_bright(model.card))
    clip = open_clip(write_red_clip(tmp_path / "red.mp4"))
    window = clip.window(0, 6, 6, strict.frame_size)
    es = explain(strict, window, ["saliency", "frame_occlusion"], target="red", cache=False)
    body = build_report(strict, clip, window, es, decision="escalate", reviewer="A", reason="too bright",
                        faithfulness=False, sanity=False)
    assert body["output"]["model_decision"] == "no reliable reading" and body["counterfactual"]["temporal"]["found"]
    text = _check_summary(body)
    assert "gave no finding of its own" in text and "Reading its score anyway: without frame" in text
    from crnnaudit.report.files import render_html
    assert "Reading the model's score alone (this window has no reliable reading)" in unescape(render_html(body))


def test_cli_return_reject_and_display_names(tmp_path, capsys, sample_clips, monkeypatch):
    """An admin sets display names; an approver returns one report with a comment and rejects
    another with reasons, from the command line: each is a log row, the written report says so
    in its summary, and a return or a reject without words is refused."""
    from crnnaudit.evidence.accounts import Accounts
    from crnnaudit.report.countersign import pending
    for name, role in (("adm", "admin"), ("R", "auditor"), ("P", "approver")):
        Accounts().add(name, f"{role} password", role)
    monkeypatch.setenv("CRNNAUDIT_PASSWORD", "admin password")
    assert main(["user", "set-name", "R", "Ana Lopez", "--as", "adm"]) == 0
    assert main(["user", "set-name", "P", "Pat Okafor", "--as", "adm"]) == 0
    path = tmp_path / "m.keras"
    arch.td_cnn_gru_softmax(t=8, s=32, classes=4).save(path)
    ModelCard(classes=["normal", "fight", "fire", "shooting"], stride=8).write(tmp_path / "m.card.json")
    monkeypatch.setenv("CRNNAUDIT_MODELS_DIR", str(tmp_path))
    monkeypatch.setenv("CRNNAUDIT_PASSWORD", "auditor password")
    written = []
    for out in (tmp_path / "one", tmp_path / "two"):
        assert main(["report", "write", str(path), str(sample_clips[1]), "--decision", "escalate", "--as", "R",
                     "--language", "de", "--out", str(out)]) == 0
        written.append(next(out.glob("report-*.json")))
    capsys.readouterr()
    first = json.loads(written[0].read_text())["report"]
    assert "Ana Lopez" in first["summary"]["text"] and " R " not in f" {first['summary']['text']} "
    monkeypatch.setenv("CRNNAUDIT_PASSWORD", "approver password")
    assert main(["report", "return", str(written[0]), "--comment", " ", "--as", "P"]) == 2
    assert "say why" in capsys.readouterr().err and len(pending()) == 2
    assert main(["report", "return", str(written[0]), "--comment", "Look at frame 12 again.", "--as", "P"]) == 0
    assert main(["report", "reject", str(written[1]), "--reasons", "No crowd in the footage.", "--as", "P"]) == 0
    assert pending() == []
    returned = json.loads((written[0].parent / "returned" / written[0].name).read_text())["report"]
    rejected = json.loads((written[1].parent / "rejected" / written[1].name).read_text())["report"]
    assert returned["human"]["status"] == "returned" and returned["human"]["comment"] == "Look at frame 12 again."
    assert "Pat Okafor" in returned["summary"]["text"] and "nicht endgültig" in returned["summary"]["text"]
    from crnnaudit.report.sentences import decision
    said = " ".join(decision(returned["facts"]))  # a named person keeps their role beside the name
    assert "The reviewer, Ana Lopez (auditor)," in said and "Second reviewer: Pat Okafor (approver)" in said
    assert rejected["human"]["status"] == "rejected" and rejected["facts"]["status"]["state"] == "rejected"
    kinds = [r["kind"] for r in AuditLog().rows()]
    assert kinds.count("return") == 1 and kinds.count("reject") == 1
    assert main(["report", "verify", str(written[1].parent / "rejected" / written[1].name), "--log", "--accept-unanchored"]) == 0
    assert main(["audit", "verify", "--accept-unanchored"]) == 0


def test_the_pdf_keeps_every_word_on_the_page(reviewed, tmp_path):
    """Ragged-right text that fits: pdftotext's word boxes (an independent reader) all lie within
    the page's width, even for a 300-character file name and reasons with no space to break at."""
    import re as regex
    model, clip, window, es = reviewed
    long_name = "camera_" + "x" * 300 + ".mp4"
    body = build_report(model, clip, window, es, decision="override", reviewer="A",
                        reason="no-space-" * 40, shown_name=long_name, faithfulness=False, sanity=False)
    out = write_report(body, tmp_path / "w", log=False)
    boxes = subprocess.run(["pdftotext", "-bbox", str(out["pdf"]), "-"], capture_output=True, text=True,
                           check=True).stdout
    pages = regex.findall(r'<page width="([\d.]+)"', boxes)
    right = [float(x) for x in regex.findall(r'xMax="([\d.]+)"', boxes)]
    assert pages and right and max(right) <= float(pages[0]) - 5, (max(right), pages[0])
    text = subprocess.run(["pdftotext", str(out["pdf"]), "-"], capture_output=True, text=True, check=True).stdout
    assert "x" * 60 in text.replace("\n", ""), "the long name is there, broken across lines"
