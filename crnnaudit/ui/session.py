"""One auditor's review in one browser session, held in one typed object.

Everything derived from the model, the clip or the window (the explanation, the
faithfulness and sanity figures, the draft report, the scrubber position) lives here and is
cleared by the one method that changes what it was derived from, so no page can show a
figure computed for another window.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import streamlit as st

from ..explainers.base import ExplanationSet
from ..footage.video import Window

_KEY = "review"


def bound(key: str, value) -> str:
    """Make the widget ``key`` show ``value`` (the review's) before it is drawn, whatever the
    browser held: the review is the one source, and a widget never keeps its own copy. Call
    just before the widget, which takes no ``value=`` and writes back only through its
    ``on_change``. Returns the key."""
    if st.session_state.get(key) != value:
        st.session_state[key] = value
    return key


@dataclass
class HeldExplanation:
    """An explanation of one window, and what it was computed from."""

    model_sha256: str
    clip_sha256: str
    window: Window
    expset: ExplanationSet
    methods: tuple[str, ...]
    target: str | None


@dataclass
class Review:
    """The session's review.

    Attributes:
        model_path, card_path: the model the auditor loaded (``None``: the configured one).
        clip_path: the clip under review.
        window_index: the window picked on the timeline.
        explanation: the explanation of that window, once asked for.
        faithfulness, sanity: trust figures for that explanation (Compare page).
        report: ``(body, files)`` of the report written for it (Report page).
        frame_pos: the scrubber's position within the window.
        last_pick: the last window clicked on the timeline chart.
        shown_at: when the window on screen was first shown (for the time to decision).
        view: the map settings on screen (method, view, opacity, colour map, scaling), which
            the report records as what the auditor saw.
    """

    model_path: str | None = None
    card_path: str | None = None
    clip_path: str | None = None
    window_index: int | None = None
    explanation: HeldExplanation | None = None
    faithfulness: list[dict] | None = None
    sanity: dict | None = None
    report: tuple[dict, dict] | None = None
    frame_pos: int = 0
    last_pick: int | None = None
    shown_at: float | None = None
    view: dict | None = None
    refused_upload: str | None = None
    names: dict = field(default_factory=dict)

    @classmethod
    def current(cls) -> "Review":
        """This browser session's review (created on first use)."""
        if _KEY not in st.session_state:
            st.session_state[_KEY] = cls()
        return st.session_state[_KEY]

    # --- changes, each clearing what was derived from the thing it changes ---------------
    def use_model(self, path: str | None, card: str | None = None) -> None:
        """A new model (``None``: back to the configured one): everything derived is stale."""
        self.model_path, self.card_path = path, card
        self.forget_window()

    def model_changed(self) -> None:
        """The model was reloaded in place (its card was edited)."""
        self.forget_window()

    def use_clip(self, path: str, shown_name: str | None = None) -> None:
        """A new clip; ``shown_name`` is the name the user gave it (an upload's own name, not
        the stored one), which every page and the report show."""
        self.refused_upload = None
        if shown_name:
            self.names[str(path)] = shown_name
        if path != self.clip_path:
            self.clip_path = path
            self.forget_window()

    @property
    def clip_name(self) -> str | None:
        """The clip's name as the user knows it."""
        if self.clip_path is None:
            return None
        return self.names.get(self.clip_path) or self.clip_path.replace("\\", "/").split("/")[-1]

    def use_window(self, k: int) -> None:
        """The window on screen; the number box, the announced text, the timeline's shading,
        every page and the report all read it from here."""
        if k != self.window_index:
            self.window_index = int(k)
            self.shown_at = time.time()
            self.forget_explanation()

    def pick_on_chart(self, k: int) -> None:
        """A click on the timeline chart (the chart keeps reporting its last selection on
        every rerun, so only a change counts)."""
        if k != self.last_pick:
            self.last_pick = k
            self.use_window(k)

    def step_frame(self, step: int, length: int) -> None:
        """Previous / next frame, kept inside the window."""
        self.frame_pos = max(0, min(length - 1, self.frame_pos + int(step)))

    def hold(self, held: HeldExplanation) -> None:
        """A fresh explanation of ``held.window``: figures of any earlier one are dropped."""
        self.forget_explanation()
        self.window_index = held.window.index
        self.explanation = held

    def jump_to_frame(self, position: int) -> None:
        self.frame_pos = int(position)

    def forget_window(self) -> None:
        self.window_index = None
        self.last_pick = None
        self.shown_at = None
        self.forget_explanation()

    def refuse_upload(self, name: str) -> None:
        """An upload was refused: no clip, so nothing of the previous one stays on screen
        under the new name."""
        self.clip_path, self.refused_upload = None, name
        self.forget_window()

    def forget_explanation(self) -> None:
        self.explanation = None
        self.faithfulness = self.sanity = self.report = None
        self.frame_pos = 0

    # --- reading --------------------------------------------------------------------
    def explanation_for(self, model, clip) -> HeldExplanation | None:
        """The held explanation if it belongs to this model, clip and window, else ``None``."""
        held = self.explanation
        if held is None or model is None or clip is None:
            return None
        if (held.model_sha256, held.clip_sha256) != (model.sha256, clip.sha256):
            return None
        if self.window_index is not None and held.window.index != self.window_index:
            return None
        return held
