"""int8 quantization of a pose ONNX model with onnxruntime (no PyTorch needed).

Static quantization (QDQ format, per-channel int8 weights, uint8 activations) is
calibrated on person crops made by the app's own preprocessing (``make_crop`` and
``to_input_tensor``), so the activation ranges are those the app will feed. Dynamic
quantization (weights only, activations quantized on the fly) is kept for comparison:
it was the earlier demos' approach.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_dynamic,
    quantize_static,
)
from onnxruntime.quantization.qdq_loss_debug import (
    collect_activations,
    compute_activation_error,
    create_activation_matching,
    modify_model_output_intermediate_tensors,
)
from onnxruntime.quantization.shape_inference import quant_pre_process

from ..config import ModelConfig
from ..estimator import Box, make_crop, needed_side
from ..detector import PersonDetector
from ..image_io import MAX_WORK_SIDE, LoadedImage, load_image
from ..model import inference_session, session_options, to_input_tensor
from .graph import initializers, producers
from .kernels import route_convs, space_to_depth_stem
from .subpixel import rewrite_deconvs, share_phase_scales

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}
SENSITIVITY_CROPS = 8  # calibration crops the per-layer error is measured on


def calibration_inputs(config: ModelConfig, samples: Iterable[tuple[str | os.PathLike, Box | None]]) -> list[np.ndarray]:
    """(image, person box or None) pairs -> model input tensors (1, ...) float32, made
    exactly as the app makes them."""
    tensors = []
    for source, box in samples:
        image = load_image(source, needed_side=lambda size, box=box: needed_side(config, size, box))
        tensors.append(to_input_tensor(make_crop(image, box, config).pixels[None], config))
    return tensors


def calibration_crops(config: ModelConfig, photos: Sequence[str | os.PathLike], detector: PersonDetector, count: int,
                      seed: int = 0) -> list[np.ndarray]:
    """``count`` model input tensors (1, ...) float32 for calibration: the people the detector
    finds in ``photos`` (the whole photo where it finds nobody), cropped as the app crops them;
    then the same crops mirrored; then re-framed (box scaled by 0.8-1.25 and shifted by up to
    10 % of its size, seeded), until there are ``count``."""
    people: list[tuple[LoadedImage, Box | None]] = []
    for photo in photos:
        image = load_image(photo, needed_side=lambda size: MAX_WORK_SIDE)
        boxes = [tuple(float(v) for v in b) for b in detector.detect_people(image).boxes]
        people += [(image, b) for b in boxes] or [(image, None)]
    if not people:
        raise ValueError("static quantization needs at least one calibration image")
    rng = np.random.default_rng(seed)
    crops = []
    for i in range(count):
        image, box = people[i % len(people)]
        round_ = i // len(people)
        if round_ >= 2 and box is not None:
            w, h = image.original_size
            x1, y1, x2, y2 = box
            s = np.exp(rng.uniform(np.log(0.8), np.log(1.25)))
            cx, cy = (x1 + x2) / 2 + rng.uniform(-0.1, 0.1) * (x2 - x1), (y1 + y2) / 2 + rng.uniform(-0.1, 0.1) * (y2 - y1)
            hw, hh = (x2 - x1) * s / 2, (y2 - y1) * s / 2
            box = (max(0.0, cx - hw), max(0.0, cy - hh), min(float(w), cx + hw), min(float(h), cy + hh))
        pixels = make_crop(image, box, config).pixels
        crops.append(to_input_tensor((pixels[:, ::-1] if round_ % 2 else pixels)[None], config))
    return crops


def images_in(folder: str | os.PathLike) -> list[Path]:
    """Image files directly in ``folder``, sorted."""
    return sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


class _Reader(CalibrationDataReader):
    def __init__(self, input_name: str, tensors: Sequence[np.ndarray]) -> None:
        self._items: Iterator[dict[str, np.ndarray]] = iter([{input_name: t} for t in tensors])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._items, None)


# Operators quantized: None = every one onnxruntime can. "conv" leaves activation functions,
# resizes, global pools and multiplies in fp32.
OP_SETS = {"all": None, "conv": ["Conv", "ConvTranspose", "MatMul", "Gemm", "Add", "Concat", "MaxPool", "DepthToSpace"]}
CALIBRATION_METHODS = {"minmax": CalibrationMethod.MinMax, "percentile": CalibrationMethod.Percentile,
                       "entropy": CalibrationMethod.Entropy}


@dataclass(frozen=True)
class Recipe:
    """How static int8 is calibrated. The default is the best choice measured by
    ``python -m benchmarks.calibration`` on the two real models (see README, "int8")."""

    method: str = "percentile"  # activation ranges: "minmax", "percentile" or "entropy" (onnxruntime's calibrators)
    percentile: float = 99.999  # percentile calibration: % of activation values kept inside the range
    per_channel: bool = True  # int8 weights with a scale per output channel (else one per tensor)
    crops: int = 32  # calibration crops (detected people, mirrored and re-framed to reach the count)
    outlier_spread: float = 5.0  # tensors whose channel ranges differ more than this (max / median) stay fp32; 0: off
    fp32_layers: int = 0  # the layers that add the most int8 error (SQNR drop), left in fp32
    bias_correction: bool = False  # shift each int8 conv's bias by the mean error its rounded weights add
    ops: str = "all"  # quantize "all" operators, or only "conv": convolutions and the int8 data movement between them

    def __post_init__(self) -> None:
        if self.ops not in OP_SETS:
            raise ValueError(f"ops must be one of {sorted(OP_SETS)}, not {self.ops!r}")
        if self.outlier_spread and self.outlier_spread <= 1:
            raise ValueError(f"outlier spread must be above 1 (or 0: off), not {self.outlier_spread!r}")
        if self.method not in CALIBRATION_METHODS:
            raise ValueError(f"calibration method must be one of {sorted(CALIBRATION_METHODS)}, not {self.method!r}")

    def describe(self) -> str:
        method = f"percentile {self.percentile:g} %" if self.method == "percentile" else self.method
        weights = "per-channel" if self.per_channel else "per-tensor"
        fp32 = (f", the layers around tensors whose channel ranges differ more than {self.outlier_spread:g}x in fp32"
                if self.outlier_spread else "")
        fp32 += f", {self.fp32_layers} most sensitive layers in fp32" if self.fp32_layers else ""
        fp32 += ", biases corrected for the int8 weights' mean error" if self.bias_correction else ""
        ops = ", only convolutions (and the pooling, adds and concats between them) in int8" if self.ops == "conv" else ""
        return f"{method} calibration on {self.crops} crops, {weights} int8 weights{fp32}{ops}"


DEFAULT_RECIPE = Recipe()
# Every 1-point accuracy target met on both real models (``--outlier-spread 2.5``), at the cost of
# keeping most of those two models, and 30 nodes of the (random-weight) PoseResNet-50 export, in fp32.
ACCURACY_FIRST_RECIPE = Recipe(outlier_spread=2.5)
# The outlier-spread thresholds ``quantize_within`` steps down through when int8 loses too much:
# each leaves as many layers in fp32 or more (slower, closer to fp32).
FALLBACK_SPREADS = (5.0, 4.0, 3.0, 2.5, 2.0)


@dataclass(frozen=True)
class Quantized:
    """What ``quantize_static_int8`` did."""

    deconvs_rewritten: int  # ConvTranspose layers rewritten as phase Convs
    fp32_nodes: tuple[str, ...]  # nodes left in fp32 (outlier-channel and most sensitive layers)
    stem_rewritten: bool = False  # the 7x7 stride-2 stem runs as SpaceToDepth + 4x4 conv
    gemm_convs: int = 0  # convolutions moved to onnxruntime's int8 GEMM kernel (zero point -1)
    biases_corrected: int = 0  # int8 convs whose bias absorbed their weights' mean error


def _quantize(model: Path, out: Path, calibration: Sequence[np.ndarray], input_name: str, recipe: Recipe,
              exclude: Sequence[str] = ()) -> None:
    with contextlib.redirect_stdout(io.StringIO()):  # the calibrators print their progress
        quantize_static(
            str(model),
            str(out),
            _Reader(input_name, calibration),
            quant_format=QuantFormat.QDQ,
            per_channel=recipe.per_channel,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CALIBRATION_METHODS[recipe.method],
            op_types_to_quantize=OP_SETS[recipe.ops],  # the phase Concat must be int8 too, or it dequantizes
            nodes_to_exclude=list(exclude),
            extra_options={"CalibPercentile": recipe.percentile},
        )


def activation_sqnr(fp32_model: Path, int8_model: Path, inputs: Sequence[np.ndarray], input_name: str) -> dict[str, float]:
    """tensor name -> SQNR (dB) of the int8 model's activation against the fp32 model's, measured
    by onnxruntime's QDQ debugger on ``inputs`` (the error accumulated up to that tensor)."""
    with tempfile.TemporaryDirectory() as tmp:
        aug_f, aug_q = Path(tmp) / "float.onnx", Path(tmp) / "qdq.onnx"
        modify_model_output_intermediate_tensors(str(fp32_model), str(aug_f))
        modify_model_output_intermediate_tensors(str(int8_model), str(aug_q))
        float_acts = collect_activations(str(aug_f), _Reader(input_name, inputs))
        qdq_acts = collect_activations(str(aug_q), _Reader(input_name, inputs))
    errors = compute_activation_error(create_activation_matching(qdq_acts, float_acts))
    return {name: e["xmodel_err"] for name, e in errors.items() if np.isfinite(e.get("xmodel_err", np.nan))}


