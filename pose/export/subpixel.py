"""Rewrite ConvTranspose(kernel 4, stride 2, padding 1) as 4 phase Convs + DepthToSpace.

onnxruntime's CPU provider has no int8 ConvTranspose kernel: its QDQ fusion turns only
``Conv`` into ``QLinearConv`` (qdq_selector_action_transformer.cc), so after static
quantization the three deconvolutions of Simple Baselines run in fp32, their int8 weights
dequantized again at every run (measured: 26 ms of a 42 ms int8 PoseResNet-50, more
than the 22 ms they take in fp32). This rewrite is exact and runs in int8:

output pixel (2i + a, 2j + b) of such a ConvTranspose reads only a 2x2 input patch, so

    y = DepthToSpace_DCR(Concat_ab(Conv_ab(x)), blocksize 2),
    Conv_ab: kernel 2x2, pads [1 - a, 1 - b, a, b], Wp[o, c, u, v] = W[c, o, 3 - a - 2u, 3 - b - 2v]

with the same weights and multiply-adds (no zeros stored). A Relu that follows is moved
into each phase (it commutes with Concat and DepthToSpace) so Conv+Relu fuse, and so is a 1x1
Conv after that (Simple Baselines' final layer: it acts on each pixel's channels alone), so the
last interleave moves one heatmap per joint instead of 256 channels (exact in fp32).
``share_phase_scales`` then gives the four phase outputs of a quantized graph their Concat's
int8 scale, as the one ConvTranspose output had one scale.
"""

from __future__ import annotations

import logging

import numpy as np
import onnx
from onnx import helper, numpy_helper

from .graph import attrs, consumers, producers

log = logging.getLogger(__name__)

PHASES = ((0, 0), (0, 1), (1, 0), (1, 1))  # channel-block order DepthToSpace (DCR) expects


def _rewritable(node: onnx.NodeProto, weights: dict[str, np.ndarray]) -> bool:
    if node.op_type != "ConvTranspose" or node.domain not in ("", "ai.onnx") or node.input[1] not in weights:
        return False
    a = attrs(node)
    w = weights[node.input[1]]
    return (
        w.ndim == 4
        and w.shape[2:] == (4, 4)
        and list(a.get("strides", [1, 1])) == [2, 2]
        and list(a.get("pads", [0, 0, 0, 0])) == [1, 1, 1, 1]
        and list(a.get("dilations", [1, 1])) == [1, 1]
        and a.get("group", 1) == 1
        and not any(a.get("output_padding", [0, 0]))
        and "output_shape" not in a
        and a.get("auto_pad", b"NOTSET") in (b"NOTSET", "NOTSET")
    )


def phase_weights(w: np.ndarray) -> list[np.ndarray]:
    """ConvTranspose weight (C_in, C_out, 4, 4) -> four Conv weights (C_out, C_in, 2, 2)."""
    out = []
    for a, b in PHASES:
        rows = [3 - a, 1 - a]  # kernel rows 3 - a - 2u for u = 0, 1
        cols = [3 - b, 1 - b]
        out.append(np.ascontiguousarray(w[:, :, rows][:, :, :, cols].transpose(1, 0, 2, 3)))
    return out


def _pointwise(node: onnx.NodeProto | None, weights: dict[str, np.ndarray]) -> bool:
    """A plain 1x1 Conv (stride 1, no padding, no groups) with constant weights."""
    if node is None or node.op_type != "Conv" or node.domain not in ("", "ai.onnx") or node.input[1] not in weights:
        return False
    a = attrs(node)
    return (weights[node.input[1]].shape[2:] == (1, 1) and a.get("group", 1) == 1
            and not any(a.get("pads", [0, 0, 0, 0])) and all(v == 1 for v in a.get("strides", [1, 1]))
            and all(v == 1 for v in a.get("dilations", [1, 1])))


