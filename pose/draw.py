"""Pictures of a PoseResult: the skeleton overlay and the per-joint heatmap gallery."""

from __future__ import annotations

import cv2
import numpy as np

from .joints import Side
from .result import PeopleResult, PoseResult
from .tracking import TrackedFrame

# RGB colours by body side: left warm, right cool, centre neutral.
SIDE_COLORS: dict[Side, tuple[int, int, int]] = {
    Side.LEFT: (255, 140, 0),
    Side.RIGHT: (0, 160, 255),
    Side.CENTRE: (60, 220, 90),
}
HEATMAP_ALPHA = 0.55  # weight of the colour-mapped heatmap over the crop
DISPLAY_MAX_SIDE = 1280  # px: long side of the overlay shown to people
# OpenCV's JET map with the channels reversed, so applyColorMap yields RGB: (256, 1, 3) uint8.
_JET_LUT = np.ascontiguousarray(cv2.applyColorMap(np.arange(256, dtype=np.uint8)[:, None], cv2.COLORMAP_JET)[:, :, ::-1])


def fit_for_display(image: np.ndarray, max_side: int = DISPLAY_MAX_SIDE) -> np.ndarray:
    """(H, W, 3) -> at most ``max_side`` px long, for showing only (never fed to the model).

    Bilinear: the work image is at most 2048 px, so this reduces by at most 1.6x, where it
    looks like area averaging and takes 1 ms instead of 4 ms at 1080p.
    """
    h, w = image.shape[:2]
    if max(h, w) <= max_side:
        return image
    f = max_side / max(h, w)
    return cv2.resize(image, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_LINEAR)


def draw_skeleton(image: np.ndarray, result: PoseResult, threshold: float,
                  limb_color: tuple[int, int, int] | None = None) -> np.ndarray:
    """Copy of an (H, W, 3) RGB image with limbs and joints drawn; joints below ``threshold``
    and the limbs touching them are left out. Limbs are coloured by side, or all in
    ``limb_color``; joints always by side. ``image`` may be a downscaled copy of the image
    the result refers to: keypoints are scaled to it."""
    out = np.ascontiguousarray(image).copy()
    _draw_skeleton_into(out, result, threshold, limb_color)
    return out


def _draw_skeleton_into(out: np.ndarray, result: PoseResult, threshold: float,
                        limb_color: tuple[int, int, int] | None = None) -> None:
    """``draw_skeleton`` in place (no copy: one per picture, not one per person)."""
    h, w = out.shape[:2]
    f = w / result.image_size[0]
    pts = result.keypoints * f  # (J, 2) px of ``image``
    ok = result.visible(threshold)
    thickness = max(2, round(max(h, w) / 250))
    radius = thickness + 2
    shift = 4  # sub-pixel precision for cv2 drawing: coordinates x 16
    ip = np.round(pts * (1 << shift)).astype(np.int32)
    skeleton = result.skeleton
    for (a, b), side in zip(skeleton.limbs, skeleton.limb_sides):
        if ok[a] and ok[b]:
            cv2.line(out, tuple(ip[a]), tuple(ip[b]), limb_color or SIDE_COLORS[side], thickness, cv2.LINE_AA, shift)
    for j, side in enumerate(skeleton.sides):
        if ok[j]:
            # With a fixed-point shift the radius is fixed-point too.
            cv2.circle(out, tuple(ip[j]), radius << shift, (255, 255, 255), -1, cv2.LINE_AA, shift)
            cv2.circle(out, tuple(ip[j]), max(1, radius - 2) << shift, SIDE_COLORS[side], -1, cv2.LINE_AA, shift)


def heatmap_tiles(result: PoseResult) -> list[tuple[np.ndarray, str]]:
    """J (image, caption) pairs: each joint's heatmap colour-mapped over the model's input crop.

    Each map is scaled by its own maximum (so weak joints stay visible) and resized to
    the crop; the caption gives the joint name and its confidence. All in uint8 OpenCV
    calls: 2 ms for 16 tiles of 256x256 where float numpy took 27 ms.
    """
    crop = result.crop  # (H, W, 3) uint8 RGB
    h, w = crop.shape[:2]
    tiles = []
    for j, name in enumerate(result.skeleton.joints):
        hm = result.heatmaps[j]  # (Hh, Wh) float32
        if hm.shape != (h, w):
            hm = cv2.resize(hm, (w, h), interpolation=cv2.INTER_LINEAR)
        positive = cv2.threshold(hm, 0.0, 0.0, cv2.THRESH_TOZERO)[1]
        level = cv2.convertScaleAbs(positive, alpha=255.0 / max(float(positive.max()), 1e-6))  # (H, W) uint8
        colored = cv2.applyColorMap(level, _JET_LUT)  # (H, W, 3) RGB
        tile = cv2.addWeighted(crop, 1.0 - HEATMAP_ALPHA, colored, HEATMAP_ALPHA, 0.0)
        tiles.append((tile, f"{name} {result.scores[j]:.2f}"))
    return tiles


