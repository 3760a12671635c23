"""How fast an ONNX model runs here: latency, multiply-accumulates, per-operator profile.

Every figure is a median; models compared are run in turn (A, B, A, B...) in one process
with worker threads that do not busy-wait, because absolute times on a shared machine drift
by half from minute to minute while ratios measured together hold.
"""

from __future__ import annotations

import collections
import json
import os
import re
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import shape_inference

from ..model import inference_session, session_options
from .graph import producers


@dataclass(frozen=True)
class Timing:
    size_mb: float  # file size, 10^6 bytes
    median_ms: float  # median latency of one batch-1 inference
    runs: int


def measure(paths: dict[str, Path], example: np.ndarray, threads: int = 2, runs: int = 30,
            spinning: bool = False) -> dict[str, Timing]:
    """Median latency of one inference of ``example`` by each model, timed in turn (after warm-up)
    with ``threads`` intra-op threads: label -> Timing. Sessions timed in turn must not spin
    (an idle spinning pool slows the next); ``spinning=True`` times one model as the app runs it."""
    sessions = {label: session(p, threads, spinning=spinning) for label, p in paths.items()}
    feeds = {label: {s.get_inputs()[0].name: example} for label, s in sessions.items()}
    times: dict[str, list[float]] = {label: [] for label in sessions}
    for i in range(3 + runs):
        for label, sess in sessions.items():
            t = time.perf_counter()
            sess.run(None, feeds[label])
            if i >= 3:
                times[label].append((time.perf_counter() - t) * 1e3)
    return {label: Timing(Path(paths[label]).stat().st_size / 1e6, statistics.median(times[label]), runs) for label in paths}


def graph_macs(path: str | os.PathLike, input_shape: tuple[int, ...]) -> int:
    """Multiply-accumulates of one inference of an ONNX model (Conv, ConvTranspose, MatMul, Gemm),
    from its shapes inferred for ``input_shape``. A quantized graph counts as its float twin."""
    model = onnx.load(str(path))
    model.graph.input[0].type.tensor_type.shape.Clear()
    for d in input_shape:
        model.graph.input[0].type.tensor_type.shape.dim.add().dim_value = d
    del model.graph.value_info[:]
    model = shape_inference.infer_shapes(model)
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in list(model.graph.value_info) + list(model.graph.output) + list(model.graph.input)}
    weights = {t.name: tuple(t.dims) for t in model.graph.initializer}
    writers = producers(model)

    def weight_shape(name: str) -> tuple[int, ...] | None:
        node = writers.get(name)
        if node is not None and node.op_type == "DequantizeLinear":  # QDQ: the int8 initializer behind it
            name = node.input[0]
        return weights.get(name) or (tuple(shapes[name]) if name in shapes else None)

    total = 0
    for node in model.graph.node:
        out = shapes.get(node.output[0])
        if not out or 0 in out:
            continue
        if node.op_type == "Conv":
            w = weight_shape(node.input[1])  # (C_out, C_in / group, kh, kw)
            total += int(np.prod(out)) * int(np.prod(w[1:]))
        elif node.op_type == "ConvTranspose":
            w = weight_shape(node.input[1])  # (C_in, C_out / group, kh, kw)
            x = shapes[node.input[0]]
            total += int(np.prod(x)) * int(np.prod(w[1:]))
        elif node.op_type in ("MatMul", "Gemm"):
            a = shapes.get(node.input[0])
            total += int(np.prod(out)) * int(a[-1]) if a else 0
    return total


def session(model: str | os.PathLike | bytes, threads: int, profile_prefix: str | None = None,
            spinning: bool = True) -> ort.InferenceSession:
    """A CPU session as the app makes them, optionally profiling. ``spinning=False``: sessions
    timed in turn in one process do not slow each other."""
    opts = session_options(threads, spinning)
    if profile_prefix:
        opts.enable_profiling = True
        opts.profile_file_prefix = profile_prefix
    return inference_session(model, opts)


def node_times(models: dict[str, str | os.PathLike | bytes], example: np.ndarray, threads: int, runs: int = 20,
               warmup: int = 3) -> dict[str, tuple[dict[tuple[str, str], float], float]]:
    """onnxruntime's profiler on ``runs`` inferences of ``example`` by each model, in turn (A, B,
    A, B...: a noisy machine slows them alike): model label -> ((node name, op type) -> median
    ms per run, median ms of a whole run). Node names are those of the optimized graph (a fused
    QLinearConv keeps its Conv's name)."""
    with tempfile.TemporaryDirectory() as tmp:
        sessions = {label: session(m, threads, profile_prefix=str(Path(tmp) / f"profile{i}"), spinning=False)
                    for i, (label, m) in enumerate(models.items())}
        feeds = {label: {s.get_inputs()[0].name: example} for label, s in sessions.items()}
        for _ in range(warmup + runs):
            for label, sess in sessions.items():
                sess.run(None, feeds[label])
        out = {}
        for label, sess in sessions.items():
            events = json.loads(Path(sess.end_profiling()).read_text())
            per_node: dict[tuple[str, str], list[float]] = collections.defaultdict(list)
            for e in events:
                if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
                    name = re.sub(r"_token_\d+$", "", e["name"][: -len("_kernel_time")])
                    per_node[(name, e["args"]["op_name"])].append(e["dur"] / 1e3)
            whole = [e["dur"] / 1e3 for e in events if e.get("name") == "model_run"][warmup:]
            out[label] = ({k: float(np.median(v[warmup:] or v)) for k, v in per_node.items()},
                          float(np.median(whole)) if whole else float("nan"))
    return out


@dataclass(frozen=True)
class OpProfile:
    op: str  # operator type as onnxruntime ran it (e.g. QLinearConv)
    count: int  # nodes of that type
    ms: float  # summed median ms per inference
    share: float  # of the summed time of all nodes


def op_table(per_node: dict[tuple[str, str], float]) -> list[OpProfile]:
    """Per-node medians (from ``node_times``) -> per operator type, slowest first."""
    ms: dict[str, float] = collections.defaultdict(float)
    count: collections.Counter = collections.Counter()
    for (_, op), t in per_node.items():
        ms[op] += t
        count[op] += 1
    total = sum(ms.values()) or 1.0
    return sorted((OpProfile(op, count[op], t, t / total) for op, t in ms.items()), key=lambda r: -r.ms)


def crops_per_second(path: str | os.PathLike, crop: np.ndarray, batches: tuple[int, ...], threads: int,
                     runs: int = 10) -> dict[int, float]:
    """Crops per second at each batch size (one crop ``crop`` (1, ...) repeated), median of ``runs``."""
    sess = session(path, threads, spinning=False)
    name = sess.get_inputs()[0].name
    feeds = {b: {name: np.repeat(crop, b, axis=0)} for b in batches}
    times: dict[int, list[float]] = {b: [] for b in batches}
    for i in range(2 + runs):
        for b in batches:
            t = time.perf_counter()
            sess.run(None, feeds[b])
            if i >= 2:
                times[b].append(time.perf_counter() - t)
    return {b: b / statistics.median(times[b]) for b in batches}