def channel_spread(model: Path, inputs: Sequence[np.ndarray], input_name: str) -> dict[str, float]:
    """tensor name -> how unequal its channels are: the largest per-channel absolute maximum over
    the median one, measured by running the fp32 ``model`` on ``inputs``. A uint8 tensor has one
    scale for all its channels, so a tensor with spread 5 leaves its median channel about 50 of
    the 256 levels, and one with spread 500 (PP-TinyPose has such channels) leaves it none."""
    fp32 = onnx.load(str(model))
    names = [o.name for o in fp32.graph.output]
    live = {i.name for i in fp32.graph.input}  # tensors computed from the input (not weights)
    for node in fp32.graph.node:
        if live & set(node.input):
            live.update(node.output)
            names += [n for n in node.output if n and n not in names]
    peaks: dict[str, np.ndarray] = {}
    for values in _probe(fp32, names, inputs, input_name, session_options(threads=2)):
        for name, value in values.items():
            if value.ndim == 4 and value.dtype == np.float32:  # (N, C, H, W) activations
                peak = np.abs(value).max(axis=(0, 2, 3))  # (C,)
                peaks[name] = np.maximum(peaks[name], peak) if name in peaks else peak
    return {name: float(p.max() / max(float(np.median(p)), 1e-12)) for name, p in peaks.items() if p.size > 1}


