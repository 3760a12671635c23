"""``python -m pose IMAGE [IMAGE ...]``: everyone's keypoints in images from the command line,
one model load."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import cv2

from .detector import detector_source
from .draw import draw_people
from .errors import PoseError
from .estimator import PoseEstimator, parse_boxes
from .hub import ModelSource

log = logging.getLogger("pose")


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """Model options shared by the CLI and the app (they override the POSE_MODEL_* variables)."""
    g = parser.add_argument_group("model (default: POSE_MODEL_PATH, else POSE_MODEL_REPO, else the project's Hub repo)")
    g.add_argument("--model-path", help="local folder with pose_config.json and the ONNX file (offline use)")
    g.add_argument("--model-repo", help="Hugging Face Hub repo id holding pose_config.json and the ONNX file")
    g.add_argument("--model-revision", help="branch, tag or commit of --model-repo (default: main)")
    g.add_argument("--threads", type=int, help="onnxruntime intra-op threads (default: POSE_THREADS or the core count)")
    d = parser.add_argument_group("person detector (default: POSE_DETECTOR_PATH, else POSE_DETECTOR_REPO, else the bundled YOLOX-Nano)")
    d.add_argument("--detector-path", help="local folder with detector_config.json and the ONNX file")
    d.add_argument("--detector-repo", help="Hugging Face Hub repo id holding detector_config.json and the ONNX file")
    d.add_argument("--detector-revision", help="branch, tag or commit of --detector-repo (default: main)")


def source_from_args(args: argparse.Namespace) -> ModelSource:
    return ModelSource.resolve(path=args.model_path, repo=args.model_repo, revision=args.model_revision)


def estimator_from_args(args: argparse.Namespace) -> PoseEstimator:
    """The pose model and the detector the flags (and POSE_* variables) choose."""
    detector = detector_source(args.detector_path, args.detector_repo, args.detector_revision)
    return PoseEstimator.load(source_from_args(args), threads=args.threads, detector=detector)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pose", description="Estimate the pose of every person in each image.")
    parser.add_argument("images", nargs="+", metavar="IMAGE")
    parser.add_argument("--flip", action="store_true", help="flip test: average with the mirrored image")
    parser.add_argument("--boxes", "--box", dest="boxes", metavar="BOXES",
                        help="person boxes 'x1,y1,x2,y2; x1,y1,x2,y2' in pixels (each padded by 1.25); default: find everyone")
    parser.add_argument("--json", type=Path, metavar="OUT.json", help="write results here instead of standard output")
    parser.add_argument("--overlay-dir", type=Path, metavar="DIR", help="write <image>_pose.jpg skeleton overlays here")
    parser.add_argument("--threshold", type=float, default=0.2, help="confidence threshold for overlays (default 0.2)")
    add_model_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger("pose").setLevel(logging.INFO)  # our progress; libraries stay at warnings

    try:
        boxes = parse_boxes(args.boxes) if args.boxes else None
        estimator = estimator_from_args(args)
    except PoseError as e:
        log.error("%s", e)
        return 2

    results, failed = [], 0
    if args.overlay_dir:
        args.overlay_dir.mkdir(parents=True, exist_ok=True)
    for path in args.images:
        try:
            image = estimator.read_for(path, boxes)
            result = estimator.estimate_people(image, boxes=boxes, flip=args.flip)
        except PoseError as e:
            log.error("%s: %s", path, e)
            results.append({"file": path, "error": str(e)})
            failed += 1
            continue
        results.append({"file": path, **result.to_dict()})
        if args.overlay_dir:
            out = args.overlay_dir / f"{Path(path).stem}_pose.jpg"
            cv2.imwrite(str(out), cv2.cvtColor(draw_people(image.pixels, result, args.threshold), cv2.COLOR_RGB2BGR))
            log.info("wrote %s", out)

    text = json.dumps(results, indent=2)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
        log.info("wrote %s (%d images, %d failed)", args.json, len(results), failed)
    else:
        sys.stdout.write(text + "\n")
    return 1 if failed else 0
