"""The review's state: one immutable record of everything an auditor's screen shows.

Every page and command reads it; only :class:`~.session.ReviewSession`'s transitions make a new
one, and each new one is checked (:mod:`.invariants`) before it replaces the old.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..render.maps import MapStyle


@dataclass(frozen=True)
class Held:
    """An explanation of one window, and exactly what it was computed from."""

    model_sha256: str
    clip_sha256: str
    window: object  # footage.Window
    methods: tuple[str, ...]
    target: str | None
    expset: object  # explainers.ExplanationSet
    verdicts: dict = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Draft:
    """The reviewer's draft decision on the window on screen (the Report page's form)."""

    decision: str = "confirm"
    reason: str = ""
    language: str | None = None  # the summary's; None: CRNNAUDIT_REPORT_LANGUAGE
    blur: bool = True
    checks: bool = True


@dataclass(frozen=True)
class ReviewState:
    """One auditor's review in one browser tab (or one command).

    Attributes:
        account, role: who is signed in (``None``: nobody, and nothing else is held).
        model_path, card_path: the model under review (``None``: the configured one).
        model_pinned_at: when this review pinned its registry model (``None``: a file); the
            server shares one loaded model between reviews, each keeps its own pin's time.
        clip_path, clip_name: the clip, and its name as the user knows it (an upload's own name).
        refused: why the last upload was refused (then no clip is on screen).
        window: the window on screen (``None`` until the clip's timeline picked one).
        opening: the window a dataset run asked to open the clip on (until it is checked).
        shown_at: when that window was first shown (for the time to decision).
        frame: the scrubber's position within the window.
        methods, target: what the next explanation computes (``target`` ``None``: the predicted
            class, or the anomaly score).
        overlay, style: the method on the map and how maps are drawn.
        held: the explanation of the window on screen, once asked for.
        faithfulness, sanity, counterfactual: trust figures of ``held`` (Compare, Temporal).
        draft: the decision being drafted; report: the report written for ``held``.
        version: how many transitions made this state.
    """

    account: str | None = None
    role: str | None = None
    model_path: str | None = None
    model_pinned_at: str | None = None
    card_path: str | None = None
    clip_path: str | None = None
    clip_name: str | None = None
    refused: str | None = None
    window: int | None = None
    opening: int | None = None
    shown_at: float | None = None
    frame: int = 0
    methods: tuple[str, ...] = ()
    target: str | None = None
    overlay: str | None = None
    style: MapStyle = MapStyle()
    held: Held | None = None
    faithfulness: tuple | None = None
    sanity: dict | None = None
    counterfactual: dict | None = None
    draft: Draft = Draft()
    report: dict | None = None
    version: int = 0

    def maps_offered(self) -> list[str]:
        """The methods with a map on screen: the explanation's, else the chosen spatial methods."""
        if self.held is not None:
            return list(self.held.expset.spatial())
        from ..explainers.base import REGISTRY
        return [m for m in self.methods if m in REGISTRY and REGISTRY[m].kind == "spatial"]

    def overlay_for(self, wanted: str | None) -> str | None:
        """``wanted`` when it has a map on screen, else the first method that has one."""
        offered = self.maps_offered()
        return wanted if wanted in offered else (offered[0] if offered else None)

    def but(self, **changes) -> "ReviewState":
        """A copy with ``changes`` (the one way a transition makes its new state)."""
        return replace(self, **changes)

    def without_window(self) -> "ReviewState":
        """No window on screen, and nothing derived from one."""
        return self.but(window=None, opening=None, shown_at=None, frame=0, draft=Draft(), **_NOTHING_HELD)

    def without_explanation(self) -> "ReviewState":
        """The window stays; its explanation and what was derived from it go."""
        return self.but(frame=0, **_NOTHING_HELD)


_NOTHING_HELD = {"held": None, "faithfulness": None, "sanity": None, "counterfactual": None, "report": None}
