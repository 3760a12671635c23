"""``pose.export.cli.push`` for real: the installed huggingface_hub client uploads to the
loopback Hub (tests/hub_server.py), then the files are downloaded back and the app runs on them.

huggingface_hub reads HF_ENDPOINT when it is imported, so every client is a subprocess with its
own HF_HOME under tmp; nothing is mocked.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.hub_server import HubServer
from tests.shared_data import FIXTURE_CONFIG, MPII_DIR, REPO, make_model_dir

REPO_ID = "test-org/pushed-efficientpose"
TAG = "v1"
TOKEN = "hf_DummyPushTestToken0123456789abcdef"  # the server accepts writes with this one only
FILES = ("README.md", "model.onnx", "pose_config.json")
CARD = "---\nlicense: mit\nlibrary_name: onnx\n---\n# EfficientPose-I (MPII), test upload\n"

PUSH = """
import sys
from pathlib import Path
from pose.export.cli import push
print(push(Path(sys.argv[1]), sys.argv[2], sys.argv[3]))
"""

DOWNLOAD = """
import json, sys
from huggingface_hub import hf_hub_download
repo, cache, revisions, files = sys.argv[1], sys.argv[2], sys.argv[3].split(","), sys.argv[4].split(",")
print(json.dumps({rev: {name: hf_hub_download(repo, name, revision=rev, cache_dir=f"{cache}/{i}") for name in files}
                  for i, rev in enumerate(revisions)}))
"""


def env_for(hub: HubServer, hf_home: Path, token: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POSE_MODEL_", "HF_", "HUGGINGFACE_"))}
    env.update(HF_ENDPOINT=hub.endpoint, HF_HOME=str(hf_home), HF_HUB_DISABLE_TELEMETRY="1", POSE_THREADS="1")
    if token is not None:
        env["HF_TOKEN"] = token
    return env


def run_push(hub: HubServer, folder: Path, hf_home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PUSH, str(folder), REPO_ID, TAG],
        cwd=REPO, env=env_for(hub, hf_home, TOKEN), capture_output=True, text=True, timeout=300,
    )


@pytest.fixture(scope="module")
def pushed(shared, tmp_path_factory):
    """(hub, model folder, commit printed by push, push process) after one real push."""
    tmp = tmp_path_factory.mktemp("push")
    folder = make_model_dir(tmp / "model")  # model.onnx is a symlink to the shared file
    (folder / "README.md").write_text(CARD, encoding="utf-8")
    with HubServer(token=TOKEN) as hub:
        proc = run_push(hub, folder, tmp / "hf-push")
        assert proc.returncode == 0, proc.stderr[-3000:]
        yield hub, folder, proc.stdout.strip().splitlines()[-1], proc


def test_push_makes_a_commit_and_tags_it(pushed):
    hub, _, commit, proc = pushed
    assert re.fullmatch(r"[0-9a-f]{40}", commit), proc.stdout
    assert commit == hub.commit_for(REPO_ID)  # main moved to the new commit
    assert [path for method, path in hub.requests if method == "POST"] == [
        "/api/repos/create",
        "/api/validate-yaml",  # README.md metadata
        f"/api/models/{REPO_ID}/preupload/main",
        f"/api/models/{REPO_ID}/commit/main",
        f"/api/models/{REPO_ID}/tag/{commit}",
    ]
    assert TOKEN not in proc.stdout and TOKEN not in proc.stderr


@pytest.mark.parametrize("revision", ["commit", "main", TAG])
def test_pushed_files_download_byte_identical(pushed, tmp_path, revision):
    hub, folder, commit, _ = pushed
    rev = commit if revision == "commit" else revision
    proc = subprocess.run(
        [sys.executable, "-c", DOWNLOAD, REPO_ID, str(tmp_path / "cache"), rev, ",".join(FILES)],
        cwd=REPO, env=env_for(hub, tmp_path / "hf"), capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    paths = json.loads(proc.stdout)[rev]
    for name in FILES:
        assert Path(paths[name]).parent.name == commit  # snapshots/<commit>/<name>
        assert Path(paths[name]).read_bytes() == (folder / name).read_bytes(), name


def test_app_runs_on_the_pushed_model_at_the_tag(pushed, tmp_path):
    hub, _, _, _ = pushed
    image = sorted(MPII_DIR.glob("*.jpg"))[0]
    out = tmp_path / "out.json"
    proc = subprocess.run(
        [sys.executable, "-m", "pose", str(image), "--model-repo", REPO_ID, "--model-revision", TAG, "--json", str(out)],
        cwd=REPO, env=env_for(hub, tmp_path / "hf"), capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert len(result) == 1 and len(result[0]["people"][0]["joints"]) == 16
    assert result[0]["model"] == json.loads(FIXTURE_CONFIG.read_text())["name"]


def test_pushing_again_with_an_existing_tag_fails_loudly_and_does_not_move_it(tmp_path):
    """A tag is a released version that apps pin: re-publishing with the same --tag must not
    move it silently, nor report plain success; it says what was uploaded and what to pin."""
    folder = tmp_path / "model"
    folder.mkdir()
    with HubServer(token=TOKEN) as hub:
        procs = []
        for text in ("first upload", "second upload"):
            (folder / "README.md").write_text(CARD + text + "\n", encoding="utf-8")
            procs.append(run_push(hub, folder, tmp_path / "hf-push"))
            assert TOKEN not in procs[-1].stdout + procs[-1].stderr
        first = procs[0].stdout.strip().splitlines()[-1]
        assert procs[0].returncode == 0 and re.fullmatch(r"[0-9a-f]{40}", first), procs[0].stderr[-3000:]
        second = hub.commit_for(REPO_ID)
        assert second != first
        assert procs[1].returncode != 0
        assert f"tag '{TAG}' already exists" in procs[1].stderr and "was not moved" in procs[1].stderr
        assert f"POSE_MODEL_REVISION={second}" in procs[1].stderr
        download = subprocess.run(
            [sys.executable, "-c", DOWNLOAD, REPO_ID, str(tmp_path / "cache"), TAG, "README.md"],
            cwd=REPO, env=env_for(hub, tmp_path / "hf"), capture_output=True, text=True, timeout=120,
        )
    assert download.returncode == 0, download.stderr[-3000:]
    assert Path(json.loads(download.stdout)[TAG]["README.md"]).parent.name == first  # v1 still names the first upload
