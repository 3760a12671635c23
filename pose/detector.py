"""The person detector: an ONNX file plus ``detector_config.json`` beside it, like a pose model.

Pure functions for each step (``letterbox``, ``yolox_decode``, ``nms``) and one onnxruntime
session (``PersonDetector``). Every model fact lives in the config; YOLOX-Nano's, bundled in
``models/yolox-nano``::

    {
      "format_version": 1, "format": "yolox",
      "name": "YOLOX-Nano (COCO persons)", "source": "...", "license": "Apache-2.0",
      "onnx": {"file": "model.onnx", "sha256": "<64 hex digits>"},
      "input": {"name": "images", "width": 416, "height": 416, "color": "BGR", "scale": 1.0,
                "letterbox": {"fill": 114, "place": "top-left"}},
      "output": {"name": "output", "strides": [8, 16, 32]},
      "person_class": 0, "score_threshold": 0.15, "nms_iou": 0.45
    }

``scale`` multiplies 0-255 pixel values (1.0: raw values, as YOLOX takes them). The output is
(1, A, 5 + classes): per anchor point of the stride grids (row-major, strides in order) the box
centre and size offsets, the objectness and the class scores (already sigmoid). A box's score
is objectness x person score.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .config import COLOR_ORDERS, ConfigValidator, read_json
from .errors import ModelConfigError, ModelError
from .hub import ModelSource, fetch_model
from .image_io import LoadedImage
from .model import default_threads, inference_session, session_options

log = logging.getLogger(__name__)

DETECTOR_CONFIG_FILENAME = "detector_config.json"
FORMATS = ("yolox",)
PLACES = ("top-left", "centre")
BUNDLED_DETECTOR = Path(__file__).resolve().parent.parent / "models" / "yolox-nano"


@dataclass(frozen=True)
class DetectorConfig:
    name: str
    source: str
    license: str
    format: str  # "yolox"
    onnx_file: str
    onnx_sha256: str
    input_name: str
    input_width: int  # px
    input_height: int  # px
    color: str  # "RGB" or "BGR"
    scale: float  # network input = pixel value (0-255) x scale
    fill: int  # letterbox fill value (0-255)
    place: str  # "top-left" or "centre": where the resized image sits in the letterbox
    output_name: str
    strides: tuple[int, ...]  # px of the input per grid cell, in the output's order
    person_class: int  # index of "person" among the class scores
    score_threshold: float  # default minimum box score (objectness x person score)
    nms_iou: float  # boxes overlapping a better one by more than this are dropped

    @property
    def anchors(self) -> int:
        """Anchor points the output has: one per cell of each stride's grid."""
        return sum((self.input_width // s) * (self.input_height // s) for s in self.strides)

    @classmethod
    def from_dict(cls, data: Any, origin: str = DETECTOR_CONFIG_FILENAME) -> DetectorConfig:
        v = ConfigValidator(origin)
        root = v.obj(data, "the file")
        if root.get("format_version", 1) != 1:
            v.fail(f"format_version is {root.get('format_version')!r}; this app reads version 1")
        onnx_file, sha = v.onnx(root)
        inp = v.obj(v.field(root, "input"), "input")
        box = v.obj(v.field(inp, "letterbox", "input."), "input.letterbox")
        out = v.obj(v.field(root, "output"), "output")
        strides = v.field(out, "strides", "output.")
        if not (isinstance(strides, list) and strides and all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in strides)):
            v.fail(f"output.strides must be a list of positive whole numbers, not {strides!r}")
        width, height = v.size(inp, "width", "input."), v.size(inp, "height", "input.")
        if any(width % s or height % s for s in strides):
            v.fail(f"the input size {width}x{height} must be a multiple of every stride {strides}")
        return cls(
            name=v.text(root, "name"),
            source=v.text(root, "source"),
            license=v.text(root, "license"),
            format=v.choice(root, "format", FORMATS),
            onnx_file=onnx_file,
            onnx_sha256=sha,
            input_name=v.text(inp, "name", "input."),
            input_width=width,
            input_height=height,
            color=v.choice(inp, "color", COLOR_ORDERS, "input."),
            scale=v.number(inp, "scale", "input.", 1e-6, 1e6),
            fill=v.whole(box, "fill", "input.letterbox.", 0, 255),
            place=v.choice(box, "place", PLACES, "input.letterbox."),
            output_name=v.text(out, "name", "output."),
            strides=tuple(strides),
            person_class=v.whole(root, "person_class", "", 0, 10_000),
            score_threshold=v.number(root, "score_threshold", "", 0.0, 1.0),
            nms_iou=v.number(root, "nms_iou", "", 0.0, 1.0),
        )

    @classmethod
    def load(cls, path: str | Path) -> DetectorConfig:
        return cls.from_dict(read_json(path), origin=str(path))


# ---- pure steps ---------------------------------------------------------------------------------


def letterbox(image: np.ndarray, size: tuple[int, int], fill: int, place: str) -> tuple[np.ndarray, float, np.ndarray]:
    """(H, W, 3) uint8 -> (canvas (h, w, 3) uint8 of ``size`` (w, h), ratio r, offset (2,) px):
    the image scaled by r = min(w / W, h / H) (aspect kept) and placed on a ``fill`` canvas.
    A canvas point p comes from image point (p - offset) / r."""
    w, h = size
    ih, iw = image.shape[:2]
    r = min(w / iw, h / ih)
    nw, nh = max(1, round(iw * r)), max(1, round(ih * r))
    canvas = np.full((h, w, 3), fill, np.uint8)
    ox, oy = ((w - nw) // 2, (h - nh) // 2) if place == "centre" else (0, 0)
    interp = cv2.INTER_AREA if r < 1 else cv2.INTER_LINEAR
    canvas[oy : oy + nh, ox : ox + nw] = cv2.resize(image, (nw, nh), interpolation=interp)
    return canvas, r, np.array([ox, oy], float)


def yolox_decode(raw: np.ndarray, size: tuple[int, int], strides: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(A, 5 + C) YOLOX output for an input of ``size`` (w, h) -> boxes (A, 4) (x1, y1, x2, y2)
    input px, scores (A, C) = objectness x class score. Anchor a of stride s's grid (row-major)
    sits at cell (gx, gy): centre = (offset + cell) x s, size = exp(offset) x s."""
    w, h = size
    grids, cell = [], []
    for s in strides:
        gy, gx = np.mgrid[0 : h // s, 0 : w // s]
        grids.append(np.stack([gx.ravel(), gy.ravel()], axis=1))
        cell.append(np.full(gx.size, s, float))
    grid, stride = np.concatenate(grids).astype(float), np.concatenate(cell)[:, None]
    if len(grid) != len(raw):
        raise ValueError(f"the detector output has {len(raw)} anchors; strides {strides} at {w}x{h} make {len(grid)}")
    centre = (raw[:, 0:2] + grid) * stride
    half = np.exp(np.minimum(raw[:, 2:4], 20.0)) * stride / 2  # clamp: exp overflows on garbage
    boxes = np.concatenate([centre - half, centre + half], axis=1)
    return boxes, raw[:, 4:5] * raw[:, 5:]


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float, min_score: float) -> np.ndarray:
    """Indices of the boxes (N, 4) x1,y1,x2,y2 kept by greedy non-maximum suppression (OpenCV's
    ``dnn.NMSBoxes``): scores (N,) at least ``min_score``, best first, overlap (IoU) <= ``iou``."""
    if len(boxes) == 0:
        return np.zeros(0, np.int64)
    xywh = np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1)
    keep = cv2.dnn.NMSBoxes(xywh.tolist(), scores.astype(float).tolist(), float(min_score), float(iou))
    keep = np.asarray(keep, np.int64).reshape(-1)
    return keep[np.argsort(-scores[keep], kind="stable")]


@dataclass(frozen=True)
class Detections:
    boxes: np.ndarray  # (N, 4) float64 x1, y1, x2, y2 px of the image given, clipped to it, best first
    scores: np.ndarray  # (N,) float64 box scores (objectness x person score), descending


class PersonDetector:
    """One onnxruntime session for a detector described by a DetectorConfig; ``detect`` is
    safe to call from several threads."""

    def __init__(self, config: DetectorConfig, onnx_path: str | Path, threads: int | None = None) -> None:
        self.config = config
        self.onnx_path = Path(onnx_path)
        # Its threads must not spin after a run: the pose session runs next, on the same cores
        # (spinning cost the pose crops of a 6-person photo about a third more time).
        opts = session_options(threads or default_threads(), spinning=False)
        try:
            self.session = inference_session(self.onnx_path, opts)
        except Exception as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ModelError(f"onnxruntime cannot load the detector file {self.onnx_path}: {first}") from None
        self._check_io()
        log.info("loaded detector %s from %s", config.name, self.onnx_path)

    @classmethod
    def load(cls, source: ModelSource | None = None, threads: int | None = None) -> PersonDetector:
        """From a ModelSource (default: POSE_DETECTOR_PATH / POSE_DETECTOR_REPO, else the bundled one)."""
        files = fetch_model(source or detector_source(), DETECTOR_CONFIG_FILENAME, DetectorConfig.load)
        return cls(files.config, files.onnx_path, threads=threads)

    @property
    def name(self) -> str:
        return self.config.name

    def _check_io(self) -> None:
        c = self.config
        where = f"detector {self.onnx_path} and its config do not match"
        inputs = {i.name: i for i in self.session.get_inputs()}
        outputs = {o.name: o for o in self.session.get_outputs()}
        if c.input_name not in inputs or len(inputs) != 1:
            raise ModelConfigError(f"{where}: the config's input {c.input_name!r} is not the model's one input (it has {sorted(inputs)})")
        if c.output_name not in outputs:
            raise ModelConfigError(f"{where}: the config's output {c.output_name!r} is not in the model (it has {sorted(outputs)})")
        ishape = inputs[c.input_name].shape
        expected = [None, 3, c.input_height, c.input_width]
        if len(ishape) != 4 or any(isinstance(d, int) and e is not None and d != e for d, e in zip(ishape, expected)):
            raise ModelConfigError(f"{where}: input {c.input_name!r} has shape {ishape}, the config says NCHW {c.input_width}x{c.input_height}")
        oshape = outputs[c.output_name].shape
        anchors = oshape[1] if len(oshape) == 3 else None
        classes = oshape[2] - 5 if len(oshape) == 3 and isinstance(oshape[2], int) else None
        if len(oshape) != 3 or (isinstance(anchors, int) and anchors != c.anchors) or (classes is not None and not 0 <= c.person_class < classes):
            raise ModelConfigError(
                f"{where}: output {c.output_name!r} has shape {oshape}; the config's strides {list(c.strides)} at "
                f"{c.input_width}x{c.input_height} make {c.anchors} anchors, with class {c.person_class} for persons"
            )

    def detect(self, image: np.ndarray, min_score: float | None = None) -> Detections:
        """(H, W, 3) uint8 RGB -> person boxes in px of ``image``, best first, after NMS."""
        c = self.config
        canvas, r, offset = letterbox(image, (c.input_width, c.input_height), c.fill, c.place)
        if c.color == "BGR":
            canvas = canvas[..., ::-1]
        x = np.ascontiguousarray(canvas.transpose(2, 0, 1)[None], dtype=np.float32)
        if c.scale != 1.0:
            x *= np.float32(c.scale)
        raw = self.session.run([c.output_name], {c.input_name: x})[0][0]  # (A, 5 + C)
        boxes, scores = yolox_decode(raw, (c.input_width, c.input_height), c.strides)
        scores = scores[:, c.person_class]
        threshold = c.score_threshold if min_score is None else min_score
        keep = nms(boxes, scores, c.nms_iou, threshold)
        h, w = image.shape[:2]
        out = (boxes[keep] - np.tile(offset, 2)) / r
        out = np.clip(out, 0, [w, h, w, h])
        return Detections(boxes=out, scores=scores[keep].astype(np.float64))

    def detect_people(self, image: LoadedImage) -> Detections:
        """Person boxes of a loaded image in px of its full-resolution original (the detector
        sees the working pixels), empty boxes dropped, best first."""
        found = self.detect(image.pixels)
        sx, sy = image.scale
        boxes = found.boxes / [sx, sy, sx, sy]
        keep = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        return Detections(boxes=boxes[keep], scores=found.scores[keep])


def detector_source(path: str | None = None, repo: str | None = None, revision: str | None = None) -> ModelSource:
    """Where the detector comes from: flags, POSE_DETECTOR_PATH, POSE_DETECTOR_REPO (+ _REVISION),
    else the bundled YOLOX-Nano."""
    return ModelSource.resolve(path, repo, revision, env="POSE_DETECTOR", default=ModelSource(path=BUNDLED_DETECTOR))
