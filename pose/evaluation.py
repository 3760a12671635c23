"""Accuracy of a pose model on labelled photos, in each joint set's own measure.

- MPII annotations (the shared ``annotations.json`` format: a list of people with ``image``,
  ``center``, ``scale``, ``joints``, ``joints_vis``, ``head_size``): PCKh@0.5 with the
  annotated person boxes.
- COCO keypoint annotations (``person_keypoints*.json``): mean OKS with the ground-truth
  boxes, and pycocotools' keypoint AP with the detector's boxes (the paper's protocol).

Scores are in points (x 100), as papers and the model card write them. Used by
``python -m pose.export`` to state what int8 costs, by the tests and by the benchmarks.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import PoseError
from .metrics import oks, pckh, pckh_hits
from .result import PeopleResult

log = logging.getLogger(__name__)


class EvaluationError(PoseError):
    """The labelled data cannot be read, or does not fit the model's joint set."""


@dataclass(frozen=True)
class MpiiPerson:
    image: Path
    center: np.ndarray  # (2,) px
    scale: float  # person box side / 200 px (MPII convention)
    joints: np.ndarray  # (16, 2) px, MPII order
    visible: np.ndarray  # (16,) bool
    head_size: float  # px, PCKh normaliser

    @property
    def box(self) -> tuple[float, float, float, float]:
        """The annotated person box (side = scale x 200 px around the centre), unpadded."""
        half = self.scale * 100.0
        cx, cy = self.center
        return (cx - half, cy - half, cx + half, cy + half)


@dataclass(frozen=True)
class CocoPerson:
    image: Path
    box: tuple[float, float, float, float]  # (x1, y1, x2, y2) px: the annotated box
    joints: np.ndarray  # (17, 2) px, COCO order
    labelled: np.ndarray  # (17,) bool: COCO visibility v > 0
    area: float  # px²: the segmented area, OKS's scale


@dataclass(frozen=True)
class Score:
    metric: str  # e.g. "MPII PCKh@0.5"
    points: float  # the score x 100
    data: str  # what it was measured on, e.g. "5 people, 79 visible joints"


def _read_json(path: Path) -> object:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise EvaluationError(f"cannot read labelled data {path}: {e}") from None


def labelled_format(path: str | os.PathLike) -> str:
    """``"mpii"`` or ``"coco"``: which annotation format the JSON file holds."""
    data = _read_json(Path(path))
    if isinstance(data, list) and data and isinstance(data[0], dict) and "head_size" in data[0]:
        return "mpii"
    if isinstance(data, dict) and {"images", "annotations"} <= data.keys():
        return "coco"
    raise EvaluationError(f"{path} is neither MPII annotations (a list of people with head_size) "
                          "nor COCO keypoint annotations (images + annotations)")


def read_mpii(path: str | os.PathLike) -> list[MpiiPerson]:
    """The people of an MPII ``annotations.json``; images are named relative to its folder."""
    path = Path(path)
    try:
        return [
            MpiiPerson(
                image=path.parent / a["image"],
                center=np.asarray(a["center"], float),
                scale=float(a["scale"]),
                joints=np.asarray(a["joints"], float),
                visible=np.asarray(a["joints_vis"], bool),
                head_size=float(a["head_size"]),
            )
            for a in _read_json(path)
        ]
    except (KeyError, TypeError, ValueError) as e:
        raise EvaluationError(f"{path}: not MPII annotations ({e!r})") from None


def coco_images_dir(path: Path) -> Path:
    """Where a COCO annotation file's images are: ``images/`` beside it, else its own folder."""
    return path.parent / "images" if (path.parent / "images").is_dir() else path.parent


