"""Synthetic surveillance clips with ground truth (and, later, the demo model)."""

from .synth import CLASSES, ANOMALY_CLASSES, synthesize, synth_clip, write_clip

__all__ = ["ANOMALY_CLASSES", "CLASSES", "synth_clip", "synthesize", "write_clip"]
