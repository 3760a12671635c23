"""The live webcam path without a browser: real frames, the real model, the app's handler.

Frames come from a shared MPII photo framed like a webcam shows someone (the person sways
and scales, so the truth is known in every frame), mirrored the way Gradio sends webcam
frames. The browser end of the stream is in ``test_browser.py``.
"""

from __future__ import annotations

import base64
import pickle

import cv2
import gradio as gr
import numpy as np
import pytest

from app import App, inline_image_output
from pose.draw import SIDE_COLORS, encode_jpeg
from pose.joints import MPII, Side
from pose.live import LIVE_MAX_GAP_S, live_frame
from pose.metrics import pckh, pckh_hits
from tests.live_camera import PERSON
from tests.shared_data import mpii_person, webcam_clip

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
        hits.append(pckh_hits(shown.result.keypoints, truth, person.visible, head))
    assert [state.track.frames, shown.result.box_source] == [FRAMES, "previous"]
    assert pckh(np.concatenate(hits), np.tile(person.visible, FRAMES)) >= 0.85
    # His raised arm is his right: found there, in real-frame pixels, not swapped with the left.
    assert np.linalg.norm(shown.result.keypoints[R_WRIST] - truth[R_WRIST]) < 0.5 * head

    # Without un-mirroring, the model sees a left-handed mirror image: the sides swap.
    state, swapped = None, []
    for i, (frame, truth, head) in enumerate(frames):
        shown = live_frame(estimator, mirror(frame), state, i / 30, mirrored=False)
        state = shown.state
        real = shown.result.keypoints * [-1, 1] + [SIZE[0] - 1, 0]
        swapped.append(pckh_hits(real, truth, person.visible, head))
    assert pckh(np.concatenate(swapped), np.tile(person.visible, FRAMES)) <= 0.5


def test_overlay_is_oriented_like_the_preview(estimator, clip):
    """The right wrist's blue dot is drawn where the right wrist is in the mirrored picture."""
    person, frames = clip
    frame, _, _ = frames[0]
    shown = live_frame(estimator, mirror(frame), None, 0.0, mirrored=True)
    assert shown.overlay.shape == frame.shape
    x, y = shown.result.keypoints[R_WRIST]
    mirrored_x = SIZE[0] - 1 - x
    dot = shown.overlay[round(y), round(mirrored_x)].astype(int)
    assert np.abs(dot - SIDE_COLORS[Side.RIGHT]).max() <= 30, dot
    unmirrored_spot = shown.overlay[round(y), round(x)].astype(int)
    assert np.abs(unmirrored_spot - SIDE_COLORS[Side.RIGHT]).max() > 30


def test_a_pause_starts_tracking_afresh(estimator, clip):
    _, frames = clip
    a = live_frame(estimator, mirror(frames[0][0]), None, 10.0, mirrored=True)
    b = live_frame(estimator, mirror(frames[1][0]), a.state, 10.1, mirrored=True)
    assert (b.result.box_source, b.state.track.frames) == ("previous", 2)
    assert b.fps == pytest.approx(10.0)
    c = live_frame(estimator, mirror(frames[2][0]), b.state, 10.1 + LIVE_MAX_GAP_S + 0.5, mirrored=True)
    assert (c.result.box_source, c.state.track.frames) == ("image", 1)


def test_session_state_is_small_and_holds_no_model(estimator, clip):
    """gr.State keeps one per browser session: it must not drag the model along."""
    _, frames = clip
    shown = live_frame(estimator, mirror(frames[0][0]), None, 0.0, mirrored=True)
    shown = live_frame(estimator, mirror(frames[1][0]), shown.state, 0.05, mirrored=True)
    assert len(pickle.dumps(shown.state)) < 2000


def test_app_handler_streams_jpeg_frames_to_an_inline_overlay(estimator, clip):
    """What the browser sends (JPEG bytes of a mirrored frame) in; overlay, status, state out."""
    _, frames = clip
    app, output = App(estimator), inline_image_output()
    state = None
    for frame, _, _ in frames[:5]:
        overlay, status, state = app.live(encode_jpeg(mirror(frame)), 0.2, True, state)
    assert overlay.shape == (SIZE[1], SIZE[0], 3)
    assert status.startswith("frame 5 · ") and "fps · box: from the previous frame · " in status, status
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
