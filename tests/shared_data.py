"""The one place that knows the layout of ``../shared`` (real model and images for tests
and benchmarks; never copied into the repo)."""

from __future__ import annotations

import functools
import json
import math
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pose.evaluation import CocoPerson, MpiiPerson, read_coco, read_mpii

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("POSE_SHARED_DIR", REPO.parent / "shared"))
SHARED_ONNX = SHARED / "models" / "efficientpose-i-mpii" / "model.onnx"
MPII_DIR = SHARED / "data" / "mpii"
COCO_DIR = SHARED / "data" / "coco"
COCO_MULTI_DIR = SHARED / "data" / "coco_multi"
FIXTURE_CONFIG = REPO / "tests" / "fixtures" / "efficientpose-i-mpii" / "pose_config.json"
BUNDLED_MODEL = REPO / "models" / "pp-tinypose-256x192-coco"  # in the repo: no ../shared needed


def shared_available() -> bool:
    return SHARED_ONNX.is_file() and (MPII_DIR / "annotations.json").is_file()


def missing_reason() -> str:
    return f"../shared (real model and MPII/COCO images) not found at {SHARED}; set POSE_REQUIRE_SHARED=1 to fail instead"


def mpii_people() -> list[MpiiPerson]:
    return read_mpii(MPII_DIR / "annotations.json")


def mpii_person(image_name: str) -> MpiiPerson:
    """The annotated person of one shared MPII photo, by file name."""
    return next(p for p in mpii_people() if p.image.name == image_name)


def coco_people(folders: tuple[Path, ...] = (COCO_DIR, COCO_MULTI_DIR)) -> list[CocoPerson]:
    """The annotated people (at least one labelled keypoint, not crowds) of the shared COCO photos."""
    return [p for folder in folders for p in read_coco(next(folder.glob("*.json")))]


