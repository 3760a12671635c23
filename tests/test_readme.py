"""README.md tells the truth: its architecture figures come from the code, its Spaces
front-matter matches the pinned requirements."""

from __future__ import annotations

import re

import pytest

from tests.shared_data import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def front_matter() -> dict:
    import yaml  # PyYAML comes with gradio

    return yaml.safe_load(README.split("---\n", 2)[1])


def test_spaces_front_matter_is_a_valid_space_config():
    from pose.config import CONFIG_FILENAME
    from pose.hub import DEFAULT_MODEL_REPO, DEFAULT_MODEL_REVISION

    meta = front_matter()
    pins = dict(line.split("==") for line in (REPO / "requirements.txt").read_text().splitlines() if "==" in line)
    assert meta["sdk"] == "gradio"
    assert meta["sdk_version"] == pins["gradio"]
    assert meta["app_file"] == "app.py" and (REPO / meta["app_file"]).is_file()
    assert str(meta["python_version"]) == "3.11"
    assert 0 < len(meta["short_description"]) <= 60
    assert meta["suggested_hardware"] == "cpu-basic"
    # preload_from_hub runs at build time; the default repo is not published yet, so it must not
    # be named there (the app falls back at run time). The README shows the line to add later.
    assert "preload_from_hub" not in meta
    later = f"- {DEFAULT_MODEL_REPO} {CONFIG_FILENAME},model.onnx {DEFAULT_MODEL_REVISION}"
    assert later in README


def test_every_runtime_dependency_is_pinned():
    lines = [ln.split("#")[0].strip() for ln in (REPO / "requirements.txt").read_text().splitlines()]
    deps = [ln for ln in lines if ln]
    assert deps and all(re.fullmatch(r"[A-Za-z0-9_.\-]+==[0-9][0-9A-Za-z.+]*", d) for d in deps), deps
    imported = {"gradio", "onnxruntime", "huggingface_hub", "numpy", "pillow", "opencv-python-headless"}
    assert imported <= {d.split("==")[0].lower() for d in deps}


def test_architecture_figures_are_computed_by_the_code():
    pytest.importorskip("torch", reason="needs requirements-export.txt")
    from pose.export.pose_resnet import PoseResNet, complexity

    c = complexity(PoseResNet("resnet50", 16), (256, 256))
    assert f"**{c['params'] / 1e6:.1f} M parameters and {c['macs'] / 1e9:.2f} G multiply-accumulates ({2 * c['macs'] / 1e9:.1f} GFLOPs) per crop**" in README
    diagram = README.split("### 2. The network", 1)[1].split("```", 2)[1]
    shapes = [tuple(int(v) for v in m) for m in re.findall(r"→\s+(\d+) × +(\d+) × +(\d+)", diagram)]
    assert shapes == [s[1:] for _, s in c["stages"]]