def _probe(model: onnx.ModelProto, names: Sequence[str], inputs: Sequence[np.ndarray], input_name: str,
           opts: ort.SessionOptions) -> Iterator[dict[str, np.ndarray]]:
    """Run ``model`` with the tensors ``names`` as extra outputs: per input, name -> value."""
    probed = onnx.ModelProto()
    probed.CopyFrom(model)
    present = {o.name for o in probed.graph.output}
    probed.graph.output.extend(onnx.helper.make_empty_tensor_value_info(n) for n in names if n not in present)
    sess = inference_session(probed.SerializeToString(), opts)
    for x in inputs:
        yield dict(zip(names, sess.run(list(names), {input_name: x})))


def outlier_nodes(model: onnx.ModelProto, spread: dict[str, float], limit: float) -> list[str]:
    """The nodes that read or write a tensor whose channel spread (``channel_spread``) is above
    ``limit``: left in fp32, so that no such tensor is ever uint8 (nodes need names to be left out)."""
    wide = {name for name, s in spread.items() if s > limit}
    return [n.name for n in model.graph.node if n.name and wide & (set(n.input) | set(n.output))]


def sensitive_nodes(model: onnx.ModelProto, sqnr: dict[str, float], count: int) -> list[str]:
    """The ``count`` nodes that add the most int8 error: the largest drop in SQNR from their
    worst input to their output (``sqnr`` from ``activation_sqnr``)."""
    drops = []
    for node in model.graph.node:
        inputs = [sqnr[i] for i in node.input if i in sqnr]
        if node.name and node.output and node.output[0] in sqnr and inputs:
            drops.append((min(inputs) - sqnr[node.output[0]], node.name))
    return [name for _, name in sorted(drops, reverse=True)[:count]]


def channel_means(model: onnx.ModelProto, names: Sequence[str], inputs: Sequence[np.ndarray],
                  input_name: str) -> dict[str, np.ndarray]:
    """tensor name -> (C,) mean of each channel of that (N, C, H, W) tensor over ``inputs``, with
    ``model`` run unoptimized (a QDQ model then computes in float what its int8 kernels would)."""
    opts = session_options(threads=2)
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sums: dict[str, np.ndarray] = {}
    for values in _probe(model, names, inputs, input_name, opts):
        for n, value in values.items():
            sums[n] = sums.get(n, 0) + value.mean(axis=(0, 2, 3), dtype=np.float64)  # (C,)
    return {n: total / len(inputs) for n, total in sums.items()}


