"""Tracking with identities (the paper's Sec. 3) on real pixels, and its pieces on known inputs.

Clips are composed from real photos with the truth known in every frame: COCO people cut out
by their masks walking over a real background (two crossing; one leaving as another enters),
a shared MPII photo moving and shrinking, and a still webcam-like frame held for 60 frames.
"""

from __future__ import annotations

import pickle

import cv2
import numpy as np
import pytest

from pose.errors import BoxError
from pose.flow import lucas_kanade
from pose.joints import COCO
from pose.metrics import box_iou, pckh, pckh_hits, pose_similarity
from pose.tracking import (SmoothingParams, TrackerSettings, TrackingError, VideoTracker, greedy_match,
                           keypoint_box, one_euro, track_frame)
from tests.live_camera import PERSON
from tests.shared_data import crossing_clip, leave_and_enter_clip, moving_clip, mpii_person, webcam_clip
from tests.tracking_truth import assignments, found_fraction, identity_switches

FPS = 25


def run_clip(estimator, clip, use_flow=True, **settings):
    tracker = VideoTracker(estimator, TrackerSettings(**settings), fps=FPS, use_flow=use_flow)
    return [tracker.update(frame) for frame, _ in clip]


@pytest.fixture(scope="module")
def crossing(shared):
    return crossing_clip(90)


# ---- identities on real pixels ----------------------------------------------------------------


@pytest.mark.parametrize("detect_every", [1, 5])
def test_two_people_crossing_keep_their_identities_with_flow_oks_matching(coco_estimator, crossing, detect_every):
    """Two men cross, the one in front passing over the other's body: flow-OKS matching gives
    no identity switch and finds both in almost every frame; plain IoU matching is measured."""
    per_frame = {}
    for similarity in ("oks", "iou"):
        results = run_clip(coco_estimator, crossing, similarity=similarity, detect_every=detect_every)
        per_frame[similarity] = assignments(results, crossing, COCO.oks_sigmas)
    switches = {s: identity_switches(a) for s, a in per_frame.items()}
    print(f"identity switches, detector every {detect_every}: {switches}; found {found_fraction(per_frame['oks']):.3f}")
    assert switches["oks"] == 0
    assert switches["oks"] <= switches["iou"]
    assert found_fraction(per_frame["oks"]) >= 0.95
    first = per_frame["oks"][0]
    assert {first[0], first[1]} == {1, 2}  # the two men are tracks 1 and 2 from the first frame on


def test_iou_matching_swaps_identities_where_flow_oks_does_not(coco_estimator, crossing):
    """The baseline the paper improves on, on the same clip: box IoU takes the man in front for
    the one behind at least once (measured: 1 switch), so OKS is the default."""
    results = run_clip(coco_estimator, crossing, similarity="iou")
    assert identity_switches(assignments(results, crossing, COCO.oks_sigmas)) >= 1
    assert TrackerSettings().similarity == "oks"


def test_a_person_who_leaves_and_one_who_enters_get_different_identities(coco_estimator, shared):
    clip = leave_and_enter_clip(90)
    for detect_every in (1, 5):
        results = run_clip(coco_estimator, clip, detect_every=detect_every)
        per_frame = assignments(results, clip, COCO.oks_sigmas)
        leaving = {f[0] for f in per_frame if f.get(0) is not None}
        entering = {f[1] for f in per_frame if f.get(1) is not None}
        assert len(leaving) == 1 and len(entering) == 1, (leaving, entering)
        assert leaving != entering
        # Nobody is made up while the picture is empty.
        empty = [r for r, (_, truth) in zip(results, clip) if not truth]
        assert empty and all(not r.people for r in empty)


def test_a_first_frame_box_follows_that_person_only(coco_estimator, crossing):
    far = next(g for g in crossing[0][1] if g.person == 0)
    tracker = VideoTracker(coco_estimator, TrackerSettings(), fps=FPS)
    results = [tracker.update(frame, follow_box=far.box if i == 0 else None) for i, (frame, _) in enumerate(crossing)]
    assert {len(r.people) for r in results} <= {0, 1}
    assert {tid for r in results for tid in r.track_ids} == {1}
    assert results[0].people[0].box_source == "user"
    per_frame = assignments(results, crossing, COCO.oks_sigmas)
    assert identity_switches(per_frame) == 0
    assert sum(f.get(0) == 1 for f in per_frame) >= 0.9 * len(crossing)  # the far man, nearly throughout
    assert all(f.get(1) is None for f in per_frame)  # the other man is never reported


