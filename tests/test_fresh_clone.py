"""``python app.py`` as on a fresh clone: no model settings, an empty Hugging Face cache, and
``HF_ENDPOINT`` at a loopback port. With nothing listening (no network), the bundled COCO model
serves and the page says why; with a loopback Hub serving the default repo, that model is used;
with a damaged cached file, start-up stops with the checksum message and never falls back."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest

from pose.hub import BUNDLED_MODEL, DEFAULT_MODEL_REPO, DEFAULT_MODEL_REVISION
from tests.app_server import running_app
from tests.hub_server import HubServer
from tests.shared_data import FIXTURE_CONFIG, REPO, SHARED_ONNX
from tests.test_hub import corrupt, dead_endpoint

BUNDLED_NAME = json.loads((BUNDLED_MODEL / "pose_config.json").read_text())["name"]
HUB_NAME = json.loads(FIXTURE_CONFIG.read_text())["name"]


def page_markdown(url: str) -> str:
    """The text of every Markdown block of the served page (Gradio's /config)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url + "config", timeout=10) as r:
        config = json.load(r)
    return "\n".join(str(c["props"].get("value", "")) for c in config["components"] if c.get("type") == "markdown")


def test_fresh_clone_without_network_serves_the_bundled_model(tmp_path, shared):
    from gradio_client import Client, handle_file

    started = time.monotonic()
    env = {"HF_ENDPOINT": dead_endpoint(), "HF_HOME": str(tmp_path / "hf")}
    with running_app(None, tmp_path, extra_env=env) as app:
        took = time.monotonic() - started
        text = page_markdown(app.url)
        assert f"Running the bundled {BUNDLED_NAME}" in text, text
        assert "no network connection and no cached copy" in text, text
        log = app.log_path.read_text()
        assert log.count("using the bundled model") == 1 and "Retrying" not in log, log
        client = Client(app.url, verbose=False)
        group = REPO / "examples" / "08_group_baseball_pro_000000002153.jpg"  # pitcher, batter, catcher, umpire
        result = client.predict(handle_file(str(group)), False, "", api_name="/keypoints")
    assert result["model"] == BUNDLED_NAME and result["skeleton"] == "coco"
    assert result["detector"].startswith("YOLOX-Nano")
    people = result["people"]
    assert len(people) >= 4 and [p["id"] for p in people] == list(range(1, len(people) + 1))
    assert all(p["box_source"] == "detector" and len(p["joints"]) == 17 for p in people)
    assert [p["score"] for p in people] == sorted((p["score"] for p in people), reverse=True)
    print(f"fresh clone, no network: serving after {took:.1f} s")  # shown with -s; the limit is 15 s


@pytest.fixture
def default_hub(shared):
    with HubServer() as hub:
        hub.add_file(DEFAULT_MODEL_REPO, "pose_config.json", FIXTURE_CONFIG)
        hub.add_file(DEFAULT_MODEL_REPO, "model.onnx", SHARED_ONNX)
        hub.add_tag(DEFAULT_MODEL_REPO, DEFAULT_MODEL_REVISION)
        yield hub


def test_fresh_clone_with_the_hub_uses_the_hub_model_and_stops_on_a_damaged_cache(default_hub, tmp_path):
    env = {"HF_ENDPOINT": default_hub.endpoint, "HF_HOME": str(tmp_path / "hf")}
    with running_app(None, tmp_path / "first", extra_env=env) as app:
        text = page_markdown(app.url)
        assert HUB_NAME in text and "bundled" not in text, text

    snapshot = tmp_path / "hf" / "hub" / "models--simple-baselines-demo--pose-resnet50-mpii-int8" / "snapshots"
    corrupt(next(snapshot.glob("*/model.onnx")))
    with pytest.raises(RuntimeError, match="exited with") as info:
        with running_app(None, tmp_path / "second", extra_env={**env, "HF_HUB_OFFLINE": "1"}):
            pass
    assert "checksum mismatch" in str(info.value) and "bundled" not in str(info.value), info.value


def test_bundled_models_are_in_the_repository():
    """The bundled ONNX files must be committed, not ignored (``*.onnx`` is ignored elsewhere):
    without them a fresh clone has nothing to fall back to."""
    import subprocess

    from pose.detector import BUNDLED_DETECTOR
    from tests.shared_data import REPO

    files = [str((folder / "model.onnx").relative_to(REPO)) for folder in (BUNDLED_MODEL, BUNDLED_DETECTOR)]
    ignored = subprocess.run(["git", "check-ignore", *files], cwd=REPO, capture_output=True, text=True)
    assert ignored.returncode == 1 and ignored.stdout == "", f"git ignores {ignored.stdout.split()}"
    tracked = subprocess.run(["git", "ls-files", "--error-unmatch", *files], cwd=REPO, capture_output=True, text=True)
    assert tracked.returncode == 0, tracked.stderr