def rewrite_deconvs(model: onnx.ModelProto) -> tuple[onnx.ModelProto, int]:
    """Return a copy of ``model`` with every eligible ConvTranspose rewritten, and their count."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    graph = model.graph
    weights = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    readers = consumers(model)
    graph_outputs = {o.name for o in graph.output}

    new_nodes, dropped, count = [], set(), 0
    for node in graph.node:
        if id(node) in dropped:
            continue
        if not _rewritable(node, weights):
            new_nodes.append(node)
            continue
        count += 1
        name = node.name or f"deconv{count}"
        x, w_name = node.input[0], node.input[1]
        bias = node.input[2] if len(node.input) > 2 and node.input[2] else None
        out = node.output[0]
        users = readers.get(out, [])
        relu = users[0] if len(users) == 1 and users[0].op_type == "Relu" and out not in graph_outputs else None
        final = relu.output[0] if relu is not None else out
        if relu is not None:
            dropped.add(id(relu))
        after = readers.get(final, [])
        pointwise = after[0] if len(after) == 1 and final not in graph_outputs and _pointwise(after[0], weights) else None
        if pointwise is not None:
            dropped.add(id(pointwise))
            final = pointwise.output[0]
        phase_outputs = []
        for (a, b), wp in zip(PHASES, phase_weights(weights[w_name])):
            wp_name = f"{name}_phase{a}{b}_W"
            graph.initializer.append(numpy_helper.from_array(wp, wp_name))
            conv_out = f"{name}_phase{a}{b}"
            inputs = [x, wp_name] + ([bias] if bias else [])
            new_nodes.append(
                helper.make_node("Conv", inputs, [conv_out], name=conv_out, kernel_shape=[2, 2], strides=[1, 1], pads=[1 - a, 1 - b, a, b])
            )
            if relu is not None:
                new_nodes.append(helper.make_node("Relu", [conv_out], [conv_out + "_relu"], name=conv_out + "_relu"))
                conv_out += "_relu"
            if pointwise is not None:
                new_nodes.append(helper.make_node("Conv", [conv_out] + list(pointwise.input[1:]), [conv_out + "_1x1"],
                                                  name=conv_out + "_1x1", kernel_shape=[1, 1]))
                conv_out += "_1x1"
            phase_outputs.append(conv_out)
        new_nodes.append(helper.make_node("Concat", phase_outputs, [f"{name}_phases"], name=f"{name}_concat", axis=1))
        new_nodes.append(helper.make_node("DepthToSpace", [f"{name}_phases"], [final], name=f"{name}_d2s", blocksize=2, mode="DCR"))

    del graph.node[:]
    graph.node.extend(new_nodes)
    used = {i for n in graph.node for i in n.input}
    keep = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(keep)
    # Shapes of rewritten tensors are re-inferred by the quantizer's pre-processing.
    keep_vi = [v for v in graph.value_info if v.name not in {n.output[0] for n in new_nodes}]
    del graph.value_info[:]
    graph.value_info.extend(keep_vi)
    onnx.checker.check_model(model)
    log.info("rewrote %d ConvTranspose(k4, s2, p1) as phase Convs + DepthToSpace", count)
    return model, count


def share_phase_scales(model: onnx.ModelProto) -> int:
    """In a QDQ ``model``: give each phase Concat's inputs the Concat output's scale and zero
    point, so that QLinearConcat copies bytes instead of rounding twice (calibration gives each
    phase its own range). Against per-phase scales the int8 heatmaps of PoseResNet-50 moved by
    at most one step on 8 % of values, with the same error against fp32. Returns the Concats changed."""
    writers, readers = producers(model), consumers(model)
    changed = 0
    for concat in model.graph.node:
        if concat.op_type != "Concat" or not concat.name.endswith("_concat"):
            continue
        q_out = readers.get(concat.output[0], [])
        if len(q_out) != 1 or q_out[0].op_type != "QuantizeLinear":
            continue
        dq_out = readers.get(q_out[0].output[0], [])
        if len(dq_out) != 1 or [n.op_type for n in readers.get(dq_out[0].output[0], [])] != ["DepthToSpace"]:
            continue  # not a phase Concat
        scale, zero = q_out[0].input[1], q_out[0].input[2]
        pairs = []
        for name in concat.input:
            dq = writers.get(name)
            q = writers.get(dq.input[0]) if dq is not None and dq.op_type == "DequantizeLinear" else None
            if q is None or q.op_type != "QuantizeLinear" or len(readers.get(q.output[0], [])) != 1 \
                    or len(readers.get(dq.output[0], [])) != 1:
                break
            pairs.append((q, dq))
        else:
            for q, dq in pairs:
                q.input[1], q.input[2] = scale, zero
                dq.input[1], dq.input[2] = scale, zero
            changed += 1
    return changed
