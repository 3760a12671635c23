"""Checkpoint -> ONNX -> int8 -> the app, for real (PyTorch needed: requirements-export.txt)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

torch = pytest.importorskip("torch", reason="export tests need requirements-export.txt")

from pose import ModelSource, PoseEstimator  # noqa: E402
from pose.config import ModelConfig  # noqa: E402
from pose.export.onnx_export import ParityError, check_parity, export_onnx  # noqa: E402
from pose.export.pose_resnet import PoseResNet, write_test_checkpoint  # noqa: E402
from pose.export.quantize import calibration_inputs, quantize_dynamic_int8, quantize_static_int8  # noqa: E402
from pose.export.subpixel import rewrite_deconvs  # noqa: E402
from pose.hub import sha256_of  # noqa: E402
from pose.metrics import pckh, pckh_hits  # noqa: E402
from tests.hub_server import HubServer  # noqa: E402
from tests.shared_data import FIXTURE_CONFIG, REPO, SHARED_ONNX, mpii_people  # noqa: E402

EXAMPLES = REPO / "examples"


def deconv_model(stride=2, pads=(1, 1, 1, 1), kernel=4, bias=True, relu=True, c_in=8, c_out=5, pointwise=False) -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.normal(size=(c_in, c_out, kernel, kernel)).astype(np.float32), "W")]
    inputs = ["x", "W"]
    if bias:
        inits.append(numpy_helper.from_array(rng.normal(size=c_out).astype(np.float32), "B"))
        inputs.append("B")
    nodes = [helper.make_node("ConvTranspose", inputs, ["d"], strides=[stride, stride], pads=list(pads), kernel_shape=[kernel, kernel])]
    last = "r" if pointwise else "y"
    nodes.append(helper.make_node("Relu", ["d"], [last]) if relu else helper.make_node("Identity", ["d"], [last]))
    if pointwise:  # Simple Baselines' final layer: a 1x1 conv to one heatmap per joint
        inits += [numpy_helper.from_array(rng.normal(size=(3, c_out, 1, 1)).astype(np.float32), "P"),
                  numpy_helper.from_array(rng.normal(size=3).astype(np.float32), "PB")]
        nodes.append(helper.make_node("Conv", ["r", "P", "PB"], ["y"], kernel_shape=[1, 1]))
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, c_in, 7, 9])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", "c", "h", "w"])], inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)


def run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x})[0]


@pytest.mark.parametrize("bias, relu, pointwise", [(True, True, False), (False, True, False), (True, False, False),
                                                    (True, True, True)])
def test_subpixel_rewrite_is_exact(bias, relu, pointwise):
    model = deconv_model(bias=bias, relu=relu, pointwise=pointwise)
    x = np.random.default_rng(1).normal(size=(2, 8, 7, 9)).astype(np.float32)
    rewritten, count = rewrite_deconvs(model)
    assert count == 1
    ops = [n.op_type for n in rewritten.graph.node]
    assert ops.count("ConvTranspose") == 0
    last_conv = max(i for i, op in enumerate(ops) if op == "Conv")
    assert last_conv < ops.index("DepthToSpace")  # a following 1x1 conv moves into each phase, before the interleave
    assert ops.count("Conv") == (8 if pointwise else 4)
    np.testing.assert_allclose(run(rewritten, x), run(model, x), atol=1e-5)


@pytest.mark.parametrize("kw", [dict(stride=1, pads=(1, 1, 1, 1)), dict(kernel=3), dict(pads=(0, 0, 0, 0))])
def test_other_deconvolutions_are_left_alone(kw):
    model = deconv_model(**kw)
    rewritten, count = rewrite_deconvs(model)
    assert count == 0
    assert [n.op_type for n in rewritten.graph.node] == [n.op_type for n in model.graph.node]


def test_subpixel_rewrite_on_the_real_model(shared):
    model = onnx.load(str(SHARED_ONNX))
    rewritten, count = rewrite_deconvs(model)
    assert count == 3
    x = np.random.default_rng(2).normal(size=(1, 256, 256, 3)).astype(np.float32)
    np.testing.assert_allclose(run(rewritten, x), run(model, x), atol=1e-6)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The whole command on a checkpoint in the official format (DataParallel training
    wrapper), with HF_ENDPOINT pointing at a loopback Hub that records any request."""
    tmp = tmp_path_factory.mktemp("export")
    ckpt = tmp / "pose_resnet_50_256x256.pth.tar"
    # BatchNorm statistics of real photos, as a trained network has: smooth random images leave
    # some channels far wider than the rest, and the recipe would keep their layers in fp32.
    config = ModelConfig.load(FIXTURE_CONFIG)
    photos = [torch.from_numpy(t) for t in calibration_inputs(config, [(p, None) for p in sorted(EXAMPLES.glob("*.jpg"))])]
    write_test_checkpoint(ckpt, arch="resnet50", num_joints=16, wrapper="module",
                          calibration=torch.cat(photos).permute(0, 3, 1, 2).contiguous())
    out = tmp / "out"
    with HubServer() as hub:
        env = {**os.environ, "HF_ENDPOINT": hub.endpoint, "HF_HOME": str(tmp / "hf"), "HF_HUB_DISABLE_TELEMETRY": "1"}
        proc = subprocess.run(
            [sys.executable, "-m", "pose.export", "--checkpoint", ckpt, "--arch", "resnet50", "--joints", "mpii",
             "--out", out, "--calibration", EXAMPLES, "--runs", "3"],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
        )
        requests = hub.requests
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, proc.stdout, requests


