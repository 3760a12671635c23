"""Model resolution (pose/hub.py) against a real Hub-compatible server on 127.0.0.1.

huggingface_hub reads HF_ENDPOINT / HF_HUB_OFFLINE when it is imported, so every Hub run
is a real ``python -m pose`` subprocess with its own HF_HOME under tmp_path.  Only the
local-folder tests and ModelSource.resolve run in-process (no Hub involved).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from pose.errors import ModelConfigError, ModelError
from pose.hub import BUNDLED_MODEL, DEFAULT_MODEL_REPO, DEFAULT_MODEL_REVISION, ModelSource, fetch_model
from tests.hub_server import HubServer
from tests.shared_data import FIXTURE_CONFIG, MPII_DIR, REPO, SHARED_ONNX

REPO_ID = "test-org/efficientpose-i"
ONNX = "model.onnx"
CONFIG = "pose_config.json"
EXPECTED_SHA = json.loads(FIXTURE_CONFIG.read_text())["onnx"]["sha256"]
MODEL_NAME = json.loads(FIXTURE_CONFIG.read_text())["name"]
_runs = itertools.count()


@pytest.fixture
def hub(shared):
    """The Hub repo REPO_ID serving the fixture config and the shared ONNX."""
    with HubServer() as server:
        server.add_file(REPO_ID, CONFIG, FIXTURE_CONFIG)
        server.add_file(REPO_ID, ONNX, SHARED_ONNX)
        yield server


def run_pose(
    endpoint: str, hf_home: Path, revision: str | None = "main", repo: str | None = REPO_ID, offline: bool = False,
    env_extra: dict[str, str] | None = None,
) -> tuple[int, str, list | None]:
    """Run ``python -m pose`` on one MPII image; return (exit code, stderr, parsed JSON or None).
    ``repo=None`` runs it as on a fresh clone: no model settings, the project's default repo."""
    image = sorted(MPII_DIR.glob("*.jpg"))[0]
    out = hf_home.parent / f"out-{next(_runs)}.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POSE_MODEL_", "POSE_FALLBACK", "HF_", "HUGGINGFACE_"))}
    env.update(HF_ENDPOINT=endpoint, HF_HOME=str(hf_home), HF_HUB_DISABLE_TELEMETRY="1", POSE_THREADS="1", **(env_extra or {}))
    if offline:
        env["HF_HUB_OFFLINE"] = "1"
    model = ["--model-repo", repo, "--model-revision", revision] if repo else []
    cmd = [sys.executable, "-m", "pose", str(image), *model, "--json", str(out)]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    result = json.loads(out.read_text()) if out.is_file() else None
    return proc.returncode, proc.stderr, result


def resolves(hub: HubServer) -> list[tuple[str, str]]:
    return [(method, path) for method, path in hub.requests if "/resolve/" in path]


def gets(hub: HubServer, filename: str) -> list[tuple[str, str]]:
    return [(m, p) for m, p in resolves(hub) if m == "GET" and p.endswith("/" + filename)]


def cached_onnx(hf_home: Path, hub: HubServer) -> Path:
    """Snapshot link of the cached model.onnx (commit revision) in HF_HOME."""
    return hf_home / "hub" / "models--test-org--efficientpose-i" / "snapshots" / hub.commit_for(REPO_ID) / ONNX


def corrupt(path: Path) -> Path:
    """Overwrite the blob behind a snapshot link with garbage of the same length; return the blob."""
    blob = path.resolve()
    assert blob.parent.name == "blobs" and blob.is_file()
    blob.write_bytes(b"\xff" * blob.stat().st_size)
    return blob


