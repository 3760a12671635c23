"""Frames per second of the whole video path, with and without tracking, in one run.

    python -m benchmarks.video [--seconds 10] [--threads 2]

A 1280x720 clip at 25 fps is made from a shared MPII photo (the person moves and shrinks),
encoded as MP4, then annotated end to end: decode, pose per frame, overlay, H.264 encode.
"Tracking" propagates the box from frame to frame and smooths; "no tracking" runs every
frame on the whole frame.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import cv2

from pose import ModelSource, PoseEstimator
from pose.video import annotate_video
from tests.shared_data import make_model_dir, missing_reason, moving_clip, mpii_person, shared_available

FPS = 25


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--model-path", help="model folder (default: the shared EfficientPose-I with the test config)")
    args = ap.parse_args()
    if not shared_available():
        print(missing_reason(), file=sys.stderr)
        return 2
    person = mpii_person("060754485.jpg")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        est = PoseEstimator.load(ModelSource(path=args.model_path or make_model_dir(tmp / "model")), threads=args.threads)
        clip = tmp / "clip.mp4"
        n = int(args.seconds * FPS)
        writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (1280, 720))
        for frame, _, _ in moving_clip(person, frames=n, end_scale=0.5, end_shift=(300.0, 150.0)):
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        writer.release()
        rates = {}
        for label, track in (("tracking", True), ("no tracking", False)):
            t = time.perf_counter()
            result = annotate_video(est, clip, tmp / f"out-{track}.mp4", box=person.box if track else None, track=track)
            rates[label] = len(result.frames) / (time.perf_counter() - t)
    print(f"{args.seconds:g} s 1280x720 clip ({n} frames), model {est.name}, {args.threads} threads, end to end:")
    for label, fps in rates.items():
        print(f"  {label:<12} {fps:6.1f} frames/s  ({fps / rates['no tracking']:.2f}x of no tracking)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
