"""int8 calibration choices on the two real models, against fp32, in one run.

    python -m benchmarks.calibration [--recipes NAME ...] [--threads 2]

For each recipe (calibration method, per-channel or per-tensor weights, number of calibration
crops, the layers around tensors whose channel ranges differ too much for one uint8 scale left
in fp32 ("spread N"), the layers with the largest SQNR drop left in fp32 ("fp32xN"), which
operators are quantized), both real models
are quantized by ``pose.export.quantize`` and measured with the app's own pipeline:

- EfficientPose-I (MPII, ../shared): PCKh@0.5 on the 5 shared MPII people (annotated boxes);
- PP-TinyPose (COCO, bundled): mean OKS with the ground-truth boxes and keypoint AP with the
  detector's boxes, on the 49 photos / 108 people of ../shared/data/coco_multi;
- both: "OKS to fp32", the mean OKS between the int8 and the fp32 keypoints of the 108
  coco_multi people (a finer, label-free measure of how faithful int8 is).

A first row scores the fp32 model on crops with +-1 grey level of pixel noise (``PixelNoise``):
how far an invisible change moves each measure on these few people, the floor below which an
int8 difference cannot be told from noise.

Calibration photos: examples/ and ../shared/data/coco (none of the evaluated photos); the
people in them are found by the bundled detector (see ``calibration_crops``).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.models import benchmark_arguments, start
from pose.config import ModelConfig
from pose.detector import PersonDetector
from pose.estimator import PoseEstimator
from pose.evaluation import evaluate, read_coco
from pose.export.quantize import (
    ACCURACY_FIRST_RECIPE,
    DEFAULT_RECIPE,
    Recipe,
    calibration_crops,
    images_in,
    quantize_static_int8,
)
from pose.hub import BUNDLED_MODEL
from pose.metrics import oks
from pose.model import PoseModel
from tests.shared_data import COCO_DIR, COCO_MULTI_DIR, FIXTURE_CONFIG, MPII_DIR, REPO, SHARED_ONNX

PLAIN = 0  # outlier_spread off: every layer int8
RECIPES = {
    "minmax 8": Recipe("minmax", crops=8, outlier_spread=PLAIN),
    "minmax 32": Recipe("minmax", crops=32, outlier_spread=PLAIN),
    "minmax 128": Recipe("minmax", crops=128, outlier_spread=PLAIN),
    "minmax 32 per-tensor": Recipe("minmax", crops=32, per_channel=False, outlier_spread=PLAIN),
    "entropy 32": Recipe("entropy", crops=32, outlier_spread=PLAIN),
    "percentile 99.9 32": Recipe("percentile", percentile=99.9, crops=32, outlier_spread=PLAIN),
    "percentile 99.99 32": Recipe("percentile", percentile=99.99, crops=32, outlier_spread=PLAIN),
    "percentile 99.999 32": Recipe("percentile", percentile=99.999, crops=32, outlier_spread=PLAIN),
    "percentile 99.999 32 conv-only": Recipe("percentile", percentile=99.999, crops=32, ops="conv", outlier_spread=PLAIN),
    "percentile 99.999 32 fp32x10": Recipe("percentile", percentile=99.999, crops=32, fp32_layers=10, outlier_spread=PLAIN),
    "percentile 99.999 32 fp32x40": Recipe("percentile", percentile=99.999, crops=32, fp32_layers=40, outlier_spread=PLAIN),
    "minmax 32 spread 5": Recipe("minmax", crops=32, outlier_spread=5),
    "percentile 99.99 32 spread 5": Recipe("percentile", percentile=99.99, crops=32, outlier_spread=5),
    "percentile 99.999 32 spread 3": Recipe("percentile", percentile=99.999, crops=32, outlier_spread=3),
    "percentile 99.999 32 spread 4": Recipe("percentile", percentile=99.999, crops=32, outlier_spread=4),
    "percentile 99.999 32 spread 5 (default)": Recipe("percentile", percentile=99.999, crops=32, outlier_spread=5),
    "percentile 99.999 32 spread 10": Recipe("percentile", percentile=99.999, crops=32, outlier_spread=10),
    "percentile 99.999 32 spread 20": Recipe("percentile", percentile=99.999, crops=32, outlier_spread=20),
    "percentile 99.999 32 spread 5 bias-corr": Recipe("percentile", percentile=99.999, crops=32, outlier_spread=5,
                                                      bias_correction=True),
    "percentile 99.999 32 spread 2.5": Recipe("percentile", percentile=99.999, crops=32, outlier_spread=2.5),
    "percentile 99.999 32 spread 2.5 bias-corr": Recipe("percentile", percentile=99.999, crops=32, outlier_spread=2.5,
                                                        bias_correction=True),
}
NOISE_SEEDS = 4  # fp32 with pixel noise: the measurement floor (see PixelNoise)
assert RECIPES["percentile 99.999 32 spread 5 (default)"] == DEFAULT_RECIPE
assert RECIPES["percentile 99.999 32 spread 2.5"] == ACCURACY_FIRST_RECIPE


class PixelNoise:
    """The fp32 model with every crop's pixels moved by -1, 0 or +1 grey level (uniform, seeded)
    first: about what a different JPEG decoder does to a photo, invisible. How much that moves the
    scores is the floor of what these few people can measure: an int8 difference of that size is
    not distinguishable from such noise."""

    def __init__(self, model: PoseModel, seed: int) -> None:
        self.config, self._model, self._rng = model.config, model, np.random.default_rng(seed)

    def heatmaps(self, crops: np.ndarray) -> np.ndarray:
        """(N, H, W, 3) uint8 crops -> (N, J, Hh, Wh) float32 heatmaps of the noisy crops."""
        noise = self._rng.integers(-1, 2, crops.shape, dtype=np.int16)
        return self._model.heatmaps(np.clip(crops + noise, 0, 255).astype(np.uint8))


class Bench:
    """One real model, its labelled data, and its fp32 keypoints on the coco_multi people."""

    def __init__(self, label: str, config: ModelConfig, onnx: Path, labelled: Path, detector: PersonDetector, threads: int):
        self.label, self.config, self.onnx, self.labelled = label, config, onnx, labelled
        self.detector, self.threads = detector, threads
        self.people = read_coco(COCO_MULTI_DIR / "person_keypoints.json")
        self.crops: dict[int, list[np.ndarray]] = {}
        self.reference: list[np.ndarray] | None = None

    def score(self, path: Path, noise_seed: int | None = None) -> dict[str, float]:
        model = PoseModel(self.config, path, threads=self.threads)
        est = PoseEstimator(model if noise_seed is None else PixelNoise(model, noise_seed), self.detector)
        keypoints = [est.estimate(p.image, box=p.box).keypoints for p in self.people]
        if self.reference is None:
            self.reference = keypoints
        sigmas, everyone = self.config.skeleton.oks_sigmas, np.ones(len(self.config.skeleton), bool)
        scores = {s.metric: s.points for s in evaluate(est, self.labelled)}
        scores["OKS to fp32"] = 100 * float(np.mean([oks(k, r, everyone, p.area, sigmas)
                                                     for k, r, p in zip(keypoints, self.reference, self.people)]))
        return scores

    def quantized(self, recipe: Recipe, folder: Path) -> tuple[Path, float, tuple[str, ...]]:
        if recipe.crops not in self.crops:
            photos = images_in(REPO / "examples") + images_in(COCO_DIR)
            self.crops[recipe.crops] = calibration_crops(self.config, photos, self.detector, recipe.crops)
        path = folder / "int8.onnx"
        t = time.perf_counter()
        q = quantize_static_int8(self.onnx, path, self.config, self.crops[recipe.crops], recipe, kernels=False)
        return path, time.perf_counter() - t, q.fp32_nodes


def main() -> int:
    ap = benchmark_arguments(__doc__, runs=1)
    ap.add_argument("--recipes", nargs="*", choices=sorted(RECIPES), help="default: all")
    args = start(ap)
    detector = PersonDetector.load(None, threads=args.threads)
    benches = [
        Bench("EfficientPose-I (MPII)", ModelConfig.load(FIXTURE_CONFIG), SHARED_ONNX, MPII_DIR / "annotations.json",
              detector, args.threads),
        Bench("PP-TinyPose (COCO)", ModelConfig.load(BUNDLED_MODEL / "pose_config.json"), BUNDLED_MODEL / "model.onnx",
              COCO_MULTI_DIR / "person_keypoints.json", detector, args.threads),
    ]
    names = args.recipes or list(RECIPES)
    with tempfile.TemporaryDirectory() as tmp:
        for bench in benches:
            fp32 = bench.score(bench.onnx)
            metrics = list(fp32)
            print(f"\n{bench.label}: int8 minus fp32, points (fp32: "
                  + ", ".join(f"{m} {v:.1f}" for m, v in fp32.items()) + ")")
            print(f"  {'recipe':<44}" + "".join(f"{m:>18}" for m in metrics) + f"{'quantize s':>12}{'fp32 nodes':>12}")
            noisy = [bench.score(bench.onnx, noise_seed=seed) for seed in range(NOISE_SEEDS)]
            print(f"  {f'fp32, pixels +-1 grey (median, {NOISE_SEEDS} seeds)':<44}"
                  + "".join(f"{float(np.median([n[m] for n in noisy])) - fp32[m]:>+18.2f}" for m in metrics), flush=True)
            for name in names:
                path, seconds, fp32_nodes = bench.quantized(RECIPES[name], Path(tmp))
                int8 = bench.score(path)
                print(f"  {name:<44}" + "".join(f"{int8[m] - fp32[m]:>+18.2f}" for m in metrics)
                      + f"{seconds:>12.0f}{len(fp32_nodes):>12}", flush=True)
    print("\n(OKS to fp32 is the int8 keypoints' OKS against fp32's, so its fp32 value is 100 and the column "
          "shows the loss directly.)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
