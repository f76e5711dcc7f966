"""One auditor's review: the state, the transitions that change it, and what the screen shows.

Every change is a transition: it validates its input, makes a new :class:`~.state.ReviewState`,
checks the invariants (:func:`~.invariants.violations`) and only then replaces the old state. A
transition that fails (a bad value, a cancelled computation) leaves the review as it was. The
Streamlit pages and the command line hold one :class:`ReviewSession` each and keep no value of
their own: widgets show :meth:`ReviewSession.screen` and send transitions.

The opening rule (one, for every way a review starts): a sign-in, a reload and a new tab start a
fresh review on the first sample clip; a new clip (a sample, an upload, a clip opened from a
dataset run) opens on its most anomalous window, everywhere at once.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import replace
from typing import Callable

from ..errors import ReviewError
from .invariants import Screen, check, screen_of
from .state import Draft, Held, ReviewState
from .work import Steps
from .world import World


class ReviewSession:
    """A review under one identity, over a :class:`~.world.World`.

    Args:
        world: where models, clips, timelines and explanations come from.
        identity: the signed-in account (``None``: nobody yet; :meth:`sign_in` starts the review).
        check_invariants: check the invariants after every transition, on the state's own model
            and clip (on in the app and the tests).
    """

    def __init__(self, world: World, identity=None, check_invariants: bool = True):
        self.world, self.checking = world, check_invariants
        self._state = ReviewState()
        self._identity = None
        if identity is not None:
            self.sign_in(identity)

    # --- reading -----------------------------------------------------------------------
    @property
    def state(self) -> ReviewState:
        return self._state

    @property
    def identity(self):
        return self._identity

    def model(self):
        """The model under review (``None`` when signed out)."""
        s = self._state
        if s.account is None:
            return None
        return self.world.model(s.model_path or self.world.default_model_path(), s.card_path)

    def clip(self):
        """The clip under review as the model sees it (sampled to its card's ``frame_rate``)."""
        s = self._state
        if s.clip_path is None:
            return None
        clip, model = self.world.clip(s.clip_path), self.model()
        return clip if model is None else model.sampled(clip)

    def timeline(self, progress: Callable | None = None):
        """The clip's timeline under the model (scored once per content)."""
        clip = self.clip()
        return None if clip is None else self.world.timeline(self.model(), clip, progress)

    def window(self):
        """The window on screen as a :class:`~crnnaudit.footage.Window` (frames at the model's size)."""
        s = self._state
        if s.window is None:
            return None
        if s.held is not None and s.held.window.index == s.window:
            return s.held.window
        model = self.model()
        return self.clip().window(s.window, model.window_length, model.card.stride, model.frame_size)

    def reading(self):
        """The model's reading of the window on screen (the timeline's row: the one function
        :func:`crnnaudit.model.reading.read` made it)."""
        s = self._state
        return None if s.window is None else self.timeline().reading(s.window)

    def screen(self) -> Screen:
        """What every page shows, derived from the state alone."""
        return screen_of(self._state, self)

    # --- sign-in, and how a review starts ---------------------------------------------------
    def sign_in(self, identity) -> ReviewState:
        """A fresh review for ``identity`` on the first sample clip (its window: :meth:`settle`)."""
        samples = self.world.samples()
        self._identity = identity
        model_path, pinned_at = self.world.pinned_default()
        fresh = ReviewState(account=identity.username, role=identity.role, model_path=model_path,
                            model_pinned_at=pinned_at, clip_path=str(samples[0]) if samples else None,
                            clip_name=samples[0].name if samples else None)
        return self._commit(fresh.but(methods=self._default_methods(fresh), version=self._state.version))

    def reload(self) -> ReviewState:
        """The tab was reloaded (a new browser session): the review starts afresh."""
        if self._identity is None:
            return self.sign_out()
        return self.sign_in(self._identity)

    def sign_out(self) -> ReviewState:
        """Nothing of this review stays."""
        self._identity = None
        return self._commit(ReviewState(version=self._state.version))

    def refresh_identity(self, identity) -> ReviewState:
        """The account as it is now (its role is re-read on every page); ``None``: it was disabled
        or its session ended, and the review ends."""
        if identity is None or self._identity is None or identity.username != self._identity.username:
            return self.sign_out()
        self._identity = identity
        return self._commit(self._state.but(role=identity.role))

    # --- the clip and the window -------------------------------------------------------------
    def select_sample(self, name: str) -> ReviewState:
        """A sample clip, by its file name."""
        by_name = {p.name: p for p in self.world.samples()}
        if name not in by_name:
            raise ReviewError(f"{name!r} is not one of the sample clips ({', '.join(by_name) or 'none'})")
        return self.open_clip(str(by_name[name]))

    def open_clip(self, path: str, shown_name: str | None = None, window: int | None = None) -> ReviewState:
        """A clip from the samples, the uploads or a dataset run (``shown_name``: the user's own
        name for it). It opens on its most anomalous window, or on ``window`` when a dataset run
        names the one to review (:meth:`settle` checks it against the clip's timeline). A file
        that is not a video crnnaudit may open raises VideoError, and the review is unchanged."""
        self._require_signed_in()
        clip = self.world.clip(path)  # probe now: a bad file fails here, before anything changes
        s = self._state.without_window().but(clip_path=str(path), clip_name=shown_name or clip.name, refused=None,
                                             opening=window)
        return self._commit(s)

    def upload_clip(self, fileobj, name: str) -> ReviewState:
        """A clip the user uploads (a file-like object with ``read`` and ``seek``), stored under a
        name of our making and opened under the user's own ``name``; a file that is not a video
        crnnaudit may open is deleted and refused in the user's terms (no clip on screen; why)."""
        from ..errors import CrnnauditError
        from ..vocabulary import VIDEO_SUFFIXES
        from .uploads import as_the_user_sees, save_upload
        self._require("review", "upload clips")
        saved = None
        try:
            saved = save_upload(fileobj, "video", VIDEO_SUFFIXES)
            return self.open_clip(str(saved), shown_name=str(name))
        except CrnnauditError as e:
            if saved is not None and str(saved) != self._state.clip_path:
                saved.unlink(missing_ok=True)  # the refused file does not stay in uploads/
            return self.refuse_upload(as_the_user_sees(str(e), saved, str(name)))

    def refuse_upload(self, message: str) -> ReviewState:
        """An upload was refused: no clip stays on screen under the new name."""
        self._require_signed_in()
        return self._commit(self._state.without_window().but(clip_path=None, clip_name=None, refused=message))

    def settle(self, progress: Callable | None = None) -> ReviewState:
        """A clip without a window gets one: the one a dataset run named, else its most
        anomalous window (scoring the clip first, with ``progress``)."""
        s = self._state
        if s.account is None or s.clip_path is None or s.window is not None:
            return s
        timeline = self.timeline(progress)
        wanted = s.opening
        k = wanted if wanted is not None and 0 <= wanted < len(timeline.table) else timeline.top_window()
        return self._commit(s.but(window=int(k), opening=None, shown_at=time.time(), frame=0))

    def select_window(self, k: int) -> ReviewState:
        """The window on screen (the number box, a click on the timeline)."""
        s = self._state
        n = self._window_count()
        if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k < n:
            raise ReviewError(f"window {k!r} is not a window of {s.clip_name} (0 to {n - 1})")
        if k == s.window:
            return s
        return self._commit(s.without_window().but(window=k, shown_at=time.time()))

    def step_frame(self, step: int) -> ReviewState:
        """Previous / next frame, kept inside the window."""
        T = self._frames_in_window()
        return self._commit(self._state.but(frame=max(0, min(T - 1, self._state.frame + int(step)))))

    def jump_to_frame(self, position: int) -> ReviewState:
        """A frame of the window, by its position (the slider, "scrub here")."""
        T = self._frames_in_window()
        if isinstance(position, bool) or not isinstance(position, int) or not 0 <= position < T:
            raise ReviewError(f"frame position {position!r} is not in the window (0 to {T - 1})")
        return self._commit(self._state.but(frame=position))

    # --- what is explained, and how it is drawn --------------------------------------------
    def choose_methods(self, methods) -> ReviewState:
        """The methods the next explanation computes (one at least, if any); others' explanation goes."""
        from ..explainers.base import available_methods
        self._require_signed_in()
        methods = tuple(dict.fromkeys(methods))
        allowed = available_methods(self.model())
        unknown = [m for m in methods if m not in allowed]
        if unknown:
            raise ReviewError(f"methods {unknown} cannot explain this model; it takes {allowed}")
        if not methods and allowed:  # (Streamlit's multiselect, freshly drawn, once sent an empty list unasked)
            raise ReviewError("at least one method stays chosen: add another before removing the last one")
        s = self._state
        if methods == s.methods:
            return s
        new = s.but(methods=methods)
        new = new.without_explanation() if s.held is not None else new
        return self._commit(new.but(overlay=new.overlay_for(s.overlay)))

    def choose_target(self, target: str | None) -> ReviewState:
        """The class to explain (``None``: the predicted class, or the anomaly score)."""
        self._require_signed_in()
        classes = self.model().card.classes
        if target is not None and target not in classes:
            raise ReviewError(f"class {target!r} is not one of the model's classes ({', '.join(classes)})")
        s = self._state
        if target == s.target:
            return s
        return self._commit(s.but(target=target).without_explanation() if s.held else s.but(target=target))

    def choose_overlay(self, method: str) -> ReviewState:
        """The method drawn on the map (its caption and its verdict follow)."""
        self._require_signed_in()
        s = self._state
        offered = s.maps_offered()
        if method not in offered:
            raise ReviewError(f"{method!r} has no map on screen; the maps are {offered or 'none'}")
        return self._commit(s.but(overlay=method))

    def set_style(self, **changes) -> ReviewState:
        """How maps are drawn (colours, opacity, scaling, view); the report records it."""
        from ..render.maps import MapStyle
        self._require_signed_in()
        try:
            style = MapStyle.from_dict(dict(self._state.style.as_dict(), **changes))
        except (ValueError, TypeError) as e:
            raise ReviewError(f"map settings {changes}: {e}") from None
        return self._commit(self._state.but(style=replace(style, width=self._state.style.width)))

    # --- work ---------------------------------------------------------------------------------
    def explain(self, progress: Callable | None = None, cancel=None) -> ReviewState:
        """Explain the window on screen with the chosen methods and class, and measure each
        map's verdict; ``progress(done, total, what)``. Cancelled: the review is unchanged."""
        s = self._require_window()
        self._require("review", "explain windows")
        if not s.methods:
            raise ReviewError("no method chosen: pick at least one method to explain the window")
        model, clip, window = self.model(), self.clip(), self.window()
        steps = Steps(progress, len(s.methods) + 1)
        expset = self.world.explain(model, window, s.methods, s.target,
                                    progress=steps.within("explaining", len(s.methods)), cancel=cancel)
        steps.at(len(s.methods), "measuring each map against random deletion")
        if cancel is not None and (cancel.is_set() if hasattr(cancel, "is_set") else cancel()):
            from ..errors import Cancelled
            raise Cancelled("explaining cancelled by the user")
        verdicts = self.world.verdicts(model, window, expset)
        steps.at(len(s.methods) + 1, "done")
        held = Held(model.sha256, clip.sha256, window, s.methods, s.target, expset, verdicts)
        new = s.without_explanation().but(held=held, frame=min(s.frame, window.length - 1))
        return self._commit(new.but(overlay=new.overlay_for(s.overlay)))

    def hold_figures(self, **figures) -> ReviewState:
        """Trust figures computed for the explanation on screen (``faithfulness``, ``sanity``,
        ``counterfactual``)."""
        s = self._require_held()
        unknown = set(figures) - {"faithfulness", "sanity", "counterfactual"}
        if unknown:
            raise ReviewError(f"unknown figures {sorted(unknown)}")
        if "faithfulness" in figures and figures["faithfulness"] is not None:
            figures["faithfulness"] = tuple(figures["faithfulness"])
        return self._commit(s.but(**figures))

    def draft(self, **fields) -> ReviewState:
        """The decision being drafted (decision, reason, the summary's language, blur, checks)."""
        from ..vocabulary import SUMMARY_LANGUAGES as LANGUAGES
        from ..vocabulary import DECISIONS
        s = self._require_window()
        if "decision" in fields and fields["decision"] not in DECISIONS:
            raise ReviewError(f"decision {fields['decision']!r} is not one of {DECISIONS}")
        if fields.get("language") is not None and fields["language"] not in LANGUAGES:
            raise ReviewError(f"summary language {fields['language']!r} is not one of {', '.join(LANGUAGES)}")
        unknown = set(fields) - set(Draft.__dataclass_fields__)
        if unknown:
            raise ReviewError(f"unknown draft fields {sorted(unknown)}")
        return self._commit(s.but(draft=replace(s.draft, **fields)))

    def hold_report(self, report: dict) -> ReviewState:
        """The report written for the explanation on screen (its id, files and log row)."""
        s = self._require_held()
        return self._commit(s.but(report=dict(report)))

    def counterfactual(self, progress: Callable | None = None) -> dict:
        """What would have changed the outcome of the window on screen (held once computed)."""
        from .work import counterfactual
        self._require_held()
        return counterfactual(self, progress)

    def build_report(self, progress: Callable | None = None, out=None) -> dict:
        """The signed report of the window on screen, with the reviewer's draft (held once written),
        into ``out`` (default: the data folder's ``reports/<id>``); a ReportError when the draft
        lacks what the decision needs (reasons), and then nothing is written."""
        from .work import build_report
        self._require_held()
        self._require("draft_report", "draft reports")
        return build_report(self, progress, out)

    def report_html(self) -> str:
        """The report on screen as its HTML (sanitised: no script runs)."""
        from ..report import render_html
        s = self._state
        if s.report is None:
            raise ReviewError("no report on screen: build one first")
        return render_html(s.report["body"])

    # --- the model ------------------------------------------------------------------------------
    def use_model(self, path: str | None, card: str | None = None) -> ReviewState:
        """Another model (``None``: back to the configured one): the clip stays, its window is
        chosen again under the new model's timeline."""
        self._require("manage_models", "load models")
        s = self._state
        model_path, pinned_at = self.world.pinned(path)
        new = s.without_window().but(model_path=model_path, model_pinned_at=pinned_at, card_path=card)
        new = new.but(methods=self._default_methods(new), overlay=None, target=None)
        return self._commit(new)

    def model_changed(self) -> ReviewState:
        """The model's card was edited: everything derived from the model is stale."""
        self._require_signed_in()
        s = self._state
        return self._commit(s.without_window().but(target=None, methods=self._default_methods(s)))

    # --- internals ------------------------------------------------------------------------------
    def _commit(self, new: ReviewState) -> ReviewState:
        new = new.but(version=self._state.version + 1)
        if self.checking:
            with self._reading(new):  # the checks see the model and clip of the state they check
                check(new, self)
        self._state = new
        return new

    @contextmanager
    def _reading(self, state: ReviewState):
        """Meanwhile, what the review reads (model, clip, timeline, window) is ``state``'s."""
        previous, self._state = self._state, state
        try:
            yield
        finally:
            self._state = previous

    def _default_methods(self, state: ReviewState) -> tuple[str, ...]:
        if state.account is None:
            return ()
        from ..explainers.base import DEFAULT_METHODS, available_methods
        with self._reading(state):
            allowed = available_methods(self.model())
        return tuple(m for m in DEFAULT_METHODS if m in allowed)

    def _require_signed_in(self) -> None:
        if self._state.account is None:
            raise ReviewError("nobody is signed in: sign in first")

    def _require(self, permission: str, what: str) -> None:
        self._require_signed_in()
        self._identity.require(permission, what)

    def _require_window(self) -> ReviewState:
        self._require_signed_in()
        if self._state.window is None:
            raise ReviewError(f"no window on screen: {self._state.clip_name} is not scored yet; wait for its window"
                              if self._state.clip_path else "no window on screen: pick a clip first")
        return self._state

    def _require_held(self) -> ReviewState:
        s = self._require_window()
        if s.held is None:
            raise ReviewError("nothing is explained yet: explain the window first")
        return s

    def _window_count(self) -> int:
        self._require_window()
        model, clip = self.model(), self.clip()
        return clip.window_count(model.window_length, model.card.stride)

    def _frames_in_window(self) -> int:
        self._require_window()
        return self.model().window_length


def open_review(world: World | None = None, identity=None) -> ReviewSession:
    """A review for a command or a script (a default world)."""
    return ReviewSession(world or World(), identity)