def test_export_writes_both_variants_and_a_card(exported):
    out, stdout, requests = exported
    assert requests == []  # without --push-to-hub nothing leaves the machine
    for folder, name in ((out, "model.onnx"), (out / "fp32", "model_fp32.onnx")):
        cfg = ModelConfig.load(folder / "pose_config.json")
        assert cfg.onnx_file == name and cfg.onnx_sha256 == sha256_of(folder / name)
        assert (cfg.input_name, cfg.input_layout, cfg.input_size, cfg.output_layout) == ("input", "NCHW", (256, 256), "NCHW")
    assert (out / "model.onnx").stat().st_size < 35e6 < (out / "fp32" / "model_fp32.onnx").stat().st_size
    for variant in ("fp32", "dynamic int8", "static int8"):
        assert any(line.startswith(variant) for line in stdout.splitlines()), stdout
    card = (out / "README.md").read_text()
    assert card.startswith("---\nlicense: mit") and "34.0 M parameters" in card and "static int8" in card


def test_int8_graph_quantizes_every_conv_and_no_deconv_is_left(exported):
    out, _, _ = exported
    model = onnx.load(str(out / "model.onnx"))
    nodes = model.graph.node
    producers = {o: n for n in nodes for o in n.output}
    int8_inits = {t.name for t in model.graph.initializer if t.data_type == TensorProto.INT8}
    convs = [n for n in nodes if n.op_type == "Conv"]
    assert not [n for n in nodes if n.op_type == "ConvTranspose"]
    assert len(convs) == 53 + 12 + 4  # ResNet-50's 53 convs, 3 deconvs as 4 phase convs, the final 1x1 on each phase
    for conv in convs:
        for tensor in conv.input[:2]:  # activation and weight both come dequantized from int8/uint8
            dq = producers[tensor]
            assert dq.op_type == "DequantizeLinear", conv.name
        assert producers[conv.input[1]].input[0] in int8_inits, conv.name
    assert "nodes stay fp32" not in (out / "README.md").read_text()
    consumers = {i: n for n in nodes for i in n.input}
    concats = [n for n in nodes if n.op_type == "Concat"]
    assert len(concats) == 3
    for concat in concats:  # one int8 scale per deconvolution output: QLinearConcat copies bytes
        out_q = consumers[concat.output[0]]
        assert {tuple(producers[i].input[1:]) for i in concat.input} == {tuple(out_q.input[1:])}, concat.name


def test_exported_model_runs_in_the_app_pipeline_locally_and_from_the_hub(exported, tmp_path):
    out, _, _ = exported
    image = EXAMPLES / "01_sport_skiing_000000000785.jpg"
    int8 = PoseEstimator.load(ModelSource(path=out), threads=2).estimate(image, flip=True)
    fp32 = PoseEstimator.load(ModelSource(path=out / "fp32"), threads=2).estimate(image, flip=True)
    for r in (int8, fp32):
        assert r.heatmaps.shape == (16, 64, 64) and np.isfinite(r.keypoints).all()
    assert "PoseResNet-50" in int8.model and "(int8)" in int8.model
    with HubServer() as hub:
        for name in ("pose_config.json", "model.onnx"):
            hub.add_file("team/pose-resnet50-mpii-int8", name, out / name)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("POSE_MODEL", "HF_"))}
        env.update(HF_ENDPOINT=hub.endpoint, HF_HOME=str(tmp_path / "hf"), HF_HUB_DISABLE_TELEMETRY="1")
        proc = subprocess.run(
            [sys.executable, "-m", "pose", image, "--model-repo", "team/pose-resnet50-mpii-int8",
             "--model-revision", hub.commit_for("team/pose-resnet50-mpii-int8")],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
        )
    assert proc.returncode == 0, proc.stderr
    assert '"model": "Simple Baselines PoseResNet-50, MPII 256x256 (int8)"' in proc.stdout


