"""Exact rewrites of a static-int8 QDQ graph that let onnxruntime pick faster CPU kernels.

The heatmaps do not change by a single bit: only how the same integer sums are laid out.

- ``space_to_depth_stem``: a 7x7 stride-2 first convolution on 3 channels is a poor fit
  for int8 GEMM (a K of 147, awkward for VNNI's groups of 4). After SpaceToDepth(2) on the input it
  is a 4x4 stride-1 convolution on 12 channels, with the kernel zero-padded to 8x8 (the
  added taps hold the zero point, so they add exactly 0). Measured on PoseResNet-50:
  the stem went from 7 % of the time to about 3 %.
- ``route_convs``: onnxruntime runs a QLinearConv whose int8 weights have zero point 0 on
  MLAS's "ConvSym" kernel (AVX-512 VNNI), and one with another zero point on its int8
  GEMM (im2col + QGEMM, which uses AMX where the CPU has it). Storing w - 1 with zero
  point -1 is the same real weight. Which kernel is faster depends on the layer and the
  CPU, so each convolution is timed both ways on this machine (onnxruntime's profiler) and
  keeps the faster one.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import onnx
from onnx import helper, numpy_helper

from . import graph
from .speed import node_times

log = logging.getLogger(__name__)

ROUTE_MARGIN = 0.9  # a convolution moves to the GEMM kernel only when that is at least 10 % faster


def _weight_dq(node: onnx.NodeProto, producers: dict, inits: dict) -> onnx.NodeProto | None:
    """The DequantizeLinear feeding a Conv's int8 weight initializer, if that is what it is."""
    dq = producers.get(node.input[1]) if len(node.input) > 1 else None
    if dq is None or dq.op_type != "DequantizeLinear" or dq.input[0] not in inits:
        return None
    return dq if inits[dq.input[0]].data_type == onnx.TensorProto.INT8 else None


def space_to_depth_stem(model: onnx.ModelProto) -> bool:
    """Rewrite (in place) a first Conv (kernel 7, stride 2, pads 3, 3 input channels, NCHW) that
    reads the quantized graph input as SpaceToDepth(2) + a 4x4 stride-1 Conv on 12 channels.
    Returns whether it did."""
    producers, inits = graph.producers(model), graph.initializers(model)
    graph_inputs = {i.name for i in model.graph.input}
    for conv in model.graph.node:
        if conv.op_type != "Conv":
            continue
        x_dq = producers.get(conv.input[0])
        quant = producers.get(x_dq.input[0]) if x_dq is not None and x_dq.op_type == "DequantizeLinear" else None
        w_dq = _weight_dq(conv, producers, inits)
        if quant is None or quant.op_type != "QuantizeLinear" or quant.input[0] not in graph_inputs or w_dq is None:
            continue
        a = graph.attrs(conv)
        w = numpy_helper.to_array(inits[w_dq.input[0]])  # (C_out, 3, 7, 7) int8
        zero = numpy_helper.to_array(inits[w_dq.input[2]]) if len(w_dq.input) > 2 else np.zeros(1, np.int8)
        if (w.shape[1:] != (3, 7, 7) or list(a.get("strides", [1, 1])) != [2, 2] or list(a.get("pads", [0] * 4)) != [3] * 4
                or a.get("group", 1) != 1 or list(a.get("dilations", [1, 1])) != [1, 1] or np.unique(zero).size != 1):
            return False
        # Output o reads input rows 2o - 3 + i (i < 7) = rows 2(o + s - 2) + t of the padded 8-tap kernel
        # (a zero tap in front: j = i + 1 = 2s + t), i.e. rows o + s - 2 (s < 4) of SpaceToDepth's phase t.
        padded = np.full((w.shape[0], 3, 8, 8), zero.reshape(-1)[0], np.int8)
        padded[:, :, 1:, 1:] = w
        phases = [padded[:, :, t::2, u::2] for t in range(2) for u in range(2)]  # DCR order: (t, u) blocks of 3 channels
        inits[w_dq.input[0]].CopyFrom(numpy_helper.from_array(np.concatenate(phases, axis=1), w_dq.input[0]))
        del conv.attribute[:]
        conv.attribute.extend([helper.make_attribute("kernel_shape", [4, 4]), helper.make_attribute("strides", [1, 1]),
                               helper.make_attribute("pads", [2, 2, 1, 1])])
        s2d_out = quant.input[0] + "_space_to_depth"
        s2d = helper.make_node("SpaceToDepth", [quant.input[0]], [s2d_out], name="stem_space_to_depth", blocksize=2)
        quant.input[0] = s2d_out
        nodes = list(model.graph.node)
        nodes.insert(nodes.index(quant), s2d)
        del model.graph.node[:]
        model.graph.node.extend(nodes)
        del model.graph.value_info[:]  # the stem's shapes changed; onnxruntime infers them again
        return True
    return False


