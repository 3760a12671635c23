"""The top-down pipeline: image + person box -> crop -> heatmaps -> keypoints in image px."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .decode import decode_heatmaps, flip_back, flip_shift
from .errors import BoxError
from .config import ModelConfig
from .hub import ModelSource, fetch_model
from .image_io import LoadedImage, from_array, load_image
from .model import PoseModel
from .result import PoseResult
from .transforms import MPII_PADDING, box_to_center_size, crop_affine, invert_affine, warp_crop

log = logging.getLogger(__name__)

Box = Sequence[float]  # (x1, y1, x2, y2) px of the full-resolution image


class PoseEstimator:
    """Holds one loaded model; ``estimate`` is safe to call from several threads."""

    def __init__(self, model: PoseModel, fallback_reason: str | None = None) -> None:
        self.model = model
        self.config = model.config
        self.fallback_reason = fallback_reason  # set when the bundled model stands in for the default: why

    @classmethod
    def load(cls, source: ModelSource | None = None, threads: int | None = None) -> PoseEstimator:
        files = fetch_model(source or ModelSource.resolve())
        return cls(PoseModel(files.config, files.onnx_path, threads=threads), files.fallback_reason)

    @property
    def name(self) -> str:
        return self.config.name

    def estimate(
        self,
        image: LoadedImage | np.ndarray | str | os.PathLike | bytes,
        box: Box | None = None,
        flip: bool = False,
    ) -> PoseResult:
        """Estimate the pose of one person.

        ``box`` (x1, y1, x2, y2) in full-resolution px is padded by 1.25 (the MPII convention);
        without it the whole image is the box, used as it is: a photo framed on a person
        would only shrink the person if padded.
        """
        if not isinstance(image, LoadedImage):
            image = from_array(image) if isinstance(image, np.ndarray) else self.read(image, box)
        crop = self.prepare(image, box)
        heatmaps = self.infer(crop.pixels, flip)
        return self.decode(heatmaps, crop, image, flip)

    def read(self, source: str | os.PathLike | bytes, box: Box | None = None) -> LoadedImage:
        """Load an image file at the resolution this crop will use (JPEGs decode faster smaller)."""
        return load_image(source, needed_side=lambda size: needed_side(self.config, size, box))

    def prepare(self, image: LoadedImage, box: Box | None = None) -> Crop:
        """Step 1: person box -> centre and size -> aspect-preserving warp to the model input."""
        return make_crop(image, box, self.config)

    def infer(self, crop: np.ndarray, flip: bool = False) -> np.ndarray:
        """Step 2: (H, W, 3) uint8 crop -> (J, Hh, Wh) float32 heatmaps, flip-tested if asked."""
        crops = np.stack([crop, crop[:, ::-1]]) if flip else crop[None]
        heatmaps = self.model.heatmaps(crops)  # (1 or 2, J, Hh, Wh)
        if not flip:
            return heatmaps[0]
        shift = flip_shift(self.config.input_width, heatmaps.shape[3])
        return (heatmaps[0] + flip_back(heatmaps[1], shift, self.config.skeleton.flip_permutation)) * 0.5

    def decode(self, heatmaps: np.ndarray, crop: Crop, image: LoadedImage, flip: bool = False) -> PoseResult:
        """Step 3: heatmaps -> keypoints in full-resolution image px (reference semantics)."""
        _, hh, hw = heatmaps.shape
        # The reference's inverse affine for the heatmap size, then undo the working-image downscale.
        hm_to_image = invert_affine(crop_affine(crop.center, crop.size, (hw, hh))) / image.scale[:, None]
        keypoints, scores = decode_heatmaps(heatmaps, hm_to_image)
        return PoseResult(
            skeleton=self.config.skeleton,
            keypoints=keypoints,
            scores=scores,
            heatmaps=np.ascontiguousarray(heatmaps, dtype=np.float32),
            crop=crop.pixels,
            box=tuple(float(v) for v in crop.box),
            image_size=image.original_size,
            model=self.name,
            flip=flip,
            box_source=crop.box_source,
        )


def person_box(image_size: tuple[int, int], box: Box | None) -> tuple[tuple[float, float, float, float], float, str]:
    """(person box in full-resolution px, padding, "image" or "user"): a given box is
    checked and padded by 1.25; the default is the whole image, unpadded."""
    w, h = image_size
    if box is None:
        return (0.0, 0.0, float(w), float(h)), 1.0, "image"
    return check_box(box, (w, h)), MPII_PADDING, "user"


def needed_side(config: ModelConfig, image_size: tuple[int, int], box: Box | None = None) -> float:
    """Long side (px) the image must keep for the crop not to be upsampled: full size x
    the crop's scale (model input px per image px). Raises BoxError for a bad box."""
    region, padding, _ = person_box(image_size, box)
    _, size = box_to_center_size(np.asarray(region), config.input_width / config.input_height, padding)
    return max(image_size) * config.input_width / float(size[0])


def make_crop(image: LoadedImage, box: Box | None, config: ModelConfig) -> Crop:
    """The model input for one person: the (padded) box, widened to the input's aspect ratio,
    warped to the input size. Used by the pipeline and by quantization calibration alike."""
    region, padding, box_source = person_box(image.original_size, box)
    in_w, in_h = config.input_size
    sx, sy = image.scale  # working px per full-resolution px
    center, size = box_to_center_size(np.asarray(region) * [sx, sy, sx, sy], in_w / in_h, padding)
    pixels = warp_crop(image.pixels, crop_affine(center, size, (in_w, in_h)), (in_w, in_h))
    return Crop(pixels, center, size, region, box_source)


@dataclass(frozen=True)
class Crop:
    """The model input for one person and the geometry to map its heatmaps back."""

    pixels: np.ndarray  # (H, W, 3) uint8 RGB at the model's input size
    center: np.ndarray  # (2,) px of the working image
    size: np.ndarray  # (2,) px of the working image: the region warped to the input (w, h)
    box: tuple[float, float, float, float]  # person box in full-resolution px, before padding
    box_source: str  # "image" or "user"


def check_box(box: Box, image_size: tuple[int, int]) -> tuple[float, float, float, float]:
    """Validate a caller's (x1, y1, x2, y2) box against the image; raise BoxError in plain words."""
    try:
        x1, y1, x2, y2 = (float(v) for v in box)
    except (TypeError, ValueError):
        raise BoxError(f"A person box must be four numbers x1,y1,x2,y2 in pixels, not {box!r}.") from None
    if not all(np.isfinite([x1, y1, x2, y2])):
        raise BoxError("The person box coordinates must be finite numbers.")
    if x2 <= x1 or y2 <= y1:
        raise BoxError(f"The person box {x1:g},{y1:g},{x2:g},{y2:g} is empty: x2 must be greater than x1 and y2 greater than y1.")
    w, h = image_size
    if x2 <= 0 or y2 <= 0 or x1 >= w or y1 >= h:
        raise BoxError(f"The person box {x1:g},{y1:g},{x2:g},{y2:g} lies outside the {w}x{h} image.")
    return x1, y1, x2, y2


def parse_box(text: str) -> tuple[float, float, float, float]:
    """``"x1,y1,x2,y2"`` -> four floats (BoxError on anything else)."""
    parts = [p.strip() for p in str(text).split(",")]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise BoxError(f"A person box must be written x1,y1,x2,y2 (four numbers in pixels), not {text!r}.") from None
    if len(values) != 4:
        raise BoxError(f"A person box must be written x1,y1,x2,y2 (four numbers in pixels), not {text!r}.")
    return values[0], values[1], values[2], values[3]
