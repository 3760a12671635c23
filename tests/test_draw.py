"""The pictures: skeleton overlay and heatmap gallery, on a real result."""

from __future__ import annotations

import numpy as np
import pytest

import cv2

from pose.draw import HEATMAP_ALPHA, SIDE_COLORS, draw_skeleton, heatmap_tiles
from pose.image_io import load_image
from pose.joints import COCO, MPII, Side
from tests.shared_data import coco_people, mpii_people

JET_RGB = {255: np.array([128, 0, 0]), 0: np.array([0, 0, 128])}  # ends of OpenCV's JET map, RGB


@pytest.fixture(scope="module", params=["mpii", "coco"])
def case(request):
    """(image, result) of a real person: MPII with EfficientPose-I, COCO with the bundled PP-TinyPose."""
    if request.param == "mpii":
        person, estimator = mpii_people()[1], request.getfixturevalue("estimator")
    else:
        request.getfixturevalue("shared")
        person, estimator = coco_people()[0], request.getfixturevalue("coco_estimator")
    image = load_image(person.image)
    return image, estimator.estimate(image, box=person.box)


def test_overlay_draws_visible_joints_only(case):
    image, result = case
    everything = draw_skeleton(image.pixels, result, 0.0)
    nothing = draw_skeleton(image.pixels, result, float(result.scores.max()) + 0.01)
    np.testing.assert_array_equal(nothing, image.pixels)
    assert everything.shape == image.pixels.shape and (everything != image.pixels).any()
    assert not np.shares_memory(everything, image.pixels)


def test_limb_colours_by_side(case):
    image, result = case
    out = draw_skeleton(image.pixels, result, 0.0)
    s = result.skeleton
    centre = ("thorax", "upper_neck") if s is MPII else ("l_hip", "r_hip")
    for names, side in [(("l_shoulder", "l_elbow"), Side.LEFT), (("r_shoulder", "r_elbow"), Side.RIGHT), (centre, Side.CENTRE)]:
        a, b = (s.index(n) for n in names)
        mid = np.round((result.keypoints[a] + result.keypoints[b]) / 2).astype(int)
        assert np.abs(out[mid[1], mid[0]].astype(int) - SIDE_COLORS[side]).max() <= 40, (a, b)


def test_low_confidence_joint_and_its_limbs_are_left_out(case):
    image, result = case
    j = int(np.argmin(result.scores))
    threshold = float(np.sort(result.scores)[1])  # everything but the weakest joint
    out = draw_skeleton(image.pixels, result, threshold)
    x, y = np.round(result.keypoints[j]).astype(int)
    h, w = out.shape[:2]
    patch = (slice(max(0, y - 2), min(h, y + 3)), slice(max(0, x - 2), min(w, x + 3)))
    full = draw_skeleton(image.pixels, result, 0.0)
    assert (full[patch] != image.pixels[patch]).any()  # drawn at threshold 0 ...
    # ... and at the higher threshold only if another joint's limb happens to pass by.
    others = draw_skeleton(image.pixels, result, threshold)
    assert (others[patch] != full[patch]).any() or (others[patch] == image.pixels[patch]).all()


def test_overlay_on_a_downscaled_copy_scales_the_keypoints(case):
    image, result = case
    small = cv2.resize(image.pixels, (image.pixels.shape[1] // 2, image.pixels.shape[0] // 2), interpolation=cv2.INTER_AREA)
    out = draw_skeleton(small, result, 0.0)
    j = int(np.argmax(result.scores))
    x, y = np.round(result.keypoints[j] / 2).astype(int)
    assert (out[y, x] != small[y, x]).any()


def test_gallery_has_a_captioned_tile_per_joint_on_the_crop(case):
    _, result = case
    tiles = heatmap_tiles(result)
    assert len(tiles) == {MPII: 16, COCO: 17}[result.skeleton]
    assert [c.split()[0] for _, c in tiles] == list(result.skeleton.joints)
    assert result.crop.shape[:2] == {MPII: (256, 256), COCO: (256, 192)}[result.skeleton]
    for j, (tile, caption) in enumerate(tiles):
        assert tile.shape == result.crop.shape and tile.dtype == np.uint8
        assert caption.endswith(f"{result.scores[j]:.2f}")
        # Where the heatmap peaks the tile shows the top of the JET colour map blended over
        # the crop; where it is lowest, the bottom.
        hm = cv2.resize(result.heatmaps[j], tile.shape[1::-1]) if result.heatmaps.shape[1:] != tile.shape[:2] else result.heatmaps[j]
        for (y, x), level in ((np.unravel_index(np.argmax(hm), hm.shape), 255), (np.unravel_index(np.argmin(hm), hm.shape), 0)):
            expected = result.crop[y, x] * (1 - HEATMAP_ALPHA) + JET_RGB[level] * HEATMAP_ALPHA
            assert np.abs(tile[y, x] - expected).max() <= 2, (result.skeleton.joints[j], level)
