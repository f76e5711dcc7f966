"""The review service: one state under every page and command, changed only by transitions that
validate their input, checked after each one.

Hand-written cases first (each a path the app once got wrong), then random walks: Hypothesis
draws 200 sequences of 15 to 30 transitions (seeded: the same sequences on every run) and checks
after each that the review shows no contradiction and that a failed transition changed nothing.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import architectures as arch
from crnnaudit import Cancelled, CrnnauditError, ModelCard
from crnnaudit.errors import ReviewError
from crnnaudit.review import ReviewSession, World, violations
from crnnaudit.vocabulary import DECISIONS

CLASSES = ["normal", "fight", "fire", "shooting"]


@dataclass(frozen=True)
class Who:
    """An identity as sign-in gives it."""

    username: str
    role: str = "admin"

    def may(self, permission: str) -> bool:
        return True

    def require(self, permission: str, what: str | None = None) -> None:
        if self.role == "viewer":
            from crnnaudit.errors import AccessError
            raise AccessError(f"{self.username} may not {what}")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A tiny model and three short clips: every transition runs in milliseconds."""
    from crnnaudit.demo import synthesize
    folder = tmp_path_factory.mktemp("review")
    model = folder / "tiny.keras"
    arch.td_cnn_gru_softmax(t=8, s=32, classes=4).save(model)
    ModelCard(name="tiny", classes=CLASSES, stride=4).write(folder / "tiny.card.json")
    samples = folder / "samples"
    synthesize(samples, count=3, seed=3, frames=24)
    return World(default_model=str(model), samples=samples)


@pytest.fixture
def review(world):
    session = ReviewSession(world, Who("ana"))
    session.settle()
    return session


def _video_bytes(world) -> bytes:
    return world.samples()[1].read_bytes()


def test_a_review_opens_on_the_first_sample_at_its_most_anomalous_window(review, world):
    s = review.state
    assert s.clip_path == str(world.samples()[0]) and s.window == review.timeline().top_window()
    screen = review.screen()
    assert screen.window == s.window and screen.clip_name == world.samples()[0].name
    assert screen.first_frame == int(review.timeline().table.loc[s.window, "first_frame"])


def test_the_explanation_is_of_the_announced_window_and_goes_when_the_window_does(review):
    review.select_window(0)
    review.explain()
    assert review.screen().explained_window == 0 == review.screen().window
    assert review.state.overlay in review.state.held.expset.spatial()
    assert review.screen().verdict is review.state.held.verdicts[review.state.overlay]
    review.select_window(1)
    assert review.state.held is None and review.screen().explained_window is None


def test_a_new_sign_in_and_a_reload_start_afresh_everywhere_at_once(review, world):
    review.select_sample(world.samples()[2].name)
    review.settle()
    review.select_window(0)
    review.explain()
    review.sign_out()
    assert violations(review.state, review) == [] and review.state.clip_path is None
    review.sign_in(Who("ben"))
    review.settle()
    assert review.state.account == "ben" and review.state.held is None
    assert review.state.clip_path == str(world.samples()[0]) and review.state.window == review.timeline().top_window()
    review.select_window(0)
    review.reload()
    review.settle()
    assert review.state.window == review.timeline().top_window() and review.state.held is None


def test_the_checks_read_the_model_and_clip_of_the_state_they_check(review, world):
    """A transition that kept an explanation while changing the clip would show one clip's maps
    under another's name. The checks must see the new state's clip, not the one on screen
    before (they did: then nothing caught it). The same for a registry pin's time on a model
    that is a plain file."""
    review.explain()
    before = review.state
    other = str(world.samples()[1])
    with pytest.raises(ReviewError, match="the explanation is of another clip"):
        review._commit(before.but(clip_path=other, clip_name=world.samples()[1].name))
    with pytest.raises(ReviewError, match="a registry pin's time for a model that is no registry version"):
        review._commit(before.but(model_pinned_at="2026-12-08T01:00:00+00:00"))
    assert review.state == before and review.clip().path == Path(before.clip_path), "nothing changed"


