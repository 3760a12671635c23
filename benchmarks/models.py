"""The models the benchmarks compare, in one place: the shared EfficientPose-I (MPII), the
bundled PP-TinyPose (COCO), and the int8 PoseResNet-50 exported from an official-format
checkpoint with random weights (speed only: the official weights cannot be fetched here)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from pose.hub import BUNDLED_MODEL
from tests.shared_data import REPO, make_model_dir, missing_reason, shared_available

log = logging.getLogger(__name__)


def pose_resnet50_int8(folder: Path, joints: str = "mpii") -> Path:
    """``python -m pose.export`` on a random-weight PoseResNet-50 checkpoint -> the int8 folder
    (needs requirements-export.txt). Takes about a minute."""
    from pose.export.cli import main as export_main
    from pose.export.pose_resnet import write_test_checkpoint
    from pose.joints import SKELETONS

    skeleton = SKELETONS[joints]
    w, h = skeleton.input_size
    folder.mkdir(parents=True, exist_ok=True)
    ckpt = folder / f"pose_resnet_50_{h}x{w}.pth.tar"
    write_test_checkpoint(ckpt, arch="resnet50", num_joints=len(skeleton), input_size=(w, h), wrapper="module")
    out = folder / "export"
    if export_main(["--checkpoint", str(ckpt), "--joints", joints, "--out", str(out),
                    "--calibration", str(REPO / "examples"), "--runs", "2"]) != 0:
        raise RuntimeError("pose.export failed")
    return out


def standard_models(tmp: Path, with_pose_resnet: bool = True) -> dict[str, Path]:
    """label -> model folder, for the models every benchmark compares."""
    models = {
        "EfficientPose-I fp32 (MPII, shared)": make_model_dir(tmp / "efficientpose"),
        "PP-TinyPose fp32 (COCO, bundled)": BUNDLED_MODEL,
    }
    if with_pose_resnet:
        models["PoseResNet-50 int8 (MPII, random weights)"] = pose_resnet50_int8(tmp / "pose-resnet")
    return models


def benchmark_arguments(doc: str, runs: int) -> argparse.ArgumentParser:
    """The options every model benchmark takes: --runs, --threads, --no-pose-resnet."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=runs)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-pose-resnet", action="store_true", help="skip the int8 PoseResNet-50 (needs PyTorch to make)")
    return ap


def start(ap: argparse.ArgumentParser) -> argparse.Namespace:
    """Parse the options, keep library logs quiet, and stop with the reason when ../shared is missing."""
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if not shared_available():
        print(missing_reason(), file=sys.stderr)
        raise SystemExit(2)
    return args
