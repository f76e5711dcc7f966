"""Every page through Streamlit's AppTest, driven by its widgets."""

import re
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from crnnaudit import AuditLog

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
TIMEOUT = 120


def signed_in(at, user="A. Auditor", role="admin"):
    """The session of an account that exists in the test's database, as after sign-in: a
    server-side session whose token the browser session holds."""
    from crnnaudit.ui import web
    accounts, sessions = web.stores()
    if accounts.identity(user) is None:
        accounts.add(user, "a long test password", role)
    at.session_state["session_token"] = sessions.open(accounts.identity(user))
    return at


def _app(user="A. Auditor", role="admin"):
    at = signed_in(AppTest.from_file(APP, default_timeout=TIMEOUT), user, role)
    at.run()
    assert not at.exception, at.exception
    return at


def _explained(at):
    """Review page: the first sample clip, its timeline, then explain."""
    assert "Review" in [t.value for t in at.title]
    at.button(key="explain").click().run()
    assert not at.exception, at.exception
    return at


def test_review_flow_pick_clip_timeline_explain_scrub(app_env):
    at = _app()
    assert at.selectbox(key="sample_choice").value.startswith("fight") or at.selectbox(key="sample_choice").value
    at.selectbox(key="sample_choice").select(
        [o for o in at.selectbox(key="sample_choice").options if o.startswith("fire")][0]).run()
    assert not at.exception
    assert any("anomaly score" in m.value for m in at.markdown)
    assert any("no check is possible" in c.value for c in at.caption), "says why no training-data check"
    at.number_input(key="window_input").set_value(2).run()
    _explained(at)
    assert at.session_state["review"].state.held.window.index == 2
    first = at.get("imgs")[0].proto.imgs[0].url if at.get("imgs") else None
    at.slider(key="frame_slider").set_value(5).run()
    assert not at.exception
    captions = [c.value for c in at.caption]
    assert any("explained class" in c for c in captions)
    at.button(key="next").click().run()
    assert at.session_state["review"].state.frame == 6
    at.radio(key="view").set_value("contour").run()
    assert not at.exception
    del first


def test_other_pages_after_explaining(app_env):
    at = _explained(_app())
    for page in ("views/compare.py", "views/temporal.py", "views/model.py", "views/report.py", "views/audit_log.py"):
        at.switch_page(page).run()
        assert not at.exception, (page, at.exception)
    at.switch_page("views/compare.py").run()
    assert at.dataframe, "the agreement table is shown"
    at.button(key="faith").click().run()
    assert not at.exception and at.session_state["review"].state.faithfulness
    at.button(key="sanity").click().run()
    assert not at.exception and set(at.session_state["review"].state.sanity["flagged"]) == {"gradcam", "saliency"}
    at.switch_page("views/temporal.py").run()
    assert any("attributions sum" in c.value and "Gauss-Legendre nodes" in c.value for c in at.caption)
    said = [x.value for x in [*at.info, *at.caption] if "What would have changed the outcome" in x.value]
    assert len(said) == 1 and ("Without frame" in said[0] or "Removing any set of up to" in said[0])
    at.button(key="goto_3").click().run()
    assert not at.exception and at.session_state["review"].state.frame == 3
    assert at.slider(key="frame_slider").value == 3