def test_the_overlay_follows_the_maps_and_refuses_one_that_is_not_there(review):
    review.choose_methods(["gradcam", "saliency", "frame_occlusion"])
    review.explain()
    review.choose_overlay("saliency")
    screen = review.screen()
    assert screen.overlay == "saliency" and screen.verdict is review.state.held.verdicts["saliency"]
    assert "Saliency" in screen.verdict["verdict"], "the verdict under the map is the map's own"
    with pytest.raises(ReviewError, match="'frame_occlusion' has no map on screen"):
        review.choose_overlay("frame_occlusion")
    assert review.state.overlay == "saliency"
    review.choose_methods(["gradcam", "frame_occlusion"])  # saliency gone: the overlay moves with it
    assert review.state.held is None and review.state.overlay == "gradcam"


def test_bad_input_changes_nothing(review):
    before = review.state
    for call in (lambda: review.select_window(99), lambda: review.select_window(-1),
                 lambda: review.jump_to_frame(8), lambda: review.choose_target("dragon"),
                 lambda: review.choose_methods(["no_such_method"]), lambda: review.choose_methods([]),
                 lambda: review.select_sample("x.mp4"),
                 lambda: review.draft(decision="shrug"), lambda: review.set_style(cmap="rainbow")):
        with pytest.raises(ReviewError):
            call()
        assert review.state is before


def test_a_cancelled_explanation_leaves_the_review_as_it_was(review):
    before = review.state
    with pytest.raises(Cancelled):
        review.explain(cancel=lambda: True)
    assert review.state is before


def test_an_upload_opens_under_its_own_name_and_a_refused_one_leaves_no_clip(review, world, tmp_path):
    good = io.BytesIO(_video_bytes(world))
    good.name = "lobby camera.mp4"
    review.upload_clip(good, "lobby camera.mp4")
    review.settle()
    assert review.screen().clip_name == "lobby camera.mp4" and review.state.window == review.timeline().top_window()
    bad = io.BytesIO(b"not a video at all" * 100)
    bad.name = "notes.mp4"
    review.upload_clip(bad, "notes.mp4")
    assert review.state.clip_path is None and review.state.refused.startswith("notes.mp4:")
    assert "/uploads/" not in review.state.refused
    assert not list((Path(review.world.uploads())).glob("notes-*"))


def test_a_run_names_the_window_to_open_on(review, world):
    review.open_clip(str(world.samples()[1]), window=1)
    review.settle()
    assert review.state.window == 1
    review.open_clip(str(world.samples()[1]), window=99)  # not a window of this clip: its top window
    review.settle()
    assert review.state.window == review.timeline().top_window()


# --- random walks ------------------------------------------------------------------------
METHODS = ["gradcam", "saliency", "frame_occlusion", "temporal_ig", "prefix_score", "no_such_method"]
ARGUMENTS = {
    "select_sample": st.sampled_from([0, 1, 2, "nope.mp4"]),
    "select_window": st.integers(-1, 5),
    "step_frame": st.integers(-3, 3),
    "jump_to_frame": st.integers(-1, 8),
    "choose_methods": st.lists(st.sampled_from(METHODS), max_size=3),
    "choose_target": st.sampled_from([None, *CLASSES, "dragon"]),
    "choose_overlay": st.sampled_from(["gradcam", "saliency", "frame_occlusion"]),
    "set_style": st.sampled_from([("cmap", "viridis"), ("view", "contour"), ("alpha", 0.3), ("scaling", "window"),
                                  ("cmap", "rainbow")]),
    "explain": st.sampled_from([False, False, False, True]),  # one in four cancelled
    "draft": st.sampled_from([*DECISIONS, "shrug"]),
    "upload": st.booleans(),
    "open_run_clip": st.integers(-1, 5),
    "sign_out": st.none(), "sign_in": st.sampled_from(["ana", "ben"]), "reload": st.none(),
}
# What an auditor does most (explain, move between windows and frames) is drawn most often.
WEIGHTS = {"explain": 5, "select_window": 4, "step_frame": 3, "jump_to_frame": 2, "choose_overlay": 3,
           "choose_methods": 2, "choose_target": 2, "select_sample": 2, "draft": 2, "set_style": 1, "upload": 1,
           "open_run_clip": 1, "sign_out": 1, "sign_in": 1, "reload": 1}
