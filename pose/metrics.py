"""Accuracy measures of each skeleton's benchmark.

- PCKh (MPII): a joint is correct when its error is below ``alpha`` x the person's head size
  (the head-box diagonal x 0.6 in MPII).
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