def encode_jpeg(rgb: np.ndarray, quality: int = 90) -> bytes:
    """(H, W, 3) uint8 RGB -> JPEG bytes (OpenCV: about 3x faster than Pillow's WebP)."""
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()


BOX_COLOR = (255, 255, 255)  # RGB: each person's box and number
SELECTED_COLOR = (255, 221, 0)  # RGB: the person whose heatmaps are shown


def draw_people(image: np.ndarray, people: PeopleResult, threshold: float, selected: int | None = None) -> np.ndarray:
    """Copy of an (H, W, 3) RGB image with every person whose score reaches ``threshold`` drawn:
    skeleton coloured by side (joints below ``threshold`` left out), a thin box and the person's
    number (1, 2, ...) at its top-left corner; ``selected`` (an index into ``people.people``) is
    always drawn, with a thicker yellow box. ``image`` may be a downscaled copy."""
    out = np.ascontiguousarray(image).copy()
    f = out.shape[1] / people.image_size[0]
    thin, font = _label_sizes(out)
    for i, person in enumerate(people.people):
        if person.score < threshold and i != selected and len(people.people) > 1:
            continue
        _draw_skeleton_into(out, person, threshold)
        if person.box_source == "image" and len(people.people) == 1:
            continue  # the whole photo: no box worth drawing
        color, width = (SELECTED_COLOR, thin * 2 + 1) if i == selected else (BOX_COLOR, thin)
        _label_box(out, person.box, f, str(i + 1), color, width, font, thin)
    return out


# RGB colours of identities in videos and the live overlay (track 1 the first, then in turn):
# bright, told apart from each other, none of them the joints' side colours.
TRACK_COLORS: tuple[tuple[int, int, int], ...] = (
    (230, 25, 75), (255, 225, 25), (240, 50, 230), (70, 240, 240), (145, 30, 180),
    (210, 245, 60), (250, 190, 212), (0, 128, 128), (170, 110, 40), (150, 150, 255),
)


def track_color(track_id: int) -> tuple[int, int, int]:
    return TRACK_COLORS[(track_id - 1) % len(TRACK_COLORS)]


def draw_tracks(image: np.ndarray, frame: TrackedFrame, threshold: float) -> np.ndarray:
    """Copy of an (H, W, 3) RGB image with each tracked person drawn in their identity's
    colour: limbs, a thin box and the track number (joints keep their side colours, so left
    and right stay readable). ``image`` may be a downscaled copy of the frame."""
    out = np.ascontiguousarray(image).copy()
    f = out.shape[1] / frame.image_size[0]
    thin, font = _label_sizes(out)
    for track_id, person in zip(frame.track_ids, frame.people):
        color = track_color(track_id)
        _draw_skeleton_into(out, person, threshold, limb_color=color)
        _label_box(out, person.box, f, str(track_id), color, thin, font, thin)
    return out


def _label_sizes(out: np.ndarray) -> tuple[int, float]:
    """(line width px of boxes and text, font scale) for a picture of this size."""
    side = max(out.shape[:2])
    return max(1, round(side / 600)), max(0.4, side / 1400)


def _label_box(out: np.ndarray, box: tuple[float, ...], f: float, label: str, color: tuple[int, int, int], width: int,
               font: float, thin: int) -> None:
    """Draw (in place) a box (px of the full image, scaled by ``f``; line ``width`` px) and
    ``label`` (text stroke ``thin`` px) on a tab at its top-left."""
    x1, y1, x2, y2 = (round(v * f) for v in box)
    cv2.rectangle(out, (x1, y1), (x2, y2), color, width, cv2.LINE_AA)
    (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, font, thin)
    ty = max(y1, th + base + 2)
    cv2.rectangle(out, (x1, ty - th - base - 2), (x1 + tw + 4, ty), color, -1)
    cv2.putText(out, label, (x1 + 2, ty - base), cv2.FONT_HERSHEY_SIMPLEX, font, (0, 0, 0), thin, cv2.LINE_AA)


def person_at(people: PeopleResult, x: float, y: float) -> int | None:
    """Index of the person whose box holds the point (x, y) px of the full-resolution image (the
    smallest such box: the one in front), else the nearest box centre within a box size; None if none."""
    boxes = np.array([p.box for p in people.people], float)  # (N, 4)
    inside = (boxes[:, 0] <= x) & (x <= boxes[:, 2]) & (boxes[:, 1] <= y) & (y <= boxes[:, 3])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    if inside.any():
        return int(np.flatnonzero(inside)[np.argmin(areas[inside])])
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    dist = np.linalg.norm(centres - [x, y], axis=1)
    best = int(np.argmin(dist))
    return best if dist[best] <= np.sqrt(areas[best]) else None
