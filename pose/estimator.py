"""The top-down pipeline: image -> person boxes (the detector's or the caller's) -> one crop
per person -> heatmaps (all crops in one batch) -> keypoints in image px, per person."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .config import ModelConfig
from .decode import decode_heatmaps, flip_back, flip_shift
from .detector import PersonDetector
from .errors import BoxError, ModelError
from .hub import ModelSource, fetch_model
from .image_io import MAX_WORK_SIDE, LoadedImage, from_array, load_image
from .metrics import oks_nms
from .model import PoseModel
from .result import PeopleResult, PoseResult
from .transforms import MPII_PADDING, box_to_center_size, crop_affine, invert_affine, warp_crop

log = logging.getLogger(__name__)

Box = Sequence[float]  # (x1, y1, x2, y2) px of the full-resolution image
MAX_PEOPLE = 20  # default for POSE_MAX_PEOPLE: people estimated per image at most
OKS_NMS_THRESHOLD = 0.9  # the reference's OKS_THRE: a pose this similar to a better one is a duplicate


def max_people_from_env() -> int:
    """``POSE_MAX_PEOPLE`` (default 20), checked: a whole number of at least 1."""
    text = os.environ.get("POSE_MAX_PEOPLE", str(MAX_PEOPLE))
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ModelError(f"POSE_MAX_PEOPLE must be a whole number of at least 1, not {text!r}")
    return value


class PoseEstimator:
    """A pose model and (optionally) a person detector; the ``estimate*`` methods are safe to
    call from several threads."""

    def __init__(self, model: PoseModel, detector: PersonDetector | None = None, fallback_reason: str | None = None,
                 max_people: int = MAX_PEOPLE) -> None:
        self.model = model
        self.config = model.config
        self.detector = detector
        self.fallback_reason = fallback_reason  # set when the bundled model stands in for the default: why
        self.max_people = max_people

    @classmethod
    def load(cls, source: ModelSource | None = None, threads: int | None = None, detector: ModelSource | None = None,
             with_detector: bool = True, max_people: int | None = None) -> PoseEstimator:
        """The pose model from ``source`` (default: POSE_MODEL_* / the Hub / the bundled one) and the
        detector from ``detector`` (default: POSE_DETECTOR_* / the bundled YOLOX-Nano)."""
        files = fetch_model(source or ModelSource.resolve())
        model = PoseModel(files.config, files.onnx_path, threads=threads)
        people_detector = PersonDetector.load(detector, threads=threads) if with_detector else None
        return cls(model, people_detector, files.fallback_reason, max_people or max_people_from_env())

    @property
    def name(self) -> str:
        return self.config.name

    # ---- one person -------------------------------------------------------------------------

    def estimate(
        self,
        image: LoadedImage | np.ndarray | str | os.PathLike | bytes,
        box: Box | None = None,
        flip: bool = False,
    ) -> PoseResult:
        """Estimate the pose of one person.

        ``box`` (x1, y1, x2, y2) in full-resolution px is padded by 1.25 (the reference's
        convention); without it the whole image is the box, used as it is: a photo framed on a
        person would only shrink the person if padded.
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
        return self.infer_batch(crop[None], flip)[0]

    def infer_batch(self, crops: np.ndarray, flip: bool = False) -> np.ndarray:
        """(N, H, W, 3) uint8 crops -> (N, J, Hh, Wh) float32 heatmaps: one batched inference
        (the mirrored crops in the same batch when flip-testing; a batch-1 model runs them in turn)."""
        n = len(crops)
        heatmaps = self.model.heatmaps(np.concatenate([crops, crops[:, :, ::-1]]) if flip else crops)
        if not flip:
            return heatmaps
        shift = flip_shift(self.config.input_width, heatmaps.shape[3])
        perm = self.config.skeleton.flip_permutation
        return np.stack([(heatmaps[i] + flip_back(heatmaps[n + i], shift, perm)) * 0.5 for i in range(n)])

    def decode(self, heatmaps: np.ndarray, crop: Crop, image: LoadedImage, flip: bool = False,
               box_score: float = 1.0) -> PoseResult:
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
            box_score=box_score,
        )

    # ---- everyone ---------------------------------------------------------------------------

    def estimate_people(
        self,
        image: LoadedImage | np.ndarray | str | os.PathLike | bytes,
        boxes: Sequence[Box] | None = None,
        flip: bool = False,
    ) -> PeopleResult:
        """Estimate every person: in the caller's ``boxes``, else in the detector's (the whole
        image as one person when it finds nobody, or when there is no detector). Each box is
        padded by 1.25 and widened to the model's aspect; all crops go through one batched
        inference; people are sorted by the paper's person score, duplicates dropped by OKS
        non-maximum suppression (skeletons with OKS sigmas), and at most ``max_people`` kept."""
        if boxes is not None:
            boxes = [tuple(b) for b in boxes]
            if not boxes:
                boxes = None
            elif len(boxes) > self.max_people:
                raise BoxError(f"At most {self.max_people} person boxes can be given at once, not {len(boxes)}.")
        if not isinstance(image, LoadedImage):
            image = from_array(image) if isinstance(image, np.ndarray) else self.read_for(image, boxes)
        if boxes is not None:
            checked = [check_box(b, image.original_size) for b in boxes]
            people = [Candidate(b, 1.0, "user") for b in checked]
        else:
            people = self.detect(image)
        return self.estimate_candidates(image, people, flip, detector=boxes is None)

    def estimate_candidates(self, image: LoadedImage, people: Sequence[Candidate], flip: bool = False,
                            detector: bool = False, nms_threshold: float = OKS_NMS_THRESHOLD) -> PeopleResult:
        """The pose in each of these boxes (one batched inference), ranked by person score,
        OKS-NMS'd at ``nms_threshold``, at most ``max_people``. ``detector``: the boxes are the
        detector's (the result names it)."""
        # The whole image goes in unpadded (box None); every other box is padded by 1.25.
        crops = [make_crop(image, None if p.source == "image" else p.box, self.config, source=p.source) for p in people]
        results = []
        if crops:
            heatmaps = self.infer_batch(np.stack([c.pixels for c in crops]), flip)
            results = [self.decode(h, c, image, flip, box_score=p.score) for h, c, p in zip(heatmaps, crops, people)]
        order = self._rank(results, crops, image, nms_threshold)
        return PeopleResult(
            people=tuple(results[i] for i in order[: self.max_people]),
            image_size=image.original_size,
            model=self.name,
            skeleton=self.config.skeleton,
            detector=self.detector.name if self.detector is not None and detector else None,
            flip=flip,
        )

    def read_for(self, source: str | os.PathLike | bytes, boxes: Sequence[Box] | None) -> LoadedImage:
        """Load an image at the resolution the smallest of these boxes needs; with no boxes
        (people still to be found), at the full working size."""
        if boxes is None:
            return load_image(source, needed_side=lambda size: MAX_WORK_SIDE)
        return load_image(source, needed_side=lambda size: max(needed_side(self.config, size, b) for b in boxes))

    def detect(self, image: LoadedImage, whole_image: bool = True) -> list[Candidate]:
        """The detector's best ``max_people`` person boxes (px of the full-resolution image) with
        their scores; with no detector, or nobody found, the whole image (score 1) unless
        ``whole_image`` is False (then nobody)."""
        if self.detector is not None:
            found = self.detector.detect_people(image)
            people = [Candidate(tuple(float(v) for v in b), float(s), "detector")
                      for b, s in zip(found.boxes[: self.max_people], found.scores)]
            if people or not whole_image:
                return people
        w, h = image.original_size
        return [Candidate((0.0, 0.0, float(w), float(h)), 1.0, "image")]

    def _rank(self, results: list[PoseResult], crops: list[Crop], image: LoadedImage,
              nms_threshold: float = OKS_NMS_THRESHOLD) -> np.ndarray:
        """Order of the people to keep: by person score, OKS-NMS'd where the skeleton has sigmas."""
        scores = np.array([r.score for r in results])
        sigmas = self.config.skeleton.oks_sigmas
        if sigmas is None or len(results) < 2:
            return np.argsort(-scores, kind="stable")
        sx, sy = image.scale
        areas = np.array([c.size[0] / sx * c.size[1] / sy for c in crops])  # px² of the padded region, as the reference
        return oks_nms(np.stack([r.keypoints for r in results]), np.stack([r.scores for r in results]), scores, areas,
                       sigmas, nms_threshold)


