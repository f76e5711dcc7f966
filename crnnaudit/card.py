"""ModelCard: the facts about a model that are not in the Keras file.

Preprocessing, class names, which classes are anomalies, the window length, the decision
threshold and the intended use live in a sidecar beside the model (``model.card.json`` or
``model.card.yaml``). Every report carries the card.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .config import read_at_most
from .errors import CardError
from .limits import MAX_CARD_BYTES
from .vocabulary import CARD_SUFFIXES, QUALITY_MEASURES

#: Largest model card read (a full one is 5 kB; its feature statistics live in their own file).

PREPROCESSING = ("vgg19", "unit", "none")
_SIDECAR_SUFFIXES = tuple(".card" + s for s in CARD_SUFFIXES)


@dataclass
class ModelCard:
    """Facts about a model that its Keras file does not hold.

    Attributes:
        name, version: how reports name the model.
        classes: one name per output unit (a single sigmoid unit: one name, the anomaly).
        anomaly_classes: the classes whose probability makes the anomaly score.
        preprocessing: ``vgg19`` (RGB->BGR, ImageNet mean subtracted, caffe style),
            ``unit`` (pixels / 255) or ``none`` (raw 0..255 floats). ``None`` until a model
            fills it in: ``vgg19`` when VGG19 is inside, else ``unit``.
        frames_per_window: T, used when the model's time axis is ``None``.
        stride: frames between the starts of two windows when scoring a clip.
        frame_rate: the frames per second the model was trained on: clips are sampled to it by
            their timestamps (:meth:`crnnaudit.footage.video.Clip.at_rate`), so a window spans
            the time it was trained to see whatever the camera's rate; ``None``: every decoded
            frame, as recorded.
        threshold: anomaly score at or above which the decision is "anomaly".
        target_layer: the conv layer Grad-CAM reads; ``None`` = the last per-frame conv.
        model_sha256: the SHA-256 of the model file this card describes; every load refuses a
            file that does not match it (the demo's card always records it).
        calibration: statistics of the per-frame features of the training or calibration
            data (``crnnaudit calibrate``): the file beside the card, its SHA-256, the
            distance threshold; ``None`` when no such check is possible. It may also hold the
            image-quality bounds measured on the same clips (``quality``).
        withhold_unreliable: True (the default): a window that cannot be read reliably (unlike
            the training data, or degraded footage) gets the decision "no reliable reading"
            instead of anomaly or normal, its probabilities still shown; False keeps the
            decision from the score and only flags the window (for an owner who wants that).
    """

    name: str = "unnamed model"
    version: str = "unversioned"
    classes: list[str] = field(default_factory=list)
    anomaly_classes: list[str] = field(default_factory=list)
    preprocessing: str | None = None
    frames_per_window: int | None = None
    stride: int | None = None
    frame_rate: float | None = None
    threshold: float = 0.5
    target_layer: str | None = None
    intended_use: str = "not stated"
    training_data: str = "not stated"
    known_limitations: list[str] = field(default_factory=list)
    owner: str = "not stated"
    calibration: dict[str, Any] | None = None
    model_sha256: str | None = None
    withhold_unreliable: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def validate(self, source: str = "model card") -> "ModelCard":
        """Check every field; raise :class:`CardError` naming the field and the source."""
        def bad(msg: str) -> CardError:
            return CardError(f"{source}: {msg}")

        for key in ("name", "version", "intended_use", "training_data", "owner"):
            if not isinstance(getattr(self, key), str):
                raise bad(f"'{key}' must be text, got {getattr(self, key)!r}")
        if not isinstance(self.classes, list) or not all(isinstance(c, str) and c for c in self.classes):
            raise bad(f"'classes' must be a list of non-empty names, got {self.classes!r}")
        if len(set(self.classes)) != len(self.classes):
            raise bad(f"'classes' has duplicates: {self.classes!r}")
        if not isinstance(self.anomaly_classes, list):
            raise bad(f"'anomaly_classes' must be a list, got {self.anomaly_classes!r}")
        unknown = [c for c in self.anomaly_classes if c not in self.classes]
        if unknown:
            raise bad(f"'anomaly_classes' names {unknown} that are not in classes {self.classes}")
        if self.preprocessing is not None and self.preprocessing not in PREPROCESSING:
            raise bad(f"'preprocessing' must be one of {PREPROCESSING}, got {self.preprocessing!r}")
        for key in ("frames_per_window", "stride"):
            v = getattr(self, key)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
                raise bad(f"'{key}' must be a positive whole number, got {v!r}")
        if self.frame_rate is not None:
            if isinstance(self.frame_rate, bool) or not isinstance(self.frame_rate, (int, float)) \
                    or not 0.1 <= float(self.frame_rate) <= 1000:
                raise bad(f"'frame_rate' must be frames per second between 0.1 and 1000, got {self.frame_rate!r}")
            self.frame_rate = float(self.frame_rate)
        if isinstance(self.threshold, bool) or not isinstance(self.threshold, (int, float)) or not 0.0 <= float(self.threshold) <= 1.0:
            raise bad(f"'threshold' must be a number between 0 and 1, got {self.threshold!r}")
        self.threshold = float(self.threshold)
        if self.target_layer is not None and not isinstance(self.target_layer, str):
            raise bad(f"'target_layer' must be a layer name, got {self.target_layer!r}")
        if self.model_sha256 is not None and not (isinstance(self.model_sha256, str) and len(self.model_sha256) == 64
                                                  and all(c in "0123456789abcdef" for c in self.model_sha256)):
            raise bad(f"'model_sha256' must be a SHA-256 in hex (64 characters), got {self.model_sha256!r}")
        if self.calibration is not None and not (
                isinstance(self.calibration, dict) and isinstance(self.calibration.get("file"), str)
                and isinstance(self.calibration.get("threshold"), (int, float))):
            raise bad(f"'calibration' must name a statistics 'file' and a 'threshold', got {self.calibration!r}")
        if self.calibration is not None and self.calibration.get("quality") is not None:
            check_quality_bounds(self.calibration["quality"], source)
        if not isinstance(self.withhold_unreliable, bool):
            raise bad(f"'withhold_unreliable' must be true or false, got {self.withhold_unreliable!r}")
        if not isinstance(self.known_limitations, list):
            raise bad(f"'known_limitations' must be a list of sentences, got {self.known_limitations!r}")
        return self

    # --- reading and writing -------------------------------------------------------
    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "model card") -> "ModelCard":
        """Build a card from a mapping; unknown keys go to ``extra``."""
        if not isinstance(data, dict):
            raise CardError(f"{source}: expected a mapping of fields, got {type(data).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        known = {k: v for k, v in data.items() if k in names and k != "extra"}
        if not isinstance(data.get("extra") or {}, dict):
            raise CardError(f"{source}: 'extra' must be a mapping, got {type(data['extra']).__name__}")
        extra = dict(data.get("extra") or {})
        extra.update({k: v for k, v in data.items() if k not in names})
        return cls(**known, extra=extra).validate(source)

    @classmethod
    def read(cls, path: str | Path) -> "ModelCard":
        """Read a card from JSON or YAML.

        Raises:
            CardError: the file is missing, not JSON/YAML, or a field is invalid.
        """
        path = Path(path)
        kind = "JSON" if path.suffix.lower() == ".json" else "YAML"
        raw = read_at_most(path, MAX_CARD_BYTES, CardError, "model card")
        try:
            text = raw.decode("utf-8")
            if kind == "JSON":
                data = json.loads(text)
            else:
                _refuse_aliases(path, text)
                data = yaml.safe_load(text)
        except UnicodeDecodeError as e:
            raise CardError(f"{path}: the model card is not UTF-8 text ({e.reason} at byte {e.start})") from e
        except (json.JSONDecodeError, yaml.YAMLError) as e:
            raise CardError(f"{path}: not valid {kind}: {str(e)[:300]}") from e
        except RecursionError as e:
            raise CardError(f"{path}: the model card nests too deeply to read") from e
        return cls.from_dict(data, source=str(path))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def write(self, path: str | Path) -> Path:
        """Write the card as JSON (``.json``) or YAML (``.yaml``/``.yml``)."""
        self.validate(str(path))
        path = Path(path)
        if path.suffix in (".yaml", ".yml"):
            path.write_text(yaml.safe_dump(self.to_dict(), sort_keys=False), encoding="utf-8")
        else:
            path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        return path

    def completed(self, *, n_outputs: int, fixed_frames: int | None, preprocessing: str,
                  source: str = "model card", default_frames: int = 20) -> "ModelCard":
        """A new card with every field a model needs filled in; this card is not changed.

        Defaults: classes ``class_0..`` (one sigmoid unit: ``anomaly``); anomaly classes all
        but a class called normal (else all but the last); the given ``preprocessing``; the
        model's fixed time axis (else ``default_frames``); a stride of half a window. The
        fields that were defaulted are listed in ``extra["defaulted"]``.

        Raises:
            CardError: the card's classes or window length contradict the model.
        """
        card = ModelCard.from_dict(copy.deepcopy(self.to_dict()), source)
        defaulted = []
        if not card.classes:
            card.classes = ["anomaly"] if n_outputs == 1 else [f"class_{k}" for k in range(n_outputs)]
            defaulted.append("classes")
        if len(card.classes) != n_outputs:
            raise CardError(f"{source}: the card names {len(card.classes)} classes "
                            f"{card.classes} but the model has {n_outputs} outputs")
        if not card.anomaly_classes:
            normal = [c for c in card.classes if c.lower() in ("normal", "normal_videos", "none")]
            if n_outputs == 1:
                card.anomaly_classes = list(card.classes)
            else:
                card.anomaly_classes = [c for c in card.classes if c not in normal] if normal \
                    else card.classes[:-1]
            defaulted.append("anomaly_classes")
        if card.preprocessing is None:
            card.preprocessing = preprocessing
            defaulted.append("preprocessing")
        if card.frames_per_window is None:
            card.frames_per_window = fixed_frames or default_frames
            defaulted.append("frames_per_window")
        elif fixed_frames and card.frames_per_window != fixed_frames:
            raise CardError(f"{source}: the card says {card.frames_per_window} frames per "
                            f"window but the model's time axis is fixed at {fixed_frames}")
        if card.stride is None:
            card.stride = max(1, card.frames_per_window // 2)
            defaulted.append("stride")
        if defaulted:
            card.extra["defaulted"] = sorted(set(card.extra.get("defaulted", [])) | set(defaulted))
        return card.validate(source)

    def anomaly_indices(self) -> list[int]:
        return [self.classes.index(c) for c in self.anomaly_classes]


def check_quality_bounds(data, source: str = "model card") -> None:
    """A card's ``calibration.quality``: ``low`` and ``high`` bounds, each a number (or null) per
    known image-quality measure (:data:`~crnnaudit.vocabulary.QUALITY_MEASURES`).

    Raises:
        CardError: anything else, naming the field and the value.
    """
    import math
    if not isinstance(data, dict) or not isinstance(data.get("low"), dict) or not isinstance(data.get("high"), dict):
        raise CardError(f"{source}: 'calibration.quality' must hold 'low' and 'high' bounds, got {data!r}")
    for side in ("low", "high"):
        for k, v in data[side].items():
            if k not in QUALITY_MEASURES or not (v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)
                                                               and math.isfinite(v))):
                raise CardError(f"{source}: 'calibration.quality.{side}.{k}' must be a known measure "
                                f"({', '.join(QUALITY_MEASURES)}) with a number, got {v!r}")


def card_sha256(card: "ModelCard") -> str:
    """The SHA-256 of a card's canonical JSON: what reports and the audit log name it by."""
    import hashlib
    return hashlib.sha256(json.dumps(card.to_dict(), sort_keys=True, separators=(",", ":"),
                                     ensure_ascii=False, default=str).encode()).hexdigest()


def _refuse_aliases(path: Path, text: str) -> None:
    """YAML aliases let a small card expand to gigabytes when written out: a card has no use
    for them."""
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent):
            raise CardError(f"{path}: the model card uses YAML aliases (*{event.anchor}); write the "
                            "values out instead")


def sidecar_path(model_path: str | Path) -> Path | None:
    """The card beside ``model_path`` (``m.keras`` -> ``m.card.json``/``.yaml``), if any."""
    model_path = Path(model_path)
    stem = model_path.name[: -len(model_path.suffix)] if model_path.suffix else model_path.name
    for suffix in _SIDECAR_SUFFIXES:
        candidate = model_path.with_name(stem + suffix)
        if candidate.exists():
            return candidate
    return None


def default_sidecar_path(model_path: str | Path) -> Path:
    model_path = Path(model_path)
    stem = model_path.name[: -len(model_path.suffix)] if model_path.suffix else model_path.name
    return model_path.with_name(stem + ".card.json")
