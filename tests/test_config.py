import copy
import json

import pytest

from pose.config import ModelConfig
from pose.errors import ModelConfigError
from pose.joints import COCO, MPII
from tests.shared_data import BUNDLED_MODEL, FIXTURE_CONFIG


@pytest.fixture
def raw() -> dict:
    return json.loads(FIXTURE_CONFIG.read_text())


def test_fixture_config_loads(raw):
    c = ModelConfig.load(FIXTURE_CONFIG)
    assert c.input_layout == "NHWC" and c.input_size == (256, 256)
    assert c.skeleton is MPII
    assert c.channel_joints[0] == MPII.index("head_top") and c.channel_joints[-1] == MPII.index("l_ankle")
    assert c.to_dict() == {**raw, "format_version": 1}
    assert ModelConfig.from_dict(c.to_dict()) == c


def test_bundled_coco_config_loads():
    c = ModelConfig.load(BUNDLED_MODEL / "pose_config.json")
    assert c.skeleton is COCO and c.channel_joints == tuple(range(17))
    assert c.input_size == (192, 256)  # (width, height): crops at 3:4


def test_config_without_skeleton_is_mpii(raw):
    """Configs written before skeletons existed name MPII joints only."""
    del raw["skeleton"]
    assert ModelConfig.from_dict(raw).skeleton is MPII


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda d: d.pop("input"), "missing field input"),
        (lambda d: d["input"].update(layout="CHWN"), "input.layout is 'CHWN'"),
        (lambda d: d["input"].update(width=0), "input.width must be a whole number"),
        (lambda d: d["input"].update(std=[0.2, 0.2, 0]), "input.std must be a list of 3 positive numbers"),
        (lambda d: d["onnx"].update(sha256="abc"), "onnx.sha256 must be 64 hexadecimal digits"),
        (lambda d: d["onnx"].update(file="../model.onnx"), "plain file name"),
        (lambda d: d["joints"].__setitem__(1, "head_top"), "repeated: head_top; missing: upper_neck"),
        (lambda d: d["joints"].__setitem__(1, "nose"), "unknown mpii joint 'nose'"),
        (lambda d: d.update(joints=d["joints"][:15]), "each of the 16 output channels"),
        (lambda d: d.update(skeleton="coco"), "each of the 17 output channels"),
        (lambda d: d.update(skeleton="h36m"), "skeleton is 'h36m'; expected one of mpii, coco"),
        (lambda d: d.update(format_version=2), "format_version is 2"),
    ],
)
def test_invalid_configs_name_the_problem(raw, edit, message, tmp_path):
    data = copy.deepcopy(raw)
    edit(data)
    path = tmp_path / "pose_config.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ModelConfigError, match="invalid model config") as e:
        ModelConfig.load(path)
    assert message in str(e.value)
    assert str(path) in str(e.value)


def test_not_json(tmp_path):
    path = tmp_path / "pose_config.json"
    path.write_text("{not json")
    with pytest.raises(ModelConfigError, match="is not valid JSON"):
        ModelConfig.load(path)
