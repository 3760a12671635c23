"""``python -m pose.export``: official checkpoint (or an ONNX model folder) -> static int8 -> (Hub).

    python -m pose.export --checkpoint pose_resnet_50_256x256.pth.tar --arch resnet50 \\
        --joints mpii --out DIR [--calibration IMAGES_DIR] [--eval ANNOTATIONS] [--push-to-hub REPO_ID]
    python -m pose.export --checkpoint pose_resnet_50_256x192.pth.tar --joints coco \\
        [--input-size 256x192] --out DIR
    python -m pose.export --onnx MODEL_DIR --out DIR [--eval person_keypoints.json]

``--onnx`` takes any model folder the app loads (pose_config.json + ONNX, any joint set) and
quantizes it the same way. ``--eval`` states fp32 and int8 accuracy in the card, measured on
that labelled data (MPII annotations.json: PCKh@0.5; COCO keypoints: OKS with the annotated
boxes and AP with the detector), and where int8 loses more than ``--max-loss`` points (default
1) on a measure, quantizes again with lower ``--outlier-spread`` thresholds, starting from the
one given, until it does not (``--max-loss inf``: measure only).

``--input-size`` is HEIGHTxWIDTH, as the official file names write it; left out, it is read
from a checkpoint name that carries one (``..._256x192.pth.tar``), else the joint set's usual
size (MPII 256x256, COCO 256x192).

writes DIR/pose_config.json + DIR/model.onnx (static int8, the default the app loads),
DIR/fp32/pose_config.json + DIR/fp32/model_fp32.onnx, and DIR/README.md (model card),
after checking that onnxruntime fp32 reproduces PyTorch (max abs diff <= 1e-4) and that the
app's own session wrapper loads both. Prints size and latency of fp32, dynamic int8 (the
earlier demos' approach, not kept) and static int8. Nothing leaves the machine without
--push-to-hub.
"""

from __future__ import annotations

import argparse
import logging
import re
import shutil
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..config import CONFIG_FILENAME, ModelConfig
from ..detector import PersonDetector
from ..estimator import PoseEstimator
from ..errors import PoseError
from ..evaluation import Score, evaluate
from ..hub import sha256_of
from ..joints import SKELETONS, Skeleton
from ..model import PoseModel
from .card import CODE, Accuracy, model_card, onnx_about, points, simple_baselines_about
from .onnx_export import INPUT_NAME, OUTPUT_NAME, ParityError, check_parity, export_onnx
from .pose_resnet import ARCHS, CheckpointError, PoseResNet, complexity, load_checkpoint
from .quantize import (
    CALIBRATION_METHODS,
    DEFAULT_RECIPE,
    Recipe,
    calibration_crops,
    calibration_inputs,
    images_in,
    quantize_dynamic_int8,
    quantize_within,
)
from .speed import graph_macs, measure, session

log = logging.getLogger("pose.export")

DEFAULT_CALIBRATION = Path(__file__).resolve().parents[2] / "examples"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def base_config(arch: str, input_size: tuple[int, int], skeleton: Skeleton) -> ModelConfig:
    """The pose_config.json facts of a Simple Baselines export, ``input_size`` (width, height) px
    (file and sha filled in later)."""
    depth = arch.removeprefix("resnet")
    return ModelConfig(
        name=f"Simple Baselines PoseResNet-{depth}, {skeleton.name.upper()} {input_size[1]}x{input_size[0]}",
        source=CODE,
        license="MIT",
        onnx_file="model.onnx",
        onnx_sha256="0" * 64,
        input_name=INPUT_NAME,
        input_layout="NCHW",
        input_width=input_size[0],
        input_height=input_size[1],
        color="RGB",
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        output_name=OUTPUT_NAME,
        output_layout="NCHW",
        skeleton=skeleton,
        channel_joints=tuple(range(len(skeleton))),  # the reference's channel orders are the standard ones
    )


