"""The result of one pose estimate: numpy arrays, read-only, with JSON/CSV views."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

import numpy as np

from .joints import Skeleton


@dataclass(frozen=True)
class PoseResult:
    skeleton: Skeleton  # the joint set: J joints, in its order in every array below
    keypoints: np.ndarray  # (J, 2) float64: (x, y) in px of the upright full-resolution image
    scores: np.ndarray  # (J,) float64: heatmap maximum of each joint (higher = more confident)
    heatmaps: np.ndarray  # (J, Hh, Wh) float32: raw model heatmaps
    crop: np.ndarray  # (H, W, 3) uint8 RGB: the model's input crop (heatmaps are aligned to it)
    box: tuple[float, float, float, float]  # (x1, y1, x2, y2) px: the person box used, before padding
    image_size: tuple[int, int]  # (width, height) px of the upright full-resolution image
    model: str  # human-readable model name from its config
    flip: bool = False  # whether the flip test was used
    box_source: str = "image"  # "image" (the whole image) or "user" (a box given by the caller)

    def __post_init__(self) -> None:
        for a in (self.keypoints, self.scores, self.heatmaps, self.crop):
            a.setflags(write=False)

    def visible(self, threshold: float) -> np.ndarray:
        """(J,) bool: joints whose score reaches ``threshold``."""
        return self.scores >= threshold

    def joints(self) -> list[dict[str, Any]]:
        return [
            {"name": j, "x": round(float(x), 2), "y": round(float(y), 2), "score": round(float(s), 4)}
            for j, (x, y), s in zip(self.skeleton.joints, self.keypoints, self.scores)
        ]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: model, skeleton, image size, box, and the joints in the skeleton's order."""
        return {
            "model": self.model,
            "skeleton": self.skeleton.name,
            "image": {"width": self.image_size[0], "height": self.image_size[1]},
            "box": [round(float(v), 2) for v in self.box],
            "box_source": self.box_source,
            "flip": self.flip,
            "joints": self.joints(),
        }

    def table(self) -> list[list[Any]]:
        """Rows of (joint, x, y, confidence) for a table."""
        return [[d["name"], d["x"], d["y"], d["score"]] for d in self.joints()]

    def to_csv(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(TABLE_HEADERS)
        w.writerows(self.table())
        return buf.getvalue()


TABLE_HEADERS = ("joint", "x", "y", "confidence")