def test_trust_figures_and_a_report_asked_for_outlive_a_run_cut_short(app_env):
    """The Compare page's two buttons and the Report page's Build keep their click as Explain
    does (widgets.asked_work): a request left in the session by a run cut short is made by the
    next run, once; one about another explanation is dropped; Cancel drops it and says so; a
    refused one is said once, not retried on every run."""
    from crnnaudit.ui.widgets import explained
    at = _explained(_app())
    review = at.session_state["review"]
    about = explained(review.state)
    assert about == (review.state.held.model_sha256, review.state.held.clip_sha256, review.state.window,
                     review.state.held.methods, review.state.held.target)
    at.switch_page("views/compare.py").run()
    at.session_state["faith_asked"] = about  # as a run cut short while it waited leaves it
    at.session_state["sanity_asked"] = about[:2] + (about[2] + 1,) + about[3:]  # asked about another window
    at.run()
    assert not at.exception, at.exception
    assert review.state.faithfulness and review.state.sanity is None
    assert "faith_asked" not in at.session_state and "sanity_asked" not in at.session_state
    at.session_state["sanity_asked"] = about
    at.session_state["sanity_work_cancelled"] = True  # Cancel pressed while it waited
    at.run()
    assert review.state.sanity is None and "sanity_asked" not in at.session_state
    assert any("Randomising a copy of the model layer by layer: cancelled" in i.value for i in at.info)
    at.switch_page("views/report.py").run()
    session_draft = review.draft(decision="override", reason="")  # refused when built: no reasons
    assert session_draft.draft.decision == "override"
    at.session_state["report_asked"] = about
    at.run()
    assert any("reasons" in e.value for e in at.error) and "report_asked" not in at.session_state
    at.run()
    assert not any("reasons" in e.value for e in at.error), "a refused request is not made again"
    review.draft(decision="confirm")
    at.session_state["report_asked"] = about
    at.run()
    assert not at.exception, at.exception
    assert review.state.report is not None and "report_asked" not in at.session_state
    assert any("logged as audit row" in s.value for s in at.success)


def test_report_page_writes_and_logs(app_env):
    at = _explained(_app())
    at.switch_page("views/report.py").run()
    at.radio(key="decision").set_value("override")
    assert any("Reviewer: **A. Auditor** (signed in)" in c.value for c in at.caption)  # no typed name
    at.checkbox(key="checks").uncheck()
    at.button[0].click().run()  # the form's submit button
    assert any("reasons" in e.value for e in at.error), "an override without reasons is refused"
    at.text_area(key="reason").input("A hug, not a fight.")
    at.button[0].click().run()
    assert not at.exception, at.exception
    assert any("logged as audit row" in s.value for s in at.success)
    rows = [r for r in AuditLog().rows() if r["kind"] == "review"]
    assert len(rows) == 1 and '"override"' in rows[0]["payload"] and '"reviewer":"A. Auditor"' in rows[0]["payload"]
    at.switch_page("views/audit_log.py").run()
    assert any("chain intact" in s.value for s in at.success)


def test_model_page_shows_decomposition_and_edits_card(app_env, tmp_path):
    at = _app()
    at.switch_page("views/model.py").run()
    assert not at.exception
    assert any("reproduces the model" in s.value for s in at.success)
    assert not [t for t in at.text_input if "path" in t.label.lower()]  # no page takes a server path
    assert at.selectbox(key="model_pick").options[1:] == []  # the demo folder is empty here
    at.button(key="load_model").click().run()
    assert any("pick a model from the configured folders" in e.value for e in at.error)
    assert not at.exception
    auditor = _app("Ana", "auditor")
    auditor.switch_page("views/model.py").run()
    assert any("takes the admin role" in c.value for c in auditor.caption)
    assert not [b for b in auditor.button if b.key == "load_model"]


def Upload(name, data):  # noqa: N802 - reads like the class it builds
    """What st.file_uploader hands the page: Streamlit's own UploadedFile."""
    from streamlit.proto.Common_pb2 import FileURLs
    from streamlit.runtime.uploaded_file_manager import UploadedFile, UploadedFileRec
    return UploadedFile(UploadedFileRec("id", name, "video/mp4", data), FileURLs())


def test_bad_uploads_are_refused_with_the_engine_message(app_env, monkeypatch):
    from crnnaudit import VideoError, open_clip
    from crnnaudit.review import uploads
    saved = uploads.save_upload(Upload("clip.mp4", b"this is not a video"), "video", (".mp4",))
    with pytest.raises(VideoError, match="not a video file crnnaudit opens"):
        open_clip(saved)
    with pytest.raises(VideoError, match="clip.exe: a video must be one of"):
        uploads.save_upload(Upload("clip.exe", b"x"), "video", (".mp4",))
    monkeypatch.setenv("CRNNAUDIT_MAX_UPLOAD_MB", "1")
    with pytest.raises(VideoError, match="over the 1 MB upload limit"):
        uploads.save_upload(Upload("big.mp4", b"x" * (2 << 20)), "video", (".mp4",))
    at = _app()  # the app is still up and still works
    assert not at.exception


