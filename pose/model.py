"""One onnxruntime session per model: crops in, heatmaps in the skeleton's joint order out.

The session is created once and checked against ``pose_config.json`` at load time
(tensor names, layouts, sizes, joint count), so a wrong model fails at start-up with a
message naming the file, not at the first request.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import onnxruntime as ort

from .config import ModelConfig
from .errors import ModelConfigError, ModelError

log = logging.getLogger(__name__)


def default_threads() -> int:
    """Intra-op threads: ``POSE_THREADS`` if set, else the machine's core count (at most 8)."""
    env = os.environ.get("POSE_THREADS")
    if env:
        try:
            n = int(env)
        except ValueError:
            raise ModelError(f"POSE_THREADS must be a whole number, not {env!r}") from None
        if n < 1:
            raise ModelError(f"POSE_THREADS must be at least 1, not {n}")
        return n
    return max(1, min(8, os.cpu_count() or 1))


def session_options(threads: int, spinning: bool = True) -> ort.SessionOptions:
    """CPU session options as the app uses them: ``threads`` intra-op threads, one inter-op
    thread, all graph optimizations, errors only in the log. ``spinning=False`` stops idle
    worker threads from busy-waiting after a run (for a session whose cores something else
    uses next)."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3  # errors only: ORT's warnings are not the user's business
    if not spinning:
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return opts


# onnxruntime (>= 1.20) gives the float weights of any Conv whose input comes from a
# DequantizeLinear one per-tensor int8 scale ("WeightBiasQuantization"). The int8 export leaves
# the layers int8 cannot represent in fp32 on purpose (see pose.export.quantize.outlier_nodes);
# with that pass they would run with worse int8 weights than the rest. Every session goes without it.
DISABLED_OPTIMIZERS = ["WeightBiasQuantization"]


def inference_session(model: str | os.PathLike | bytes, opts: ort.SessionOptions) -> ort.InferenceSession:
    """A CPU onnxruntime session of ``model`` (path or serialized bytes) as the app makes them."""
    return ort.InferenceSession(model if isinstance(model, bytes) else str(model), opts,
                                providers=["CPUExecutionProvider"], disabled_optimizers=DISABLED_OPTIMIZERS)


def to_input_tensor(crops: np.ndarray, config: ModelConfig) -> np.ndarray:
    """(N, H, W, 3) uint8 RGB crops -> float32 tensor in the model's layout, colour order and scaling:
    (pixel / 255 - mean) / std per channel, as one multiply and one add in place on a single float
    copy laid out as the model wants (6 crops of 256x192: 2.5 ms instead of 8.5)."""
    if config.color == "BGR":
        crops = crops[..., ::-1]
    scale = np.float32(1.0 / 255.0) / np.asarray(config.std, np.float32)  # (3,)
    bias = -np.asarray(config.mean, np.float32) / np.asarray(config.std, np.float32)  # (3,)
    if config.input_layout == "NCHW":
        x = np.ascontiguousarray(crops.transpose(0, 3, 1, 2)).astype(np.float32)  # the uint8 copy is the cheap one
        scale, bias = scale[:, None, None], bias[:, None, None]
    else:
        x = crops.astype(np.float32)
    x *= scale
    x += bias
    return x


class PoseModel:
    """An ONNX heatmap model described by a ModelConfig."""

    def __init__(self, config: ModelConfig, onnx_path: str | Path, threads: int | None = None) -> None:
        self.config = config
        self.onnx_path = Path(onnx_path)
        self.threads = threads or default_threads()
        self.session = self._session(self.threads)
        self._fixed_batch = self._check_io()
        self._channels = np.argsort(config.channel_joints)  # skeleton joint -> output channel
        log.info(
            "loaded %s from %s (%d threads, input %s %dx%d)",
            config.name, self.onnx_path, self.threads, config.input_layout, config.input_width, config.input_height,
        )

    def _session(self, threads: int) -> ort.InferenceSession:
        try:
            return inference_session(self.onnx_path, session_options(threads))
        except Exception as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ModelError(f"onnxruntime cannot load the model file {self.onnx_path}: {first}") from None

    def _check_io(self) -> bool:
        """Compare the graph's tensors with the config; return True when batch size is fixed at 1."""
        c = self.config
        where = f"model {self.onnx_path} and its config do not match"
        inputs = {i.name: i for i in self.session.get_inputs()}
        outputs = {o.name: o for o in self.session.get_outputs()}
        if c.input_name not in inputs:
            raise ModelConfigError(f"{where}: the config's input {c.input_name!r} is not in the model (it has {sorted(inputs)})")
        if c.output_name not in outputs:
            raise ModelConfigError(f"{where}: the config's output {c.output_name!r} is not in the model (it has {sorted(outputs)})")
        if len(inputs) != 1:
            raise ModelConfigError(f"{where}: the model needs {len(inputs)} inputs, this app feeds one image tensor")
        ishape = inputs[c.input_name].shape
        expected = [None, 3, c.input_height, c.input_width] if c.input_layout == "NCHW" else [None, c.input_height, c.input_width, 3]
        if len(ishape) != 4 or any(isinstance(d, int) and e is not None and d != e for d, e in zip(ishape, expected)):
            raise ModelConfigError(
                f"{where}: input {c.input_name!r} has shape {ishape}, but the config says "
                f"{c.input_layout} {c.input_width}x{c.input_height} RGB (expected {['N' if e is None else e for e in expected]})"
            )
        if inputs[c.input_name].type != "tensor(float)":
            raise ModelConfigError(f"{where}: input {c.input_name!r} is {inputs[c.input_name].type}, expected tensor(float)")
        oshape = outputs[c.output_name].shape
        channels = oshape[1] if c.output_layout == "NCHW" else oshape[-1] if oshape else None
        joints = len(c.skeleton)
        if len(oshape) != 4 or (isinstance(channels, int) and channels != joints):
            raise ModelConfigError(
                f"{where}: output {c.output_name!r} has shape {oshape}; the config says {c.output_layout} "
                f"with {joints} joint channels ({c.skeleton.name})"
            )
        return ishape[0] == 1

    def heatmaps(self, crops: np.ndarray) -> np.ndarray:
        """(N, H, W, 3) uint8 RGB crops -> (N, J, Hh, Wh) float32 heatmaps in the skeleton's joint order:
        one batched inference (a batch-1 model runs the crops one after the other)."""
        x = to_input_tensor(crops, self.config)
        if self._fixed_batch and len(x) > 1:
            out = np.concatenate([self._run(self.session, x[i : i + 1]) for i in range(len(x))])
        else:
            out = self._run(self.session, x)
        if self.config.output_layout == "NHWC":
            out = out.transpose(0, 3, 1, 2)
        return np.ascontiguousarray(out[:, self._channels], dtype=np.float32)

    def _run(self, session: ort.InferenceSession, x: np.ndarray) -> np.ndarray:
        return session.run([self.config.output_name], {self.config.input_name: x})[0]
