"""A long recording on the Review page (issue 34): the chart summarises past TIMELINE_POINTS
windows and zooms to every window, and the page jumps to the highest peaks."""

import pytest
from streamlit.testing.v1 import AppTest

import architectures as arch
from crnnaudit import ModelCard, render
from tests.app.test_pages import APP, TIMEOUT, signed_in


@pytest.fixture(scope="module")
def long_clip_env(tmp_path_factory):
    """A 1,700-frame clip and a model that reads every window (stride 1): 1,693 windows."""
    from crnnaudit.demo import synthesize
    folder = tmp_path_factory.mktemp("long")
    (folder / "samples").mkdir()
    synthesize(folder / "samples", count=1, seed=5, size=(90, 120), frames=1700, labels=["fight"])
    path = folder / "stride1.keras"
    arch.td_cnn_gru_softmax(t=8, s=32, classes=4).save(path)
    ModelCard(name="stride1", classes=["normal", "fight", "fire", "shooting"], stride=1).write(
        folder / "stride1.card.json")
    return folder


def test_a_long_timeline_summarises_zooms_and_jumps_to_its_peaks(app_env, long_clip_env, monkeypatch, tmp_path):
    monkeypatch.setenv("CRNNAUDIT_MODEL", str(long_clip_env / "stride1.keras"))
    monkeypatch.setenv("CRNNAUDIT_SAMPLES", str(long_clip_env / "samples"))
    at = signed_in(AppTest.from_file(APP, default_timeout=TIMEOUT * 3))
    at.run()
    assert not at.exception, at.exception
    review = at.session_state["review"]
    table = review.timeline().table
    assert len(table) == 1693 > render.TIMELINE_POINTS
    assert any("each point is the highest score of a group" in c.value for c in at.caption)
    peaks = at.selectbox(key="timeline_peak")
    assert peaks.options and len(peaks.options) == 10
    expected = render.top_windows(table, 10)
    assert [o.split(":")[0] for o in peaks.options] == [f"window {w} at {table.loc[w, 'start_s']:.1f} s"
                                                        for w in expected]
    peaks.set_value(expected[3]).run()
    assert not at.exception, at.exception
    assert review.state.window == expected[3], "the page shows the peak chosen"
    assert at.selectbox(key="timeline_peak").value is None, "the menu shows no choice the review could leave"
    at.number_input(key="window_input").set_value(expected[0]).run()
    at.selectbox(key="timeline_peak").set_value(expected[3]).run()
    assert review.state.window == expected[3], "the same peak can be chosen again"
    at.slider(key="timeline_zoom").set_value((10.0, 30.0)).run()
    assert not at.exception, at.exception
    assert not any("each point is the highest score" in c.value for c in at.caption), "zoomed: every window drawn"
    assert review.state.window == expected[3], "zooming changes the view, not the window under review"


class _Stop(Exception):
    pass


def test_scoring_cancelled_waits_for_resume_and_resumes_from_the_windows_kept(app_env, long_clip_env, monkeypatch):
    monkeypatch.setenv("CRNNAUDIT_MODEL", str(long_clip_env / "stride1.keras"))
    monkeypatch.setenv("CRNNAUDIT_SAMPLES", str(long_clip_env / "samples"))
    at = signed_in(AppTest.from_file(APP, default_timeout=TIMEOUT * 3))
    at.session_state["score_work_cancelled"] = True  # what the Cancel button beside the progress bar sets
    at.run()
    assert not at.exception, at.exception
    review = at.session_state["review"]
    assert review.state.window is None and any("was cancelled" in i.value for i in at.info)
    at.run()  # a rerun does not start scoring again by itself
    assert review.state.window is None and [b for b in at.button if b.key == "score_resume"]
    # the scoring that was cut off had finished 300 windows: the server kept them
    model, clip = review.model(), review.clip()

    def stop_after_300(done, total):
        if done >= 300:
            raise _Stop
    with pytest.raises(_Stop):
        model.score(clip, progress=stop_after_300, checkpoint=review.world.checkpoint_path(model, clip))
    at.button(key="score_resume").click().run()
    assert not at.exception, at.exception
    timeline = review.timeline()
    assert review.state.window is not None and len(timeline.table) == 1693
    assert 300 <= timeline.resumed_windows < 1693
    assert any(f"{timeline.resumed_windows:,} of 1,693 windows were scored before" in c.value for c in at.caption)
    assert not review.world.checkpoint_path(model, clip).exists(), "a finished timeline leaves no checkpoint"
