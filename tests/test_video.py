"""Video files through the real pipeline: an MP4 clip made from a shared MPII photo moving
with a known transform in, an H.264 MP4 and per-frame keypoints out."""

from __future__ import annotations

import csv
import subprocess

import cv2
import numpy as np
import pytest

from pose.metrics import pckh, pckh_hits
from pose.video import VideoError, annotate_video
from tests.shared_data import moving_clip, mpii_person

FPS = 15


@pytest.fixture(scope="module")
def clip_file(shared, tmp_path_factory):
    person = mpii_person("060754485.jpg")
    frames = moving_clip(person, frames=30, end_scale=0.5, end_shift=(300.0, 150.0))
    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (1280, 720))
    for frame, _, _ in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return person, frames, path


def codec_of(path) -> str:
    import imageio_ffmpeg

    probe = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True)
    return next(line for line in probe.stderr.splitlines() if "Video:" in line)


def test_annotated_video_is_h264_with_the_person_tracked(estimator, clip_file, tmp_path):
    person, frames, path = clip_file
    seen = []
    result = annotate_video(estimator, path, tmp_path / "out.mp4", box=person.box, progress=seen.append)
    assert "h264" in codec_of(result.path) and "yuv420p" in codec_of(result.path)
    cap = cv2.VideoCapture(str(result.path))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == len(frames) and cap.get(cv2.CAP_PROP_FPS) == pytest.approx(FPS)
    cap.release()
    assert not result.cut and result.fps == pytest.approx(FPS) and seen[-1] == pytest.approx(1.0)
    assert [f["box_source"] for f in result.frames] == ["user"] + ["previous"] * (len(frames) - 1)
    hits = [pckh_hits(np.array([[j["x"], j["y"]] for j in f["joints"]]), gt, person.visible, hs)
            for f, (_, gt, hs) in zip(result.frames, frames)]
    assert pckh(np.concatenate(hits), np.tile(person.visible, len(hits))) >= 0.85
    rows = list(csv.reader(result.to_csv().splitlines()))
    assert rows[0] == ["frame", "time", "joint", "x", "y", "confidence"] and len(rows) == 1 + 16 * len(frames)


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
    """``/video`` with gradio_client on a short clip: (annotated video, keypoints JSON file)."""
    import json
    from pathlib import Path

    from gradio_client import handle_file

    person, frames, path = clip_file
    video, keypoints_file = client.predict(handle_file(str(path)), False, ",".join(map(str, person.box)), api_name="/video")
    video = video["video"] if isinstance(video, dict) else video
    assert "h264" in codec_of(video)
    data = json.loads(Path(keypoints_file).read_text())
    assert data["cut"] is False and len(data["frames"]) == len(frames)
    assert [j["name"] for j in data["frames"][0]["joints"]][:2] == ["r_ankle", "r_knee"]
    with pytest.raises(Exception, match="not a video we can read|no frames"):
        bad = Path(path).with_name("bad.mp4")
        bad.write_bytes(b"not a video")
        client.predict(handle_file(str(bad)), False, "", api_name="/video")
