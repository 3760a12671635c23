"""Tracking on real pixels: a clip made from a shared MPII photo by moving and shrinking it
over 60 frames with a known transform, so the ground truth is known in every frame."""

from __future__ import annotations

import numpy as np
import pytest

from pose.joints import MPII
from pose.metrics import pckh, pckh_hits
from pose.result import PoseResult
from pose.tracking import PoseTracker, SmoothingParams, keypoint_box, one_euro
from tests.shared_data import moving_clip, mpii_person

FRAMES = 60
SIZE = (1280, 720)


@pytest.fixture(scope="module")
def clip(shared):
    """The person shrinks from 1.0x to 0.3x while moving 500 px right and 250 px down."""
    person = mpii_person("060754485.jpg")
    return person, moving_clip(person, FRAMES, SIZE)


def run(frames, step):
    results = [step(i, frame) for i, (frame, _, _) in enumerate(frames)]
    errors = np.array([r.keypoints - gt for r, (_, gt, _) in zip(results, frames)])  # (T, 16, 2) px
    return results, errors


def clip_pckh(results, frames, person, sl):
    hits = [pckh_hits(r.keypoints, gt, person.visible, hs) for r, (_, gt, hs) in zip(results[sl], frames[sl])]
    return pckh(np.concatenate(hits), np.tile(person.visible, len(hits)))


def test_box_propagation_beats_whole_frame_when_the_person_is_small(estimator, clip):
    person, frames = clip
    tracker = PoseTracker(estimator, smooth=False)
    tracked, _ = run(frames, lambda i, f: tracker.update(f, user_box=person.box if i == 0 else None))
    whole, _ = run(frames, lambda i, f: estimator.estimate(f))
    assert [r.box_source for r in tracked] == ["user"] + ["previous"] * (FRAMES - 1)
    last = slice(FRAMES - 10, FRAMES)  # the person is 0.3-0.35x: about 210 px tall in a 1280x720 frame
    assert clip_pckh(tracked, frames, person, last) >= 0.85
    assert clip_pckh(whole, frames, person, last) <= 0.2


def test_smoothing_reduces_jitter_without_lagging(estimator, clip):
    person, frames = clip
    jitter, lag = {}, {}
    for smooth in (False, True):
        tracker = PoseTracker(estimator, smooth=smooth, fps=30)
        _, err = run(frames, lambda i, f: tracker.update(f, user_box=person.box if i == 0 else None))
        err = err[:, person.visible]
        jitter[smooth] = np.linalg.norm(np.diff(err, axis=0), axis=2).mean()  # px per frame, true motion removed
        lag[smooth] = np.linalg.norm(err, axis=2).mean()  # px from the moving ground truth
    assert jitter[True] <= 0.7 * jitter[False], jitter
    assert lag[True] <= lag[False] + 3.0, lag  # joints move 4-9 px per frame here


def test_falls_back_to_the_whole_frame_when_the_person_is_lost(estimator, clip):
    person, frames = clip
    tracker = PoseTracker(estimator, smooth=False)
    tracker.update(frames[0][0], user_box=person.box)
    assert tracker.update(frames[1][0]).box_source == "previous"
    blank = np.full_like(frames[0][0], 127)
    tracker.update(blank)  # nobody there: too few confident joints to propagate
    assert tracker.update(frames[2][0]).box_source == "image"


def fake_result(points, scores, size=(1000, 800)) -> PoseResult:
    return PoseResult(
        skeleton=MPII, keypoints=np.array(points, float), scores=np.array(scores, float), heatmaps=np.zeros((16, 4, 4), np.float32),
        crop=np.zeros((4, 4, 3), np.uint8), box=(0, 0, *size), image_size=size, model="test",
    )


def test_keypoint_box_extends_the_confident_joints_box_by_15_percent():
    pts = np.tile([[500.0, 400.0]], (16, 1))
    pts[0], pts[1] = [400, 200], [600, 600]  # joints' box 200 x 400
    pts[2] = [10, 10]  # far away but not confident
    scores = np.full(16, 0.5)
    scores[2] = 0.1
    assert keypoint_box(fake_result(pts, scores)) == pytest.approx((385.0, 170.0, 615.0, 630.0))
    assert keypoint_box(fake_result(pts, np.where(np.arange(16) < 5, 0.5, 0.0))) is None  # 5 < 6 joints
    pts[1] = [995, 795]  # near the border: clipped to the image
    assert keypoint_box(fake_result(pts, scores))[2:] == (1000.0, 800.0)


def test_keypoint_box_refuses_joints_huddled_in_a_spot():
    """Confident joints all within 5 % of the frame's shorter side (40 px of 800) are no person."""
    pts = np.tile([[500.0, 400.0]], (16, 1))
    pts[0] = [539, 400]  # 39 px across
    assert keypoint_box(fake_result(pts, np.full(16, 0.5))) is None
    pts[0] = [541, 400]  # 41 px across
    assert keypoint_box(fake_result(pts, np.full(16, 0.5))) is not None


def test_one_euro_filter_smooths_noise_and_follows_motion():
    rng = np.random.default_rng(0)
    params = SmoothingParams(min_cutoff=1.0, beta=0.05)

    def run(samples):
        state, out = None, []
        for x in samples:
            y, state = one_euro(x, 1 / 30, state, params)
            out.append(y)
        return np.array(out)

    still = run(np.array([[100.0, 100.0]]) + rng.normal(0, 2, (90, 1, 2)))
    assert np.std(still[30:], axis=0).max() < 1.0  # noise of 2 px std damped below 1
    moving = run([np.array([[4.0 * t, 0.0]]) for t in range(60)])  # 120 px/s
    assert abs(moving[-1][0, 0] - 4.0 * 59) < 4.0  # lags by less than a frame's motion
