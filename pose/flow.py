"""Moving joints from one video frame to the next by optical flow (the paper's joint
propagation, Sec. 3.1, with OpenCV's pyramidal Lucas-Kanade in place of FlowNet2).

Sparse Lucas-Kanade follows just the points asked for (every joint of every person: tens of
points), so a frame costs a grey conversion, an image pyramid and a few 21x21 windows per
point, where a dense flow computes a vector for every pixel and we would read a few dozen of
them. ``benchmarks/flow.py`` measures both on clips whose truth is known.

A point Lucas-Kanade loses (status 0, or an error above ``MAX_LK_ERROR``) moves by the median
motion of the points of the same person that it kept; with none kept, it stays put.
"""

from __future__ import annotations

import cv2
import numpy as np

LK_WINDOW = (21, 21)  # px: the patch matched around each point, at every pyramid level
LK_LEVELS = 3  # pyramid levels above the frame: motions of up to ~ 21 x 2^3 / 2 px per frame
LK_CRITERIA = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03)
MAX_LK_ERROR = 30.0  # mean absolute difference (grey levels) of a matched patch above which a point is lost
FLOW_MAX_SIDE = 1920  # px: longer frames are followed at this size (a 720p frame: grey 0.2 ms, LK 2 ms for 34 points)


def grey_for_flow(rgb: np.ndarray) -> tuple[np.ndarray, float]:
    """(H, W, 3) uint8 RGB frame -> (grey frame, at most FLOW_MAX_SIDE px long; its scale: grey px per frame px)."""
    h, w = rgb.shape[:2]
    scale = min(1.0, FLOW_MAX_SIDE / max(h, w))
    small = rgb if scale == 1.0 else cv2.resize(rgb, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(small, cv2.COLOR_RGB2GRAY), scale


def lucas_kanade(previous: np.ndarray, current: np.ndarray, points: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Points (N, 2) px of the grey frame ``previous`` -> (N, 2) px in ``current``. ``groups`` (N,)
    says which person each point belongs to: a lost point moves with the rest of its person."""
    if len(points) == 0:
        return points.astype(np.float64)
    p0 = np.ascontiguousarray(points, np.float32).reshape(-1, 1, 2)
    p1, status, err = cv2.calcOpticalFlowPyrLK(previous, current, p0, None, winSize=LK_WINDOW, maxLevel=LK_LEVELS,
                                               criteria=LK_CRITERIA)
    moved = p1.reshape(-1, 2).astype(np.float64)
    kept = (status.ravel() == 1) & (err.ravel() <= MAX_LK_ERROR) & np.isfinite(moved).all(axis=1)
    motion = moved - points
    for g in np.unique(groups):
        mine = groups == g
        lost = mine & ~kept
        if lost.any():
            good = mine & kept
            moved[lost] = points[lost] + (np.median(motion[good], axis=0) if good.any() else 0.0)
    return moved


class FlowField:
    """Optical flow between consecutive frames of one video: ``advance(frame)`` then ``move(points)``
    moves points of the frame before to the frame just given. Holds one grey frame: for videos
    processed in one go, not for a web session's state."""

    def __init__(self) -> None:
        self.previous: np.ndarray | None = None
        self.current: np.ndarray | None = None
        self.scale = 1.0

    def advance(self, rgb: np.ndarray) -> None:
        """Take the next (H, W, 3) uint8 RGB frame."""
        self.previous = self.current
        self.current, self.scale = grey_for_flow(rgb)

    def move(self, points: np.ndarray, groups: np.ndarray) -> np.ndarray | None:
        """(N, 2) px of the previous frame -> (N, 2) px of the current one; None before two frames."""
        if self.previous is None or self.current is None or self.previous.shape != self.current.shape:
            return None
        return lucas_kanade(self.previous, self.current, points * self.scale, groups) / self.scale