def _add_zero_bias(qdq: onnx.ModelProto, conv: onnx.NodeProto, prod: dict, inits: dict) -> None:
    """Give an int8 conv without a bias a zero int32 one, in the quantizer's form: scale = input
    scale x weight scale (per output channel), zero point 0. Does nothing unless both inputs are
    dequantized from initializers. Updates ``prod`` and ``inits``."""
    x, w = prod.get(conv.input[0]), prod.get(conv.input[1])
    if not (x is not None and w is not None and x.op_type == w.op_type == "DequantizeLinear"
            and x.input[1] in inits and w.input[1] in inits):
        return
    out = numpy_helper.to_array(inits[w.input[0]]).shape[0]
    scale = (numpy_helper.to_array(inits[x.input[1]]).astype(np.float32)
             * np.broadcast_to(numpy_helper.to_array(inits[w.input[1]]).astype(np.float32), (out,)))  # (O,)
    name = f"{conv.name}_bias_corrected"
    for t in (numpy_helper.from_array(np.zeros(out, np.int32), f"{name}_quantized"),
              numpy_helper.from_array(scale.astype(np.float32), f"{name}_scale")):
        qdq.graph.initializer.append(t)
        inits[t.name] = qdq.graph.initializer[-1]
    dq = onnx.helper.make_node("DequantizeLinear", [f"{name}_quantized", f"{name}_scale"], [name],
                               name=f"{name}_DequantizeLinear", axis=0)
    qdq.graph.node.insert(list(qdq.graph.node).index(conv), dq)  # just before its conv: still topological
    prod[name] = dq
    conv.input.append(name)


