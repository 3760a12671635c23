from __future__ import annotations

import os

import pytest

from tests.app_server import running_app
from tests.shared_data import BUNDLED_MODEL, make_model_dir, missing_reason, shared_available

REQUIRE_SHARED = os.environ.get("POSE_REQUIRE_SHARED") == "1"


@pytest.fixture(scope="session")
def shared() -> None:
    """Tests that need ../shared skip without it, or fail when POSE_REQUIRE_SHARED=1 (CI)."""
    if not shared_available():
        if REQUIRE_SHARED:
            pytest.fail(missing_reason())
        pytest.skip(missing_reason())


@pytest.fixture(scope="session")
def model_dir(shared, tmp_path_factory):
    """Local model folder for the shared EfficientPose-I model with the fixture config."""
    return make_model_dir(tmp_path_factory.mktemp("model"))


@pytest.fixture(scope="session")
def estimator(model_dir):
    from pose import ModelSource, PoseEstimator

    return PoseEstimator.load(ModelSource(path=model_dir), threads=2)


@pytest.fixture(scope="session")
def coco_estimator():
    """The bundled COCO-17 model (PP-TinyPose, in the repo: needs no ../shared)."""
    from pose import ModelSource, PoseEstimator

    return PoseEstimator.load(ModelSource(path=BUNDLED_MODEL), threads=2)


@pytest.fixture(scope="module")
def server(model_dir, tmp_path_factory):
    """(url, log_path) of ``python app.py`` running on a free loopback port."""
    with running_app(model_dir, tmp_path_factory.mktemp("app")) as running:
        yield running.url, running.log_path


@pytest.fixture(scope="module")
def client(server):
    from gradio_client import Client

    return Client(server[0], verbose=False)
