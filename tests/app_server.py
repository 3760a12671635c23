"""The real app as a subprocess: ``python app.py`` on a free loopback port, logging to a file.

The one way tests (``test_app``, ``test_browser``, ``test_load``, ...) and benchmarks
(``benchmarks.load``, ``benchmarks.startup``) start the app.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.shared_data import REPO

HOST = "127.0.0.1"
STARTUP_TIMEOUT_S = 90


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


@dataclass
class Server:
    proc: subprocess.Popen
    url: str
    log_path: Path

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def _answers(url: str) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url + "config", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


@contextmanager
def running_app(
    model_dir: Path | None,
    workdir: Path,
    *,
    threads: int = 2,
    concurrency_limit: int = 1,
    max_size: int = 64,
    extra_env: dict[str, str] | None = None,
    timeout_s: float = STARTUP_TIMEOUT_S,
) -> Iterator[Server]:
    """``python app.py`` on a free loopback port until the block ends (then killed, with children).

    ``model_dir=None`` starts it as on a fresh clone: no model settings and no Hugging Face
    settings from this environment (pass ``HF_ENDPOINT`` / ``HF_HOME`` in ``extra_env``)."""
    port = free_port()
    temp = workdir / "gradio-temp"  # the server's upload/output cache, gone with workdir
    temp.mkdir(parents=True, exist_ok=True)
    (workdir / "tmp").mkdir(exist_ok=True)  # its other temporary files (e.g. exports), likewise
    inherited = os.environ if model_dir is not None else {
        k: v for k, v in os.environ.items() if not k.startswith(("POSE_MODEL_", "POSE_FALLBACK", "HF_", "HUGGINGFACE_"))
    }
    env = {
        **inherited,
        **({"POSE_MODEL_PATH": str(model_dir), "HF_HUB_OFFLINE": "1"} if model_dir is not None else {}),
        "POSE_THREADS": str(threads),
        "POSE_CONCURRENCY_LIMIT": str(concurrency_limit),
        "POSE_QUEUE_MAX_SIZE": str(max_size),
        "GRADIO_SERVER_NAME": HOST,
        "GRADIO_SERVER_PORT": str(port),
        "GRADIO_ANALYTICS_ENABLED": "False",
        "GRADIO_TEMP_DIR": str(temp),
        "TMPDIR": str(workdir / "tmp"),
        "HF_HUB_DISABLE_TELEMETRY": "1",
        **(extra_env or {}),
    }
    log_path = workdir / "app.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "app.py"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = Server(proc, f"http://{HOST}:{port}/", log_path)
    try:
        deadline = time.monotonic() + timeout_s
        while not _answers(server.url):
            if proc.poll() is not None:
                raise RuntimeError(f"app.py exited with {proc.returncode}:\n{server.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"app.py did not answer on {server.url} within {timeout_s:.0f} s:\n{server.log_tail()}")
            time.sleep(0.3)
        yield server
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM to the app's process group (it runs in its own session), SIGKILL after 10 s."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        except ProcessLookupError:
            pass
