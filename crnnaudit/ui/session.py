"""One auditor's review in one browser session, held in one typed object.

Everything derived from the model, the clip or the window (the explanation, the
faithfulness and sanity figures, the draft report, the scrubber position) lives here and is
cleared by the one method that changes what it was derived from, so no page can show a
figure computed for another window.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from ..explainers.base import ExplanationSet
from ..video import Window

_KEY = "review"
# Widgets whose values belong to a window or a clip: dropped with them, so that a new
# window does not open on the old one's frame.
_WINDOW_WIDGETS = ("window_input", "frame_slider")


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

    def use_clip(self, path: str) -> None:
        if path != self.clip_path:
            self.clip_path = path
            self.forget_window()

    def use_window(self, k: int) -> None:
        if k != self.window_index:
            self.window_index = k
            self.forget_explanation()

    def pick_on_chart(self, k: int) -> None:
        """A click on the timeline chart: a new click moves the window control (the chart
        keeps reporting its last selection on every rerun, so only a change counts)."""
        if k != self.last_pick:
            self.last_pick = k
            st.session_state.pop("window_input", None)
            self.use_window(k)

    def hold(self, held: HeldExplanation) -> None:
        """A fresh explanation of ``held.window``: figures of any earlier one are dropped."""
        self.forget_explanation()
        self.window_index = held.window.index
        self.explanation = held

    def jump_to_frame(self, position: int) -> None:
        self.frame_pos = int(position)
        st.session_state.pop("frame_slider", None)

    def forget_window(self) -> None:
        self.window_index = None
        self.last_pick = None
        for key in _WINDOW_WIDGETS:
            st.session_state.pop(key, None)
        self.forget_explanation()

    def forget_explanation(self) -> None:
        self.explanation = None
        self.faithfulness = self.sanity = self.report = None
        self.frame_pos = 0
        st.session_state.pop("frame_slider", None)

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
