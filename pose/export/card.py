"""The Hub model card (README.md) written beside the exported model."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import ModelConfig
from ..evaluation import Score
from .quantize import Attempt, Quantized, Recipe
from .speed import Timing

PAPER = "https://arxiv.org/abs/1804.06208"
# What the paper reports for PoseResNet-50 (fp32, flip test), by joint set.
PAPER_ACCURACY = {
    "mpii": "MPII val PCKh@0.5 of 88.5 for PoseResNet-50 at 256x256",
    "coco": "COCO val2017 AP of 70.4 for PoseResNet-50 at 256x192 (with detector boxes)",
}
CODE = "https://github.com/microsoft/human-pose-estimation.pytorch"


@dataclass(frozen=True)
class Accuracy:
    """One measure on one labelled set, for fp32 and int8."""

    fp32: Score
    int8: Score


def simple_baselines_about(arch: str) -> str:
    return (f"Simple Baselines PoseResNet ({arch}) for single-person 2D human pose, from\n"
            f"\"Simple Baselines for Human Pose Estimation and Tracking\" (Xiao, Wu & Wei, ECCV 2018,\n"
            f"[paper]({PAPER}), [reference code]({CODE})), exported to ONNX and quantized to int8 for CPU\n"
            "inference with onnxruntime.")


def onnx_about(config: ModelConfig) -> str:
    return (f"{config.name} ([source]({config.source}), {config.license}), quantized to int8 for CPU inference\n"
            "with onnxruntime by the Simple Baselines demo's exporter (`python -m pose.export --onnx`).")


def _accuracy_section(config: ModelConfig, accuracy: list[Accuracy]) -> str:
    if not accuracy:
        paper = PAPER_ACCURACY.get(config.skeleton.name)
        return ("Not measured by this export (no labelled data was given: `--eval`)."
                + (f" The paper reports {paper} (fp32, flip test)." if paper else ""))
    rows = "\n".join(f"| {a.fp32.metric} | {a.fp32.data} | {a.fp32.points:.1f} | {a.int8.points:.1f} | "
                     f"{a.int8.points - a.fp32.points:+.1f} |" for a in accuracy)
    return ("Measured by the export command on the labelled data it was given, with the demo's own\n"
            "pipeline (crop, decode; no flip test), in points (x 100):\n\n"
            "| measure | data | fp32 | int8 | int8 - fp32 |\n|---|---|---|---|---|\n" + rows)


def points(value: float) -> str:
    """``1 point``, ``0.5 points``."""
    return f"{value:g} point{'' if value == 1 else 's'}"


def _choice_section(attempts: list[Attempt], chosen: Attempt | None, max_loss: float) -> str:
    """How the int8 recipe was chosen, when the export tried more than one."""
    if len(attempts) < 2:
        return ""
    tried = "\n".join(f"| {f'{a.recipe.outlier_spread:g}x' if a.recipe.outlier_spread else 'off'} | {a.fp32_node_count} | "
                       + "; ".join(f"{m} {-v:+.1f}" for m, v in a.losses.items())
                       + f" | {'yes' if a is chosen else ''} |" for a in attempts)
    outcome = ("the first of these to stay within" if chosen is not None and chosen.worst <= max_loss
               else "none of these stayed within, so the closest was kept; the bound was")
    return (f"\n\nThe int8 recipe was chosen on this data, each recipe leaving as many layers in fp32 or more:\n"
            f"{outcome} {points(max_loss)} of fp32 on every measure. The figures above are\n"
            "the kept one's, on the same data, so they are not an independent estimate.\n\n"
            "| layers in fp32 around channel spreads above | fp32 nodes | int8 - fp32, points | kept |\n"
            "|---|---|---|---|\n" + tried)


def model_card(
    config: ModelConfig,
    about: str,
    macs: int,
    timings: dict[str, Timing],
    threads: int,
    recipe: Recipe,
    quantized: Quantized,
    default_variant: str,
    accuracy: list[Accuracy],
    output_shape: tuple[int, ...],
    params: int | None = None,
    parity: float | None = None,
    attempts: list[Attempt] | None = None,
    chosen: Attempt | None = None,
    max_loss: float = 1.0,
) -> str:
    """``output_shape``: the output tensor's shape for one crop (batch first)."""
    rows = "\n".join(
        f"| {name} | {t.size_mb:.1f} | {t.median_ms:.1f} | {t.median_ms / timings['fp32'].median_ms:.2f}x |"
        for name, t in timings.items()
    )
    other = "fp32" if default_variant == "int8" else "int8"
    layout = (f"[N, 3, {config.input_height}, {config.input_width}]" if config.input_layout == "NCHW"
              else f"[N, {config.input_height}, {config.input_width}, 3]")
    size_line = (f"{params / 1e6:.1f} M parameters, " if params else "") + \
        f"{macs / 1e9:.2f} G multiply-accumulates per {config.input_height}x{config.input_width} crop."
    fp32_nodes = ""
    if quantized.fp32_nodes:
        shown = ", ".join(f"`{n}`" for n in quantized.fp32_nodes[:12])
        more = f" and {len(quantized.fp32_nodes) - 12} more" if len(quantized.fp32_nodes) > 12 else ""
        fp32_nodes = (f" {len(quantized.fp32_nodes)} nodes stay fp32: {shown}{more}. Load the model with onnxruntime's "
                      "`disabled_optimizers=[\"WeightBiasQuantization\"]`, as the demo does, or onnxruntime gives "
                      "those layers per-tensor int8 weights.")
    deconvs = (f" (the {quantized.deconvs_rewritten} ConvTransposes first become exact phase Convs, and a 1x1 Conv"
               " after one moves into each phase, before the interleave)" if quantized.deconvs_rewritten else "")
    kernels = ""
    if quantized.stem_rewritten or quantized.gemm_convs:
        kernels = ("\n\nExact kernel-friendly rewrites (the int8 output is bit-identical):"
                   + (" the 7x7 stride-2 first convolution runs as SpaceToDepth + a 4x4 convolution;" if quantized.stem_rewritten else "")
                   + f" {quantized.gemm_convs} convolutions store their weights with zero point -1, which sends them"
                   " to onnxruntime's int8 GEMM kernel (AMX where the CPU has it); each was timed both ways on"
                   " the exporting machine and kept where it was faster. On other CPUs the choice may differ;"
                   " re-export there to re-tune.")
    license_id = config.license.lower()
    return f"""---
license: {license_id}
library_name: onnx
pipeline_tag: keypoint-detection
tags:
- pose-estimation
- human-pose
- onnx
- int8
- {config.skeleton.name}
---

# {config.name}

{about}

- **Top-down**: the input is one person's crop; the output is one heatmap per joint.
- **Input** `{config.input_name}`: float32 {config.input_layout} {layout},
  {config.color} scaled to [0, 1], then mean {list(config.mean)} / std {list(config.std)}.
- **Output** `{config.output_name}`: float32 {config.output_layout} [N, {", ".join(str(d) for d in output_shape[1:])}], one heatmap per joint,
  channels in this order: {", ".join(config.skeleton.joints[j] for j in config.channel_joints)}.
- **Decode**: argmax per heatmap, a quarter-pixel shift toward the higher neighbour, then the
  inverse of the crop's affine transform (see the demo's `pose/decode.py`).
- {size_line}

## Files

| file | what |
|---|---|
| `pose_config.json` + `{config.onnx_file}` | the default ({default_variant}) model, read by the demo app |
| `{other}/pose_config.json` + `{other}/...onnx` | the {other} variant, for reference |

## Size and speed

Measured by the export command on the machine that exported it: onnxruntime CPU,
{threads} threads, batch 1, median latency, the variants timed in turn. Static int8: QDQ
format, uint8 activations, {recipe.describe()}, crops made by the demo's own preprocessing
from detected people. Convolutions run in int8{deconvs}.{fp32_nodes}{kernels} Dynamic int8 (weights only, the earlier demos' approach) is shown for
comparison; it is not shipped.

| variant | size (MB) | latency (ms) | vs fp32 |
|---|---|---|---|
{rows}
{f"{chr(10)}ONNX fp32 reproduces PyTorch to a max abs heatmap difference of {parity:.1e}.{chr(10)}" if parity is not None else ""}
## Accuracy

{_accuracy_section(config, accuracy)}{_choice_section(attempts or [], chosen, max_loss)}

## Licence

{config.license}, as the original model.
"""
