"""Following one person through video frames (UI-free).

Box propagation, as in the paper's tracking baseline: the person box for frame t is the
bounding box of frame t-1's confident joints, extended by 15 % (the paper's extension for
propagated boxes, Sec. 3.1), then cropped like any given box (padded by 1.25). So a small
person in a large frame is cropped tightly from the second frame on. With too few confident
joints the tracker falls back to the user's box, or the whole frame, and says so in
``box_source``: "previous", "user" or "image".

Optional temporal smoothing of the keypoints with a One Euro filter (Casiez et al., CHI
2012): a low-pass filter whose cut-off rises with speed, so still joints stop jittering
while moving joints do not lag. Parameters live in ``SmoothingParams``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from .estimator import Box, PoseEstimator
from .result import PoseResult

PROPAGATED_BOX_EXTENSION = 0.15  # each side of the joints' box grows by half of this x its size
MIN_CONFIDENT_JOINTS = 6  # fewer confident joints than this: no box to propagate
MIN_BOX_FRACTION = 0.05  # joints spanning less than this x the frame's shorter side: no box either
DEFAULT_THRESHOLD = 0.2  # a joint at or above this score counts as confident


@dataclass(frozen=True)
class SmoothingParams:
    """One Euro filter parameters (units: px and seconds)."""

    min_cutoff: float = 1.0  # Hz: cut-off at rest; lower = smoother still joints
    beta: float = 0.05  # how fast the cut-off rises with speed (1/px); higher = less lag
    d_cutoff: float = 1.0  # Hz: cut-off for the speed estimate


def keypoint_box(result: PoseResult, threshold: float = DEFAULT_THRESHOLD, min_joints: int = MIN_CONFIDENT_JOINTS,
                 extension: float = PROPAGATED_BOX_EXTENSION) -> tuple[float, float, float, float] | None:
    """Box (x1, y1, x2, y2) px around the confident joints, extended; None if too few joints,
    or if they huddle in a spot too small to be a person (a lock-on to clutter would otherwise
    shrink the box frame by frame and never let go)."""
    ok = result.scores >= threshold
    if ok.sum() < min_joints:
        return None
    pts = result.keypoints[ok]
    (x1, y1), (x2, y2) = pts.min(axis=0), pts.max(axis=0)
    if max(x2 - x1, y2 - y1) < MIN_BOX_FRACTION * min(result.image_size):
        return None
    w, h = max(x2 - x1, 1.0), max(y2 - y1, 1.0)
    dx, dy = w * extension / 2, h * extension / 2
    width, height = result.image_size
    return (max(0.0, x1 - dx), max(0.0, y1 - dy), min(float(width), x2 + dx), min(float(height), y2 + dy))


@dataclass(frozen=True)
class FilterState:
    """What a One Euro filter remembers between samples."""

    value: np.ndarray  # the last output, same shape as the input (e.g. (J, 2) px)
    speed: np.ndarray  # its low-passed derivative, units per second, same shape


def one_euro(x: np.ndarray, dt: float, state: FilterState | None,
             params: SmoothingParams = SmoothingParams()) -> tuple[np.ndarray, FilterState]:
    """One step of the One Euro filter: sample ``x`` taken ``dt`` s after the previous one
    -> (filtered x, new state). ``state=None`` starts afresh (the sample passes unchanged).
    For (N, 2) points the speed that opens the filter is each point's 2-D speed."""
    x = np.asarray(x, dtype=np.float64)
    if state is None:
        return x.copy(), FilterState(x.copy(), np.zeros_like(x))
    dt = max(dt, 1e-3)
    a_d = _alpha(params.d_cutoff, dt)
    speed = a_d * (x - state.value) / dt + (1 - a_d) * state.speed
    magnitude = np.linalg.norm(speed, axis=-1, keepdims=True) if x.ndim > 1 else np.abs(speed)
    a = _alpha(params.min_cutoff + params.beta * magnitude, dt)
    value = a * x + (1 - a) * state.value
    return value.copy(), FilterState(value, speed)


def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    """Smoothing factor of a first-order low-pass with ``cutoff`` Hz, sampled every ``dt`` s."""
    tau = 1.0 / (2 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


@dataclass(frozen=True)
class TrackState:
    """What following one person carries from a frame to the next: a box and the filter's
    memory, a few hundred bytes, so a web session can keep it (the model stays shared)."""

    box: tuple[float, float, float, float] | None = None  # px: next frame's person box; None = fall back
    filter: FilterState | None = None  # smoothing memory (None when smoothing is off or restarting)
    time: float | None = None  # s (any clock): when the last frame was taken
    frames: int = 0  # frames followed since the last (re)start


def track(estimator: PoseEstimator, frame: np.ndarray, state: TrackState | None, now: float, *,
          user_box: Box | None = None, threshold: float = DEFAULT_THRESHOLD, smooth: bool = True,
          params: SmoothingParams = SmoothingParams(), flip: bool = False,
          max_gap: float = math.inf) -> tuple[PoseResult, TrackState]:
    """One frame of tracking: (H, W, 3) uint8 RGB frame taken at ``now`` s -> (PoseResult
    with ``box_source`` saying where its box came from, state for the next frame).

    ``state=None`` (or a gap of more than ``max_gap`` s since the last frame) starts afresh
    from ``user_box``, or the whole frame when there is none.
    """
    if state is None or (state.time is not None and now - state.time > max_gap):
        state = TrackState()
    if state.box is not None:
        box, source = state.box, "previous"
    else:
        box, source = user_box, ("user" if user_box is not None else "image")
    result = estimator.estimate(frame, box=box, flip=flip)
    if source == "previous":
        result = replace(result, box_source="previous")
    # The next box comes from the raw joints: smoothing must not drag the crop behind the person.
    next_box = keypoint_box(result, threshold)
    filtered = None
    if smooth:
        dt = now - state.time if state.time is not None else 0.0
        keypoints, filtered = one_euro(result.keypoints, dt, state.filter, params)
        result = replace(result, keypoints=keypoints)
    return result, TrackState(box=next_box, filter=filtered, time=now, frames=state.frames + 1)


class PoseTracker:
    """``track`` over the frames of a video at a fixed frame rate, state kept inside."""

    def __init__(self, estimator: PoseEstimator, threshold: float = DEFAULT_THRESHOLD, smooth: bool = True,
                 fps: float = 30.0, params: SmoothingParams = SmoothingParams(), flip: bool = False) -> None:
        self.estimator, self.threshold, self.smooth, self.params, self.flip = estimator, threshold, smooth, params, flip
        self.dt = 1.0 / fps
        self.state: TrackState | None = None

    def reset(self) -> None:
        self.state = None

    def update(self, frame: np.ndarray, user_box: Box | None = None) -> PoseResult:
        """(H, W, 3) uint8 RGB frame -> PoseResult, ``box_source`` saying where its box came from."""
        now = self.state.frames * self.dt if self.state is not None else 0.0
        result, self.state = track(self.estimator, frame, self.state, now, user_box=user_box, threshold=self.threshold,
                                   smooth=self.smooth, params=self.params, flip=self.flip)
        return result