def read_coco(path: str | os.PathLike) -> list[CocoPerson]:
    """The annotated people (at least one labelled keypoint, not crowds) of a COCO keypoint file."""
    path = Path(path)
    data = _read_json(path)
    images = coco_images_dir(path)
    try:
        files = {i["id"]: i["file_name"] for i in data["images"]}
        out = []
        for a in data["annotations"]:
            if a.get("iscrowd") or a.get("num_keypoints", 0) == 0:
                continue
            k = np.asarray(a["keypoints"], float).reshape(-1, 3)
            x, y, w, h = a["bbox"]
            out.append(CocoPerson(images / files[a["image_id"]], (x, y, x + w, y + h), k[:, :2], k[:, 2] > 0, float(a["area"])))
    except (KeyError, TypeError, ValueError) as e:
        raise EvaluationError(f"{path}: not COCO keypoint annotations ({e!r})") from None
    return out


def mpii_pckh(estimator, people: Sequence[MpiiPerson], flip: bool = False) -> Score:
    """PCKh@0.5 over the visible joints, each person estimated in their annotated box."""
    hits = [pckh_hits(estimator.estimate(p.image, box=p.box, flip=flip).keypoints, p.joints, p.visible, p.head_size)
            for p in people]
    visible = np.concatenate([p.visible for p in people])
    return Score("MPII PCKh@0.5", 100 * pckh(np.concatenate(hits), visible),
                 f"{len(people)} people, {int(visible.sum())} visible joints, annotated boxes")


def coco_oks(estimator, people: Sequence[CocoPerson], flip: bool = False) -> Score:
    """Mean OKS, each person estimated in their ground-truth box."""
    sigmas = estimator.config.skeleton.oks_sigmas
    values = [oks(estimator.estimate(p.image, box=p.box, flip=flip).keypoints, p.joints, p.labelled, p.area, sigmas)
              for p in people]
    return Score("COCO mean OKS", 100 * float(np.nanmean(values)), f"{len(people)} people, ground-truth boxes")


def coco_ap_of(annotations: str | os.PathLike, found: dict[str, PeopleResult]) -> float:
    """pycocotools' keypoint AP (OKS 0.50:0.95, in [0, 1]) of the people ``found`` per image
    file name, against a COCO keypoint file (images missing from ``found`` have nobody)."""
    try:
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval
    except ImportError:
        raise EvaluationError("COCO AP needs pycocotools (pip install -r requirements-export.txt)") from None
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress
        gt = COCO(str(annotations))
        ids = {i["file_name"]: i["id"] for i in gt.dataset["images"]}
        detections = [
            {"image_id": ids[name], "category_id": 1, "score": person.score,
             "keypoints": np.column_stack([person.keypoints, person.scores]).ravel().tolist()}
            for name, result in found.items() if name in ids for person in result.people
        ]
        if not detections:
            return 0.0
        evaluation = COCOeval(gt, gt.loadRes(detections), "keypoints")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return float(evaluation.stats[0])


def coco_ap(estimator, annotations: str | os.PathLike, flip: bool = False) -> Score:
    """Keypoint AP with the detector's boxes on every image of a COCO keypoint file."""
    annotations = Path(annotations)
    data = _read_json(annotations)
    images = coco_images_dir(annotations)
    found = {i["file_name"]: estimator.estimate_people(images / i["file_name"], flip=flip) for i in data["images"]}
    people = sum(1 for a in data["annotations"] if a.get("num_keypoints", 0))
    return Score("COCO keypoint AP", 100 * coco_ap_of(annotations, found),
                 f"{len(data['images'])} photos, {people} people, detector boxes")


def evaluate(estimator, annotations: str | os.PathLike, flip: bool = False, with_detector: bool = True) -> list[Score]:
    """Every measure this annotation file supports for ``estimator``'s joint set."""
    annotations = Path(annotations)
    kind = labelled_format(annotations)
    skeleton = estimator.config.skeleton.name
    if kind != skeleton:
        raise EvaluationError(f"{annotations} holds {kind.upper()} annotations, but the model predicts {skeleton.upper()} joints")
    if kind == "mpii":
        return [mpii_pckh(estimator, read_mpii(annotations), flip)]
    scores = [coco_oks(estimator, read_coco(annotations), flip)]
    if with_detector and estimator.detector is not None:
        scores.append(coco_ap(estimator, annotations, flip))
    return scores
