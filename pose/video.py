"""Video files: read the frames, follow everyone with identities (``pose.tracking``), write an
annotated H.264 MP4 that browsers play, and the per-frame keypoints.

Frames are read with OpenCV; the MP4 is encoded by the ffmpeg binary that the PyPI package
imageio-ffmpeg ships (libx264, yuv420p, faststart: what every browser plays).
"""

from __future__ import annotations

import csv
import io
import logging
import math
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .draw import draw_tracks, fit_for_display
from .errors import PoseError
from .estimator import Box, PoseEstimator
from .tracking import DEFAULT_THRESHOLD, FRAME_CSV_HEADERS, TrackerSettings, VideoTracker

log = logging.getLogger(__name__)

MAX_SECONDS = 60.0  # longer videos are cut, and the result says so
DEFAULT_FPS = 25.0  # when the file does not say


class VideoError(PoseError):
    """The video cannot be read, or has no frames."""


@dataclass(frozen=True)
class VideoResult:
    """What came out of one video. ``frames`` are JSON-ready dicts, not arrays: a minute of
    video keeps a few MB, where every person's crop and heatmaps would take gigabytes."""

    path: Path  # the annotated MP4 (H.264)
    fps: float
    frames: list[dict[str, Any]]  # TrackedFrame.to_dict() per frame: frame, time (s), people [{track_id, box, box_source, score, joints}]
    cut: bool  # True when the input was longer than the limit and only its start was processed
    model: str
    skeleton: str  # "mpii" or "coco": the joint set of every person
    detector: str | None  # the person detector's name (None: the model ran on the whole frame)
    detect_every: int  # the detector ran on every k-th frame
    followed: bool  # single-person mode: only the person in the first frame's box was tracked

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "skeleton": self.skeleton, "detector": self.detector, "detect_every": self.detect_every,
                "followed": self.followed, "fps": self.fps, "cut": self.cut, "frames": self.frames}

    def to_csv(self) -> str:
        """One row per joint per person per frame: frame, time, track_id, joint, x, y, confidence."""
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(FRAME_CSV_HEADERS)
        for f in self.frames:
            for p in f["people"]:
                w.writerows((f["frame"], f["time"], p["track_id"], j["name"], j["x"], j["y"], j["score"]) for j in p["joints"])
        return buf.getvalue()


def annotate_video(
    estimator: PoseEstimator,
    source: str | os.PathLike,
    out_path: str | os.PathLike,
    *,
    box: Box | None = None,
    flip: bool = False,
    threshold: float = DEFAULT_THRESHOLD,
    smooth: bool = True,
    detect_every: int = 1,
    settings: TrackerSettings | None = None,
    max_seconds: float = MAX_SECONDS,
    progress: Callable[[float], None] | None = None,
) -> VideoResult:
    """Track everyone through ``source`` and write the annotated MP4 to ``out_path``: each
    identity in its colour with its number. ``box`` (x1, y1, x2, y2 px on the first frame)
    follows only the person in it. The detector runs on every ``detect_every``-th frame, boxes
    propagated by optical flow in between. ``settings`` overrides all tracking options
    (``flip``, ``smooth`` and ``detect_every`` included). ``progress(fraction)`` is called after each frame."""
    settings = settings or TrackerSettings(detect_every=detect_every, smooth=smooth, flip=flip)
    cap = cv2.VideoCapture(str(source))
    if not cap.isOpened():
        raise VideoError("This file is not a video we can read. Please upload an MP4, WebM, MOV or AVI video.")
    try:
        fps = cap.get(cv2.CAP_PROP_FPS)
        fps = fps if fps and math.isfinite(fps) and 1 <= fps <= 240 else DEFAULT_FPS
        limit = int(round(max_seconds * fps))
        total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or 0
        tracker = VideoTracker(estimator, settings, fps=fps)
        frames: list[dict[str, Any]] = []
        writer: _Writer | None = None
        cut = False
        try:
            while True:
                ok, bgr = cap.read()
                if not ok:
                    break
                if len(frames) == limit:
                    cut = True
                    break
                rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
                tracked = tracker.update(rgb, follow_box=box if not frames else None)
                frames.append(tracked.to_dict())
                picture = draw_tracks(fit_for_display(rgb), tracked, threshold)
                if writer is None:
                    writer = _Writer(Path(out_path), picture.shape[1], picture.shape[0], fps)
                writer.write(picture)
                if progress:
                    progress(len(frames) / max(1, min(limit, total) if total else limit))
        finally:
            if writer is not None:
                writer.close()
    finally:
        cap.release()
    if not frames:
        raise VideoError("This video has no frames we can read (it may be damaged or empty).")
    if cut:
        log.info("video cut to its first %.0f s (%d frames)", max_seconds, len(frames))
    detector = estimator.detector.name if estimator.detector is not None else None
    return VideoResult(path=Path(out_path), fps=fps, frames=frames, cut=cut, model=estimator.name,
                       skeleton=estimator.config.skeleton.name, detector=detector, detect_every=settings.detect_every,
                       followed=box is not None)


class _Writer:
    """Raw RGB frames piped into ffmpeg -> H.264 MP4 (even width and height, as yuv420p needs)."""

    def __init__(self, path: Path, width: int, height: int, fps: float) -> None:
        import imageio_ffmpeg

        self.w, self.h = width - width % 2, height - height % 2
        cmd = [
            imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{self.w}x{self.h}", "-r", f"{fps:.6g}", "-i", "-",
            "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p", "-movflags", "+faststart",
            str(path),
        ]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)

    def write(self, rgb: np.ndarray) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(np.ascontiguousarray(rgb[: self.h, : self.w]).tobytes())

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
        if self.proc.wait() != 0:
            raise VideoError(f"Encoding the annotated video failed: {err.strip()[:200]}")
