"""Live webcam: one frame at a time, everyone followed between frames with identities (UI-free).

The browser sends the newest webcam frame; ``live_frame`` tracks the people in it with the
session's ``LiveState`` (the tracks and their filter memory: small arrays, no frames), draws
the overlay and returns the state for the next frame. The model is shared, never copied.

A web session keeps no frames, so there is no optical flow here: between detector runs
(every ``LIVE_DETECT_EVERY`` frames, chosen with ``benchmarks/live.py``) each person's box
comes from their joints moved by their own recent velocity.

Mirroring: browsers show a webcam like a mirror, and Gradio sends the frames mirrored too.
In a mirrored picture a person's left and right are swapped, so the frame is flipped back
before estimation (keypoints and left/right colours describe the real person), and the
overlay is drawn on the mirrored picture with the geometry mirrored, so that it moves like
the preview and its numbers read the right way round.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from .draw import draw_tracks, fit_for_display
from .estimator import PoseEstimator
from .tracking import DEFAULT_THRESHOLD, TrackedFrame, TrackerSettings, TrackerState, track_frame

LIVE_MAX_GAP_S = 2.0  # a longer pause between frames (camera stopped, tab hidden): start afresh
LIVE_DISPLAY_MAX_SIDE = 960  # px: long side of the live overlay (smaller = less to send per frame)
LIVE_DETECT_EVERY = 5  # the detector runs on every 5th frame (and whenever nobody is followed): see benchmarks/live.py
FPS_SMOOTHING = 0.2  # weight of the newest frame interval in the frames-per-second average


@dataclass(frozen=True)
class LiveState:
    """Per-session memory between live frames."""

    tracker: TrackerState
    interval: float = math.nan  # s: moving average of the time between processed frames


@dataclass(frozen=True)
class LiveFrame:
    overlay: np.ndarray  # (H, W, 3) uint8 RGB, oriented like the preview, long side <= LIVE_DISPLAY_MAX_SIDE
    result: TrackedFrame  # keypoints in px of the real (un-mirrored) frame
    state: LiveState

    @property
    def fps(self) -> float:
        """Frames processed per second (moving average; NaN on the first frame)."""
        return 1.0 / self.state.interval if self.state.interval > 0 else math.nan

    def status(self, threshold: float) -> str:
        """One line for people: frame count, pace, and each person's number with the joints shown."""
        fps = f"{self.fps:.1f} fps" if math.isfinite(self.fps) else "– fps"
        head = f"frame {self.result.frame + 1} · {fps}"
        if not self.result.people:
            return f"{head} · nobody found"
        n = len(self.result.people)
        joints = len(self.result.people[0].skeleton)
        each = ", ".join(f"#{tid} {int(p.visible(threshold).sum())}/{joints}" for tid, p in zip(self.result.track_ids, self.result.people))
        return f"{head} · {n} {'person' if n == 1 else 'people'}: {each} joints shown"


def live_frame(estimator: PoseEstimator, frame: np.ndarray, state: LiveState | None, now: float, *,
               mirrored: bool, threshold: float = DEFAULT_THRESHOLD, smooth: bool = True,
               detect_every: int = LIVE_DETECT_EVERY) -> LiveFrame:
    """(H, W, 3) uint8 RGB webcam frame received at ``now`` s -> overlay, result, next state."""
    real = np.ascontiguousarray(frame[:, ::-1]) if mirrored else frame
    previous = state.tracker if state is not None else None
    settings = TrackerSettings(detect_every=detect_every, smooth=smooth)
    result, tracker = track_frame(estimator, real, previous, now, settings=settings, max_gap=LIVE_MAX_GAP_S)
    interval = math.nan
    if state is not None and tracker.frame > 1:  # the same run as the previous frame
        dt = now - state.tracker.time
        interval = dt if math.isnan(state.interval) else (1 - FPS_SMOOTHING) * state.interval + FPS_SMOOTHING * dt
    picture = fit_for_display(frame, LIVE_DISPLAY_MAX_SIDE)  # as sent: mirrored when the preview is
    overlay = draw_tracks(picture, mirror(result) if mirrored else result, threshold)
    return LiveFrame(overlay=overlay, result=result, state=LiveState(tracker=tracker, interval=interval))


def mirror(frame: TrackedFrame) -> TrackedFrame:
    """The same people in the left-right mirrored picture: x -> width - 1 - x for joints and boxes
    (joints keep their names: a real right wrist stays a right wrist, drawn where the mirror shows it)."""
    last = frame.image_size[0] - 1  # px: the last column

    def flipped(p):
        x1, y1, x2, y2 = p.box
        return replace(p, keypoints=p.keypoints * [-1, 1] + [last, 0], box=(last - x2, y1, last - x1, y2))

    return replace(frame, people=tuple(flipped(p) for p in frame.people))
