"""Results: one person's pose (``PoseResult``) and everyone in a photo (``PeopleResult``),
numpy arrays, read-only, with JSON/CSV views."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

import numpy as np

from .joints import Skeleton

PERSON_SCORE_MIN_JOINT = 0.2  # joints above this count in the person score (the reference's in_vis_thre)


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
    box_source: str = "image"  # "detector", "user" (given by the caller), "image" (the whole image), "previous" (tracking)
    box_score: float = 1.0  # the detector's score for the box; 1.0 for given boxes and the whole image

    def __post_init__(self) -> None:
        for a in (self.keypoints, self.scores, self.heatmaps, self.crop):
            a.setflags(write=False)

    @property
    def joint_score(self) -> float:
        """Mean confidence of the joints above 0.2 (0 if none)."""
        confident = self.scores[self.scores > PERSON_SCORE_MIN_JOINT]
        return float(confident.mean()) if confident.size else 0.0

    @property
    def score(self) -> float:
        """The paper's person score: box score x ``joint_score``."""
        return self.box_score * self.joint_score

    def visible(self, threshold: float) -> np.ndarray:
        """(J,) bool: joints whose score reaches ``threshold``."""
        return self.scores >= threshold

    def joints(self) -> list[dict[str, Any]]:
        return [
            {"name": j, "x": round(float(x), 2), "y": round(float(y), 2), "score": round(float(s), 4)}
            for j, (x, y), s in zip(self.skeleton.joints, self.keypoints, self.scores)
        ]

    def person_dict(self) -> dict[str, Any]:
        """This person's box, its source and scores, and the joints in the skeleton's order."""
        return {
            "box": [round(float(v), 2) for v in self.box],
            "box_source": self.box_source,
            "box_score": round(float(self.box_score), 4),
            "score": round(self.score, 4),
            "joints": self.joints(),
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: model, skeleton, image size, flip, and this person (box, scores, joints)."""
        return {
            "model": self.model,
            "skeleton": self.skeleton.name,
            "image": {"width": self.image_size[0], "height": self.image_size[1]},
            "flip": self.flip,
            **self.person_dict(),
        }

    def table(self) -> list[list[Any]]:
        """Rows of (joint, x, y, confidence) for a table."""
        return [[d["name"], d["x"], d["y"], d["score"]] for d in self.joints()]


@dataclass(frozen=True)
class PeopleResult:
    """Everyone found in one image, best person score first."""

    people: tuple[PoseResult, ...]  # from a photo at least one: with nobody found, the whole image as one person
    image_size: tuple[int, int]  # (width, height) px of the upright full-resolution image
    model: str
    skeleton: Skeleton
    detector: str | None  # the detector's name; None when the caller gave the boxes
    flip: bool = False

    @property
    def nobody_found(self) -> bool:
        """The detector ran and found nobody: the whole image was estimated as one person."""
        return self.detector is not None and (not self.people or self.people[0].box_source == "image")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: model, skeleton, detector, image size, flip, and each person with an id (1, 2, ...)."""
        return {
            "model": self.model,
            "skeleton": self.skeleton.name,
            "detector": self.detector,
            "image": {"width": self.image_size[0], "height": self.image_size[1]},
            "flip": self.flip,
            "people": [{"id": i, **p.person_dict()} for i, p in enumerate(self.people, 1)],
        }

    def table(self) -> list[list[Any]]:
        """Rows of (person, joint, x, y, confidence) for a table: every person's joints."""
        return [[i, *row] for i, p in enumerate(self.people, 1) for row in p.table()]

    def to_csv(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(TABLE_HEADERS)
        w.writerows(self.table())
        return buf.getvalue()


TABLE_HEADERS = ("person", "joint", "x", "y", "confidence")
