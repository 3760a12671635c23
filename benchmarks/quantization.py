"""Size, latency and accuracy of fp32, dynamic int8 and static int8, in one run.

    python -m benchmarks.quantization [--runs 30] [--threads 2]

1. PoseResNet-50 (Simple Baselines, MPII 256x256): a checkpoint in the official format with
   seeded random weights and re-estimated BatchNorm statistics (the released weights cannot
   be downloaded here; size and speed do not depend on the weight values), exported and
   quantized exactly as `python -m pose.export` does.
2. The same quantization applied to the real pretrained EfficientPose-I MPII model in
   ../shared: PCKh@0.5 on the 5 shared MPII people (annotated boxes), and agreement with
   fp32 keypoints on the shared COCO people (their boxes).
Calibration (both models): whole-image crops of the shared COCO photos and examples/, made
by the app's own preprocessing; none of the evaluated MPII people are among them.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from pose import ModelSource, PoseEstimator
from pose.config import ModelConfig
from pose.joints import MPII
from pose.export.cli import base_config
from pose.export.onnx_export import check_parity, export_onnx
from pose.export.pose_resnet import PoseResNet, load_checkpoint, write_test_checkpoint
from pose.export.quantize import calibration_inputs, images_in, measure, quantize_dynamic_int8, quantize_static_int8
from pose.hub import sha256_of
from pose.metrics import pckh, pckh_hits
from tests.shared_data import COCO_DIR, FIXTURE_CONFIG, REPO, SHARED_ONNX, missing_reason, mpii_people, shared_available

VARIANTS = ("fp32", "dynamic int8", "static int8")


def calibration_samples() -> list[tuple[Path, None]]:
    return [(p, None) for p in images_in(COCO_DIR) + images_in(REPO / "examples")]


def quantize_all(fp32: Path, folder: Path, config: ModelConfig, calibration: list[np.ndarray]) -> dict[str, Path]:
    paths = {"fp32": fp32, "dynamic int8": folder / "dynamic.onnx", "static int8": folder / "static.onnx"}
    quantize_dynamic_int8(fp32, paths["dynamic int8"])
    quantize_static_int8(fp32, paths["static int8"], config, calibration)
    return paths


def print_speed(title: str, paths: dict[str, Path], example: np.ndarray, threads: int, runs: int) -> dict:
    timings = {name: measure(p, example, threads=threads, runs=runs) for name, p in paths.items()}
    base = timings["fp32"]
    print(f"\n{title} ({threads} threads, batch 1, median of {runs} runs)")
    print(f"  {'variant':<14}{'size MB':>9}{'size ratio':>12}{'latency ms':>12}{'latency ratio':>15}")
    for name, t in timings.items():
        print(f"  {name:<14}{t.size_mb:>9.1f}{t.size_mb / base.size_mb:>11.2f}x{t.median_ms:>12.1f}{t.median_ms / base.median_ms:>14.2f}x")
    return timings


def coco_people() -> list[tuple[Path, tuple[float, float, float, float]]]:
    data = json.loads((COCO_DIR / "test_coco.json").read_text())
    files = {im["id"]: COCO_DIR / im["file_name"] for im in data["images"]}
    out = []
    for a in data["annotations"]:
        x, y, w, h = a["bbox"]
        if w * h >= 32 * 32 and not a.get("iscrowd"):
            out.append((files[a["image_id"]], (x, y, x + w, y + h)))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    if not shared_available():
        print(missing_reason(), file=sys.stderr)
        return 2
    samples = calibration_samples()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        # 1. PoseResNet-50 from an official-format checkpoint.
        config = base_config("resnet50", (256, 256), MPII)
        calibration = calibration_inputs(config, samples)
        ckpt = tmp / "pose_resnet_50_256x256.pth.tar"
        write_test_checkpoint(ckpt, arch="resnet50", num_joints=16, calibration=torch.from_numpy(np.concatenate(calibration)))
        model = PoseResNet("resnet50", 16)
        load_checkpoint(model, ckpt)
        fp32 = tmp / "poseresnet50.onnx"
        export_onnx(model, fp32, (256, 256))
        parity = check_parity(model, fp32, np.concatenate(calibration[:4]))
        (tmp / "r50").mkdir()
        paths = quantize_all(fp32, tmp / "r50", config, calibration)
        print(f"PoseResNet-50 MPII 256x256; ONNX fp32 vs PyTorch max abs diff {parity:.1e}; "
              f"calibration: {len(calibration)} crops")
        r50 = print_speed("PoseResNet-50", paths, calibration[0], args.threads, args.runs)
        s = r50["static int8"]
        print(f"  targets: static int8 <= 35 MB: {'met' if s.size_mb <= 35 else 'NOT met'} ({s.size_mb:.1f}); "
              f"<= 0.6x fp32 latency: {'met' if s.median_ms <= 0.6 * r50['fp32'].median_ms else 'NOT met'} "
              f"({s.median_ms / r50['fp32'].median_ms:.2f}x)")

        # 2. The same quantization on the real pretrained EfficientPose-I.
        ep_config = ModelConfig.load(FIXTURE_CONFIG)
        ep_cal = calibration_inputs(ep_config, samples)
        (tmp / "ep").mkdir()
        ep_paths = quantize_all(SHARED_ONNX, tmp / "ep", ep_config, ep_cal)
        print_speed("EfficientPose-I (real MPII weights)", ep_paths, ep_cal[0], args.threads, args.runs)
        estimators = {}
        for name, path in ep_paths.items():
            folder = tmp / "ep" / name.replace(" ", "_")
            folder.mkdir()
            (folder / path.name).symlink_to(path.resolve())
            replace(ep_config, onnx_file=path.name, onnx_sha256=sha256_of(path)).save(folder / "pose_config.json")
            estimators[name] = PoseEstimator.load(ModelSource(path=folder), threads=args.threads)

        print("\nAccuracy of EfficientPose-I per variant")
        print(f"  {'variant':<14}{'MPII PCKh@0.5':>15}{'COCO agree@5%':>15}{'COCO median px':>16}")
        people, coco = mpii_people(), coco_people()
        reference = [estimators["fp32"].estimate(path, box=box).keypoints for path, box in coco]
        for name, est in estimators.items():
            hits = [pckh_hits(est.estimate(p.image, box=p.box).keypoints, p.joints, p.visible, p.head_size) for p in people]
            mpii = pckh(np.concatenate(hits), np.concatenate([p.visible for p in people]))
            dists, agree = [], []
            for (path, box), ref in zip(coco, reference):
                d = np.linalg.norm(est.estimate(path, box=box).keypoints - ref, axis=1)
                size = max(box[2] - box[0], box[3] - box[1])
                agree.append(d <= 0.05 * size)
                dists.append(d)
            print(f"  {name:<14}{mpii:>14.1%}{np.mean(agree):>14.1%}{np.median(np.concatenate(dists)):>16.1f}")
        print(f"  (MPII: {sum(p.visible.sum() for p in people)} visible joints of {len(people)} people; "
              f"COCO: 16 joints of {len(coco)} people, agreement = within 5% of the box's long side of fp32)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