def test_sessions_are_separate(app_env):
    a, b = _app(), _app()
    a.selectbox(key="sample_choice").select(a.selectbox(key="sample_choice").options[2]).run()
    assert a.session_state["review"].state.clip_path != b.session_state["review"].state.clip_path
    assert np.all([not x.exception for x in (a, b)])


def _figures_on_compare_and_report(at):
    """Faithfulness and sanity on Compare, a report on Report, for the window explained."""
    at.switch_page("views/compare.py").run()
    at.button(key="faith").click().run()
    at.button(key="sanity").click().run()
    at.switch_page("views/report.py").run()
    at.checkbox(key="checks").uncheck()
    at.button[0].click().run()
    assert not at.exception, at.exception
    review = at.session_state["review"].state
    assert review.faithfulness and review.sanity and review.report
    return review


def _no_figures_shown(at):
    """Compare and Report show no figure (and say why) until the new window is explained."""
    at.switch_page("views/compare.py").run()
    assert not at.exception
    assert any("Explain a window" in i.value for i in at.info)
    assert not at.dataframe and not at.success and not at.error
    at.switch_page("views/report.py").run()
    assert any("Explain a window" in i.value for i in at.info)
    assert not at.get("download_button")


def test_no_page_shows_a_figure_of_another_window(app_env):
    at = _explained(_app())
    first = _figures_on_compare_and_report(at)
    at.switch_page("views/review.py").run()
    old = first.held.window.index
    new = old - 1 if old > 0 else old + 1
    at.number_input(key="window_input").set_value(new).run()
    assert at.session_state["review"].state.window == new
    review = at.session_state["review"].state
    assert review.held is None and review.faithfulness is None
    assert review.sanity is None and review.report is None
    _no_figures_shown(at)
    # explained again, the new window's Compare page has no figure until asked for
    at.switch_page("views/review.py").run()
    _explained(at)
    at.switch_page("views/compare.py").run()
    assert not at.exception and len(at.dataframe) == 1, "the agreement table only"
    assert at.session_state["review"].state.faithfulness is None
    assert at.session_state["review"].state.held.window.index == new


def test_a_new_clip_drops_every_figure(app_env):
    at = _explained(_app())
    _figures_on_compare_and_report(at)
    at.switch_page("views/review.py").run()
    options = at.selectbox(key="sample_choice").options
    other = [o for o in options if o != at.selectbox(key="sample_choice").value][0]
    at.selectbox(key="sample_choice").select(other).run()
    review = at.session_state["review"].state
    assert review.clip_path.endswith(other)
    assert (review.held, review.faithfulness, review.sanity, review.report) == (None,) * 4
    _no_figures_shown(at)


def test_an_unexpected_failure_on_a_page_is_a_message_not_a_traceback(app_env, caplog):
    """Anything that is not crnnaudit's own error still ends in a short message; the app
    stays up (the next session works) and the traceback goes to the server log.

    (AppTest resets Streamlit's "pages/ folder" flag before every run, so its reruns run the
    page alone, without app.py around it; the server runs app.py on every run. Hence a first
    run here, which goes through app.py as the server does.)"""
    from crnnaudit.ui import review_view

    def broken(review):
        raise RuntimeError("a bug, not the user's fault")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(review_view, "clip_picker", broken)
        at = signed_in(AppTest.from_file(APP, default_timeout=TIMEOUT))
        at.run()
        assert not at.exception, at.exception
        assert any("did not expect (RuntimeError)" in e.value for e in at.error), [e.value for e in at.error]
        assert "a bug, not the user's fault" in caplog.text
    at = _app()
    assert not at.error


