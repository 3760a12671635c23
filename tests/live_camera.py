"""A fake webcam for Chromium, and a way to tell how far the live overlay lags behind it.

The camera plays a looped clip of a shared MPII person (``webcam_clip``), each frame stamped
in its top-left corner with its number in black and white squares. Page-side code reads the
stamp of the frame the camera shows now and of the frame the overlay was drawn on: their
difference is how many camera frames the overlay is behind. Queued frames would make that
grow without bound; skipped frames keep it at about one processing time.

Also the rest that ``tests/test_browser.py`` and ``benchmarks/live.py`` share about the live
tab: the Chromium to launch, starting a stream as a visitor does, and the app's per-frame log.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tests.shared_data import composed_clip, mpii_person, webcam_clip, write_y4m

CHROMIUM = Path("/usr/bin/chromium")  # Debian's; `playwright install` is never used
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
LIVE_STATUS = "#live-status textarea"
LIVE_OUT_IMG = "#live-out img"
RECORD = "#live-in button[aria-label='capture photo']"  # Gradio's webcam button: "Record", then "Stop"
# One line per live frame when the app runs with POSE_LOG_LEVEL=DEBUG (see App.live).
LIVE_FRAME = re.compile(r" app: live frame (\d+): (\d+)x(\d+), people \[([\d,]*)\], (detector|propagated), ([\d.]+) ms$",
                        re.MULTILINE)
CAMERA_FPS = 30
STAMP_BITS = 9  # frame numbers 0..511
STAMP_CELL = 16  # px: side of one bit's square
STAMP_ORIGIN = (8, 8)  # px: top-left corner of the first square (most significant bit)
PERSON = "004645041.jpg"  # a man raising his right arm, framed like a webcam shows someone

# Page-side: () -> {camera, overlay}: the stamps (frame numbers) of the preview and of the
# overlay, or null while there is none. The overlay is mirrored like the preview, so its
# stamp is read mirrored (and scaled: the overlay may be smaller than the camera's frame);
# the <video> element gives the camera's own un-mirrored pixels.
READ_STAMPS_JS = """
([overlaySel, videoSel, bits, cell, x0, y0]) => {
  const read = (src, w, h, scale, mirrored) => {  // scale: src px per camera px
    const c = document.createElement('canvas');
    c.width = w; c.height = h;
    const g = c.getContext('2d', {willReadFrequently: true});
    g.drawImage(src, 0, 0, w, h);
    let n = 0;
    for (let b = 0; b < bits; b++) {
      let x = (x0 + b * cell + cell / 2) * scale;
      if (mirrored) x = w - 1 - x;
      n = 2 * n + (g.getImageData(Math.round(x), Math.round((y0 + cell / 2) * scale), 1, 1).data[1] > 128 ? 1 : 0);
    }
    return n;
  };
  const img = document.querySelector(overlaySel), video = document.querySelector(videoSel);
  if (!video || !video.videoWidth) return {camera: null, overlay: null};
  const camera = read(video, video.videoWidth, video.videoHeight, 1, false);
  if (!img || !img.complete || !img.naturalWidth) return {camera, overlay: null};
  return {camera, overlay: read(img, img.naturalWidth, img.naturalHeight, img.naturalWidth / video.videoWidth, true)};
}
"""


def stamp(frame: np.ndarray, number: int) -> np.ndarray:
    """Copy of an (H, W, 3) uint8 frame with ``number`` drawn as STAMP_BITS squares (white = 1)."""
    out = frame.copy()
    x0, y0 = STAMP_ORIGIN
    for b in range(STAMP_BITS):
        bit = (number >> (STAMP_BITS - 1 - b)) & 1
        out[y0 : y0 + STAMP_CELL, x0 + b * STAMP_CELL : x0 + (b + 1) * STAMP_CELL] = 255 if bit else 0
    return out


def write_camera_clip(path: Path, frames: int = 150, size: tuple[int, int] = (640, 480), people: int = 1) -> Path:
    """The looped webcam clip as Y4M (``frames`` / 30 s long), every frame stamped with its number:
    the MPII man raising his arm (one person), or COCO people walking to and fro (several)."""
    if frames > 1 << STAMP_BITS:
        raise ValueError(f"at most {1 << STAMP_BITS} frames can be stamped")
    if people == 1:
        pictures = [f for f, _, _ in webcam_clip(mpii_person(PERSON), frames, size)]
    else:
        pictures = [f for f, _ in group_clip(frames, size, people)]
    return write_y4m([stamp(f, i) for i, f in enumerate(pictures)], path, CAMERA_FPS)


def group_clip(frames: int, size: tuple[int, int], people: int) -> list:
    """[(frame, truth)]: ``people`` COCO people walking to and fro across a webcam's view, one
    sine period per clip (so that it loops without a jump), passing each other."""
    w, h = size
    paths = []
    for i in range(people):
        phase = 2 * math.pi * i / people
        height = h * (0.75 - 0.1 * i)
        feet_y = h * (0.98 - 0.06 * i)
        paths.append([(w / 2 + 0.3 * w * math.sin(2 * math.pi * t / frames + phase), feet_y, height) for t in range(frames)])
    return composed_clip(paths, size)


def chromium_args(clip: Path) -> list[str]:
    """Chromium flags: a fake camera playing ``clip``, allowed without asking."""
    return ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream", f"--use-file-for-fake-video-capture={clip}"]


def read_stamps(page, overlay_selector: str, frames: int) -> tuple[int | None, int | None, int | None]:
    """(camera frame, overlay frame, lag in camera frames) now; None where not shown yet."""
    s = page.evaluate(READ_STAMPS_JS, [overlay_selector, "#live-in video", STAMP_BITS, STAMP_CELL, *STAMP_ORIGIN])
    for what in ("camera", "overlay"):
        if s[what] is not None and s[what] >= frames:
            raise ValueError(f"misread the {what}'s stamp: {s[what]}, but the clip has {frames} frames")
    if s["camera"] is None or s["overlay"] is None:
        return s["camera"], s["overlay"], None
    return s["camera"], s["overlay"], (s["camera"] - s["overlay"]) % frames


@dataclass(frozen=True)
class LoggedFrame:
    number: int  # frame number within the session's current run (1, 2, 3...)
    width: int  # px of the frame the browser sent
    height: int
    track_ids: tuple[int, ...]  # the identities shown on this frame
    detected: bool  # whether the detector ran (else: boxes propagated from the frame before)
    ms: float  # handler time


def logged_frames(log_path: Path) -> list[LoggedFrame]:
    """The app's log -> one entry per live frame it processed, in order."""
    return [LoggedFrame(int(n), int(w), int(h), tuple(int(i) for i in ids.split(",") if i), how == "detector", float(ms))
            for n, w, h, ids, how, ms in LIVE_FRAME.findall(log_path.read_text(errors="replace"))]


def start_live(page, url: str):
    """As a visitor: open the page, go to the live tab, allow the webcam and press Record.
    Returns the Record/Stop button once it says Stop."""
    from playwright.sync_api import expect

    page.goto(url, wait_until="domcontentloaded")  # "networkidle" never settles offline
    page.get_by_role("tab", name="Live webcam").click()
    page.locator("#live-in [title='grant webcam access'] button").click()
    record = page.locator(RECORD)
    expect(record).to_contain_text("Record")
    record.click()
    expect(record).to_contain_text("Stop")
    return record
