"""Sustained frames per second of the live webcam tab, in one run.

    python -m benchmarks.live [--seconds 15] [--threads 1,2] [--model-path DIR] [--sizes 640x480,1280x720]
                              [--sessions 1]

For each camera size, two figures:

* server: the app's live handler alone, in this process, on a loop of webcam-like JPEG frames
  (a shared MPII person swaying, mirrored as browsers send them): decode, track, draw and the
  inline JPEG of the overlay, back to back. Its median time per frame gives the most frames
  per second one session can get from this machine.
* browser: the real thing. ``python app.py`` (POSE_LOG_LEVEL=DEBUG: a log line per processed
  frame) and Chromium with a fake 30 fps camera playing the stamped clip of
  ``tests/live_camera.py``, streaming for --seconds after a 3 s warm-up. Sustained fps is the
  processed frames per second of wall time; the server's per-frame time comes from its log; the
  overlay lag is how far (ms) the overlay's frame is behind the frame the camera shows, read
  from the frames' stamps every 0.1 s. The browser runs on the same 2 cores as the server, as
  it never does for a real visitor, so this is the pessimistic figure.

Each row is run with 1 and 2 onnxruntime threads (--threads): next to a busy browser, one
thread wins, because a 2-thread run waits at every operator for the core Chromium holds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"

from tests.app_server import running_app  # noqa: E402
from tests.live_camera import (  # noqa: E402
    CAMERA_FPS, CHROMIUM, CHROMIUM_ARGS, LIVE_OUT_IMG, LIVE_STATUS, PERSON, chromium_args, logged_frames, read_stamps,
    start_live, write_camera_clip,
)
from tests.shared_data import make_model_dir, missing_reason, mpii_person, shared_available, webcam_clip  # noqa: E402

CLIP_FRAMES = 150  # 5 s loop
WARMUP_S = 3.0


def server_only(model_dir: Path, size: tuple[int, int], threads: int, frames: int = 150) -> tuple[float, str]:
    """(median ms per frame of App.live + the inline overlay encoding, no browser, no HTTP; model name)."""
    import numpy as np

    from app import App, inline_image_output
    from pose import ModelSource, PoseEstimator
    from pose.draw import encode_jpeg

    est = PoseEstimator.load(ModelSource(path=model_dir), threads=threads)
    person = mpii_person(PERSON)
    jpegs = [encode_jpeg(np.ascontiguousarray(f[:, ::-1]), 92) for f, _, _ in webcam_clip(person, 60, size)]
    app, output = App(est), inline_image_output()
    state, times = None, []
    for i in range(frames + 10):
        t = time.perf_counter()
        overlay, _, state = app.live(jpegs[i % len(jpegs)], 0.2, True, state)
        output.postprocess(overlay)
        times.append(time.perf_counter() - t)
    return statistics.median(times[10:]) * 1e3, est.name


def in_browser(url: str, log_path: Path, clip: Path, seconds: float, sessions: int = 1) -> dict[str, float]:
    """Stream from ``sessions`` visitors at once (one Chromium); fps is per session, lag is the first's."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=[*CHROMIUM_ARGS, *chromium_args(clip)])
        try:
            pages = []
            for _ in range(sessions):
                page = browser.new_context(permissions=["camera"]).new_page()
                page.set_default_timeout(30_000)
                start_live(page, url)
                pages.append(page)
            for page in pages:
                page.wait_for_function("sel => /^frame \\d+/.test(document.querySelector(sel).value)", arg=LIVE_STATUS)
            page = pages[0]
            time.sleep(WARMUP_S)
            n0, t0, lags = len(logged_frames(log_path)), time.monotonic(), []
            while time.monotonic() - t0 < seconds:
                lag = read_stamps(page, LIVE_OUT_IMG, CLIP_FRAMES)[2]
                if lag is not None:
                    lags.append(lag * 1e3 / CAMERA_FPS)
                time.sleep(0.1)
            frames, elapsed = logged_frames(log_path), time.monotonic() - t0
        finally:
            browser.close()
    window = frames[n0:]
    return {
        "fps": len(window) / elapsed / sessions,
        "server_ms": statistics.median(f.ms for f in window),
        "lag_ms": statistics.median(lags),
        "lag_p90_ms": sorted(lags)[int(0.9 * (len(lags) - 1))],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=15.0, help="measured streaming time per camera size")
    ap.add_argument("--threads", default="1,2", help="onnxruntime threads to compare, comma-separated")
    ap.add_argument("--model-path", help="model folder (default: the shared EfficientPose-I with the test config)")
    ap.add_argument("--sizes", default="640x480,1280x720", help="camera sizes, WxH,WxH")
    ap.add_argument("--sessions", type=int, default=1, help="visitors streaming at once (the app serves 2 by default)")
    args = ap.parse_args()
    if not shared_available():
        print(missing_reason(), file=sys.stderr)
        return 2
    if not CHROMIUM.is_file():
        print(f"{CHROMIUM} not found (apt-get install chromium)", file=sys.stderr)
        return 2
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
    thread_counts = [int(t) for t in args.threads.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model_dir = Path(args.model_path) if args.model_path else make_model_dir(tmp / "model")
        for size in sizes:
            clip = write_camera_clip(tmp / f"cam-{size[0]}x{size[1]}.y4m", CLIP_FRAMES, size)
            for threads in thread_counts:
                server_ms, name = server_only(model_dir, size, threads)
                with running_app(model_dir, tmp / f"app-{size[0]}-{threads}", threads=threads, extra_env={"POSE_LOG_LEVEL": "DEBUG"}) as app:
                    live = in_browser(app.url, app.log_path, clip, args.seconds, args.sessions)
                rows.append((size, threads, server_ms, live))
            clip.unlink()
    print(f"Live webcam, model {name}, camera {CAMERA_FPS} fps, {args.seconds:g} s per row, {args.sessions} session(s) "
          f"at once (browser fps is per session); medians; the browser runs on the same 2 cores")
    print(f"{'camera':>10}  {'threads':>7}  {'server ms':>9}  {'server fps':>10}  {'browser fps':>11}  {'ratio':>5}  "
          f"{'ms in app':>9}  {'lag ms':>6}  {'lag p90':>7}")
    for (w, h), threads, server_ms, live in rows:
        capacity = 1e3 / server_ms
        print(f"{w:>5}x{h:<4}  {threads:7d}  {server_ms:9.1f}  {capacity:10.1f}  {live['fps']:11.1f}  {live['fps'] / capacity:5.2f}  "
              f"{live['server_ms']:9.1f}  {live['lag_ms']:6.0f}  {live['lag_p90_ms']:7.0f}")
    print("server: the handler alone, back to back, no browser; browser fps: frames processed per second while")
    print("streaming; ratio: browser fps / server fps; ms in app: handler time per frame in the app's log;")
    print("lag: how far the overlay is behind the camera")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