@dataclass(frozen=True)
class Candidate:
    """A box that may hold a person, before the pose model has looked."""

    box: tuple[float, float, float, float]  # (x1, y1, x2, y2) px of the full-resolution image
    score: float  # the box score: the detector's, 1 for given boxes and the whole image, a track's for propagated ones
    source: str  # "detector", "user", "image" or "previous" (propagated from the previous frame)


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


def make_crop(image: LoadedImage, box: Box | None, config: ModelConfig, source: str | None = None) -> Crop:
    """The model input for one person: the (padded) box, widened to the input's aspect ratio,
    warped to the input size. Used by the pipeline and by quantization calibration alike.
    ``source`` names where the box came from, when not the caller ("user") or the image."""
    region, padding, box_source = person_box(image.original_size, box)
    box_source = source or box_source
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
    box_source: str  # "image", "user" or "detector"


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


def parse_boxes(text: str) -> list[tuple[float, float, float, float]]:
    """``"x1,y1,x2,y2; x1,y1,x2,y2"`` -> boxes (BoxError naming the one that is wrong); "" -> []."""
    parts = [p for p in str(text).split(";") if p.strip()]
    return [parse_box(p) for p in parts]


def parse_box(text: str) -> tuple[float, float, float, float]:
    """``"x1,y1,x2,y2"`` -> four floats (BoxError on anything else)."""
    parts = [p.strip() for p in str(text).split(",")]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != 4:
        raise BoxError(f"A person box must be written x1,y1,x2,y2 (four numbers in pixels; several boxes "
                       f"separated by ;), not {text.strip()!r}.")
    return values[0], values[1], values[2], values[3]