def test_nothing_shows_before_sign_in_and_the_first_start_asks_for_an_admin(app_env, monkeypatch, tmp_path):
    from crnnaudit.evidence.keys import load_signing_key
    key = tmp_path / "fresh-install" / "signing.pem"  # a new installation: no signing key yet
    monkeypatch.setenv("CRNNAUDIT_SIGNING_KEY_FILE", str(key))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception and not key.exists(), "showing the form makes no key"
    assert any("no signing key yet" in i.value and str(key) in i.value for i in at.info)
    assert [f.key for f in at.text_input] == ["first_user", "first_password", "first_again"]
    assert not at.selectbox and not at.get("plotly_chart")  # no clip, no model, no figure
    at.text_input(key="first_user").input("Root")
    at.text_input(key="first_password").input("a long admin password")
    at.text_input(key="first_again").input("a long admin password")
    at.button[0].click().run()
    assert not at.exception and _who(at).role == "admin"
    assert "Review" in [t.value for t in at.title]
    assert oct(key.stat().st_mode & 0o777) == "0o600", "the admin's explicit act made the key"
    assert AuditLog().verify().ok and AuditLog().verify().signers == [load_signing_key().fingerprint]
    assert at.button(key="sign_out")  # (AppTest reruns a page without app.py: the browser test clicks it)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()  # another session: an account exists now
    assert [f.key for f in at.text_input] == ["signin_user", "signin_password"]
    at.text_input(key="signin_user").input("Root")
    at.text_input(key="signin_password").input("wrong password!")
    at.button[0].click().run()
    assert any("sign-in refused" in e.value for e in at.error) and "session_token" not in at.session_state
    at.text_input(key="signin_password").input("a long admin password")
    at.button[0].click().run()
    assert _who(at).username == "Root" and "Review" in [t.value for t in at.title]


def test_a_session_expires_and_a_disabled_account_is_out_at_once(app_env, monkeypatch):
    from crnnaudit.evidence.accounts import Accounts
    at = _app("Ana", "auditor")
    Accounts().disable("Ana")
    at.run()
    assert any("disabled" in i.value for i in at.info) and "session_token" not in at.session_state
    monkeypatch.setenv("CRNNAUDIT_SESSION_MINUTES", "0")
    at = signed_in(AppTest.from_file(APP, default_timeout=TIMEOUT), "Bo", "auditor")
    at.run()
    assert any("expired" in i.value for i in at.info)


def _who(at):
    """The identity behind the browser session's token, as every page reads it."""
    from crnnaudit.ui import web
    return web.stores()[1].identity(at.session_state["session_token"])


def _refusals():
    """Every (role, page) the navigation table forbids: below the role the page's permission needs."""
    from crnnaudit.evidence.accounts import PERMISSIONS, ROLES
    from crnnaudit.ui.navigation import PAGES
    return [(role, spec) for spec in PAGES for role in ROLES
            if ROLES.index(role) < ROLES.index(PERMISSIONS[spec.permission])]


def test_the_navigation_table_names_every_page_and_each_page_guards_itself_by_it():
    from crnnaudit.ui.navigation import PAGES
    assert sorted(p.path for p in PAGES) == sorted(f"views/{f.name}" for f in (ROOT / "views").glob("*.py"))
    for spec in PAGES:
        assert f'auth.require_page("{spec.id}")' in (ROOT / spec.path).read_text(encoding="utf-8"), spec.path
    # by hand: a viewer is refused the 9 pages beyond the audit log, an auditor the Countersign and
    # Accounts pages, an approver the Accounts page
    assert sorted((r, s.id) for r, s in _refusals() if r == "auditor") == [("auditor", "accounts"),
                                                                           ("auditor", "countersign")]
    assert [s.id for r, s in _refusals() if r == "approver"] == ["accounts"]
    assert len(_refusals()) == 12


