"""Frames per second of the whole video path with tracking, in one run.

    python -m benchmarks.video [--seconds 10] [--threads 2] [--no-pose-resnet]

Clips: 720p at 25 fps, composed from real COCO people cut out by their masks walking over a
real background (``tests/shared_data.composed_clip``), with 1 and with 3 people; encoded as MP4.
Each is annotated end to end (``annotate_video``: decode, detector, optical flow, a pose per
box, matching, smoothing, overlay, H.264 encode) with the detector on every frame and on every
5th frame.

Models: the bundled YOLOX-Nano + PP-TinyPose, and the int8 PoseResNet-50 (COCO, 256x192)
exported by ``pose.export`` from a random-weight checkpoint. Its weights are random (the
official ones cannot be fetched here), so its joints are noise and would steer the tracker
wrong; its row runs PP-TinyPose for the joints and decisions and PoseResNet-50 int8 on the
same crops, and counts PoseResNet-50's inference time in place of PP-TinyPose's: the frame
rate the real PoseResNet-50 would give with the same people in the same boxes.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from benchmarks.models import benchmark_arguments, pose_resnet50_int8, start
from pose import ModelSource, PoseEstimator
from pose.config import ModelConfig
from pose.hub import BUNDLED_MODEL
from pose.model import PoseModel
from pose.video import annotate_video
from tests.shared_data import composed_clip, walk
from tests.tracking_truth import JsonFrame, assignments, found_fraction, identity_switches

FPS = 25
SIZE = (1280, 720)


def clip_paths(frames: int, people: int) -> list[list[tuple[float, float, float]]]:
    """Walks across the picture: one man right to left; with three, two more crossing him."""
    paths = [walk(frames, (1100, 600), (200, 600), 360)]
    if people >= 3:
        paths.append(walk(frames, (150, 700), (1050, 700), 440))
        paths.append(walk(frames, (650, 560), (900, 560), 300))
    return paths[:people]


def write_clip(path: Path, frames: int, people: int) -> list:
    """Write the clip as MP4; return its truth [(frame, [ClipTruth])]."""
    clip = composed_clip(clip_paths(frames, people), SIZE)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, SIZE)
    for frame, _ in clip:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return clip


class SwappedTiming:
    """Wraps a PoseModel's ``heatmaps``: returns the real model's heatmaps, also runs ``stand_in``
    on the same crops, and keeps both inference times, so that a run can be re-timed as if the
    stand-in had been the pose model."""

    def __init__(self, model: PoseModel, stand_in: PoseModel) -> None:
        self.model, self.stand_in = model, stand_in
        self.real_s = self.stand_in_s = 0.0
        self.original = model.heatmaps

    def __call__(self, crops: np.ndarray) -> np.ndarray:
        t0 = time.perf_counter()
        heatmaps = self.original(crops)
        t1 = time.perf_counter()
        self.stand_in.heatmaps(crops)
        self.stand_in_s += time.perf_counter() - t1
        self.real_s += t1 - t0
        return heatmaps


def measure(est: PoseEstimator, clip: Path, out: Path, every: int, stand_in: PoseModel | None) -> tuple[float, list]:
    """(frames per second end to end, the frames' JSON)."""
    swap = None
    if stand_in is not None:
        swap = SwappedTiming(est.model, stand_in)
        est.model.heatmaps = swap  # type: ignore[method-assign]
    try:
        t = time.perf_counter()
        result = annotate_video(est, clip, out, detect_every=every)
        elapsed = time.perf_counter() - t
    finally:
        if swap is not None:
            del est.model.heatmaps
    if swap is not None:
        elapsed -= swap.real_s  # the stand-in's inference counts, the real model's does not
    return len(result.frames) / elapsed, result.frames


def main() -> int:
    ap = benchmark_arguments(__doc__, runs=1)
    ap.add_argument("--seconds", type=float, default=10.0)
    args = start(ap)
    n = int(args.seconds * FPS)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        est = PoseEstimator.load(ModelSource(path=BUNDLED_MODEL), threads=args.threads)
        models: dict[str, PoseModel | None] = {f"{est.name} (bundled)": None}
        if not args.no_pose_resnet:
            folder = pose_resnet50_int8(tmp / "pose-resnet", joints="coco")
            models["PoseResNet-50 int8 (random weights, timed in its place)"] = load_model(folder, args.threads)
        for people in (1, 3):
            path = tmp / f"clip-{people}.mp4"
            truth = write_clip(path, n, people)
            for label, stand_in in models.items():
                for every in (1, 5):
                    fps, frames = measure(est, path, tmp / "out.mp4", every, stand_in)
                    per_frame = assignments([JsonFrame(f) for f in frames], truth, est.config.skeleton.oks_sigmas)
                    shown = statistics.mean(len(f["people"]) for f in frames)
                    rows.append((people, label, every, fps, shown, identity_switches(per_frame), found_fraction(per_frame)))
    print(f"{args.seconds:g} s 1280x720 clips at {FPS} fps ({n} frames), {args.threads} threads, detector {est.detector.name}, "
          "end to end (decode, track, draw, encode):")
    print(f"{'people':>6}  {'pose model':<56} {'detector every':>14} {'frames/s':>8} {'x realtime':>10} {'people/frame':>12} "
          f"{'found':>5} {'id switches':>11}")
    for people, label, every, fps, shown, switches, found in rows:
        print(f"{people:>6}  {label:<56} {every:>14} {fps:8.1f} {fps / FPS:10.2f} {shown:12.2f} {found:5.2f} {switches:>11}")
    print("found: share of (frame, true person) pairs with a tracked pose (OKS >= 0.5); id switches: a person's number")
    print("changing, or a number passing to another person (tests/tracking_truth.py)")
    return 0


def load_model(folder: Path, threads: int) -> PoseModel:
    return PoseModel(ModelConfig.load(folder / "pose_config.json"), folder / "model.onnx", threads=threads)


if __name__ == "__main__":
    raise SystemExit(main())
