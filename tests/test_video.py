"""Video files through the real pipeline: MP4 clips with the truth known in every frame in
(a shared MPII photo moving with a known transform; two COCO people crossing), an H.264 MP4
and per-frame keypoints with identities out."""

from __future__ import annotations

import csv
import subprocess

import cv2
import numpy as np
import pytest

from pose.joints import COCO
from pose.metrics import pckh, pckh_hits
from pose.video import VideoError, annotate_video
from tests.shared_data import crossing_clip, moving_clip, mpii_person
from tests.tracking_truth import JsonFrame, assignments, identity_switches

FPS = 15


def write_mp4(frames, path):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (frames[0].shape[1], frames[0].shape[0]))
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


@pytest.fixture(scope="module")
def clip_file(shared, tmp_path_factory):
    person = mpii_person("060754485.jpg")
    frames = moving_clip(person, frames=30, end_scale=0.5, end_shift=(300.0, 150.0))
    return person, frames, write_mp4([f for f, _, _ in frames], tmp_path_factory.mktemp("video") / "clip.mp4")


@pytest.fixture(scope="module")
def crossing_file(shared, tmp_path_factory):
    clip = crossing_clip(60)
    return clip, write_mp4([f for f, _ in clip], tmp_path_factory.mktemp("video") / "crossing.mp4")


def codec_of(path) -> str:
    import imageio_ffmpeg

    probe = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True)
    return next(line for line in probe.stderr.splitlines() if "Video:" in line)


def test_annotated_video_is_h264_with_everyone_tracked(coco_estimator, crossing_file, tmp_path):
    clip, path = crossing_file
    seen = []
    result = annotate_video(coco_estimator, path, tmp_path / "out.mp4", progress=seen.append)
    assert "h264" in codec_of(result.path) and "yuv420p" in codec_of(result.path)
    cap = cv2.VideoCapture(str(result.path))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == len(clip) and cap.get(cv2.CAP_PROP_FPS) == pytest.approx(FPS)
    ok, first = cap.read()
    cap.release()
    assert not result.cut and result.fps == pytest.approx(FPS) and seen[-1] == pytest.approx(1.0)

    # The JSON: one entry per frame, each person with a track id, box, source, score and 17 joints.
    data = result.to_dict()
    assert (data["skeleton"], data["detect_every"], data["followed"]) == ("coco", 1, False)
    assert data["detector"].startswith("YOLOX-Nano")
    assert [f["frame"] for f in data["frames"]] == list(range(len(clip)))
    assert data["frames"][1]["time"] == round(1 / FPS, 4)  # s
    person = data["frames"][0]["people"][0]
    assert list(person) == ["track_id", "box", "box_source", "score", "joints"] and len(person["joints"]) == 17
    assert {p["track_id"] for f in data["frames"] for p in f["people"]} == {1, 2}

    # The same identities as the truth, without a switch (MP4 compression and all).
    frames = [JsonFrame(f) for f in data["frames"]]
    assert identity_switches(assignments(frames, clip, COCO.oks_sigmas)) == 0

    # Each identity is drawn in its own colour: the first frame shows both tracks' colours.
    from pose.draw import track_color

    for track_id in (1, 2):
        near = np.abs(first[:, :, ::-1].astype(int) - track_color(track_id)).max(axis=2) < 40
        assert near.sum() > 200, track_id

    rows = list(csv.reader(result.to_csv().splitlines()))
    assert rows[0] == ["frame", "time", "track_id", "joint", "x", "y", "confidence"]
    assert len(rows) == 1 + 17 * sum(len(f["people"]) for f in data["frames"])
    assert {r[2] for r in rows[1:]} == {"1", "2"}


def test_a_first_frame_box_follows_one_person(estimator, clip_file, tmp_path):
    person, frames, path = clip_file
    result = annotate_video(estimator, path, tmp_path / "out.mp4", box=person.box, detect_every=5)
    assert result.followed and result.detect_every == 5
    assert all(len(f["people"]) == 1 and f["people"][0]["track_id"] == 1 for f in result.frames)
    sources = [f["people"][0]["box_source"] for f in result.frames]
    assert sources[0] == "user" and set(sources[1:]) <= {"detector", "previous"} and "previous" in sources
    hits = [pckh_hits(np.array([[j["x"], j["y"]] for j in f["people"][0]["joints"]]), gt, person.visible, hs)
            for f, (_, gt, hs) in zip(result.frames, frames)]
    assert pckh(np.concatenate(hits), np.tile(person.visible, len(hits))) >= 0.85


def test_long_video_is_cut_and_says_so(estimator, clip_file, tmp_path):
    _, _, path = clip_file
    result = annotate_video(estimator, path, tmp_path / "out.mp4", max_seconds=1.0)
    assert result.cut and len(result.frames) == FPS


@pytest.mark.parametrize("content", [b"", b"this is not a video", None], ids=["empty", "text", "truncated"])
def test_unreadable_video_gives_a_plain_error(estimator, clip_file, tmp_path, content):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(content if content is not None else clip_file[2].read_bytes()[:2000])
    with pytest.raises(VideoError, match="not a video we can read|no frames"):
        annotate_video(estimator, bad, tmp_path / "out.mp4")


def test_video_endpoint_through_the_api(client, clip_file):
    """``/video`` with gradio_client on a short clip: (annotated video, keypoints JSON file), its
    signature unchanged (video, flip, first-frame box) and its schema documented."""
    import json
    from pathlib import Path

    from gradio_client import handle_file

    person, frames, path = clip_file
    info = client.view_api(print_info=False, return_format="dict")["named_endpoints"]["/video"]
    assert [p["parameter_name"] for p in info["parameters"]] == ["video", "flip", "box"]
    video, keypoints_file = client.predict(handle_file(str(path)), False, ",".join(map(str, person.box)), api_name="/video")
    video = video["video"] if isinstance(video, dict) else video
    assert "h264" in codec_of(video)
    data = json.loads(Path(keypoints_file).read_text())
    assert data["cut"] is False and len(data["frames"]) == len(frames) and data["followed"] is True
    first = data["frames"][0]["people"][0]
    assert first["track_id"] == 1 and first["box_source"] == "user"
    assert [j["name"] for j in first["joints"]][:2] == ["r_ankle", "r_knee"]
    with pytest.raises(Exception, match="not a video we can read|no frames"):
        bad = Path(path).with_name("bad.mp4")
        bad.write_bytes(b"not a video")
        client.predict(handle_file(str(bad)), False, "", api_name="/video")


def test_video_tab_runs_the_detector_every_k_frames_and_refuses_a_bad_k(estimator, clip_file):
    import json
    from pathlib import Path

    import gradio as gr

    from app import App

    _, frames, path = clip_file
    app = App(estimator)
    _, keypoints_file, result = app.video_every(str(path), False, "", 3.0)
    data = json.loads(Path(keypoints_file).read_text())
    assert data["detect_every"] == 3 and len(data["frames"]) == len(frames) == len(result.frames)
    sources = [f["people"][0]["box_source"] for f in data["frames"]]
    assert all(s == "detector" for s in sources[::3]) and set(sources) - {"detector"} == {"previous"}
    for bad in ("many", 0, 11):
        with pytest.raises(gr.Error, match="Find people every k-th frame must be"):
            app.video_every(str(path), False, "", bad)