def test_a_box_outside_the_frame_is_refused_in_plain_words(coco_estimator, crossing):
    with pytest.raises(BoxError, match="outside"):
        VideoTracker(coco_estimator).update(crossing[0][0], follow_box=(5000, 10, 5100, 200))


def test_bad_options_are_refused_in_plain_words():
    with pytest.raises(TrackingError, match="at least 1"):
        TrackerSettings(detect_every=0)
    with pytest.raises(TrackingError, match="oks, iou"):
        TrackerSettings(similarity="hungarian")


# ---- no shrink-and-restart on a still frame ---------------------------------------------------


@pytest.mark.parametrize("motion", ["flow", "velocity"])
def test_a_still_frame_keeps_its_joints_for_60_frames(estimator, shared, motion):
    """The person in a held frame keeps one identity and the same confident joints in every
    frame, with the detector every 5 frames (the live tab's setting) and with it on the first
    frame only: boxes propagated from the joints do not shrink."""
    frame = webcam_clip(mpii_person(PERSON), 4)[0][0]
    for detect_every in (5, 1000):
        settings = TrackerSettings(detect_every=detect_every)
        tracker = VideoTracker(estimator, settings, fps=30, use_flow=motion == "flow")
        results = [tracker.update(frame) for _ in range(60)]
        shown = [int(r.people[0].visible(0.2).sum()) if r.people else 0 for r in results]
        assert all(r.track_ids == (1,) for r in results), [r.track_ids for r in results]
        assert min(shown) >= shown[0] - 1 and shown[0] >= 12, shown
        sources = [r.people[0].box_source for r in results]
        assert sources[0] == "detector" and set(sources[1:]) <= {"detector", "previous"}
        assert all(r.detected == (r.frame % detect_every == 0) for r in results)
        areas = [np.prod(np.subtract(r.people[0].box[2:], r.people[0].box[:2])) for r in results[1:]]
        assert min(areas) >= 0.8 * max(areas), (min(areas), max(areas))  # it wobbles (unsure joints count), never shrinks away


# ---- following a small, moving person ---------------------------------------------------------


@pytest.fixture(scope="module")
def moving(shared):
    """The person shrinks from 1.0x to 0.3x while moving 500 px right and 250 px down."""
    person = mpii_person("060754485.jpg")
    return person, moving_clip(person, 60, (1280, 720))


def clip_pckh(results, frames, person, sl):
    hits = [pckh_hits(r.people[0].keypoints, gt, person.visible, hs) for r, (_, gt, hs) in zip(results[sl], frames[sl])]
    return pckh(np.concatenate(hits), np.tile(person.visible, len(hits)))


def test_propagated_boxes_follow_a_small_moving_person(estimator, moving):
    """Detector on the first frame only: from then on every box is the flow-moved joints' box,
    and the person, 210 px tall by the end of a 720p clip, is still found (PCKh)."""
    person, frames = moving
    tracker = VideoTracker(estimator, TrackerSettings(detect_every=1000, smooth=False), fps=30)
    results = [tracker.update(f) for f, _, _ in frames]
    assert [r.people[0].box_source for r in results] == ["detector"] + ["previous"] * (len(frames) - 1)
    assert {r.track_ids for r in results} == {(1,)}
    assert clip_pckh(results, frames, person, slice(50, 60)) >= 0.85
    whole = [estimator.estimate(f) for f, _, _ in frames[50:]]
    hits = [pckh_hits(r.keypoints, gt, person.visible, hs) for r, (_, gt, hs) in zip(whole, frames[50:])]
    assert pckh(np.concatenate(hits), np.tile(person.visible, 10)) <= 0.2  # the whole frame, for comparison


def test_smoothing_reduces_jitter_without_lagging(estimator, moving):
    person, frames = moving
    jitter, lag = {}, {}
    for smooth in (False, True):
        tracker = VideoTracker(estimator, TrackerSettings(smooth=smooth), fps=30)
        err = np.array([tracker.update(f).people[0].keypoints - gt for f, gt, _ in frames])[:, person.visible]
        jitter[smooth] = np.linalg.norm(np.diff(err, axis=0), axis=2).mean()  # px per frame, true motion removed
        lag[smooth] = np.linalg.norm(err, axis=2).mean()  # px from the moving ground truth
    assert jitter[True] <= 0.7 * jitter[False], jitter
    assert lag[True] <= lag[False] + 3.0, lag  # joints move 4-9 px per frame here