KINDS = [k for k, w in WEIGHTS.items() for _ in range(w)]
ACTIONS = st.sampled_from(KINDS).flatmap(lambda k: st.tuples(st.just(k), ARGUMENTS[k]))


def _apply(review: ReviewSession, world: World, action: tuple) -> None:
    verb, arg = action
    samples = world.samples()
    if verb == "select_sample":
        review.select_sample(samples[arg].name if isinstance(arg, int) else arg)
    elif verb == "set_style":
        review.set_style(**{arg[0]: arg[1]})
    elif verb == "explain":
        review.explain(cancel=(lambda: True) if arg else None)
    elif verb == "draft":
        review.draft(decision=arg, reason="because")
    elif verb == "upload":
        f = io.BytesIO(_video_bytes(world) if arg else b"\x00garbage" * 64)
        f.name = "camera 7.mp4" if arg else "broken.mp4"
        review.upload_clip(f, f.name)
    elif verb == "open_run_clip":
        review.open_clip(str(samples[2]), window=arg)
    elif verb == "sign_in":
        review.sign_in(Who(arg))
    elif verb in ("sign_out", "reload"):
        getattr(review, verb)()
    else:
        getattr(review, verb)(arg)


OPENING = {"select_sample", "upload", "sign_in", "reload"}


@settings(max_examples=200, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(walk=st.lists(ACTIONS, min_size=15, max_size=30))
def test_random_walks_never_show_a_contradiction(world, walk):
    """Any sequence of transitions: after each, as a page draws it (settle, then the screen),
    the invariants hold; a transition that raised changed nothing; a new clip, a sign-in and a
    reload open on the most anomalous window."""
    review = ReviewSession(world, Who("ana"))
    for action in walk:
        before = review.state
        try:
            _apply(review, world, action)
        except (CrnnauditError, ValueError) as e:
            assert review.state is before, f"{action} failed ({e}) but changed the review"
        opened = review.state is not before and review.state.window is None and review.state.opening is None
        review.settle()
        assert violations(review.state, review) == [], (action, violations(review.state, review))
        screen = review.screen()
        s = review.state
        if s.account is None:
            assert screen.window is None and screen.clip_name is None
            continue
        assert screen.window == s.window
        if opened and action[0] in OPENING and s.clip_path is not None:
            assert s.window == review.timeline().top_window(), action
        if s.held is not None:
            assert screen.explained_window == screen.window
            assert screen.frame_number == int(s.held.window.indices[s.frame])
            assert (screen.overlay is None) == (not s.held.expset.spatial())
            if screen.overlay:
                assert screen.verdict is s.held.verdicts[screen.overlay]


def test_two_sessions_asking_for_one_timeline_score_it_once_and_the_second_is_told_it_waits(world):
    import threading
    world = World(default_model=world.default_model_path(), samples=world.samples()[0].parent)  # nothing cached
    model = world.model(world.default_model_path())
    clip = model.sampled(world.clip(str(world.samples()[0])))
    calls, said, started, go_on = [], [], threading.Event(), threading.Event()
    real = model.score

    def slow_score(*args, **kwargs):
        calls.append(1)
        started.set()
        go_on.wait(30)
        return real(*args, **kwargs)
    model.score = slow_score
    try:
        first = {}
        t = threading.Thread(target=lambda: first.setdefault("timeline", world.timeline(model, clip)))
        t.start()
        assert started.wait(30)
        second = {}
        u = threading.Thread(target=lambda: second.setdefault(
            "timeline", world.timeline(model, clip, progress=lambda done, total, what=None: said.append(what))))
        u.start()
        for _ in range(300):  # the second session is told before it waits
            if said:
                break
            threading.Event().wait(0.01)
        go_on.set()
        t.join(60)
        u.join(60)
    finally:
        del model.score
    assert len(calls) == 1 and second["timeline"] is first["timeline"]
    assert said and "another session is scoring this clip" in said[0]
