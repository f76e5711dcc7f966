"""The model's reading of one window, computed in one function for every place that shows it.

A reading is the window's class probabilities and anomaly score, whether the window can be read
reliably (the training-data check and the image-quality checks) and the decision the one rule
(:func:`crnnaudit.decision.decide`) draws from them. The timeline builds each of its rows with
:func:`read`; the Review page, the command line and every report take a window's reading from
the timeline's row or from :func:`read_window`, which computes the same from the window's frames.
No page or report assembles a score, a reliability and a decision by itself.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from ..decision import decide
from ..footage import quality
from .statistics import NO_STATISTICS, familiarity_statement

NO_QUALITY_BOUNDS = "This model's card records no image-quality bounds (`crnnaudit calibrate` adds them)."


@dataclass(frozen=True)
class WindowReading:
    """What the model says about one window, and whether it can say it.

    Attributes:
        probabilities: class name -> probability. anomaly_score: the card's anomaly score.
        predicted: the class the model predicts (its default target).
        threshold: the card's decision threshold.
        training: the training-data check: ``checked``, ``distance``, ``threshold``,
            ``unlike_training`` and the ``statement`` an auditor reads.
        quality: the image-quality checks: ``checked``, ``values``, ``fired`` and ``statement``.
        reliable: neither check fired. withheld: not reliable, and the card withholds a decision.
        decision: ``anomaly``, ``normal`` or ``no reliable reading``.
    """

    probabilities: dict
    anomaly_score: float
    predicted: str
    threshold: float
    training: dict = field(default_factory=dict)
    quality: dict = field(default_factory=dict)
    reliable: bool = True
    withheld: bool = False
    decision: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def read(model, probabilities, logits, distance: float | None, quality_values: dict | None) -> WindowReading:
    """The reading of one window from what was computed for it: its class ``probabilities``
    and ``logits``, its training-data ``distance`` (``None`` when the card has no statistics)
    and its image-quality ``quality_values`` (:func:`crnnaudit.footage.quality.window_values`)."""
    card = model.card
    probs = np.asarray(probabilities, dtype=float).reshape(-1)
    score = float(model.anomaly_score(probs[None])[0])
    stats = model.feature_stats
    if stats is None or distance is None:
        training = {"checked": False, "statement": NO_STATISTICS}
    else:
        training = {"checked": True, "distance": float(distance), "threshold": float(stats.threshold),
                    "unlike_training": bool(distance > stats.threshold),
                    "statement": familiarity_statement(float(distance), float(stats.threshold))}
    bounds = model.quality_bounds
    values = dict(quality_values or {})
    fired = bounds.check(values) if bounds is not None else []
    checks = {"checked": bounds is not None, "values": values, "fired": fired,
              "statement": quality.statement(fired) if bounds is not None else NO_QUALITY_BOUNDS}
    reliable = not training.get("unlike_training", False) and not fired
    withheld = not reliable and bool(card.withhold_unreliable)
    return WindowReading(probabilities=dict(zip(card.classes, map(float, probs))), anomaly_score=score,
                         predicted=card.classes[model.default_target(np.asarray(logits).reshape(-1))],
                         threshold=float(card.threshold), training=training, quality=checks, reliable=reliable,
                         withheld=withheld, decision=str(decide(score, card.threshold, not withheld)))


def read_window(model, window, probabilities=None, logits=None) -> WindowReading:
    """The reading of ``window`` computed from its frames (one pass through the CNN for the
    training-data check, and for the probabilities unless an explanation already holds them)."""
    frames = window.frames
    features = model.frame_features(model.prepare(frames))
    if probabilities is None or logits is None:
        logits = np.asarray(model.head_logits(features[None]))[0]
        probabilities = np.asarray(model.probabilities(logits[None]))[0]
    stats = model.feature_stats
    distance = stats.window_distance(features) if stats is not None else None
    return read(model, probabilities, logits, distance, quality.window_values(quality.frame_measures(frames)))
