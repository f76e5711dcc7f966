"""Words the pages, the command line and the library share, defined once.

Kept free of heavy imports so that argument parsers and upload checks can read them without
starting TensorFlow or FFmpeg.
"""

from __future__ import annotations

DECISIONS = ("confirm", "override", "escalate")
"""What a reviewer can decide about the model's output."""

VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".webm", ".mov", ".m4v")
MODEL_SUFFIXES = (".keras", ".h5", ".hdf5")
CARD_SUFFIXES = (".json", ".yaml", ".yml")


QUALITY_MEASURES = ("sharpness", "brightness", "contrast", "noise", "blockiness", "still")
"""The image-quality measures of a window (:mod:`crnnaudit.footage.quality`), as a card names them."""

SUMMARY_LANGUAGES = {"en": "English", "fr": "Français", "de": "Deutsch"}
"""The languages of the summary for the person concerned (:mod:`crnnaudit.report.messages`)."""