@pytest.mark.parametrize("role,spec", _refusals(), ids=lambda x: getattr(x, "id", x))
def test_each_role_is_refused_every_page_it_may_not_use(app_env, role, spec):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    signed_in(at, f"someone {role}", role)
    at.switch_page(spec.path).run()
    assert not at.exception
    assert any(f"may not {spec.what}" in e.value and f"({role})" in e.value for e in at.error), \
        [e.value for e in at.error]
    assert not at.get("plotly_chart") and not at.get("imgs") and not at.get("image") and not at.selectbox


def test_four_eyes_in_the_app(app_env):
    at = _explained(_app("Ana", "auditor"))
    at.switch_page("views/report.py").run()
    at.checkbox(key="checks").uncheck()
    at.button[0].click().run()
    assert any("logged as audit row" in s.value for s in at.success)
    report_id = at.session_state["review"].state.report["report_id"]
    from crnnaudit.evidence.accounts import Accounts
    approver = AppTest.from_file(APP, default_timeout=TIMEOUT)
    Accounts().set_role("Ana", "approver")
    signed_in(approver, "Ana", "approver").switch_page("views/countersign.py").run()
    assert approver.button(key=f"cs_{report_id}").disabled  # the author cannot countersign
    other = signed_in(AppTest.from_file(APP, default_timeout=TIMEOUT), "Pat", "approver")
    other.switch_page("views/countersign.py").run()
    other.button(key=f"cs_{report_id}").click().run()
    assert not other.exception and any("is final" in s.value for s in other.success)
    rows = AuditLog().rows()
    assert [r["kind"] for r in rows if r["kind"] in ("review", "countersign")] == ["review", "countersign"]
    assert '"second_reviewer":"Pat"' in rows[-1]["payload"] and '"reviewer":"Ana"' in rows[-1]["payload"]


def _report_by(user: str) -> str:
    """A report drafted and built in the app by ``user`` (an auditor); its id."""
    at = _explained(_app(user, "auditor"))
    at.switch_page("views/report.py").run()
    at.checkbox(key="checks").uncheck()
    at.text_area(key="reason").input("A crowd surge near the doors.")
    at.button[0].click().run()
    assert not at.exception and any("logged as audit row" in s.value for s in at.success)
    return at.session_state["review"].state.report["report_id"]


def test_the_second_reviewer_sees_everything_and_can_return_or_reject(app_env, monkeypatch):
    """The Countersign page shows the author's reasons, the model's reading, every key frame
    with its maps and verdicts, the counterfactual, who to write to and the full report; a
    return needs a comment and reaches the author's Queue; a reject needs reasons; while the
    contact is unset the page says what to set and nothing can be countersigned."""
    first, second = _report_by("Ana"), _report_by("Ana")
    pat = signed_in(AppTest.from_file(APP, default_timeout=TIMEOUT), "Pat", "approver")
    pat.switch_page("views/countersign.py").run()
    assert not pat.exception, pat.exception
    shown = re.sub(r"\\(.)", r"\1", " ".join(m.value for m in pat.markdown))  # the Markdown source, unescaped
    assert "A crowd surge near the doors." in shown and "The model said" in shown
    assert "Without frame" in shown or "Removing any set of up to" in shown, "the counterfactual the reasons may cite"
    assert "contact Example Transit Ltd, dpo@example.org" in shown.replace("\\", "")
    captions = [c for im in pat.get("image") for c in im.captions]
    assert sum("random deletion (p = " in c or "points nowhere" in c for c in captions) >= 3, \
        "the key frames, each map with its verdict"
    assert {b.label for b in pat.get("download_button")} >= {"Full report (HTML)", "Full report (PDF)"}
    pat.button(key=f"ret_{first}").click().run()  # no comment: refused, nothing logged
    assert any("say why" in e.value for e in pat.error) and len(pending_ids()) == 2
    pat.text_area(key=f"why_{first}").input("Look at frame 12 again: the man is holding a phone.")
    pat.button(key=f"ret_{first}").click().run()
    assert not pat.exception and any("goes back to Ana's Queue" in s.value for s in pat.success)
    pat.text_area(key=f"why_{second}").input("The footage shows no crowd.")
    pat.button(key=f"rej_{second}").click().run()
    assert any("does not stand" in s.value for s in pat.success) and pending_ids() == []
    kinds = [r["kind"] for r in AuditLog().rows()]
    assert kinds.count("return") == 1 and kinds.count("reject") == 1
    ana = _app("Ana", "auditor")
    ana.switch_page("views/queue.py").run()
    back = [re.sub(r"\\(.)", r"\1", w.value) for w in ana.warning]
    assert any("Look at frame 12 again" in w and first in w for w in back), back
    third = _report_by("Ana")
    monkeypatch.delenv("CRNNAUDIT_CONTEST_CONTACT")
    pat.switch_page("views/countersign.py").run()
    assert any("CRNNAUDIT_CONTEST_CONTACT" in w.value for w in pat.warning)
    assert pat.button(key=f"cs_{third}").disabled and pending_ids() == [third]