def test_parity_check_refuses_a_wrong_export(tmp_path):
    a, b = PoseResNet("resnet18", 16), PoseResNet("resnet18", 16)
    torch.manual_seed(1)
    for p in b.parameters():
        p.data.add_(torch.randn_like(p) * 0.01)
    path = tmp_path / "a.onnx"
    export_onnx(a, path, (256, 256))
    x = np.random.default_rng(0).normal(size=(2, 3, 256, 256)).astype(np.float32)
    assert check_parity(a, path, x) <= 1e-4  # batch of 2 through the dynamic axis
    with pytest.raises(ParityError, match="differs from PyTorch"):
        check_parity(b, path, x)


def test_static_int8_keeps_the_real_model_accurate(shared, tmp_path):
    """The shipped quantization recipe on the real pretrained model: static int8 loses at
    most a few PCKh points and beats the earlier demos' dynamic quantization."""
    config = ModelConfig.load(FIXTURE_CONFIG)
    calibration = calibration_inputs(config, [(p, None) for p in sorted((REPO.parent / "shared" / "data" / "coco").glob("*.jpg")) + sorted(EXAMPLES.glob("*.jpg"))])
    people = mpii_people()
    scores = {}
    for name, make in (("static", lambda p: quantize_static_int8(SHARED_ONNX, p, config, calibration)), ("dynamic", lambda p: quantize_dynamic_int8(SHARED_ONNX, p))):
        folder = tmp_path / name
        folder.mkdir()
        make(folder / "model.onnx")
        replace(config, onnx_sha256=sha256_of(folder / "model.onnx")).save(folder / "pose_config.json")
        est = PoseEstimator.load(ModelSource(path=folder), threads=2)
        hits = [pckh_hits(est.estimate(p.image, box=p.box).keypoints, p.joints, p.visible, p.head_size) for p in people]
        scores[name] = pckh(np.concatenate(hits), np.concatenate([p.visible for p in people]))
    assert scores["static"] >= 0.85, scores
    assert scores["static"] > scores["dynamic"], scores


def test_coco_checkpoint_exports_to_a_17_joint_int8_model_that_runs_in_the_app(tmp_path):
    """An official-format COCO checkpoint (DataParallel wrapper, random weights): the input size
    comes from its name (256x192 = height x width), and the int8 model serves through the app."""
    from gradio_client import Client, handle_file

    from pose.joints import COCO
    from tests.app_server import running_app

    ckpt = tmp_path / "pose_resnet_50_256x192.pth.tar"
    write_test_checkpoint(ckpt, arch="resnet50", num_joints=17, input_size=(192, 256), wrapper="module")
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "pose.export", "--checkpoint", ckpt, "--joints", "coco", "--out", out,
         "--calibration", EXAMPLES, "--runs", "2"],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    cfg = ModelConfig.load(out / "pose_config.json")
    assert cfg.skeleton is COCO and cfg.input_size == (192, 256) and cfg.channel_joints == tuple(range(17))
    assert cfg.name == "Simple Baselines PoseResNet-50, COCO 256x192 (int8)"
    card = (out / "README.md").read_text()
    assert "- coco" in card and "[N, 17, 64, 48]" in card and "COCO val2017 AP of 70.4" in card
    assert "input size 256x192 (height x width) taken from the checkpoint name" in proc.stderr

    image = sorted(EXAMPLES.glob("*.jpg"))[0]
    with running_app(out, tmp_path / "app") as app:
        result = Client(app.url, verbose=False).predict(handle_file(str(image)), True, "", api_name="/keypoints")
    assert result["skeleton"] == "coco" and [j["name"] for j in result["people"][0]["joints"]] == list(COCO.joints)
    assert result["model"] == cfg.name


@pytest.mark.parametrize("text, size", [("256x192", (192, 256)), ("384X288", (288, 384))])
def test_input_size_is_height_by_width(text, size):
    from pose.export.cli import parse_size

    assert parse_size(text) == size


def test_input_size_defaults_from_the_name_then_the_skeleton():
    import argparse
    from pathlib import Path

    from pose.export.cli import input_size, parse_size
    from pose.joints import COCO, MPII

    assert input_size(None, Path("pose_resnet_152_384x288.pth.tar"), COCO) == (288, 384)
    assert input_size(None, Path("model_best.pth.tar"), COCO) == (192, 256)
    assert input_size(None, Path("final_state.pth.tar"), MPII) == (256, 256)
    assert input_size((192, 256), Path("pose_resnet_50_256x256.pth.tar"), MPII) == (192, 256)  # the flag wins
    with pytest.raises(argparse.ArgumentTypeError, match="HEIGHTxWIDTH"):
        parse_size("256")
