"""Median per-stage latency of the pipeline on a 1920x1080 photo, for each model in one run.

    python -m benchmarks.latency [--runs 50] [--threads 2] [--flip] [--no-pose-resnet] [--model-path DIR ...]

Models (default): the shared EfficientPose-I (MPII, 256x256 heatmaps), the bundled PP-TinyPose
(COCO, 256x192), and the int8 PoseResNet-50 exported from a random-weight checkpoint in the
official format (made on the fly, about a minute; speed only). ``--model-path`` replaces them.
The photo is an MPII image upscaled to 1920x1080 and encoded as JPEG at quality 90. Prints the
median of each stage (decode = reading the JPEG, draw = overlay + heatmap gallery), the total,
and the share outside inference (target: <= 10 ms).
"""

from __future__ import annotations

import io
import statistics
import tempfile
import time
from pathlib import Path

from PIL import Image

from benchmarks.models import benchmark_arguments, start, standard_models
from pose import ModelSource, PoseEstimator
from pose.draw import draw_skeleton, fit_for_display, heatmap_tiles
from tests.shared_data import mpii_people

STAGES = ("image decode", "crop", "inference", "heatmap decode", "draw overlay + gallery")
SHORT = ("decode", "crop", "inference", "hm decode", "draw")  # column headings
BOX = (600.0, 40.0, 1500.0, 1060.0)  # px of the 1080p photo: the person


def photo_1080p() -> bytes:
    person = mpii_people()[0]
    img = Image.open(person.image).convert("RGB").resize((1920, 1080), Image.BICUBIC)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def stage_medians(est: PoseEstimator, photo: Path, runs: int, flip: bool) -> dict[str, float]:
    """Median ms of each stage, as app.py runs them, after 3 warm-up runs."""
    stages: dict[str, list[float]] = {k: [] for k in STAGES}
    for i in range(runs + 3):
        t = [time.perf_counter()]
        image = est.read(photo, BOX)  # decoded at the resolution the crop uses
        t.append(time.perf_counter())
        crop = est.prepare(image, BOX)
        t.append(time.perf_counter())
        heatmaps = est.infer(crop.pixels, flip)
        t.append(time.perf_counter())
        result = est.decode(heatmaps, crop, image, flip)
        t.append(time.perf_counter())
        draw_skeleton(fit_for_display(image.pixels), result, 0.2)
        heatmap_tiles(result)
        t.append(time.perf_counter())
        if i >= 3:
            for name, a, b in zip(stages, t, t[1:]):
                stages[name].append((b - a) * 1e3)
    return {k: statistics.median(v) for k, v in stages.items()}


def main() -> int:
    ap = benchmark_arguments(__doc__, runs=50)
    ap.add_argument("--flip", action="store_true")
    ap.add_argument("--model-path", action="append", help="model folder(s) to measure instead of the default three")
    args = start(ap)
    with tempfile.TemporaryDirectory() as tmp:
        models = ({Path(p).name: Path(p) for p in args.model_path} if args.model_path
                  else standard_models(Path(tmp), with_pose_resnet=not args.no_pose_resnet))
        photo = Path(tmp) / "photo.jpg"
        photo.write_bytes(photo_1080p())
        table = {}
        for label, folder in models.items():
            est = PoseEstimator.load(ModelSource(path=folder), threads=args.threads)
            table[label] = (est, stage_medians(est, photo, args.runs, args.flip))

    print(f"photo: 1920x1080 JPEG, person box {BOX}, {args.threads} threads, flip={args.flip}, median of {args.runs} runs (ms)")
    print(f"{'model':<44}" + "".join(f"{s:>11}" for s in SHORT) + f"{'total':>9}{'outside':>9}")
    for label, (est, med) in table.items():
        total = sum(med.values())
        print(f"{label:<44}" + "".join(f"{med[s]:>11.2f}" for s in STAGES) + f"{total:>9.2f}{total - med['inference']:>9.2f}")
    for label, (est, med) in table.items():
        total = sum(med.values())
        outside = total - med["inference"]
        print(f"{label}: {est.config.input_height}x{est.config.input_width} input, {len(est.config.skeleton)} joints; "
              f"outside inference {outside:.2f} ms ({outside / total:.0%} of the total; target <= 10 ms: "
              f"{'met' if outside <= 10 else 'NOT met'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
