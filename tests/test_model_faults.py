"""Model faults: an interrupted download, and models that cannot serve, caught at start-up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from pose.hub import sha256_of
from tests.hub_server import HubServer
from tests.shared_data import FIXTURE_CONFIG, MPII_DIR, REPO, SHARED_ONNX

SECRET = "hf_ThisIsNotARealTokenButMustNeverBeLogged"
REPO_ID = "test-org/efficientpose-i"


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POSE_MODEL", "HF_", "HUGGINGFACE_"))}
    env.update(HF_HUB_DISABLE_TELEMETRY="1", HF_TOKEN=SECRET, POSE_THREADS="1", GRADIO_ANALYTICS_ENABLED="False", **extra)
    return env


def test_broken_download_leaves_no_corrupt_file_and_the_retry_succeeds(shared, tmp_path):
    hf_home = tmp_path / "hf"
    image = sorted(MPII_DIR.glob("*.jpg"))[0]
    with HubServer() as hub:
        hub.add_file(REPO_ID, "pose_config.json", FIXTURE_CONFIG)
        hub.add_file(REPO_ID, "model.onnx", SHARED_ONNX)
        hub.break_after(REPO_ID, "model.onnx", 1_000_000)  # the connection drops after 1 MB of 2.9 MB
        proc = subprocess.run(
            [sys.executable, "-m", "pose", image, "--model-repo", REPO_ID, "--model-revision", hub.commit_for(REPO_ID)],
            cwd=REPO, env=clean_env(HF_ENDPOINT=hub.endpoint, HF_HOME=str(hf_home)), capture_output=True, text=True, timeout=180,
        )
        onnx_gets = [r for r in hub.requests if r[0] == "GET" and r[1].endswith("/model.onnx")]
    assert proc.returncode == 0, proc.stderr
    assert len(json.loads(proc.stdout)[0]["people"][0]["joints"]) == 16
    assert len(onnx_gets) == 2  # the broken transfer, then huggingface_hub's retry
    cache = hf_home / "hub" / f"models--{REPO_ID.replace('/', '--')}"
    assert not list(cache.rglob("*.incomplete"))
    (snapshot,) = cache.glob("snapshots/*/model.onnx")
    assert sha256_of(snapshot) == sha256_of(SHARED_ONNX)
    assert SECRET not in proc.stdout + proc.stderr


def start_app(model_dir: Path) -> subprocess.CompletedProcess:
    """``python app.py`` on a model that cannot serve: it must stop before serving."""
    return subprocess.run(
        [sys.executable, "app.py"], cwd=REPO, capture_output=True, text=True, timeout=120,
        env=clean_env(POSE_MODEL_PATH=str(model_dir), GRADIO_SERVER_NAME="127.0.0.1", GRADIO_SERVER_PORT="0"),
    )


def model_dir_with(tmp_path: Path, onnx_bytes: bytes | None = None, **config_changes) -> Path:
    folder = tmp_path / "model"
    folder.mkdir()
    onnx = folder / "model.onnx"
    if onnx_bytes is None:
        onnx.symlink_to(SHARED_ONNX)
    else:
        onnx.write_bytes(onnx_bytes)
    config = json.loads(FIXTURE_CONFIG.read_text())
    config["onnx"]["sha256"] = sha256_of(onnx)
    for section, values in config_changes.items():
        config[section].update(values)
    (folder / "pose_config.json").write_text(json.dumps(config))
    return folder


def assert_refused_at_start(proc: subprocess.CompletedProcess, *fragments: str) -> None:
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert "Running on" not in out  # it never served
    assert "Traceback" not in out
    for fragment in fragments:
        assert fragment in out, out
    assert SECRET not in out


def test_onnx_that_onnxruntime_cannot_load_fails_at_start_up(tmp_path):
    folder = model_dir_with(tmp_path, onnx_bytes=b"\x08\x07" + os.urandom(4000))
    assert_refused_at_start(start_app(folder), "onnxruntime cannot load the model file", str(folder / "model.onnx"))


def test_config_naming_a_missing_input_fails_at_start_up(shared, tmp_path):
    folder = model_dir_with(tmp_path, input={"name": "images"})
    assert_refused_at_start(start_app(folder), str(folder / "model.onnx"), "the config's input 'images' is not in the model")


def test_config_with_the_wrong_layout_fails_at_start_up(shared, tmp_path):
    folder = model_dir_with(tmp_path, input={"layout": "NCHW"})
    assert_refused_at_start(start_app(folder), "has shape [1, 256, 256, 3], but the config says NCHW 256x256")


def test_config_with_the_wrong_output_fails_at_start_up(shared, tmp_path):
    folder = model_dir_with(tmp_path, output={"name": "pass1_skeleton_pafs/BiasAdd"})
    assert_refused_at_start(start_app(folder), "has shape [1, 32, 32, 28]", "16 joint channels")


def test_detector_whose_tensors_do_not_match_its_config_fails_at_start_up(model_dir, tmp_path):
    """A detector config whose strides make another anchor count than the ONNX output has."""
    from pose.detector import BUNDLED_DETECTOR

    folder = tmp_path / "detector"
    folder.mkdir()
    (folder / "model.onnx").symlink_to(BUNDLED_DETECTOR / "model.onnx")
    config = json.loads((BUNDLED_DETECTOR / "detector_config.json").read_text())
    config["output"]["strides"] = [8, 16]
    (folder / "detector_config.json").write_text(json.dumps(config))
    proc = subprocess.run(
        [sys.executable, "app.py"], cwd=REPO, capture_output=True, text=True, timeout=120,
        env=clean_env(POSE_MODEL_PATH=str(model_dir), POSE_DETECTOR_PATH=str(folder), GRADIO_SERVER_NAME="127.0.0.1",
                      GRADIO_SERVER_PORT="0"),
    )
    assert_refused_at_start(proc, f"detector {folder / 'model.onnx'} and its config do not match",
                            "strides [8, 16] at 416x416 make 3380 anchors")


def test_bad_max_people_setting_stops_start_up(model_dir):
    proc = subprocess.run(
        [sys.executable, "app.py"], cwd=REPO, capture_output=True, text=True, timeout=120,
        env=clean_env(POSE_MODEL_PATH=str(model_dir), POSE_MAX_PEOPLE="lots", GRADIO_SERVER_NAME="127.0.0.1", GRADIO_SERVER_PORT="0"),
    )
    assert_refused_at_start(proc, "POSE_MAX_PEOPLE must be a whole number of at least 1, not 'lots'")
