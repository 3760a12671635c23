"""Sustained frames per second of the live webcam tab with tracking, in one run.

    python -m benchmarks.live [--seconds 10] [--threads 1,2] [--size 640x480] [--no-pose-resnet] [--no-browser]

Camera clips (640x480 by default, looped): one person (a shared MPII man raising his arm,
swaying) and three people (COCO people cut out by their masks, walking to and fro and passing
each other over a real background). Each row runs the detector on every frame (k=1) and on
every 5th (k=5, the live tab's default: between detections each person's box follows their
joints).

* server: the app's live handler alone, in this process, on a loop of the clip's frames as
  JPEGs (mirrored, as browsers send them): decode, track, draw and the inline JPEG of the
  overlay, back to back. Its median time per frame gives the most frames per second one
  session can get from this machine. Models: the bundled YOLOX-Nano + PP-TinyPose, and the
  int8 PoseResNet-50 (random weights, so timed in PP-TinyPose's place on the same crops; see
  ``benchmarks/video.py``).
* browser: the real thing with the bundled models. ``python app.py`` (POSE_LOG_LEVEL=DEBUG: a
  log line per processed frame) and Chromium with a fake 30 fps camera playing the stamped
  clip (``tests/live_camera.py``), streaming for --seconds after a 3 s warm-up. Sustained fps
  is the processed frames per second of wall time; the overlay lag is how far (ms) the
  overlay's frame is behind the frame the camera shows, read from the frames' stamps every
  0.1 s. The browser runs on the same 2 cores as the server, as it never does for a real
  visitor, so this is the pessimistic figure. Each browser row runs with 1 and 2 onnxruntime
  threads (--threads): next to a busy browser, a 2-thread run waits at every operator for the
  core Chromium holds.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"

from benchmarks.models import benchmark_arguments, pose_resnet50_int8, start  # noqa: E402
from benchmarks.video import SwappedTiming, load_model  # noqa: E402
from pose.hub import BUNDLED_MODEL  # noqa: E402
from tests.app_server import running_app  # noqa: E402
from tests.live_camera import (  # noqa: E402
    CAMERA_FPS, CHROMIUM, CHROMIUM_ARGS, LIVE_OUT_IMG, LIVE_STATUS, PERSON, chromium_args, group_clip, logged_frames,
    read_stamps, start_live, write_camera_clip,
)
from tests.shared_data import mpii_person, webcam_clip  # noqa: E402

CLIP_FRAMES = 150  # 5 s loop
WARMUP_S = 3.0
PEOPLE = (1, 3)
EVERY = (1, 5)


def clip_frames(people: int, size: tuple[int, int]) -> list:
    if people == 1:
        return [f for f, _, _ in webcam_clip(mpii_person(PERSON), CLIP_FRAMES, size)]
    return [f for f, _ in group_clip(CLIP_FRAMES, size, people)]


def server_only(est, jpegs: list[bytes], every: int, stand_in=None, frames: int = 150) -> tuple[float, float, int]:
    """(median ms per frame of App.live + the inline overlay encoding, mean people per frame,
    identities seen)."""
    from app import App, inline_image_output

    app, output = App(est, live_detect_every=every), inline_image_output()
    swap = SwappedTiming(est.model, stand_in) if stand_in is not None else None
    if swap is not None:
        est.model.heatmaps = swap
    state, times, shown, ids = None, [], [], set()
    try:
        for i in range(frames + 10):
            real_before = swap.real_s if swap else 0.0
            t = time.perf_counter()
            overlay, _, state = app.live(jpegs[i % len(jpegs)], 0.2, True, state)
            output.postprocess(overlay)
            elapsed = time.perf_counter() - t
            times.append(elapsed - (swap.real_s - real_before if swap else 0.0))
            now = [tr.id for tr in state.tracker.tracks if tr.seen == state.tracker.frame - 1]
            shown.append(len(now))
            ids.update(now)
    finally:
        if swap is not None:
            del est.model.heatmaps
    return statistics.median(times[10:]) * 1e3, statistics.mean(shown[10:]), len(ids)


def in_browser(url: str, log_path: Path, clip: Path, seconds: float) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=[*CHROMIUM_ARGS, *chromium_args(clip)])
        try:
            page = browser.new_context(permissions=["camera"]).new_page()
            page.set_default_timeout(30_000)
            start_live(page, url)
            page.wait_for_function("sel => /^frame \\d+/.test(document.querySelector(sel).value)", arg=LIVE_STATUS)
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
        "fps": len(window) / elapsed,
        "server_ms": statistics.median(f.ms for f in window),
        "people": statistics.mean(len(f.track_ids) for f in window),
        "ids": len({i for f in window for i in f.track_ids}),
        "lag_ms": statistics.median(lags),
        "lag_p90_ms": sorted(lags)[int(0.9 * (len(lags) - 1))],
    }


def main() -> int:
    from pose import ModelSource, PoseEstimator
    from pose.draw import encode_jpeg

    ap = benchmark_arguments(__doc__, runs=1)
    ap.add_argument("--seconds", type=float, default=10.0, help="measured streaming time per browser row")
    ap.add_argument("--size", default="640x480", help="camera size WxH")
    ap.add_argument("--browser-threads", default="1,2", help="onnxruntime threads of the browser rows, comma-separated")
    ap.add_argument("--no-browser", action="store_true", help="server rows only")
    args = start(ap)
    size = tuple(int(v) for v in args.size.split("x"))
    server_rows, browser_rows = [], []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        est = PoseEstimator.load(ModelSource(path=BUNDLED_MODEL), threads=args.threads)
        models = {f"{est.name} (bundled)": None}
        if not args.no_pose_resnet:
            folder = pose_resnet50_int8(tmp / "pose-resnet", joints="coco")
            models["PoseResNet-50 int8 (timed in its place)"] = load_model(folder, args.threads)
        for people in PEOPLE:
            jpegs = [encode_jpeg(f[:, ::-1].copy(), 92) for f in clip_frames(people, size)]
            for label, stand_in in models.items():
                for every in EVERY:
                    ms, shown, ids = server_only(est, jpegs, every, stand_in)
                    server_rows.append((people, label, every, ms, shown, ids))
        if not args.no_browser:
            if not CHROMIUM.is_file():
                raise SystemExit(f"{CHROMIUM} not found (apt-get install chromium), or pass --no-browser")
            for people in PEOPLE:
                clip = write_camera_clip(tmp / f"cam-{people}.y4m", CLIP_FRAMES, size, people)
                for every in EVERY:
                    for threads in (int(t) for t in args.browser_threads.split(",")):
                        env = {"POSE_LOG_LEVEL": "DEBUG", "POSE_LIVE_DETECT_EVERY": str(every)}
                        with running_app(BUNDLED_MODEL, tmp / f"app-{people}-{every}-{threads}", threads=threads, extra_env=env) as app:
                            browser_rows.append((people, every, threads, in_browser(app.url, app.log_path, clip, args.seconds)))
                clip.unlink()
    print(f"Live webcam {size[0]}x{size[1]}, camera {CAMERA_FPS} fps, detector {est.detector.name}; medians")
    print(f"server: the handler alone, back to back, {args.threads} threads")
    print(f"{'people':>6}  {'pose model':<46} {'k':>2} {'ms/frame':>8} {'fps':>6} {'tracked':>7} {'ids':>4}")
    for people, label, every, ms, shown, ids in server_rows:
        print(f"{people:>6}  {label:<46} {every:>2} {ms:8.1f} {1e3 / ms:6.1f} {shown:7.2f} {ids:>4}")
    if browser_rows:
        print(f"browser: Chromium's fake camera -> python app.py ({est.name}), {args.seconds:g} s per row, same 2 cores")
        print(f"{'people':>6}  {'k':>2} {'threads':>7} {'fps':>6} {'ms in app':>9} {'shown':>6} {'ids':>4} {'lag ms':>6} {'lag p90':>7}")
        for people, every, threads, r in browser_rows:
            print(f"{people:>6}  {every:>2} {threads:>7} {r['fps']:6.1f} {r['server_ms']:9.1f} {r['people']:6.2f} {r['ids']:>4} "
                  f"{r['lag_ms']:6.0f} {r['lag_p90_ms']:7.0f}")
        print("k: the detector on every k-th frame; tracked/shown: people per frame; ids: identities seen in the window")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
