"""The live webcam path without a browser: real frames, the real model, the app's handler.

Frames come from a shared MPII photo framed like a webcam shows someone (the person sways
and scales, so the truth is known in every frame), mirrored the way Gradio sends webcam
frames. The browser end of the stream is in ``test_browser.py``.
"""

from __future__ import annotations

import base64
import pickle
import re

import cv2
import gradio as gr
import numpy as np
import pytest

from app import App, inline_image_output
from pose.draw import SIDE_COLORS, encode_jpeg
from pose.joints import COCO, MPII, Side
from pose.live import LIVE_DETECT_EVERY, LIVE_MAX_GAP_S, live_frame
from pose.metrics import pckh, pckh_hits
from tests.live_camera import PERSON
from tests.shared_data import crossing_clip, mpii_person, webcam_clip
from tests.tracking_truth import assignments, found_fraction, identity_switches

FRAMES = 30
SIZE = (640, 480)

R_WRIST = MPII.index("r_wrist")


@pytest.fixture(scope="module")
def clip(shared):
    """(person, [(frame, truth, head size)]): a man raising his right arm, 640x480."""
    person = mpii_person(PERSON)
    return person, webcam_clip(person, FRAMES, SIZE)


def mirror(frame: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(frame[:, ::-1])


def test_mirrored_frames_give_the_real_left_and_right(estimator, clip):
    person, frames = clip
    state, hits = None, []
    for i, (frame, truth, head) in enumerate(frames):
        shown = live_frame(estimator, mirror(frame), state, i / 30, mirrored=True)
        state = shown.state
        hits.append(pckh_hits(shown.result.people[0].keypoints, truth, person.visible, head))
    assert state.tracker.frame == FRAMES and shown.result.track_ids == (1,)
    assert pckh(np.concatenate(hits), np.tile(person.visible, FRAMES)) >= 0.85
    # His raised arm is his right: found there, in real-frame pixels, not swapped with the left.
    assert np.linalg.norm(shown.result.people[0].keypoints[R_WRIST] - truth[R_WRIST]) < 0.5 * head

    # Without un-mirroring, the model sees a left-handed mirror image: the sides swap.
    state, swapped = None, []
    for i, (frame, truth, head) in enumerate(frames):
        shown = live_frame(estimator, mirror(frame), state, i / 30, mirrored=False)
        state = shown.state
        if not shown.result.people:  # the mirror image fooled it altogether
            swapped.append(np.zeros(len(truth), bool))
            continue
        real = shown.result.people[0].keypoints * [-1, 1] + [SIZE[0] - 1, 0]
        swapped.append(pckh_hits(real, truth, person.visible, head))
    assert pckh(np.concatenate(swapped), np.tile(person.visible, FRAMES)) <= 0.5


def test_overlay_is_oriented_like_the_preview(estimator, clip):
    """The right wrist's blue dot is drawn where the right wrist is in the mirrored picture."""
    person, frames = clip
    frame, _, _ = frames[0]
    shown = live_frame(estimator, mirror(frame), None, 0.0, mirrored=True)
    assert shown.overlay.shape == frame.shape
    x, y = shown.result.people[0].keypoints[R_WRIST]
    mirrored_x = SIZE[0] - 1 - x
    dot = shown.overlay[round(y), round(mirrored_x)].astype(int)
    assert np.abs(dot - SIDE_COLORS[Side.RIGHT]).max() <= 30, dot
    unmirrored_spot = shown.overlay[round(y), round(x)].astype(int)
    assert np.abs(unmirrored_spot - SIDE_COLORS[Side.RIGHT]).max() > 30


def test_a_pause_starts_tracking_afresh(estimator, clip):
    _, frames = clip
    a = live_frame(estimator, mirror(frames[0][0]), None, 10.0, mirrored=True)
    b = live_frame(estimator, mirror(frames[1][0]), a.state, 10.1, mirrored=True)
    assert (b.result.people[0].box_source, b.result.track_ids, b.state.tracker.frame) == ("previous", (1,), 2)
    assert b.fps == pytest.approx(10.0)
    c = live_frame(estimator, mirror(frames[2][0]), b.state, 10.1 + LIVE_MAX_GAP_S + 0.5, mirrored=True)
    assert (c.result.people[0].box_source, c.state.tracker.frame) == ("detector", 1)


def test_the_detector_runs_every_k_frames_and_boxes_follow_the_joints_in_between(estimator, clip):
    _, frames = clip
    state, detected, sources = None, [], []
    for i, (frame, _, _) in enumerate(frames[:12]):
        shown = live_frame(estimator, mirror(frame), state, i / 10, mirrored=True)
        state = shown.state
        detected.append(shown.result.detected)
        sources.append(shown.result.people[0].box_source)
    assert detected == [i % LIVE_DETECT_EVERY == 0 for i in range(12)]
    assert all(s == "previous" for s, d in zip(sources, detected) if not d)


def test_session_state_is_small_and_holds_no_model(estimator, clip):
    """gr.State keeps one per browser session: it must not drag the model or frames along."""
    _, frames = clip
    shown = live_frame(estimator, mirror(frames[0][0]), None, 0.0, mirrored=True)
    shown = live_frame(estimator, mirror(frames[1][0]), shown.state, 0.05, mirrored=True)
    assert len(shown.state.tracker.tracks) == 1
    assert len(pickle.dumps(shown.state)) < 2000


def test_two_people_crossing_keep_their_numbers_live(coco_estimator, shared):
    """The live tab's way (no frames kept: velocity between detections every k frames) at a
    webcam's pace of about 12 fps, 20 px of motion per frame: no identity switch."""
    crossing = crossing_clip(90)[::2]
    state, results = None, []
    for i, (frame, _) in enumerate(crossing):
        shown = live_frame(coco_estimator, mirror(frame), state, i / 12.5, mirrored=True)
        state, results = shown.state, results + [shown.result]
    per_frame = assignments(results, crossing, COCO.oks_sigmas)
    assert identity_switches(per_frame) == 0
    assert found_fraction(per_frame) >= 0.9
    assert "2 people: #1 " in shown.status(0.2) and ", #2 " in shown.status(0.2)


def test_app_handler_streams_jpeg_frames_to_an_inline_overlay(estimator, clip):
    """What the browser sends (JPEG bytes of a mirrored frame) in; overlay, status, state out."""
    _, frames = clip
    app, output = App(estimator), inline_image_output()
    state = None
    for frame, _, _ in frames[:5]:
        overlay, status, state = app.live(encode_jpeg(mirror(frame)), 0.2, True, state)
    assert overlay.shape == (SIZE[1], SIZE[0], 3)
    assert re.fullmatch(r"frame 5 · \d+\.\d fps · 1 person: #1 1\d/16 joints shown", status), status
    data = output.postprocess(overlay)
    assert data.path is None and data.url.startswith("data:image/jpeg;base64,")  # no file per frame
    sent = cv2.imdecode(np.frombuffer(base64.b64decode(data.url.split(",", 1)[1]), np.uint8), cv2.IMREAD_COLOR)
    assert sent.shape == overlay.shape
    assert np.abs(sent[:, :, ::-1].astype(int) - overlay).mean() < 4  # the same picture, JPEG-compressed
    assert app.live(None, 0.2, True, state) == (None, "", state)


def test_app_handler_refuses_a_broken_frame_with_a_message(estimator):
    with pytest.raises(gr.Error, match="not an image we can read") as e:
        App(estimator).live(b"this is not a jpeg", 0.2, True, None)
    assert "Traceback" not in str(e.value)
