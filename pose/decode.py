"""Heatmaps -> joint coordinates, with the reference implementation's semantics.

Mirrors ``lib/core/inference.py`` of microsoft/human-pose-estimation.pytorch (vectorised,
without its global config):

1. ``get_max_preds``: argmax of each heatmap -> integer (x, y); the maximum is the score;
   coordinates are set to (0, 0) where the maximum is <= 0.
2. ``get_final_preds`` with POST_PROCESS: a quarter-pixel shift toward the higher
   neighbour, sign(hm[y, x+1] - hm[y, x-1]) * 0.25 in x (likewise in y), applied only
   where the rounded peak satisfies 1 < px < W - 1 and 1 < py < H - 1 (the reference's
   border guard, which also skips column/row 1).
3. the inverse affine of the crop, computed for the heatmap size, back to image pixels.

Flip test (``lib/core/function.py``): run the mirrored crop, mirror its heatmaps back,
swap left/right channels, shift right by one heatmap pixel when the heatmap is coarser
than the input (the reference's SHIFT_HEATMAP for stride 4), and average.
"""

from __future__ import annotations

import numpy as np


def max_preds(heatmaps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(J, H, W) heatmaps -> coords (J, 2) float heatmap px (x, y), maxvals (J,)."""
    j, _, w = heatmaps.shape
    flat = heatmaps.reshape(j, -1)
    idx = flat.argmax(axis=1)
    maxvals = flat[np.arange(j), idx]
    coords = np.stack([idx % w, idx // w], axis=1).astype(np.float64)
    coords *= (maxvals > 0.0)[:, None]
    return coords, maxvals


def quarter_offset(heatmaps: np.ndarray, coords: np.ndarray) -> np.ndarray:
    """Shift each (x, y) 0.25 px toward the higher neighbour, inside the reference's border guard."""
    _, h, w = heatmaps.shape
    px = np.floor(coords[:, 0] + 0.5).astype(np.int64)
    py = np.floor(coords[:, 1] + 0.5).astype(np.int64)
    inside = (px > 1) & (px < w - 1) & (py > 1) & (py < h - 1)
    out = coords.copy()
    rows = np.nonzero(inside)[0]
    if rows.size:
        x, y = px[rows], py[rows]
        dx = heatmaps[rows, y, x + 1] - heatmaps[rows, y, x - 1]
        dy = heatmaps[rows, y + 1, x] - heatmaps[rows, y - 1, x]
        out[rows] += np.sign(np.stack([dx, dy], axis=1)) * 0.25
    return out


def decode_heatmaps(heatmaps: np.ndarray, heatmap_to_image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(J, H, W) heatmaps and a 2x3 heatmap->image affine -> keypoints (J, 2) image px, scores (J,)."""
    coords, maxvals = max_preds(heatmaps)
    coords = quarter_offset(heatmaps, coords)
    keypoints = coords @ heatmap_to_image[:, :2].T + heatmap_to_image[:, 2]
    return keypoints, maxvals.astype(np.float64)


def flip_shift(input_width: int, heatmap_width: int) -> int:
    """Heatmap px by which mirrored heatmaps are shifted right before averaging.

    Mirroring input pixel x gives W_in - 1 - x; in heatmap px (stride s) that is
    W_hm - 1/s - x/s, while mirroring the heatmap gives W_hm - 1 - x/s: off by 1 - 1/s.
    The reference rounds 0.75 (stride 4) to 1; at stride 1 there is nothing to shift.
    """
    stride = input_width / heatmap_width
    return int(np.floor(1.0 - 1.0 / stride + 0.5))


def flip_back(heatmaps_of_flipped: np.ndarray, shift: int, permutation: tuple[int, ...]) -> np.ndarray:
    """(J, H, W) heatmaps of the mirrored crop -> aligned with the original crop; ``permutation``
    is the skeleton's ``flip_permutation`` (left and right joints swapped)."""
    out = heatmaps_of_flipped[list(permutation), :, ::-1]
    if shift > 0:
        shifted = out.copy()
        shifted[:, :, shift:] = out[:, :, :-shift]  # column 0 keeps its value, as in the reference
        out = shifted
    return np.ascontiguousarray(out)