def correct_biases(fp32: onnx.ModelProto, qdq: onnx.ModelProto, inputs: Sequence[np.ndarray], input_name: str) -> int:
    """Empirical bias correction (Nagel et al., "Data-Free Quantization", ICCV 2019), in place on
    the QDQ model (int8 convs without a bias get one): rounding a conv's weights to int8 shifts
    the mean of each output channel by sum(W_int8 - W) x E[input], which a ReLU or the next
    layers do not average away. E[input] is measured once, on the uncorrected int8 model's conv
    inputs over ``inputs``, per channel (so the zero padding at the map's border is not
    modelled: exact for interior outputs); the shift is taken off the int32 bias, in bias steps.
    Only each layer's own weight error is corrected, so no earlier layer's error is counted twice
    (correcting the whole measured shift of every layer at once diverged). Per-channel symmetric
    weights (zero point 0, axis 0), as ``_quantize`` makes them; other layers are left alone.
    ``fp32`` is the model that was quantized (same node names). Returns the convs corrected."""
    prod, inits = producers(qdq), initializers(qdq)
    fp32_inits = initializers(fp32)
    fp32_weights = {n.name: fp32_inits[n.input[1]] for n in fp32.graph.node
                    if n.op_type == "Conv" and n.input[1] in fp32_inits}
    layers = []  # (conv, DQ of its int32 bias, DQ of its int8 weight)
    for node in list(qdq.graph.node):
        if node.op_type != "Conv" or node.name not in fp32_weights:
            continue
        if len(node.input) < 3:  # no bias (a rewritten ConvTranspose's phases): a zero one to correct
            _add_zero_bias(qdq, node, prod, inits)
        if len(node.input) < 3 or not node.input[2]:  # left in fp32 without a bias
            continue
        bias, weight = prod.get(node.input[2]), prod.get(node.input[1])
        if (bias is not None and weight is not None and bias.op_type == weight.op_type == "DequantizeLinear"
                and bias.input[0] in inits and inits[bias.input[0]].data_type == onnx.TensorProto.INT32
                and weight.input[0] in inits and _symmetric_axis0(weight, inits)):
            layers.append((node, bias, weight))
    means = channel_means(qdq, sorted({n.input[0] for n, _, _ in layers}), inputs, input_name)
    for node, bias, weight in layers:
        w_int8 = numpy_helper.to_array(inits[weight.input[0]]).astype(np.float64)  # (O, I/g, kh, kw)
        w_scale = numpy_helper.to_array(inits[weight.input[1]]).astype(np.float64)  # (O,) or ()
        error = (w_int8 * w_scale.reshape(-1, 1, 1, 1) - numpy_helper.to_array(fp32_weights[node.name])).sum(axis=(2, 3))
        groups = next((a.i for a in node.attribute if a.name == "group"), 1)
        out = error.shape[0]
        x = means[node.input[0]].reshape(groups, 1, -1)  # (g, 1, I/g)
        shift = (error.reshape(groups, out // groups, -1) * x).sum(-1).reshape(out)  # (O,) output units
        steps = numpy_helper.to_array(inits[bias.input[1]]).astype(np.float64)  # bias scale: input x weight scale
        b = numpy_helper.to_array(inits[bias.input[0]]).astype(np.int64) - np.round(shift / steps).astype(np.int64)
        clipped = np.clip(b, -2**31, 2**31 - 1)
        if (clipped != b).any():
            log.warning("%s: corrected bias beyond int32 in %d channels, clipped", node.name, int((clipped != b).sum()))
        inits[bias.input[0]].CopyFrom(numpy_helper.from_array(clipped.astype(np.int32), bias.input[0]))
    return len(layers)


def _symmetric_axis0(weight_dq: onnx.NodeProto, inits: dict) -> bool:
    """The weight's DequantizeLinear has zero point 0 and scales along axis 0 (or one scale)."""
    zero = weight_dq.input[2] if len(weight_dq.input) > 2 and weight_dq.input[2] else None
    axis = next((a.i for a in weight_dq.attribute if a.name == "axis"), 1)
    scales = numpy_helper.to_array(inits[weight_dq.input[1]])
    return ((zero is None or (zero in inits and not numpy_helper.to_array(inits[zero]).any()))
            and (scales.size == 1 or axis == 0))


def quantize_static_int8(fp32_path: Path, out_path: Path, config: ModelConfig, calibration: Sequence[np.ndarray],
                         recipe: Recipe = DEFAULT_RECIPE, kernels: bool = True) -> Quantized:
    """Static QDQ int8 of a pose model, calibrated on ``calibration`` (model input tensors,
    made by ``calibration_inputs``) as ``recipe`` says: int8 weights, uint8 activations
    (u8s8: the fast path of onnxruntime's CPU kernels; s8s8 and u8u8 measured 1.5-3x slower).
    Convs are quantized, and ConvTransposes too, after being rewritten exactly as
    phase Convs (see ``subpixel``): onnxruntime has no int8 ConvTranspose kernel on CPU.
    With ``recipe.outlier_spread``, the nodes around tensors whose channels differ too much for
    one uint8 scale stay fp32 (``channel_spread``, ``outlier_nodes``). With ``recipe.fp32_layers``,
    a first quantization finds the layers that add the most error (``activation_sqnr``,
    ``sensitive_nodes``) and a second leaves them in fp32 too. Sessions must be made without
    onnxruntime's "WeightBiasQuantization" pass (``pose.model.inference_session``) for those to
    stay fp32. With ``recipe.bias_correction``, each int8 conv's bias then absorbs the mean error
    of its rounded weights (``correct_biases``). With ``kernels``, the exact rewrites of
    ``kernels`` follow (faster here, bit-identical output)."""
    if not calibration:
        raise ValueError("static quantization needs at least one calibration image")
    with tempfile.TemporaryDirectory() as tmp:
        prepared, rewritten = Path(tmp) / "prepared.onnx", Path(tmp) / "rewritten.onnx"
        # Shape inference and BatchNorm folding (into the ConvTransposes too) first.
        quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=True)
        model, count = rewrite_deconvs(onnx.load(str(prepared)))
        for i, node in enumerate(model.graph.node):  # names let layers be left out (and found in profiles)
            node.name = node.name or f"{node.op_type}_{i}"
        onnx.save(model, str(rewritten))
        excluded: list[str] = []
        if recipe.outlier_spread:
            excluded = outlier_nodes(model, channel_spread(rewritten, calibration, config.input_name), recipe.outlier_spread)
            log.info("left in fp32 (channel ranges differ more than %gx): %d nodes", recipe.outlier_spread, len(excluded))
        _quantize(rewritten, out_path, calibration, config.input_name, recipe, exclude=excluded)
        if recipe.fp32_layers:
            sqnr = activation_sqnr(rewritten, out_path, calibration[:SENSITIVITY_CROPS], config.input_name)
            sensitive = [n for n in sensitive_nodes(model, sqnr, recipe.fp32_layers + len(excluded)) if n not in excluded]
            excluded += sensitive[:recipe.fp32_layers]
            log.info("left in fp32 (largest SQNR drop): %s", ", ".join(sensitive[:recipe.fp32_layers]))
            _quantize(rewritten, out_path, calibration, config.input_name, recipe, exclude=excluded)
        quantized = onnx.load(str(out_path))
        corrected = correct_biases(model, quantized, calibration, config.input_name) if recipe.bias_correction else 0
        if corrected:
            log.info("biases corrected for int8 weight error: %d convs", corrected)
    share_phase_scales(quantized)  # one int8 scale per rewritten ConvTranspose output, as the layer has
    stem, gemm = False, []
    if kernels:
        stem = space_to_depth_stem(quantized)
        gemm = route_convs(quantized, calibration[0])
    onnx.save(quantized, str(out_path))
    return Quantized(count, tuple(excluded), stem, len(gemm), corrected)


@dataclass(frozen=True)
class Attempt:
    """One recipe ``quantize_within`` tried, and what int8 lost with it."""

    recipe: Recipe
    losses: dict[str, float]  # measure -> fp32 minus int8, points (positive: int8 is worse)
    fp32_node_count: int  # nodes the recipe left in fp32

    @property
    def worst(self) -> float:
        """The largest loss over the measures, points (0 when nothing was measured; a measure
        that came out NaN counts as infinitely bad)."""
        return max((float("inf") if np.isnan(v) else v for v in self.losses.values()), default=0.0)


def fallback_recipes(recipe: Recipe) -> list[Recipe]:
    """``recipe``, then the same with each lower threshold of FALLBACK_SPREADS (all of them when
    the outlier rule is off): as many layers in fp32 or more, each time."""
    lower = [s for s in FALLBACK_SPREADS if not recipe.outlier_spread or s < recipe.outlier_spread]
    return [recipe] + [replace(recipe, outlier_spread=s) for s in lower]


def quantize_within(fp32_path: Path, out_path: Path, config: ModelConfig, calibration: Sequence[np.ndarray],
                    recipe: Recipe, losses: Callable[[Path], dict[str, float]], max_loss: float,
                    kernels: bool = True) -> tuple[Quantized, Attempt, list[Attempt]]:
    """Accuracy-driven fallback: quantize with ``recipe``; while ``losses(int8 model path)``
    (measure -> fp32 minus int8, points) exceeds ``max_loss`` on some measure, quantize again
    with the next lower outlier-spread threshold (``fallback_recipes``). Writes the first
    attempt within ``max_loss`` to ``out_path``, or, when none is, the one with the smallest
    worst loss (and warns). With ``losses`` returning nothing, that is just ``recipe``.
    Returns what the written quantization did, its attempt, and every attempt in order."""
    if not max_loss >= 0:
        raise ValueError(f"the largest loss allowed must be 0 or more points, not {max_loss!r}")
    attempts: list[Attempt] = []
    best: tuple[Quantized, Attempt] | None = None
    with tempfile.TemporaryDirectory() as tmp:
        kept = Path(tmp) / "best.onnx"
        for candidate in fallback_recipes(recipe):
            quantized = quantize_static_int8(fp32_path, out_path, config, calibration, candidate, kernels)
            attempt = Attempt(candidate, losses(out_path), len(quantized.fp32_nodes))
            attempts.append(attempt)
            log.info("int8 with %s: %d nodes fp32, loses %s", candidate.describe(), attempt.fp32_node_count,
                     ", ".join(f"{m} {v:+.2f}" for m, v in attempt.losses.items()) or "(not measured)")
            if attempt.worst <= max_loss:
                return quantized, attempt, attempts
            if best is None or attempt.worst < best[1].worst:
                best = quantized, attempt
                shutil.copyfile(out_path, kept)
        assert best is not None
        shutil.copyfile(kept, out_path)
    log.warning("no recipe kept int8 within %g points of fp32 (outlier thresholds tried: %s); kept %s, which loses %.2f",
                max_loss, ", ".join(f"{a.recipe.outlier_spread:g}" for a in attempts), best[1].recipe.describe(),
                best[1].worst)
    return best[0], best[1], attempts


def quantize_dynamic_int8(fp32_path: Path, out_path: Path) -> None:
    """The earlier demos' approach: int8 weights, activations quantized at run time."""
    quantize_dynamic(str(fp32_path), str(out_path), weight_type=QuantType.QInt8)


