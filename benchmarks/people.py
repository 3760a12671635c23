"""Cost of finding and estimating several people, for the bundled PP-TinyPose and the int8
PoseResNet-50 export, in one run.

    python -m benchmarks.people [--runs 20] [--threads 2] [--no-pose-resnet]

Prints, as medians over ``--runs`` (ms):
- the detector (YOLOX-Nano) on the photo;
- pose time for 1, 3, 6 and 10 people, all crops in one batched inference against one crop at a
  time (PP-TinyPose's ONNX takes batch 1, so it runs crop by crop either way);
- a 6-person photo end to end as the app runs it: read the JPEG, detect, crop, infer, decode, rank,
  draw everyone and person 1's heatmap gallery. Targets on 2 cores: <= 120 ms with the bundled
  models, <= 250 ms with the int8 PoseResNet-50.

The photo is a shared COCO val2017 image with 9 annotated people (000000350679.jpg); the people
are the detector's best boxes, capped at the count measured (``POSE_MAX_PEOPLE`` does this in the app).
The PoseResNet-50 is the export of a random-weight checkpoint in the official format: speed only.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.models import benchmark_arguments, pose_resnet50_int8, start
from pose import ModelSource, PoseEstimator
from pose.draw import draw_people, fit_for_display, heatmap_tiles
from pose.hub import BUNDLED_MODEL
from tests.shared_data import COCO_MULTI_DIR

PHOTO = COCO_MULTI_DIR / "images" / "000000350679.jpg"
COUNTS = (1, 3, 6, 10)


def median_ms(fn, runs: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def measure(label: str, est: PoseEstimator, runs: int) -> dict:
    image = est.read_for(PHOTO, None)
    boxes = [c.box for c in est.detect(image)]
    if len(boxes) < max(COUNTS):
        raise SystemExit(f"the detector found {len(boxes)} people in {PHOTO.name}; {max(COUNTS)} are needed")
    row = {"detector": median_ms(lambda: est.detector.detect(image.pixels), runs)}
    for n in COUNTS:
        some = boxes[:n]
        row[f"batch {n}"] = median_ms(lambda: est.estimate_people(image, boxes=some), runs)
        row[f"single {n}"] = median_ms(lambda: [est.estimate(image, box=b) for b in some], runs)
    six = PoseEstimator(est.model, est.detector, max_people=6)

    def end_to_end() -> None:
        loaded = six.read_for(PHOTO, None)
        result = six.estimate_people(loaded)
        draw_people(fit_for_display(loaded.pixels), result, 0.2, 0)
        heatmap_tiles(result.people[0])

    row["6-person photo"] = median_ms(end_to_end, runs)
    return row


def main() -> int:
    ap = benchmark_arguments(__doc__, runs=20)
    args = start(ap)
    with tempfile.TemporaryDirectory() as tmp:
        models = {"PP-TinyPose fp32 (bundled)": BUNDLED_MODEL}
        if not args.no_pose_resnet:
            models["PoseResNet-50 int8"] = pose_resnet50_int8(Path(tmp) / "pose-resnet")
        rows = {label: measure(label, PoseEstimator.load(ModelSource(path=folder), threads=args.threads), args.runs)
                for label, folder in models.items()}

    print(f"{PHOTO.name}, {args.threads} threads, YOLOX-Nano detector, median of {args.runs} runs (ms)")
    print(f"{'model':<28}{'detector':>9}" + "".join(f"{f'{n} batched':>12}{f'{n} singly':>11}" for n in COUNTS) + f"{'6-person photo':>16}")
    for label, row in rows.items():
        cells = "".join(f"{row[f'batch {n}']:>12.1f}{row[f'single {n}']:>11.1f}" for n in COUNTS)
        print(f"{label:<28}{row['detector']:>9.1f}{cells}{row['6-person photo']:>16.1f}")
    for label, row in rows.items():
        per = [(row[f"batch {n}"] / n, row[f"single {n}"] / n) for n in COUNTS]
        target = 120 if "bundled" in label else 250
        print(f"{label}: per person batched / singly: " + ", ".join(f"{n}: {b:.1f} / {s:.1f}" for n, (b, s) in zip(COUNTS, per))
              + f"; 6-person photo {row['6-person photo']:.0f} ms (target <= {target} ms: "
              + f"{'met' if row['6-person photo'] <= target else 'NOT met'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
