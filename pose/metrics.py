"""Accuracy measures of each skeleton's benchmark.

- PCKh (MPII): a joint is correct when its error is below ``alpha`` x the person's head size
  (the head-box diagonal x 0.6 in MPII).
- Box IoU and pose similarity (OKS over the joints two poses are both sure of), for tracking.
- OKS (COCO): object keypoint similarity, mean over labelled joints of exp(-d² / (2 s² k²)),
  with s² the person's segmented area and k = 2 sigma per joint (``Skeleton.oks_sigmas``);
  the same formula as pycocotools' ``COCOeval.computeOks``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def pckh_hits(pred: np.ndarray, gt: np.ndarray, visible: np.ndarray, head_size: float, alpha: float = 0.5) -> np.ndarray:
    """(J, 2) predictions and ground truth, (J,) visibility -> (J,) bool correct (False where not visible)."""
    err = np.linalg.norm(np.asarray(pred, float) - np.asarray(gt, float), axis=1)
    return (err <= alpha * head_size) & np.asarray(visible, bool)


def pckh(hits: np.ndarray, visible: np.ndarray) -> float:
    """Fraction of visible joints that are correct, in [0, 1]."""
    visible = np.asarray(visible, bool)
    return float(np.asarray(hits)[visible].mean()) if visible.any() else float("nan")


def oks(pred: np.ndarray, gt: np.ndarray, labelled: np.ndarray, area: float, sigmas: Sequence[float]) -> float:
    """(J, 2) predictions, (J, 2) ground truth px, (J,) labelled (COCO v > 0), area px² -> OKS in [0, 1]
    (NaN when no joint is labelled)."""
    labelled = np.asarray(labelled, bool)
    if not labelled.any():
        return float("nan")
    d2 = ((np.asarray(pred, float) - np.asarray(gt, float)) ** 2).sum(axis=1)
    k2 = (2 * np.asarray(sigmas, float)) ** 2
    e = d2 / k2 / (area + np.spacing(1)) / 2
    return float(np.exp(-e)[labelled].mean())


def oks_iou(keypoints: np.ndarray, area: float, others: np.ndarray, other_scores: np.ndarray, other_areas: np.ndarray,
            sigmas: Sequence[float], min_score: float = 0.2) -> np.ndarray:
    """OKS of one pose (J, 2) px, of region area ``area`` px², with each of ``others`` (N, J, 2)
    -> (N,), as the reference's ``oks_iou`` (lib/nms/nms.py): the scale is the mean of the two
    areas, and only the joints of the *other* pose scoring above ``min_score`` count. (The
    reference writes ``list(vg > t) and list(vd > t)``, which Python evaluates to the second list.)"""
    k2 = (2 * np.asarray(sigmas, float)) ** 2
    d2 = ((np.asarray(others, float) - np.asarray(keypoints, float)) ** 2).sum(axis=2)  # (N, J)
    e = d2 / k2 / ((area + np.asarray(other_areas, float))[:, None] / 2 + np.spacing(1)) / 2
    counted = np.asarray(other_scores) > min_score
    n = counted.sum(axis=1)
    return np.where(n > 0, (np.exp(-e) * counted).sum(axis=1) / np.maximum(n, 1), 0.0)


def oks_nms(keypoints: np.ndarray, scores: np.ndarray, person_scores: np.ndarray, areas: np.ndarray,
            sigmas: Sequence[float], threshold: float = 0.9, min_score: float = 0.2) -> np.ndarray:
    """Indices of the poses kept by the reference's ``oks_nms``: best person score first, each
    pose dropping the remaining ones whose OKS with it is above ``threshold``.
    keypoints (N, J, 2) px, scores (N, J), person_scores (N,), areas (N,) px²."""
    order = np.argsort(-np.asarray(person_scores), kind="stable")
    keep = []
    while order.size:
        i, rest = order[0], order[1:]
        keep.append(int(i))
        overlap = oks_iou(keypoints[i], areas[i], keypoints[rest], scores[rest], areas[rest], sigmas, min_score)
        order = rest[overlap <= threshold]
    return np.array(keep, np.int64)


def pose_similarity(a: np.ndarray, a_scores: np.ndarray, a_areas: np.ndarray, b: np.ndarray, b_scores: np.ndarray,
                    b_areas: np.ndarray, sigmas: np.ndarray, min_score: float = 0.2) -> np.ndarray:
    """OKS between poses a (N, J, 2) and b (M, J, 2) px -> (N, M): the mean over the joints both
    score above ``min_score`` (0.2, as the person score) of exp(-d² / (2 s² (2 sigma)²)), s² the mean of the two box areas
    (px²); 0 for a pair with no such joint."""
    k2 = (2 * np.asarray(sigmas, float)) ** 2  # (J,)
    d2 = ((a[:, None] - b[None, :]) ** 2).sum(axis=3)  # (N, M, J)
    s2 = (np.asarray(a_areas, float)[:, None] + np.asarray(b_areas, float)[None, :]) / 2  # (N, M)
    e = np.exp(-d2 / k2 / (2 * s2[..., None] + np.spacing(1)))
    both = (a_scores[:, None, :] > min_score) & (b_scores[None, :, :] > min_score)  # (N, M, J)
    n = both.sum(axis=2)
    return np.where(n > 0, (e * both).sum(axis=2) / np.maximum(n, 1), 0.0)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of boxes (N, 4) and (M, 4), x1 y1 x2 y2 px -> (N, M)."""
    a, b = np.asarray(a, float).reshape(-1, 4), np.asarray(b, float).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


def box_area(box: Sequence[float]) -> float:
    """Area px² of an (x1, y1, x2, y2) box, each side at least 1 px."""
    return max(float(box[2] - box[0]), 1.0) * max(float(box[3] - box[1]), 1.0)
