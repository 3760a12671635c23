"""How fast `python app.py` is ready with a cached model (a warm Space: preload_from_hub).

    python -m benchmarks.startup [--runs 5]

The shared model is put in a fresh Hugging Face cache once, through the loopback
Hub-compatible server; then each run starts the app with HF_HUB_OFFLINE=1 and measures the
time until the port accepts connections and until the first /keypoints answer. Medians.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.models import start
from tests.app_server import free_port
from tests.hub_server import HubServer
from tests.shared_data import FIXTURE_CONFIG, REPO, SHARED_ONNX, mpii_people

REPO_ID = "bench/efficientpose-i"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    args = start(ap)
    from gradio_client import Client, handle_file

    person = mpii_people()[0]
    with tempfile.TemporaryDirectory() as tmp, HubServer() as hub:
        hub.add_file(REPO_ID, "pose_config.json", FIXTURE_CONFIG)
        hub.add_file(REPO_ID, "model.onnx", SHARED_ONNX)
        revision = hub.commit_for(REPO_ID)
        base = {k: v for k, v in os.environ.items() if not k.startswith(("POSE_MODEL", "HF_"))}
        base.update(HF_HOME=str(Path(tmp) / "hf"), HF_HUB_DISABLE_TELEMETRY="1", GRADIO_ANALYTICS_ENABLED="False",
                    POSE_MODEL_REPO=REPO_ID, POSE_MODEL_REVISION=revision)
        # Fill the cache once (the Space build's preload_from_hub step).
        subprocess.run([sys.executable, "-m", "pose", str(person.image)], cwd=REPO, env={**base, "HF_ENDPOINT": hub.endpoint},
                       check=True, capture_output=True, timeout=300)
        listen, answer = [], []
        for _ in range(args.runs):
            port = free_port()
            env = {**base, "HF_HUB_OFFLINE": "1", "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port)}
            t0 = time.perf_counter()
            proc = subprocess.Popen([sys.executable, "app.py"], cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                while True:
                    try:
                        socket.create_connection(("127.0.0.1", port), timeout=0.05).close()
                        break
                    except OSError:
                        if proc.poll() is not None:
                            raise SystemExit("app.py exited during start-up")
                        time.sleep(0.02)
                listen.append(time.perf_counter() - t0)
                client = Client(f"http://127.0.0.1:{port}/", verbose=False)
                client.predict(handle_file(str(person.image)), False, api_name="/keypoints")
                answer.append(time.perf_counter() - t0)
            finally:
                proc.terminate()
                proc.wait(timeout=20)
    print(f"app start-up with a cached model, HF_HUB_OFFLINE=1, median of {args.runs} runs:")
    print(f"  listening after      {statistics.median(listen):.2f} s (min {min(listen):.2f}, max {max(listen):.2f})")
    print(f"  first answer after   {statistics.median(answer):.2f} s (min {min(answer):.2f}, max {max(answer):.2f})")
    print(f"  target: listening < 3 s: {'met' if statistics.median(listen) < 3 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
