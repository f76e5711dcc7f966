"""The decision rule, stated once: from a window's anomaly score to what the model says.

Every timeline, table, page and report takes the model's decision from :func:`decide`; none
compares a score with a threshold itself.

    anomaly              the score is at or above the card's threshold
    normal               below it
    no reliable reading  the window cannot be read reliably (for instance unlike the training
                         data), whatever its score: no anomaly verdict is given, and a human
                         decides with reasons
"""

from __future__ import annotations

import numpy as np

ANOMALY, NORMAL, NO_RELIABLE_READING = "anomaly", "normal", "no reliable reading"
MODEL_DECISIONS = (ANOMALY, NORMAL, NO_RELIABLE_READING)


def decide(score, threshold: float, reliable=True):
    """The model's decision for one score or an array of them.

    Args:
        score: anomaly score(s) in [0, 1].
        threshold: the card's decision threshold; a score equal to it is an anomaly.
        reliable: False (per score, or for all) where the window cannot be read reliably.

    Returns:
        One of :data:`MODEL_DECISIONS` for a scalar score, else an array of them.
    """
    score = np.asarray(score, dtype=float)
    out = np.where(score >= threshold, ANOMALY, NORMAL)
    out = np.where(np.asarray(reliable, dtype=bool), out, NO_RELIABLE_READING)
    return str(out) if out.ndim == 0 else out