def make_model_dir(dest: Path, onnx: Path = SHARED_ONNX, config: Path = FIXTURE_CONFIG) -> Path:
    """A local model folder (config + link to the shared ONNX), as POSE_MODEL_PATH expects."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(config, dest / "pose_config.json")
    link = dest / "model.onnx"
    if not link.exists():
        link.symlink_to(onnx)
    return dest


def moving_clip(person: MpiiPerson, frames: int = 60, size: tuple[int, int] = (1280, 720), end_scale: float = 0.3,
                end_shift: tuple[float, float] = (500.0, 250.0)) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """[(frame RGB, ground-truth joints (16, 2) px, head size px)]: the person's photo shrinks
    from 1x to ``end_scale`` while moving by ``end_shift``, so the truth is known in every frame."""
    import cv2

    img = cv2.cvtColor(cv2.imread(str(person.image)), cv2.COLOR_BGR2RGB)
    out = []
    for t in range(frames):
        a = t / max(1, frames - 1)
        s, tx, ty = 1.0 + (end_scale - 1.0) * a, end_shift[0] * a, end_shift[1] * a
        m = np.float32([[s, 0, tx], [0, s, ty]])
        frame = cv2.warpAffine(img, m, size, flags=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
        out.append((frame, person.joints * s + [tx, ty], person.head_size * s))
    return out


def webcam_clip(person: MpiiPerson, frames: int = 60, size: tuple[int, int] = (640, 480)) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """[(frame RGB, ground-truth joints (16, 2) px, head size px)]: the person framed like a
    webcam shows someone (box 90 % of the height), swaying sideways by 60 px and scaling by
    ±10 % over one sine period, so the clip loops without a jump."""
    import cv2

    img = cv2.cvtColor(cv2.imread(str(person.image)), cv2.COLOR_BGR2RGB)
    x1, y1, x2, y2 = person.box
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    w, h = size
    s0 = 0.9 * h / (y2 - y1)
    out = []
    for t in range(frames):
        a = math.sin(2 * math.pi * t / frames)
        s = s0 * (1 + 0.1 * a)
        tx, ty = w / 2 - s * cx + 60 * a, h / 2 - s * cy
        m = np.float32([[s, 0, tx], [0, s, ty]])
        frame = cv2.warpAffine(img, m, size, flags=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
        out.append((frame, person.joints * s + [tx, ty], person.head_size * s))
    return out


def write_y4m(frames: list[np.ndarray], path: Path, fps: int = 30) -> Path:
    """RGB frames -> a Y4M file, the format Chromium's fake webcam plays in a loop
    (``--use-file-for-fake-video-capture``)."""
    import imageio_ffmpeg

    h, w = frames[0].shape[:2]
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
           "-s", f"{w}x{h}", "-r", str(fps), "-i", "-", "-pix_fmt", "yuv420p", "-f", "yuv4mpegpipe", str(path)]
    subprocess.run(cmd, input=b"".join(np.ascontiguousarray(f).tobytes() for f in frames), check=True)
    return path


# ---- clips composed from real photos: COCO people cut out by their masks, on a real background ----

BACKGROUND_PHOTO = "000000312720.jpg"  # a snowy field under a cloudy sky; its one tiny person (a kite flyer) painted out
CUTOUTS = ("000000109313.jpg", "000000009483.jpg", "000000343803.jpg")  # three men standing, full bodies


@dataclass(frozen=True)
class Cutout:
    """A COCO person cut out of the photo by the annotated polygon."""

    rgb: np.ndarray  # (h, w, 3) uint8: the box around the mask
    alpha: np.ndarray  # (h, w) float32 in [0, 1]: the mask, edges softened by one pixel
    joints: np.ndarray  # (17, 2) px of ``rgb``, COCO order
    labelled: np.ndarray  # (17,) bool
    area: float  # px²: the segmented area (OKS's scale at scale 1)


@dataclass(frozen=True)
class ClipTruth:
    """One pasted person in one frame."""

    person: int  # which cutout: 0, 1, ...
    joints: np.ndarray  # (17, 2) px of the frame
    labelled: np.ndarray  # (17,) bool: labelled and inside the frame
    box: tuple[float, float, float, float]  # px: the pasted mask's box, clipped to the frame
    area: float  # px²: the segmented area at this scale


@functools.lru_cache(maxsize=1)
def _coco_multi() -> dict:
    """The shared ``coco_multi`` annotations (read once; treat as read-only)."""
    return json.loads((COCO_MULTI_DIR / "person_keypoints.json").read_text())


def coco_cutout(file_name: str) -> Cutout:
    """The largest annotated person of a shared ``coco_multi`` photo, cut out by its polygon."""
    import cv2

    data = _coco_multi()
    image_id = next(i["id"] for i in data["images"] if i["file_name"] == file_name)
    a = max((a for a in data["annotations"] if a["image_id"] == image_id and not a["iscrowd"]), key=lambda a: a["area"])
    img = cv2.cvtColor(cv2.imread(str(COCO_MULTI_DIR / "images" / file_name)), cv2.COLOR_BGR2RGB)
    mask = np.zeros(img.shape[:2], np.uint8)
    for poly in a["segmentation"]:
        cv2.fillPoly(mask, [np.round(np.asarray(poly).reshape(-1, 2)).astype(np.int32)], 255)
    ys, xs = np.nonzero(mask)
    x0, y0, x1, y1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
    alpha = cv2.GaussianBlur(mask[y0:y1, x0:x1].astype(np.float32) / 255, (3, 3), 0)
    k = np.asarray(a["keypoints"], float).reshape(-1, 3)
    return Cutout(img[y0:y1, x0:x1].copy(), alpha, k[:, :2] - [x0, y0], k[:, 2] > 0, float(a["area"]))


def background(size: tuple[int, int] = (1280, 720)) -> np.ndarray:
    """(H, W, 3) uint8 RGB: the shared snowy-field photo with its people painted out, scaled to
    cover ``size`` with room to spare and cut at the bottom, so the snow reaches up to about 2/3."""
    import cv2

    data = _coco_multi()
    image_id = next(i["id"] for i in data["images"] if i["file_name"] == BACKGROUND_PHOTO)
    img = cv2.imread(str(COCO_MULTI_DIR / "images" / BACKGROUND_PHOTO))
    mask = np.zeros(img.shape[:2], np.uint8)
    for a in data["annotations"]:
        if a["image_id"] == image_id:
            x, y, w, h = a["bbox"]
            cv2.rectangle(mask, (int(x) - 6, int(y) - 6), (int(x + w) + 6, int(y + h) + 6), 255, -1)
    img = cv2.cvtColor(cv2.inpaint(img, mask, 5, cv2.INPAINT_TELEA), cv2.COLOR_BGR2RGB)
    w, h = size
    f = 1.3 * max(w / img.shape[1], h / img.shape[0])
    big = cv2.resize(img, (round(img.shape[1] * f), round(img.shape[0] * f)), interpolation=cv2.INTER_LINEAR)
    y0, x0 = big.shape[0] - h, (big.shape[1] - w) // 2
    return np.ascontiguousarray(big[y0 : y0 + h, x0 : x0 + w])


def paste(frame: np.ndarray, cutout: Cutout, feet: tuple[float, float], height: float, person: int) -> ClipTruth | None:
    """Paste ``cutout`` into ``frame`` (in place) scaled to ``height`` px, its bottom centre at
    ``feet`` (x, y) px -> where its joints went; None when it is wholly outside the frame."""
    import cv2

    s = height / cutout.rgb.shape[0]
    w, h = max(1, round(cutout.rgb.shape[1] * s)), max(1, round(height))
    x0, y0 = round(feet[0] - w / 2), round(feet[1] - h)
    H, W = frame.shape[:2]
    fx0, fy0, fx1, fy1 = max(0, x0), max(0, y0), min(W, x0 + w), min(H, y0 + h)
    if fx1 <= fx0 or fy1 <= fy0:
        return None
    rgb = cv2.resize(cutout.rgb, (w, h), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    alpha = cv2.resize(cutout.alpha, (w, h), interpolation=cv2.INTER_LINEAR)[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0, None]
    part = rgb[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0]
    region = frame[fy0:fy1, fx0:fx1]
    region[:] = np.round(region * (1 - alpha) + part * alpha).astype(np.uint8)
    joints = cutout.joints * [w / cutout.rgb.shape[1], h / cutout.rgb.shape[0]] + [x0, y0]
    inside = (joints[:, 0] >= 0) & (joints[:, 0] < W) & (joints[:, 1] >= 0) & (joints[:, 1] < H)
    return ClipTruth(person, joints, cutout.labelled & inside, (float(fx0), float(fy0), float(fx1), float(fy1)), cutout.area * s * s)


def composed_clip(paths: list[list[tuple[float, float, float] | None]], size: tuple[int, int] = (1280, 720),
                  cutouts: tuple[str, ...] = CUTOUTS) -> list[tuple[np.ndarray, list[ClipTruth]]]:
    """[(frame RGB, truth of each person in view)]: person i follows ``paths[i]``, one
    (feet x, feet y, height) px per frame (None: not in the picture). People are pasted in the
    order given, so a later one passes in front of an earlier one."""
    people = [coco_cutout(name) for name in cutouts[: len(paths)]]
    back = background(size)
    clip = []
    for t in range(len(paths[0])):
        frame, truth = back.copy(), []
        for i, path in enumerate(paths):
            if path[t] is not None:
                x, y, h = path[t]
                pasted = paste(frame, people[i], (x, y), h, i)
                if pasted is not None:
                    truth.append(pasted)
        clip.append((frame, truth))
    return clip


def walk(frames: int, start: tuple[float, float], end: tuple[float, float], height: float,
         bob: float = 4.0) -> list[tuple[float, float, float]]:
    """(feet x, feet y, height) per frame from ``start`` to ``end``, bobbing ``bob`` px like a walk."""
    out = []
    for t in range(frames):
        a = t / max(1, frames - 1)
        out.append((start[0] + (end[0] - start[0]) * a, start[1] + (end[1] - start[1]) * a - bob * abs(math.sin(t * math.pi / 8)), height))
    return out


def crossing_clip(frames: int = 90, size: tuple[int, int] = (1280, 720)) -> list[tuple[np.ndarray, list[ClipTruth]]]:
    """Two men cross each other's paths: person 0 walks right to left further back, person 1
    left to right in front of him, passing over his legs and body at mid-clip."""
    far = walk(frames, (1080, 560), (200, 560), 330)
    near = walk(frames, (180, 700), (1100, 700), 440)
    return composed_clip([far, near], size)


def leave_and_enter_clip(frames: int = 90, size: tuple[int, int] = (1280, 720)) -> list[tuple[np.ndarray, list[ClipTruth]]]:
    """One man walks out of the picture on the right; a few frames later another walks in from
    the right where he left, and on to the left."""
    out_at, in_at = frames * 4 // 9, frames * 5 // 9
    leaving = walk(out_at, (700, 690), (1280 + 200, 690), 420) + [None] * (frames - out_at)
    entering = [None] * in_at + walk(frames - in_at, (1280 + 150, 690), (800, 690), 420)
    return composed_clip([leaving, entering], size)