def gemm_candidates(model: onnx.ModelProto) -> list[str]:
    """Conv nodes whose int8 weights have zero point 0 and no -128, so w - 1 fits int8."""
    producers, inits = graph.producers(model), graph.initializers(model)
    out = []
    for conv in model.graph.node:
        dq = _weight_dq(conv, producers, inits) if conv.op_type == "Conv" else None
        if dq is None or len(dq.input) < 3 or graph.attrs(conv).get("group", 1) != 1:
            continue
        w, zero = numpy_helper.to_array(inits[dq.input[0]]), numpy_helper.to_array(inits[dq.input[2]])
        if not zero.any() and w.min() > -128 and conv.name:
            out.append(conv.name)
    return out


def shift_zero_point(model: onnx.ModelProto, convs: Sequence[str]) -> None:
    """Store these Convs' int8 weights as w - 1 with zero point -1 (in place): the same real weights."""
    producers, inits = graph.producers(model), graph.initializers(model)
    wanted = set(convs)
    for conv in model.graph.node:
        if conv.name not in wanted:
            continue
        dq = _weight_dq(conv, producers, inits)
        w, zero = numpy_helper.to_array(inits[dq.input[0]]), numpy_helper.to_array(inits[dq.input[2]])
        inits[dq.input[0]].CopyFrom(numpy_helper.from_array((w.astype(np.int16) - 1).astype(np.int8), dq.input[0]))
        inits[dq.input[2]].CopyFrom(numpy_helper.from_array(np.full(zero.shape, -1, np.int8), dq.input[2]))


def route_convs(model: onnx.ModelProto, example: np.ndarray, threads: int = 1, runs: int = 20) -> list[str]:
    """Move (in place) each convolution to whichever int8 kernel ran it faster here, timed per
    node with ``threads`` (1: a kernel's own speed, least disturbed by other load); return
    those moved."""
    candidates = gemm_candidates(model)
    if not candidates:
        return []
    shifted = onnx.ModelProto.FromString(model.SerializeToString())
    shift_zero_point(shifted, candidates)
    times = node_times({"sym": model.SerializeToString(), "gemm": shifted.SerializeToString()}, example, threads, runs)
    base, gemm = times["sym"][0], times["gemm"][0]
    base_ms = {name: ms for (name, op), ms in base.items() if op == "QLinearConv"}
    gemm_ms = {name: ms for (name, op), ms in gemm.items() if op == "QLinearConv"}
    faster = [c for c in candidates if c in base_ms and c in gemm_ms and gemm_ms[c] < ROUTE_MARGIN * base_ms[c]]
    shift_zero_point(model, faster)
    log.info("int8 GEMM kernel faster for %d of %d convolutions (%.1f -> %.1f ms summed)", len(faster), len(candidates),
             sum(base_ms.get(c, 0) for c in faster), sum(gemm_ms.get(c, 0) for c in faster))
    return faster
