"""Lookups on an ONNX graph, shared by the export's rewrites: who writes a tensor, who reads
it, a node's attributes, the initializers by name."""

from __future__ import annotations

import onnx
from onnx import helper


def producers(model: onnx.ModelProto) -> dict[str, onnx.NodeProto]:
    """tensor name -> the node that writes it."""
    return {o: n for n in model.graph.node for o in n.output}


def consumers(model: onnx.ModelProto) -> dict[str, list[onnx.NodeProto]]:
    """tensor name -> the nodes that read it, in graph order."""
    out: dict[str, list[onnx.NodeProto]] = {}
    for n in model.graph.node:
        for i in n.input:
            out.setdefault(i, []).append(n)
    return out


def initializers(model: onnx.ModelProto) -> dict[str, onnx.TensorProto]:
    return {t.name: t for t in model.graph.initializer}


def attrs(node: onnx.NodeProto) -> dict:
    """attribute name -> value (ints, lists, bytes...)."""
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}
