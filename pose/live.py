"""Live webcam: one frame at a time, the person followed between frames (UI-free).

The browser sends the newest webcam frame; ``live_frame`` estimates the pose with the
session's ``LiveState`` (the tracker's box and filter memory, a few hundred bytes), draws
the overlay and returns the state for the next frame. The model is shared, never copied.

Mirroring: browsers show a webcam like a mirror, and Gradio sends the frames mirrored too.
In a mirrored picture a person's left and right are swapped, so the frame is flipped back
before estimation (keypoints and left/right colours describe the real person) and the
overlay is flipped again so that it moves like the preview.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .draw import draw_skeleton, fit_for_display
from .estimator import PoseEstimator
from .result import PoseResult
from .tracking import DEFAULT_THRESHOLD, TrackState, track

LIVE_MAX_GAP_S = 2.0  # a longer pause between frames (camera stopped, tab hidden): start afresh
LIVE_DISPLAY_MAX_SIDE = 960  # px: long side of the live overlay (smaller = less to send per frame)
FPS_SMOOTHING = 0.2  # weight of the newest frame interval in the frames-per-second average


@dataclass(frozen=True)
class LiveState:
    """Per-session memory between live frames."""

    track: TrackState
    interval: float = math.nan  # s: moving average of the time between processed frames


@dataclass(frozen=True)
class LiveFrame:
    overlay: np.ndarray  # (H, W, 3) uint8 RGB, oriented like the preview, long side <= LIVE_DISPLAY_MAX_SIDE
    result: PoseResult  # keypoints in px of the real (un-mirrored) frame
    state: LiveState

    @property
    def fps(self) -> float:
        """Frames processed per second (moving average; NaN on the first frame)."""
        return 1.0 / self.state.interval if self.state.interval > 0 else math.nan

    def status(self, threshold: float) -> str:
        """One line for people: frame count, pace, where the box came from, joints shown."""
        where = {"previous": "from the previous frame", "image": "whole frame", "user": "given"}[self.result.box_source]
        fps = f"{self.fps:.1f} fps" if math.isfinite(self.fps) else "– fps"
        shown = int(self.result.visible(threshold).sum())
        return f"frame {self.state.track.frames} · {fps} · box: {where} · {shown}/{len(self.result.skeleton)} joints shown"


def live_frame(estimator: PoseEstimator, frame: np.ndarray, state: LiveState | None, now: float, *,
               mirrored: bool, threshold: float = DEFAULT_THRESHOLD, smooth: bool = True) -> LiveFrame:
    """(H, W, 3) uint8 RGB webcam frame received at ``now`` s -> overlay, result, next state."""
    real = np.ascontiguousarray(frame[:, ::-1]) if mirrored else frame
    previous = state.track if state is not None else None
    result, tracked = track(estimator, real, previous, now, smooth=smooth, max_gap=LIVE_MAX_GAP_S)
    interval = math.nan
    if state is not None and tracked.frames > 1:  # the same run as the previous frame
        dt = now - state.track.time
        interval = dt if math.isnan(state.interval) else (1 - FPS_SMOOTHING) * state.interval + FPS_SMOOTHING * dt
    overlay = draw_skeleton(fit_for_display(real, LIVE_DISPLAY_MAX_SIDE), result, threshold)
    if mirrored:
        overlay = np.ascontiguousarray(overlay[:, ::-1])
    return LiveFrame(overlay=overlay, result=result, state=LiveState(track=tracked, interval=interval))
