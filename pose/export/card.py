"""The Hub model card (README.md) written beside the exported model."""

from __future__ import annotations

from ..config import ModelConfig
from .quantize import Timing

PAPER = "https://arxiv.org/abs/1804.06208"
# What the paper reports for PoseResNet-50 (fp32, flip test), by joint set.
PAPER_ACCURACY = {
    "mpii": "MPII val PCKh@0.5 of 88.5 for PoseResNet-50 at 256x256",
    "coco": "COCO val2017 AP of 70.4 for PoseResNet-50 at 256x192 (with detector boxes)",
}
CODE = "https://github.com/microsoft/human-pose-estimation.pytorch"


def model_card(
    config: ModelConfig,
    arch: str,
    params: int,
    macs: int,
    timings: dict[str, Timing],
    threads: int,
    parity: float,
    calibration_count: int,
    default_variant: str,
    accuracy: str | None = None,
) -> str:
    rows = "\n".join(
        f"| {name} | {t.size_mb:.1f} | {t.median_ms:.1f} | {t.median_ms / timings['fp32'].median_ms:.2f}x |"
        for name, t in timings.items()
    )
    other = "fp32" if default_variant == "int8" else "int8"
    acc = accuracy or (
        "Not measured by this export (no labelled data was given). The paper reports "
        f"{PAPER_ACCURACY[config.skeleton.name]} (fp32, flip test)."
    )
    return f"""---
license: mit
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

Simple Baselines PoseResNet ({arch}) for single-person 2D human pose, from
"Simple Baselines for Human Pose Estimation and Tracking" (Xiao, Wu & Wei, ECCV 2018,
[paper]({PAPER}), [reference code]({CODE})), exported to ONNX and quantized to int8 for CPU
inference with onnxruntime.

- **Top-down**: the input is one person's crop; the output is one heatmap per joint.
- **Input** `{config.input_name}`: float32 {config.input_layout} [N, 3, {config.input_height}, {config.input_width}],
  RGB scaled to [0, 1], then mean {list(config.mean)} / std {list(config.std)}.
- **Output** `{config.output_name}`: float32 [N, {len(config.skeleton)}, {config.input_height // 4}, {config.input_width // 4}]
  heatmaps (stride 4), channels in {config.skeleton.name.upper()} order: {", ".join(config.skeleton.joints[j] for j in config.channel_joints)}.
- **Decode**: argmax per heatmap, a quarter-pixel shift toward the higher neighbour, then the
  inverse of the crop's affine transform (see the demo's `pose/decode.py`).
- {params / 1e6:.1f} M parameters, {macs / 1e9:.2f} G multiply-accumulates per {config.input_height}x{config.input_width} crop.

## Files

| file | what |
|---|---|
| `pose_config.json` + `{config.onnx_file}` | the default ({default_variant}) model, read by the demo app |
| `{other}/pose_config.json` + `{other}/...onnx` | the {other} variant, for reference |

## Size and speed

Measured by the export command on the machine that exported it: onnxruntime CPU,
{threads} threads, batch 1, median latency. Static int8: QDQ format, per-channel int8
weights, uint8 activations, MinMax calibration on {calibration_count} person crops made by
the demo's own preprocessing, every Conv and ConvTranspose quantized. Dynamic int8 (weights
only) is shown for comparison; it is not shipped.

| variant | size (MB) | latency (ms) | vs fp32 |
|---|---|---|---|
{rows}

ONNX fp32 reproduces PyTorch to a max abs heatmap difference of {parity:.1e}.

## Accuracy

{acc}

## Licence

MIT, as the reference implementation.
"""
