"""The one place that knows the layout of ``../shared`` (real model and images for tests
and benchmarks; never copied into the repo)."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

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


@dataclass(frozen=True)
class MpiiPerson:
    image: Path
    center: np.ndarray  # (2,) px
    scale: float  # person box side / 200 px (MPII convention)
    joints: np.ndarray  # (16, 2) px, MPII order
    visible: np.ndarray  # (16,) bool
    head_size: float  # px, PCKh normaliser

    @property
    def box(self) -> tuple[float, float, float, float]:
        """The annotated person box (side = scale x 200 px around the centre), unpadded."""
        half = self.scale * 100.0
        cx, cy = self.center
        return (cx - half, cy - half, cx + half, cy + half)


def mpii_people() -> list[MpiiPerson]:
    data = json.loads((MPII_DIR / "annotations.json").read_text())
    return [
        MpiiPerson(
            image=MPII_DIR / a["image"],
            center=np.asarray(a["center"], float),
            scale=float(a["scale"]),
            joints=np.asarray(a["joints"], float),
            visible=np.asarray(a["joints_vis"], bool),
            head_size=float(a["head_size"]),
        )
        for a in data
    ]


def mpii_person(image_name: str) -> MpiiPerson:
    """The annotated person of one shared MPII photo, by file name."""
    return next(p for p in mpii_people() if p.image.name == image_name)


@dataclass(frozen=True)
class CocoPerson:
    image: Path
    box: tuple[float, float, float, float]  # (x1, y1, x2, y2) px: the annotated box
    joints: np.ndarray  # (17, 2) px, COCO order
    labelled: np.ndarray  # (17,) bool: COCO visibility v > 0
    area: float  # px²: the segmented area, OKS's scale


def coco_people(folders: tuple[Path, ...] = (COCO_DIR, COCO_MULTI_DIR)) -> list[CocoPerson]:
    """The annotated people (at least one labelled keypoint, not crowds) of the shared COCO photos."""
    out = []
    for folder in folders:
        data = json.loads(next(folder.glob("*.json")).read_text())
        files = {i["id"]: i["file_name"] for i in data["images"]}
        images = folder / "images" if (folder / "images").is_dir() else folder
        for a in data["annotations"]:
            if a.get("iscrowd") or a.get("num_keypoints", 0) == 0:
                continue
            k = np.asarray(a["keypoints"], float).reshape(-1, 3)
            x, y, w, h = a["bbox"]
            out.append(CocoPerson(images / files[a["image_id"]], (x, y, x + w, y + h), k[:, :2], k[:, 2] > 0, float(a["area"])))
    return out


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