def write_variant(folder: Path, onnx: Path, filename: str, config: ModelConfig, label: str) -> ModelConfig:
    """Copy ``onnx`` into ``folder`` with its pose_config.json; check the app's wrapper loads it."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / filename
    shutil.copyfile(onnx, target)
    cfg = replace(config, name=f"{config.name} ({label})", onnx_file=filename, onnx_sha256=sha256_of(target))
    cfg.save(folder / CONFIG_FILENAME)
    PoseModel(cfg, target, threads=1)  # the app's own loader: names, layout and shapes must agree
    return cfg


def calibration_photos(folder: str | None) -> list[Path]:
    calibration_dir = Path(folder) if folder else DEFAULT_CALIBRATION
    photos = images_in(calibration_dir) if calibration_dir.is_dir() else []
    if not photos:
        raise SystemExit(f"error: no calibration images in {calibration_dir}; pass --calibration IMAGES_DIR")
    return photos


def recipe_from(args: argparse.Namespace) -> Recipe:
    return Recipe(method=args.calibration_method, percentile=args.percentile, per_channel=not args.per_tensor,
                  crops=args.calibration_crops, outlier_spread=args.outlier_spread, fp32_layers=args.fp32_layers,
                  bias_correction=args.bias_correction)


def measure_scores(path: Path, config: ModelConfig, labelled: list[Path], detector: PersonDetector,
                   threads: int) -> list[Score]:
    """Every measure of each labelled set for the model at ``path``, with the demo's own pipeline
    (people found by ``detector`` where a measure needs it)."""
    estimator = PoseEstimator(PoseModel(config, path, threads=threads), detector)
    return [s for data in labelled for s in evaluate(estimator, data)]


def measure_accuracy(variants: dict[str, tuple[Path, ModelConfig]], labelled: list[Path], detector: PersonDetector,
                     threads: int) -> list[Accuracy]:
    """Each labelled set's measures, for the fp32 and the int8 model (``variants``: "fp32" and
    "int8" -> ONNX and config), people found by ``detector`` where a measure needs it."""
    scores = {name: measure_scores(path, cfg, labelled, detector, threads) for name, (path, cfg) in variants.items()}
    return [Accuracy(f, i) for f, i in zip(scores["fp32"], scores["int8"])]


def quantize_and_write(fp32: Path, config: ModelConfig, args: argparse.Namespace, about: str, macs: int,
                       params: int | None = None, parity: float | None = None) -> Path:
    """fp32 ONNX -> static int8 (and dynamic, for the figures) -> the output folder and its card.
    With ``--eval`` data, int8 is measured against fp32 on it and, where it loses more than
    ``--max-loss`` points, re-quantized with more layers in fp32 (``quantize_within``)."""
    detector = PersonDetector.load(None, threads=args.threads)
    recipe = recipe_from(args)
    calibration = calibration_crops(config, calibration_photos(args.calibration), detector, recipe.crops)
    log.info("calibration: %s", recipe.describe())
    labelled = [Path(p) for p in args.eval or []]
    fp32_scores = measure_scores(fp32, config, labelled, detector, args.threads) if labelled else []
    int8_scores: list[list[Score]] = []  # per attempt, in order

    def losses(int8: Path) -> dict[str, float]:
        int8_scores.append(measure_scores(int8, config, labelled, detector, args.threads))
        return {f.metric if len(labelled) == 1 else f"{f.metric} ({f.data})": f.points - i.points
                for f, i in zip(fp32_scores, int8_scores[-1])}

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        dynamic, static = Path(tmp) / "dynamic.onnx", Path(tmp) / "static.onnx"
        quantized, chosen, attempts = quantize_within(fp32, static, config, calibration, recipe,
                                                      losses if labelled else lambda _: {}, args.max_loss,
                                                      kernels=not args.no_kernel_tuning)
        quantize_dynamic_int8(fp32, dynamic)
        output_shape = session(fp32, 1).run(None, {config.input_name: calibration[0]})[0].shape
        timings = measure({"fp32": fp32, "dynamic int8": dynamic, "static int8": static}, calibration[0],
                          threads=args.threads, runs=args.runs)
        kept = next(i for i, a in enumerate(attempts) if a is chosen)
        accuracy = [Accuracy(f, i) for f, i in zip(fp32_scores, int8_scores[kept] if labelled else [])]
        other = "fp32" if args.default == "int8" else "int8"
        variants = {"int8": (static, "model.onnx", "int8"), "fp32": (fp32, "model_fp32.onnx", "fp32")}
        for stale in (out / CONFIG_FILENAME, out / other):
            if stale.is_dir():
                shutil.rmtree(stale)
        written = {args.default: write_variant(out, *variants[args.default][:2], config, args.default),
                   other: write_variant(out / other, *variants[other][:2], config, other)}
    (out / "README.md").write_text(
        model_card(written[args.default], about, macs, timings, args.threads, chosen.recipe, quantized, args.default,
                   accuracy, output_shape=output_shape, params=params, parity=parity, attempts=attempts,
                   chosen=chosen, max_loss=args.max_loss),
        encoding="utf-8",
    )
    print(f"{'variant':<14}{'size MB':>9}{'median ms':>11}{'vs fp32':>9}   ({args.threads} threads, {args.runs} runs)")
    for name, t in timings.items():
        print(f"{name:<14}{t.size_mb:>9.1f}{t.median_ms:>11.1f}{t.median_ms / timings['fp32'].median_ms:>8.2f}x")
    if len(attempts) > 1:
        how = (f"the first within {points(args.max_loss)}" if chosen.worst <= args.max_loss
               else f"none within {points(args.max_loss)}: the closest")
        print(f"int8 recipe chosen on the --eval data ({how}): {chosen.recipe.describe()}")
    for a in accuracy:
        print(f"{a.fp32.metric} ({a.fp32.data}): fp32 {a.fp32.points:.1f}, int8 {a.int8.points:.1f} "
              f"({a.int8.points - a.fp32.points:+.1f})")
    print(f"wrote {out}: default {args.default} ({written[args.default].onnx_file}), {other} in {out / other}")
    return out


def export(args: argparse.Namespace) -> Path:
    """An official checkpoint -> ONNX fp32 (checked against PyTorch) -> int8 folder."""
    skeleton = SKELETONS[args.joints]
    w, h = input_size(args.input_size, args.checkpoint, skeleton)
    model = PoseResNet(args.arch, num_joints=len(skeleton))
    load_checkpoint(model, args.checkpoint)
    model.eval()
    stats = complexity(model, (w, h))
    config = base_config(args.arch, (w, h), skeleton)
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        export_onnx(model, fp32, (w, h))
        probe = calibration_inputs(config, [(p, None) for p in calibration_photos(args.calibration)[:4]])
        parity = check_parity(model, fp32, np.concatenate(probe))
        print(f"{args.arch}: {stats['params'] / 1e6:.2f} M parameters, {stats['macs'] / 1e9:.2f} G MACs at {w}x{h}; "
              f"ONNX fp32 vs PyTorch max abs diff {parity:.1e}")
        return quantize_and_write(fp32, config, args, simple_baselines_about(args.arch), stats["macs"],
                                  params=stats["params"], parity=parity)


def export_folder(args: argparse.Namespace) -> Path:
    """An existing model folder (ONNX + pose_config.json, any skeleton) -> int8 folder."""
    folder: Path = args.onnx
    config = ModelConfig.load(folder / CONFIG_FILENAME)
    fp32 = folder / config.onnx_file
    if not fp32.is_file():
        raise PoseError(f"{folder / CONFIG_FILENAME} names {config.onnx_file}, which is not in {folder}")
    PoseModel(config, fp32, threads=1)  # the app's own checks: names, layout and joint count agree
    shape = (1, 3, config.input_height, config.input_width) if config.input_layout == "NCHW" else \
        (1, config.input_height, config.input_width, 3)
    config = replace(config, name=re.sub(r",?\s*fp32$", "", config.name))
    return quantize_and_write(fp32, config, args, onnx_about(config), graph_macs(fp32, shape))


class PushError(RuntimeError):
    """The upload happened but could not be completed as asked."""


def push(folder: Path, repo_id: str, tag: str | None) -> str:
    """Upload ``folder`` to a Hub model repo (token from HF_TOKEN or `hf auth login`); return the commit.

    A tag marks a released version that apps pin, so an existing tag is never moved: that
    is reported as an error, naming the new commit to pin instead."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    api = HfApi()
    api.create_repo(repo_id, repo_type="model", exist_ok=True)
    commit = api.upload_folder(folder_path=str(folder), repo_id=repo_id, repo_type="model", commit_message="Export Simple Baselines model")
    if tag:
        try:
            api.create_tag(repo_id, tag=tag, revision=commit.oid, repo_type="model", exist_ok=False)
        except HfHubHTTPError as e:
            if e.response is None or e.response.status_code != 409:
                raise
            raise PushError(
                f"uploaded {folder} to {repo_id} as commit {commit.oid} on main, but tag {tag!r} already exists "
                f"on an earlier upload and was not moved. Pin POSE_MODEL_REVISION={commit.oid}, or push again with a new --tag."
            ) from None
    return commit.oid