def tampered_onnx(dest: Path) -> Path:
    """A copy of the shared ONNX (in a temp dir) with one byte changed."""
    data = bytearray(SHARED_ONNX.read_bytes())
    data[len(data) // 2] ^= 0xFF
    dest.write_bytes(bytes(data))
    return dest


# ---- Hub: download and cache -----------------------------------------------------------------


def test_first_run_downloads_config_and_onnx(hub, tmp_path, shared):
    code, err, result = run_pose(hub.endpoint, tmp_path / "hf")
    assert code == 0, err
    assert len(gets(hub, CONFIG)) == 1 and len(gets(hub, ONNX)) == 1, resolves(hub)
    assert result is not None and len(result) == 1
    assert result[0]["model"] == MODEL_NAME
    assert len(result[0]["people"][0]["joints"]) == 16
    assert hashlib.sha256(cached_onnx(tmp_path / "hf", hub).read_bytes()).hexdigest() == EXPECTED_SHA


def test_second_run_uses_cache(hub, tmp_path, shared):
    hf = tmp_path / "hf"
    assert run_pose(hub.endpoint, hf)[0] == 0
    hub.clear_requests()

    code, err, result = run_pose(hub.endpoint, hf, revision=hub.commit_for(REPO_ID))
    assert code == 0, err
    assert hub.requests == []  # commit revision: no request at all
    assert result is not None and len(result[0]["people"][0]["joints"]) == 16

    code, err, _ = run_pose(hub.endpoint, hf, revision="main")
    assert code == 0, err
    assert gets(hub, ONNX) == [] and gets(hub, CONFIG) == [], resolves(hub)  # HEADs only


def test_offline_after_download_uses_cache(hub, tmp_path, shared):
    hf = tmp_path / "hf"
    assert run_pose(hub.endpoint, hf)[0] == 0
    hub.clear_requests()
    code, err, result = run_pose(hub.endpoint, hf, offline=True)
    assert code == 0, err
    assert hub.requests == []
    assert result is not None and result[0]["model"] == MODEL_NAME


def test_offline_with_empty_cache_fails_clearly(hub, tmp_path, shared):
    code, err, result = run_pose(hub.endpoint, tmp_path / "hf", offline=True)
    assert code == 2 and result is None
    assert "no network connection" in err and "POSE_MODEL_PATH" in err, err
    assert hub.requests == []


def dead_endpoint() -> str:
    """A loopback URL with nothing listening: connections are refused, as with no network."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_no_network_with_empty_cache_fails_clearly(tmp_path, shared):
    code, err, result = run_pose(dead_endpoint(), tmp_path / "hf")
    assert code == 2 and result is None
    assert "no network connection" in err and "POSE_MODEL_PATH" in err, err


# ---- Hub: what is not there ------------------------------------------------------------------


def test_repo_not_found(hub, tmp_path, shared):
    code, err, _ = run_pose(hub.endpoint, tmp_path / "hf", repo="test-org/no-such-model")
    assert code == 2
    assert "repository not found" in err, err


def test_missing_onnx_file_in_repo(hub, tmp_path, shared):
    hub.add_file("test-org/config-only", CONFIG, FIXTURE_CONFIG)
    code, err, _ = run_pose(hub.endpoint, tmp_path / "hf", repo="test-org/config-only")
    assert code == 2
    assert "the repo has no file 'model.onnx'" in err, err


def test_revision_not_found(hub, tmp_path, shared):
    code, err, _ = run_pose(hub.endpoint, tmp_path / "hf", revision="v9")
    assert code == 2
    assert "revision 'v9' not found" in err, err


# ---- Hub: checksums --------------------------------------------------------------------------


def test_corrupted_cache_is_downloaded_again(hub, tmp_path, shared):
    hf = tmp_path / "hf"
    assert run_pose(hub.endpoint, hf)[0] == 0
    corrupt(cached_onnx(hf, hub))
    hub.clear_requests()

    code, err, result = run_pose(hub.endpoint, hf, revision=hub.commit_for(REPO_ID))
    assert code == 0, err
    assert "checksum mismatch" in err
    assert len(gets(hub, ONNX)) == 1, resolves(hub)
    assert result is not None and len(result[0]["people"][0]["joints"]) == 16
    assert hashlib.sha256(cached_onnx(hf, hub).read_bytes()).hexdigest() == EXPECTED_SHA


def test_corrupted_cache_offline_is_deleted(hub, tmp_path, shared):
    hf = tmp_path / "hf"
    assert run_pose(hub.endpoint, hf)[0] == 0
    blob = corrupt(cached_onnx(hf, hub))
    hub.clear_requests()

    code, err, result = run_pose(hub.endpoint, hf, offline=True)
    assert code == 2 and result is None
    assert "checksum mismatch" in err and "the bad file was deleted" in err, err
    assert not blob.exists()
    assert not cached_onnx(hf, hub).is_symlink()
    assert hub.requests == []


def test_hub_serves_onnx_with_wrong_checksum(hub, tmp_path, shared):
    hub.add_file("test-org/bad-onnx", CONFIG, FIXTURE_CONFIG)
    hub.add_file("test-org/bad-onnx", ONNX, tampered_onnx(tmp_path / "tampered.onnx"))
    hf = tmp_path / "hf"
    code, err, result = run_pose(hub.endpoint, hf, repo="test-org/bad-onnx")
    assert code == 2 and result is None
    assert "checksum mismatch" in err and "on the Hub" in err, err
    assert len(gets(hub, ONNX)) == 2, resolves(hub)  # the first try and the forced one
    repo_cache = hf / "hub" / "models--test-org--bad-onnx"
    assert not list(repo_cache.glob(f"snapshots/*/{ONNX}"))
    assert not [p for p in repo_cache.glob("blobs/*") if p.stat().st_size == SHARED_ONNX.stat().st_size]


# ---- The default model and the bundled fallback -----------------------------------------------

BUNDLED_NAME = json.loads((BUNDLED_MODEL / CONFIG).read_text())["name"]


@pytest.fixture
def default_hub(hub):
    """The hub also serving the project's default repo at its pinned tag (the shared MPII model)."""
    hub.add_file(DEFAULT_MODEL_REPO, CONFIG, FIXTURE_CONFIG)
    hub.add_file(DEFAULT_MODEL_REPO, ONNX, SHARED_ONNX)
    hub.add_tag(DEFAULT_MODEL_REPO, DEFAULT_MODEL_REVISION)
    return hub


def assert_fell_back(code: int, err: str, result: list | None, why: str) -> None:
    assert code == 0, err
    assert result[0]["model"] == BUNDLED_NAME and result[0]["skeleton"] == "coco", result
    assert len(result[0]["people"][0]["joints"]) == 17
    warnings = [line for line in err.splitlines() if "using the bundled model" in line]
    assert len(warnings) == 1 and why in warnings[0] and BUNDLED_NAME in warnings[0], err


def test_fresh_clone_without_network_runs_the_bundled_model(tmp_path, shared):
    code, err, result = run_pose(dead_endpoint(), tmp_path / "hf", repo=None)
    assert_fell_back(code, err, result, "no network connection")
    assert "Retrying" not in err  # one refused HEAD, not huggingface_hub's 23 s of retries


def test_hub_outage_falls_back_after_one_request(default_hub, tmp_path, shared):
    default_hub.fail_downloads(503)
    code, err, result = run_pose(default_hub.endpoint, tmp_path / "hf", repo=None)
    assert_fell_back(code, err, result, "the Hub answered HTTP 503, and there is no cached copy")
    assert resolves(default_hub) == [("HEAD", f"/{DEFAULT_MODEL_REPO}/resolve/{DEFAULT_MODEL_REVISION}/{CONFIG}")]


@pytest.mark.parametrize("unpublished, why", [("repo", "repository not found"), ("tag", "revision 'v1' not found")])
def test_unpublished_default_falls_back(hub, tmp_path, shared, unpublished, why):
    if unpublished == "tag":  # the repo exists, the pinned tag does not
        hub.add_file(DEFAULT_MODEL_REPO, CONFIG, FIXTURE_CONFIG)
        hub.add_file(DEFAULT_MODEL_REPO, ONNX, SHARED_ONNX)
    code, err, result = run_pose(hub.endpoint, tmp_path / "hf", repo=None)
    assert_fell_back(code, err, result, why)


def test_published_default_is_used(default_hub, tmp_path, shared):
    code, err, result = run_pose(default_hub.endpoint, tmp_path / "hf", repo=None)
    assert code == 0, err
    assert result[0]["model"] == MODEL_NAME and result[0]["skeleton"] == "mpii"
    assert "bundled" not in err
    assert len(gets(default_hub, ONNX)) == 1


def test_damaged_default_never_falls_back(default_hub, tmp_path, shared):
    hf = tmp_path / "hf"
    assert run_pose(default_hub.endpoint, hf, repo=None)[0] == 0
    snapshot = hf / "hub" / "models--simple-baselines-demo--pose-resnet50-mpii-int8" / "snapshots"
    corrupt(next(snapshot.glob(f"*/{ONNX}")))
    code, err, result = run_pose(default_hub.endpoint, hf, repo=None, offline=True)
    assert code == 2 and result is None
    assert "checksum mismatch" in err and "bundled" not in err, err


def test_fallback_can_be_turned_off_and_explicit_repos_never_fall_back(hub, tmp_path, shared):
    code, err, result = run_pose(hub.endpoint, tmp_path / "hf", repo=None, env_extra={"POSE_FALLBACK": "0"})
    assert code == 2 and result is None and "repository not found" in err and "bundled" not in err, err
    code, err, result = run_pose(hub.endpoint, tmp_path / "hf", repo="test-org/no-such-model")
    assert code == 2 and "bundled" not in err, err
    code, err, _ = run_pose(hub.endpoint, tmp_path / "hf", repo=None, env_extra={"POSE_FALLBACK": "maybe"})
    assert code == 2 and "POSE_FALLBACK must be 0 or 1, not 'maybe'" in err, err


def test_bundled_model_chosen_outright():
    files = fetch_model(ModelSource.resolve(path=BUNDLED_MODEL))
    assert files.config.name == BUNDLED_NAME and files.fallback_reason is None


# ---- Local folder and precedence (in-process, no Hub) ----------------------------------------


def test_local_folder_ok(model_dir, shared):
    files = fetch_model(ModelSource(path=model_dir))
    assert files.config.name == MODEL_NAME
    assert files.onnx_path == model_dir / ONNX


def test_local_folder_missing_onnx(tmp_path, shared):
    shutil.copy(FIXTURE_CONFIG, tmp_path / CONFIG)
    with pytest.raises(ModelError, match="model.onnx") as info:
        fetch_model(ModelSource(path=tmp_path))
    assert not isinstance(info.value, ModelConfigError)
    assert "does not exist" in str(info.value)


def test_local_folder_onnx_with_wrong_checksum(tmp_path, shared):
    shutil.copy(FIXTURE_CONFIG, tmp_path / CONFIG)
    tampered_onnx(tmp_path / ONNX)
    with pytest.raises(ModelConfigError, match="checksum mismatch"):
        fetch_model(ModelSource(path=tmp_path))


def test_local_folder_missing_config(tmp_path):
    with pytest.raises(ModelConfigError, match="not found"):
        fetch_model(ModelSource(path=tmp_path))


def test_resolve_precedence(monkeypatch, tmp_path):
    for name in ("POSE_MODEL_PATH", "POSE_MODEL_REPO", "POSE_MODEL_REVISION"):
        monkeypatch.delenv(name, raising=False)
    assert ModelSource.resolve() == ModelSource(repo=DEFAULT_MODEL_REPO, revision=DEFAULT_MODEL_REVISION, default=True)

    monkeypatch.setenv("POSE_MODEL_REPO", "env-org/model")
    assert ModelSource.resolve() == ModelSource(repo="env-org/model", revision="main")
    monkeypatch.setenv("POSE_MODEL_REVISION", "v2")
    assert ModelSource.resolve() == ModelSource(repo="env-org/model", revision="v2")
    assert ModelSource.resolve(revision="v3") == ModelSource(repo="env-org/model", revision="v3")

    monkeypatch.setenv("POSE_MODEL_PATH", str(tmp_path / "env"))
    assert ModelSource.resolve() == ModelSource(path=tmp_path / "env")

    explicit = ModelSource.resolve(path=tmp_path / "arg")
    assert explicit == ModelSource(path=tmp_path / "arg")
    assert explicit.repo is None and explicit.revision is None
    assert ModelSource.resolve(repo="arg-org/model") == ModelSource(repo="arg-org/model", revision="main")