def test_state_is_small_arrays_and_no_frames(coco_estimator, crossing):
    state = None
    for i, (frame, _) in enumerate(crossing[:5]):
        _, state = track_frame(coco_estimator, frame, state, i / FPS)
    assert len(state.tracks) == 2
    assert len(pickle.dumps(state)) < 2 * 1500
    assert all(not (isinstance(v, np.ndarray) and v.ndim >= 2 and v.size > 100) for tr in state.tracks for v in vars(tr).values())


# ---- the pieces, on known inputs --------------------------------------------------------------


def test_keypoint_box_is_the_joints_box_extended_by_15_percent():
    pts = np.tile([[500.0, 400.0]], (16, 1))
    pts[0], pts[1] = [400, 200], [600, 600]  # joints' box 200 x 400
    scores = np.full(16, 0.5)
    assert keypoint_box(pts, scores, (1000, 800)) == pytest.approx((385.0, 170.0, 615.0, 630.0))
    pts[2] = [10, 10]  # an unsure joint far away: counted with min_score 0, not with 0.2
    scores[2] = 0.1
    assert keypoint_box(pts, scores, (1000, 800)) == pytest.approx((0.0, 0.0, 644.25, 644.25))  # 10 - 44.25 clipped to 0
    assert keypoint_box(pts, scores, (1000, 800), min_score=0.2) == pytest.approx((385.0, 170.0, 615.0, 630.0))
    pts[1] = [995, 795]  # near the border: clipped to the image
    assert keypoint_box(pts, scores, (1000, 800), min_score=0.2)[2:] == (1000.0, 800.0)
    assert keypoint_box(pts, np.where(np.arange(16) < 1, 0.5, 0.0), (1000, 800), min_score=0.2) is None  # one joint


def test_box_iou_on_known_boxes():
    a = np.array([[0, 0, 10, 10]])
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]])
    assert box_iou(a, b)[0] == pytest.approx([1.0, 50 / 150, 0.0])


def test_greedy_matching_takes_the_most_similar_pair_first():
    """Greedy, as in the paper, not the best total: (0, 0) at 0.9 goes first, so track 1 gets
    person 1 (0.1) although (0, 1) + (1, 0) would sum higher; pairs below the minimum never match."""
    sim = np.array([[0.9, 0.8], [0.85, 0.1]])
    assert greedy_match(sim, 0.05) == [(0, 0), (1, 1)]
    assert greedy_match(sim, 0.2) == [(0, 0)]
    assert greedy_match(np.zeros((0, 3)), 0.2) == []


def test_pose_similarity_is_oks_over_the_joints_both_poses_are_sure_of():
    sigmas = np.array(COCO.oks_sigmas)
    a = np.random.default_rng(0).uniform(0, 100, (1, 17, 2))
    sure = np.ones((1, 17))
    assert pose_similarity(a, sure, [1e4], a, sure, [1e4], sigmas)[0, 0] == pytest.approx(1.0)
    b = a + [3.0, 4.0]  # every joint 5 px away
    expected = np.exp(-25 / (2 * 1e4 * (2 * sigmas) ** 2)).mean()
    assert pose_similarity(a, sure, [1e4], b, sure, [1e4], sigmas)[0, 0] == pytest.approx(expected)
    half = (np.arange(17) < 8)[None].astype(float)  # b is sure of joints 0-7 only: only those count
    expected = np.exp(-25 / (2 * 1e4 * (2 * sigmas[:8]) ** 2)).mean()
    assert pose_similarity(a, sure, [1e4], b, half, [1e4], sigmas)[0, 0] == pytest.approx(expected)
    assert pose_similarity(a, sure, [1e4], b, np.zeros((1, 17)), [1e4], sigmas)[0, 0] == 0.0


def test_lucas_kanade_moves_joints_with_a_real_picture(shared):
    """A real photo shifted by (7.5, -4.25) px: joints on texture move by that; a joint lost
    off the picture moves with the rest of its person."""
    photo = cv2.cvtColor(cv2.imread(str(mpii_person("060754485.jpg").image)), cv2.COLOR_BGR2GRAY)
    shifted = cv2.warpAffine(photo, np.float32([[1, 0, 7.5], [0, 1, -4.25]]), photo.shape[::-1])
    joints = mpii_person("060754485.jpg").joints[mpii_person("060754485.jpg").visible]
    points = np.vstack([joints, [[-500.0, -500.0]]])  # the last point is off the picture: lost
    moved = lucas_kanade(photo, shifted, points, np.zeros(len(points), int))
    motion = moved - points
    assert np.median(np.abs(motion[:-1] - [7.5, -4.25]), axis=0).max() < 0.1
    assert motion[-1] == pytest.approx(np.median(motion[:-1], axis=0))


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