def pending_ids() -> list[str]:
    from crnnaudit.report.countersign import pending
    return [p["report_id"] for p in pending()]


def test_the_app_erases_uploads_past_the_retention_period(app_env):
    import os
    import time
    from crnnaudit.config import home
    uploads = home() / "uploads"
    uploads.mkdir(parents=True, exist_ok=True)
    old = uploads / "old-0123456789abcdef.mp4"
    old.write_bytes(b"an old upload")
    month_ago = time.time() - 31 * 86400
    os.utime(old, (month_ago, month_ago))
    _app()
    assert not old.exists()
    assert [r["kind"] for r in AuditLog().rows()][-1] == "erasure"


def test_the_methods_box_cannot_be_emptied(app_env):
    """Removing the last method is refused and the box shows the review's methods again: the
    review keeps at least one (Streamlit's multiselect, freshly drawn on a slow server, once sent
    an empty list while another widget changed; the Explain that followed then had nothing to do)."""
    at = _app()
    review = at.session_state["review"]
    before = review.state.methods
    assert before and list(at.multiselect(key="methods").value) == list(before)
    at.multiselect(key="methods").set_value([]).run()
    assert not at.exception, at.exception
    assert review.state.methods == before
    assert any("at least one method stays chosen" in e.value for e in at.error)
    assert list(at.multiselect(key="methods").value) == list(before)
    at.multiselect(key="methods").set_value(["gradcam"]).run()
    assert review.state.methods == ("gradcam",) and not at.error


def test_an_explanation_asked_for_outlives_a_run_cut_short(app_env):
    """A run cut short while it waits in the server's queue leaves the request in the session:
    the next run makes it (no second click); a request for a window no longer on screen, or
    one cancelled, is dropped, and the page says so."""
    from crnnaudit.ui.review_view import EXPLAIN_ASKED
    at = _app()
    review = at.session_state["review"]
    assert review.state.held is None
    at.session_state[EXPLAIN_ASKED] = (review.state.clip_path, review.state.window + 1)  # not the window on screen
    at.run()
    assert review.state.held is None and EXPLAIN_ASKED not in at.session_state
    assert [i.value for i in at.info if "not done" in i.value] == [
        "Explain this window: not done. It was asked on an earlier screen than the one shown now (another clip, "
        "window or explanation); ask again for this one."]
    at.session_state[EXPLAIN_ASKED] = (review.state.clip_path, review.state.window)
    at.session_state["explain_work_cancelled"] = True  # Cancel was pressed while it waited
    at.run()
    assert review.state.held is None and EXPLAIN_ASKED not in at.session_state
    assert any("cancelled; nothing was kept" in i.value for i in at.info)
    at.session_state[EXPLAIN_ASKED] = (review.state.clip_path, review.state.window)  # as a run cut short leaves it
    at.run()
    assert not at.exception, at.exception
    assert review.state.held is not None and review.state.held.window.index == review.state.window
    assert EXPLAIN_ASKED not in at.session_state, "made once, then forgotten"
