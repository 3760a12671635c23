"""The decode is pinned to the reference implementation: hand-made heatmaps with known
answers, and random heatmaps against a restatement of the reference code."""

from __future__ import annotations

import numpy as np
import pytest

from pose.decode import decode_heatmaps, flip_back, flip_shift, max_preds, quarter_offset
from pose.joints import MPII
from pose.transforms import crop_affine, invert_affine
from tests import reference_impl as ref

W = H = 64


def one_peak(x: int, y: int, left=0.5, right=0.5, up=0.5, down=0.5, peak=1.0) -> np.ndarray:
    hm = np.zeros((1, H, W), np.float32)
    hm[0, y, x] = peak
    if x > 0:
        hm[0, y, x - 1] = left
    if x < W - 1:
        hm[0, y, x + 1] = right
    if y > 0:
        hm[0, y - 1, x] = up
    if y < H - 1:
        hm[0, y + 1, x] = down
    return hm


def test_argmax_finds_the_peak_and_its_value():
    coords, maxvals = max_preds(one_peak(10, 20, peak=0.8))
    assert coords.tolist() == [[10.0, 20.0]]
    assert maxvals.tolist() == pytest.approx([0.8])


@pytest.mark.parametrize(
    "neighbours, expected",
    [
        (dict(left=0.2, right=0.6), (10.25, 20.0)),
        (dict(left=0.6, right=0.2), (9.75, 20.0)),
        (dict(up=0.2, down=0.6), (10.0, 20.25)),
        (dict(up=0.6, down=0.2), (10.0, 19.75)),
        (dict(left=0.2, right=0.6, up=0.6, down=0.2), (10.25, 19.75)),
        (dict(), (10.0, 20.0)),  # equal neighbours: sign(0) = 0, no shift
    ],
)
def test_quarter_pixel_shift_toward_the_higher_neighbour(neighbours, expected):
    hm = one_peak(10, 20, **neighbours)
    coords, _ = max_preds(hm)
    assert quarter_offset(hm, coords).tolist() == [list(expected)]


@pytest.mark.parametrize(
    "x, y, shifted",
    [
        (1, 20, False),  # the reference's guard is 1 < px: column 1 is not refined
        (2, 20, True),
        (W - 2, 20, True),
        (W - 1, 20, False),
        (0, 20, False),
        (20, 1, False),
        (20, 2, True),
        (20, H - 2, True),
        (20, H - 1, False),
    ],
)
def test_border_guard_matches_the_reference(x, y, shifted):
    hm = one_peak(x, y, left=0.1, right=0.9, up=0.1, down=0.9)
    coords, _ = max_preds(hm)
    out = quarter_offset(hm, coords)
    assert (out != coords).any() == shifted
    ref_coords, _ = ref.get_max_preds(hm[None].copy())
    # Reference with identity transform (centre/scale chosen so heatmap px == image px).
    ref_final, _ = ref.get_final_preds(hm[None], np.array([[W / 2, H / 2]]), np.array([[W / 200, W / 200]]))
    assert out[0] == pytest.approx(ref_final[0, 0], abs=1e-3)


@pytest.mark.parametrize("peak", [-0.3, 0.0])
def test_non_positive_maximum_gives_zero_coordinates(peak):
    hm = np.full((1, H, W), -1.0, np.float32)
    hm[0, 30, 40] = peak
    coords, maxvals = max_preds(hm)
    assert coords.tolist() == [[0.0, 0.0]]
    assert maxvals[0] == pytest.approx(peak)


def test_decode_maps_heatmap_pixels_to_image_pixels():
    # A 400x400 px person box centred at (500, 300): heatmap px (32, 32) is the box centre,
    # and one heatmap px is 400 / 64 = 6.25 image px.
    hm = one_peak(40, 16)  # equal neighbours: no shift
    m = invert_affine(crop_affine(np.array([500.0, 300.0]), np.array([400.0, 400.0]), (W, H)))
    kp, scores = decode_heatmaps(hm, m)
    assert kp[0] == pytest.approx([500 + 8 * 6.25, 300 - 16 * 6.25])
    assert scores[0] == pytest.approx(1.0)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("hm_size", [(64, 64), (48, 64), (256, 256)])
def test_random_heatmaps_match_the_reference(seed, hm_size):
    rng = np.random.default_rng(seed)
    hw, hh = hm_size
    heatmaps = rng.normal(size=(len(MPII), hh, hw)).astype(np.float32)
    heatmaps[3] = -np.abs(heatmaps[3])  # one joint with a negative maximum
    heatmaps[4, :, :] = 0.0
    heatmaps[4, 1, 5] = 2.0  # a peak on the guarded border row
    center = rng.uniform(100, 900, size=2)
    scale = rng.uniform(0.5, 4.0)  # reference units: 200 px
    size = np.array([scale * 200, scale * 200 * hh / hw])
    ours, ours_scores = decode_heatmaps(heatmaps, invert_affine(crop_affine(center, size, (hw, hh))))
    theirs, their_scores = ref.get_final_preds(heatmaps[None], center[None], np.array([[scale, scale]]))
    # cv2.getAffineTransform works in float32, so agree to ~1e-3 px.
    np.testing.assert_allclose(ours, theirs[0], atol=2e-3 * scale * 200 / hw + 1e-3)
    np.testing.assert_allclose(ours_scores, their_scores[0, :, 0])


def test_flip_pairs_are_the_reference_mpii_pairs():
    assert {frozenset(p) for p in MPII.flip_pairs} == {frozenset(p) for p in ref.MPII_FLIP_PAIRS}


@pytest.mark.parametrize("input_w, hm_w, shift", [(256, 64, 1), (192, 48, 1), (256, 128, 1), (256, 256, 0)])
def test_flip_shift_per_stride(input_w, hm_w, shift):
    assert flip_shift(input_w, hm_w) == shift


def test_flip_back_and_average_match_the_reference():
    rng = np.random.default_rng(7)
    out = rng.random((len(MPII), 64, 64)).astype(np.float32)
    out_flipped = rng.random((len(MPII), 64, 64)).astype(np.float32)
    ours = (out + flip_back(out_flipped, flip_shift(256, 64), MPII.flip_permutation)) * 0.5
    theirs = ref.flip_test_average(out[None], out_flipped[None])[0]
    np.testing.assert_array_equal(ours, theirs)
    # At stride 1 there is no shift: flip_back is an exact mirror with channels swapped.
    np.testing.assert_array_equal(flip_back(out_flipped, 0, MPII.flip_permutation), ref.flip_back(out_flipped[None].copy(), ref.MPII_FLIP_PAIRS)[0])