def parse_size(text: str) -> tuple[int, int]:
    """``"256x192"`` (HEIGHTxWIDTH, as the official file names write it) -> (width, height)."""
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HEIGHTxWIDTH such as 256x192, not {text!r}") from None
    if not (8 <= w <= 4096 and 8 <= h <= 4096 and w % 32 == 0 and h % 32 == 0):
        raise argparse.ArgumentTypeError(f"the input size must be multiples of 32 from 32 to 4096 px, not {text!r}")
    return w, h


_SIZE_IN_NAME = re.compile(r"(?<!\d)(\d{2,4})x(\d{2,4})(?!\d)")


def input_size(given: tuple[int, int] | None, checkpoint: Path, skeleton: Skeleton) -> tuple[int, int]:
    """(width, height) px: ``--input-size``, else the size in the checkpoint's name, else the skeleton's usual one."""
    if given:
        return given
    found = _SIZE_IN_NAME.search(Path(checkpoint).name)
    if found:
        size = parse_size(found.group(0))
        log.info("input size %s (height x width) taken from the checkpoint name", found.group(0))
        return size
    return skeleton.input_size


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m pose.export", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = ap.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", type=Path, help="official .pth.tar (plain, {'state_dict': ...} or module.-prefixed)")
    source.add_argument("--onnx", type=Path, metavar="DIR",
                        help="an existing model folder (pose_config.json + its ONNX, any joint set) to quantize")
    ap.add_argument("--arch", default="resnet50", choices=sorted(ARCHS))
    ap.add_argument("--joints", default="mpii", choices=sorted(SKELETONS), help="joint set of the checkpoint (default mpii)")
    ap.add_argument("--input-size", type=parse_size, metavar="HxW",
                    help="network input, HEIGHTxWIDTH as in the official names (default: from the checkpoint name, "
                    "else 256x256 for MPII and 256x192 for COCO)")
    ap.add_argument("--out", required=True, type=Path, help="output folder")
    ap.add_argument("--calibration", help=f"folder of photos for int8 calibration (default: {DEFAULT_CALIBRATION})")
    ap.add_argument("--calibration-method", choices=sorted(CALIBRATION_METHODS), default=DEFAULT_RECIPE.method,
                    help=f"activation ranges (default {DEFAULT_RECIPE.method})")
    ap.add_argument("--percentile", type=float, default=DEFAULT_RECIPE.percentile,
                    help=f"with --calibration-method percentile: %% of values kept in range (default {DEFAULT_RECIPE.percentile:g})")
    ap.add_argument("--calibration-crops", type=int, default=DEFAULT_RECIPE.crops,
                    help=f"person crops to calibrate on (default {DEFAULT_RECIPE.crops})")
    ap.add_argument("--outlier-spread", type=float, default=DEFAULT_RECIPE.outlier_spread,
                    help="leave in fp32 the layers around tensors whose channel ranges differ more than this "
                    f"(largest / median channel; default {DEFAULT_RECIPE.outlier_spread:g}, 0: off)")
    ap.add_argument("--fp32-layers", type=int, default=DEFAULT_RECIPE.fp32_layers,
                    help=f"leave the N layers int8 hurts most in fp32 (default {DEFAULT_RECIPE.fp32_layers})")
    ap.add_argument("--bias-correction", action=argparse.BooleanOptionalAction, default=DEFAULT_RECIPE.bias_correction,
                    help="take the mean error of each conv's int8 weights off its bias "
                    f"(default {'on' if DEFAULT_RECIPE.bias_correction else 'off'})")
    ap.add_argument("--per-tensor", action="store_true", help="one weight scale per layer instead of per channel")
    ap.add_argument("--no-kernel-tuning", action="store_true",
                    help="skip the exact rewrites that pick onnxruntime's faster int8 kernels on this CPU")
    ap.add_argument("--eval", action="append", type=Path, metavar="ANNOTATIONS",
                    help="labelled data to state fp32 and int8 accuracy on in the card (repeatable): MPII "
                    "annotations.json (PCKh@0.5) or COCO person_keypoints.json (OKS with its boxes, AP with the detector); "
                    "also what --max-loss is checked on")
    ap.add_argument("--max-loss", type=float, default=1.0, metavar="POINTS",
                    help="with --eval: where int8 loses more than this on a measure, quantize again with more layers "
                    "in fp32 (a lower --outlier-spread, step by step from the one given) until it does not "
                    "(default 1.0; inf: measure only)")
    ap.add_argument("--default", choices=["int8", "fp32"], default="int8", help="variant the app loads from the folder root")
    ap.add_argument("--threads", type=int, default=2, help="threads for the latency figures (default 2)")
    ap.add_argument("--runs", type=int, default=20, help="timed runs per variant (default 20)")
    ap.add_argument("--push-to-hub", metavar="REPO_ID", help="upload the folder to this Hub model repo")
    ap.add_argument("--tag", help="with --push-to-hub: tag the upload (e.g. v1) so the app can pin it")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger("pose").setLevel(logging.INFO)  # our progress; libraries stay at warnings
    if not args.max_loss >= 0:
        ap.error(f"--max-loss must be 0 or more points, not {args.max_loss:g}")
    for path in args.eval or []:
        if not path.is_file():
            ap.error(f"--eval {path}: no such file")
    try:
        out = export_folder(args) if args.onnx else export(args)
    except (CheckpointError, ParityError, PoseError, ValueError) as e:
        log.error("%s", e)
        return 2
    if args.push_to_hub:
        try:
            commit = push(out, args.push_to_hub, args.tag)
        except PushError as e:
            log.error("%s", e)
            return 2
        print(f"pushed {out} to {args.push_to_hub} at commit {commit}; pin it with POSE_MODEL_REVISION={commit}")
    return 0
