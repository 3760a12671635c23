"""Gradio UI of the Simple Baselines pose demo: layout, events and examples only.

All model work lives in the ``pose`` package. Importing this module loads no model and
starts no server; ``python app.py`` loads the model once, then serves.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
import uuid
import weakref
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np
from gradio.data_classes import ImageData

from pose.cli import add_model_arguments, estimator_from_args
from pose.draw import draw_people, encode_jpeg, fit_for_display, heatmap_tiles, person_at
from pose.errors import PoseError
from pose.estimator import PoseEstimator, parse_boxes
from pose.image_io import MAX_FILE_BYTES, LoadedImage
from pose.live import LIVE_DETECT_EVERY, LIVE_MAX_GAP_S, LiveState, live_frame
from pose.result import TABLE_HEADERS, PeopleResult
from pose.video import MAX_SECONDS, VideoResult, annotate_video

log = logging.getLogger("app")

HERE = Path(__file__).parent
EXAMPLES = sorted(str(p) for p in (HERE / "examples").glob("*.jpg"))
DEFAULT_THRESHOLD = 0.2
THRESHOLD_LABEL = "Confidence threshold"
EXPORT_MAX_AGE_S = 3600  # files we hand to Gradio (pictures, JSON, CSV) are pruned after an hour
LIVE_MIRRORED = True  # the webcam preview and the frames sent are mirrored, as people expect
LIVE_STREAM_EVERY_S = 0.05  # the browser offers a frame at most this often, and only when the last is done
LIVE_TURN_S = 120  # s of processing a live session gets before it queues again behind waiting ones
LIVE_SESSIONS = 2  # live sessions served at once; more wait in the queue
MAX_DETECT_EVERY = 10  # video tab: the detector runs at least every 10th frame
DETECT_EVERY_LABEL = "Find people every k-th frame"
VIDEO_API = (
    "Tracks everyone through a video (optional first-frame box x1,y1,x2,y2: follow that person only). Returns "
    "the annotated H.264 MP4 and a JSON file: {model, skeleton, detector, detect_every, followed, fps, cut, frames: "
    "[{frame, time (s), people: [{track_id, box [x1,y1,x2,y2] px, box_source (detector|previous|user|image), "
    "score, joints: [{name, x, y (px), score}]}]}]}. A track_id names the same person in every frame."
)

DESCRIPTION = """
# Simple Baselines for Human Pose Estimation
Upload a photo and this page draws the skeleton of every person in it, with each joint's heatmap
and position. A person detector (**{detector}**) finds the people, then the pose model
(**{model}**, {joints}) estimates each one's joints.
"""

PAPER = """
This is the top-down method of *Simple Baselines for Human Pose Estimation and Tracking* (Xiao,
Wu & Wei, ECCV 2018). Each person's box is padded by 25 %, widened to the network's aspect ratio
(never squashed) and warped to the network input; the network (a ResNet with three 4×4
deconvolutions) predicts one heatmap per joint; each joint is its heatmap's peak, moved a quarter
pixel toward the higher neighbour and mapped back to the photo. A person's score is the box score
times the mean confidence of their joints above 0.2; near-duplicate poses are dropped by OKS
non-maximum suppression, as in the paper's COCO evaluation.

The overlay draws left limbs orange, right limbs blue, the centre green, and numbers each person;
click a person (or pick one in the list) to see their heatmaps over the crop the network saw.
The table and JSON give x, y in photo pixels. Give boxes `x1,y1,x2,y2; x1,y1,x2,y2` to choose
the people yourself. The flip test also runs the mirrored crops and averages.
"""


FALLBACK_NOTICE = """
**Running the bundled {model}** ({joints}), not the Simple Baselines model from the Hugging
Face Hub: {reason}. The bundled model is a real, smaller top-down model that works the same way;
the README says how to run the Simple Baselines PoseResNet.
"""


@dataclass(frozen=True)
class Shown:
    """What the page keeps in ``gr.State``: enough to redraw without inference."""

    image: np.ndarray  # (H, W, 3) uint8 RGB, long side <= pose.draw.DISPLAY_MAX_SIDE
    result: PeopleResult
    person: int = 0  # index into result.people whose heatmaps are shown


def photo_input(**kwargs: Any) -> gr.Image:
    """A ``gr.Image`` that passes the upload to ``pose.image_io`` untouched.

    Gradio's own preprocessing opens every upload with Pillow, so a damaged file would fail
    inside Gradio with a message naming its temp path; ours says what was wrong in plain
    words. (Overridden on the instance: a subclass would make Gradio write a .pyi stub.)
    """
    component = gr.Image(type="filepath", **kwargs)

    def preprocess(payload: Any) -> str | bytes | None:
        if payload is None:
            return None
        if payload.url and payload.url.startswith("data:"):
            return base64.b64decode(payload.url.split(",", 1)[1])
        return payload.path

    component.preprocess = preprocess  # type: ignore[method-assign]
    return component


def inline_image_output(**kwargs: Any) -> gr.Image:
    """An output ``gr.Image`` that sends its picture inside the message as a JPEG data URL.

    The usual way writes every picture to Gradio's cache and the browser fetches it again;
    for a live stream that is a file per frame and an extra round trip. (Overridden on the
    instance: a subclass would make Gradio write a .pyi stub.)
    """
    component = gr.Image(interactive=False, **kwargs)

    def postprocess(value: np.ndarray | None) -> ImageData | None:
        if value is None:
            return None
        return ImageData(url="data:image/jpeg;base64," + base64.b64encode(encode_jpeg(value, quality=80)).decode("ascii"))

    component.postprocess = postprocess  # type: ignore[method-assign]
    return component


def number_slider(minimum: float, maximum: float, **kwargs: Any) -> gr.Slider:
    """A ``gr.Slider`` whose API input must be a number: Gradio's own check compares the raw
    value with the bounds and fails with an unreadable error on a string."""
    slider = gr.Slider(minimum, maximum, **kwargs)
    original = slider.preprocess
    what = kwargs.get("label", "This value")

    def preprocess(payload: Any) -> float:
        return original(checked_number(payload, minimum, maximum, what))

    slider.preprocess = preprocess  # type: ignore[method-assign]
    return slider


class App:
    """Event handlers around one loaded estimator."""

    def __init__(self, estimator: PoseEstimator, live_detect_every: int = LIVE_DETECT_EVERY) -> None:
        self.estimator = estimator
        self.live_detect_every = live_detect_every  # live tab: the detector runs on every k-th frame
        self._export_dir: Path | None = None
        self._last_prune = 0.0

    @property
    def export_dir(self) -> Path:
        """Folder of the files we hand to Gradio: made on first use, removed when the App goes."""
        if self._export_dir is None:
            self._export_dir = Path(tempfile.mkdtemp(prefix="pose-demo-exports-"))
            weakref.finalize(self, shutil.rmtree, self._export_dir, ignore_errors=True)
        return self._export_dir

    # -- events -------------------------------------------------------------------------
    def predict(self, image: Any, threshold: Any, flip: Any, boxes: Any = "") -> tuple:
        """(image, threshold, flip[, boxes]) -> overlay, gallery, table, keypoints JSON, state."""
        threshold = checked_number(threshold, 0.0, 1.0, THRESHOLD_LABEL)
        estimated = self._estimate(image, flip, boxes)
        if estimated is None:
            return None, [], [], None, None
        loaded, result = estimated
        shown = Shown(image=fit_for_display(loaded.pixels), result=result)
        return self._overlay(shown, threshold), self._gallery(shown), result.table(), result.to_dict(), shown

    def keypoints(self, image: Any, flip: Any, boxes: Any = "") -> dict | None:
        estimated = self._estimate(image, flip, boxes)
        return None if estimated is None else estimated[1].to_dict()

    def redraw(self, shown: Shown | None, threshold: Any) -> str | None:
        """Threshold changed: draw the kept result again, no inference."""
        if shown is None:
            return None
        return self._overlay(shown, checked_number(threshold, 0.0, 1.0, THRESHOLD_LABEL))

    def people_list(self, shown: Shown | None, threshold: Any) -> tuple:
        """After an estimate: the person list (``Person 2 · 0.87``, best first) and a status line."""
        if shown is None:
            return gr.update(choices=[], value=None), ""
        result = shown.result
        threshold = checked_number(threshold, 0.0, 1.0, THRESHOLD_LABEL)
        choices = [(f"Person {i} · {p.score:.2f}", i - 1) for i, p in enumerate(result.people, 1)]
        if result.nobody_found:
            status = f"The detector ({result.detector}) found nobody, so the whole photo was estimated as one person."
        elif result.detector is None:
            status = f"{len(result.people)} {'person' if len(result.people) == 1 else 'people'} in the boxes given."
        else:
            n, drawn = len(result.people), sum(p.score >= threshold for p in result.people)
            status = f"{n} {'person' if n == 1 else 'people'} found"
            status += "." if drawn == n else f", {drawn} drawn at this confidence threshold (the others are in the list and the table)."
            status += " Click a person to see their heatmaps."
        return gr.update(choices=choices, value=shown.person), status

    def choose(self, shown: Shown | None, person: Any, threshold: Any) -> tuple:
        """A person picked in the list: overlay (their box highlighted) and gallery, no inference."""
        if shown is None or not isinstance(person, int) or not 0 <= person < len(shown.result.people):
            return gr.skip(), gr.skip(), shown
        shown = replace(shown, person=person)
        return self._overlay(shown, checked_number(threshold, 0.0, 1.0, THRESHOLD_LABEL)), self._gallery(shown), shown

    def click(self, shown: Shown | None, threshold: Any, evt: gr.SelectData) -> tuple:
        """A click on the overlay: the person under it becomes the one shown, no inference."""
        if shown is None or not isinstance(evt.index, (list, tuple)) or len(evt.index) != 2:
            return gr.skip(), gr.skip(), gr.skip(), shown
        f = shown.result.image_size[0] / shown.image.shape[1]  # displayed px -> photo px
        person = person_at(shown.result, evt.index[0] * f, evt.index[1] * f)
        if person is None or person == shown.person:
            return gr.skip(), gr.skip(), gr.skip(), shown
        overlay, gallery, shown = self.choose(shown, person, threshold)
        return person, overlay, gallery, shown

    def video(self, video: Any, flip: Any, box: Any = "", progress: gr.Progress = gr.Progress()) -> tuple:
        """(video, flip[, first-frame box]) -> annotated H.264 MP4, keypoints JSON file, state."""
        return self.video_every(video, flip, box, 1, progress)

    def video_every(self, video: Any, flip: Any, box: Any, detect_every: Any, progress: gr.Progress = gr.Progress()) -> tuple:
        """The video tab: as ``video``, the detector running on every ``detect_every``-th frame."""
        if video is None:
            raise gr.Error("Please upload a video.")
        person_box = _options(flip, box)
        every = int(checked_number(detect_every, 1, MAX_DETECT_EVERY, DETECT_EVERY_LABEL))
        try:
            result = annotate_video(
                self.estimator, video, self._export_path("pose-video", ".mp4"), box=person_box, flip=flip,
                detect_every=every, progress=lambda fraction: progress(fraction, desc="Tracking poses"),
            )
        except PoseError as e:
            raise gr.Error(str(e)) from None
        except Exception:
            log.exception("unexpected error while processing a video")
            raise gr.Error("Something went wrong on our side while processing this video; it has been logged.") from None
        if result.cut:
            gr.Warning(f"This video is longer than {MAX_SECONDS:.0f} s: only its first {MAX_SECONDS:.0f} s were processed.")
        return str(result.path), self._text_file("pose-video", ".json", json.dumps(result.to_dict())), result

    def live(self, frame: Any, threshold: Any, smooth: Any, state: LiveState | None) -> tuple:
        """Newest webcam frame (+ session state) -> overlay, status line, state."""
        if frame is None:
            return None, "", state
        threshold = checked_number(threshold, 0.0, 1.0, THRESHOLD_LABEL)
        try:
            t0 = time.perf_counter()
            pixels = self.estimator.read(frame).pixels
            shown = live_frame(self.estimator, pixels, state, time.monotonic(), mirrored=LIVE_MIRRORED,
                               threshold=threshold, smooth=bool(smooth), detect_every=self.live_detect_every)
            tracked = shown.result
            log.debug("live frame %d: %dx%d, people [%s], %s, %.1f ms", tracked.frame + 1, pixels.shape[1], pixels.shape[0],
                      ",".join(map(str, tracked.track_ids)), "detector" if tracked.detected else "propagated",
                      (time.perf_counter() - t0) * 1e3)
        except PoseError as e:
            raise gr.Error(str(e)) from None
        except Exception:
            log.exception("unexpected error on a live frame")
            raise gr.Error("Something went wrong on our side with this webcam frame; it has been logged.") from None
        return shown.overlay, shown.status(threshold), shown.state

    def video_csv(self, result: VideoResult | None) -> str | None:
        if result is None:
            return None
        return self._text_file("pose-video", ".csv", result.to_csv())

    def _overlay(self, shown: Shown, threshold: float) -> str:
        highlight = shown.person if len(shown.result.people) > 1 else None
        return self._image_file(draw_people(shown.image, shown.result, threshold, highlight))

    def _gallery(self, shown: Shown) -> list[tuple[str, str]]:
        return [(self._image_file(tile), caption) for tile, caption in heatmap_tiles(shown.result.people[shown.person])]

    def downloads(self, shown: Shown | None) -> tuple[str | None, str | None]:
        if shown is None:
            return None, None
        return (
            self._text_file("keypoints", ".json", json.dumps(shown.result.to_dict(), indent=2)),
            self._text_file("keypoints", ".csv", shown.result.to_csv()),
        )

    # -- helpers ------------------------------------------------------------------------
    def _estimate(self, image: Any, flip: Any, boxes: Any) -> tuple[LoadedImage, PeopleResult] | None:
        if image is None:
            return None
        person_boxes = _boxes(flip, boxes)
        try:
            loaded = self.estimator.read_for(image, person_boxes)
            t0 = time.perf_counter()
            result = self.estimator.estimate_people(loaded, boxes=person_boxes, flip=flip)
            log.info("estimated %dx%d image in %.0f ms: %d people", *loaded.original_size, (time.perf_counter() - t0) * 1e3,
                     len(result.people))
        except PoseError as e:
            raise gr.Error(str(e)) from None
        except Exception:
            log.exception("unexpected error while estimating a pose")
            raise gr.Error("Something went wrong on our side while processing this image; it has been logged.") from None
        return loaded, result

    def _export_path(self, prefix: str, suffix: str) -> Path:
        """A new unique path in the export folder (pruned after EXPORT_MAX_AGE_S)."""
        self._prune_exports()
        return self.export_dir / f"{prefix}-{uuid.uuid4().hex[:8]}{suffix}"

    def _text_file(self, prefix: str, suffix: str, text: str) -> str:
        path = self._export_path(prefix, suffix)
        path.write_text(text, encoding="utf-8")
        return str(path)

    def _image_file(self, rgb: np.ndarray) -> str:
        """Write an output picture as a JPEG named by its content and return the path.

        Returning arrays would let Gradio encode them into a cache file named by content
        that it rewrites in place even when it exists, so two requests with the same picture
        break each other's download (seen under load). Here an existing file is never
        rewritten, and a new one appears atomically; Gradio copies files race-free.
        """
        data = encode_jpeg(rgb)
        path = self.export_dir / f"{hashlib.sha256(data).hexdigest()[:32]}.jpg"
        if not path.exists():
            staging = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
            staging.write_bytes(data)
            os.replace(staging, path)
        self._prune_exports()
        return str(path)

    def _prune_exports(self) -> None:
        """At most once a minute, delete exported files older than EXPORT_MAX_AGE_S."""
        now = time.time()
        if now - self._last_prune < 60:
            return
        self._last_prune = now
        for p in self.export_dir.iterdir():
            try:
                if p.stat().st_mtime < now - EXPORT_MAX_AGE_S:
                    p.unlink()
            except FileNotFoundError:
                pass


def _options(flip: Any, box: Any) -> tuple[float, float, float, float] | None:
    """Check the flip and box arguments of the video (API callers can send anything); return
    the first-frame box, or None. Raises gr.Error with a plain message."""
    boxes = _boxes(flip, box)
    if boxes is not None and len(boxes) > 1:
        raise gr.Error("A video takes one person box for the first frame, not several.")
    return boxes[0] if boxes else None


def _boxes(flip: Any, boxes: Any) -> list[tuple[float, float, float, float]] | None:
    """Check the flip and boxes arguments (API callers can send anything); return the person
    boxes, or None to find everyone. Raises gr.Error with a plain message."""
    if not isinstance(flip, bool):
        raise gr.Error(f"flip must be true or false, not {flip!r}.")
    if boxes is not None and not isinstance(boxes, str):
        raise gr.Error(f"The boxes must be text like 10,20,300,400; 400,20,600,380, not {boxes!r}.")
    try:
        return parse_boxes(boxes or "") or None
    except PoseError as e:
        raise gr.Error(str(e)) from None


def checked_number(value: Any, minimum: float, maximum: float, what: str) -> float:
    """``value`` as a float in [minimum, maximum], or gr.Error saying what is accepted."""
    try:
        number = float(value) if not isinstance(value, bool) else float("nan")
    except (TypeError, ValueError):
        number = float("nan")
    if number != number:  # not a number, or NaN
        raise gr.Error(f"{what} must be a number from {minimum:g} to {maximum:g}, not {value!r}.")
    if not minimum <= number <= maximum:
        raise gr.Error(f"{what} must be between {minimum:g} and {maximum:g}, not {number:g}.")
    return number


def pick_example(evt: gr.SelectData) -> str:
    """The example photo clicked in the examples gallery."""
    return EXAMPLES[evt.index]


def _example_caption(path: str) -> str:
    """``06_walking_street_000000252219.jpg`` -> ``walking street``."""
    words = Path(path).stem.split("_")[1:-1]
    return " ".join(w for w in words if w not in ("sport", "group"))


def _duration(seconds: int) -> str:
    return f"{seconds // 60} minutes" if seconds % 60 == 0 and seconds >= 120 else f"{seconds} s"


def _every(k: int) -> str:
    return "frame" if k == 1 else f"{k} frames"


def _env_int(name: str, default: int, minimum: int = 1) -> int:
    """Integer setting from the environment, or exit with a message saying what is accepted."""
    text = os.environ.get(name, str(default))
    try:
        value = int(text)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise SystemExit(f"error: {name} must be a whole number of at least {minimum}, not {text!r}")
    return value


def build_demo(app: App, live_sessions: int = LIVE_SESSIONS, live_turn_s: int = LIVE_TURN_S) -> gr.Blocks:
    # Gradio keeps a copy of every output file: every 10 minutes, drop those older than an hour.
    with gr.Blocks(title="Simple Baselines pose demo", delete_cache=(600, EXPORT_MAX_AGE_S)) as demo:
        est = app.estimator
        detector = est.detector.name if est.detector is not None else "none: give the boxes yourself"
        gr.Markdown(DESCRIPTION.format(detector=detector, model=est.name, joints=est.config.skeleton.title))
        if est.fallback_reason:
            gr.Markdown(FALLBACK_NOTICE.format(model=est.name, joints=est.config.skeleton.title, reason=est.fallback_reason),
                        elem_id="model-notice")
        with gr.Accordion("How it works: the paper's method", open=False):
            gr.Markdown(PAPER)
        with gr.Tab("Photo"):
            with gr.Row():
                with gr.Column(scale=1, min_width=280):
                    image = photo_input(label="Photo", sources=["upload", "webcam", "clipboard"], height=360, elem_id="photo")
                    threshold = number_slider(0.0, 1.0, value=DEFAULT_THRESHOLD, step=0.01, label=THRESHOLD_LABEL, elem_id="threshold",
                                              info="Joints, and people, scoring below it are not drawn")
                    flip = gr.Checkbox(value=False, label="Flip test (average with the mirrored image; 2x slower)", elem_id="flip")
                    box = gr.Textbox(value="", label="Person boxes (optional)", elem_id="boxes",
                                     placeholder="x1,y1,x2,y2; x1,y1,x2,y2 in pixels; empty = find everyone")
                    run = gr.Button("Estimate poses", variant="primary")
                    # A gallery, not gr.Examples: an example sets the photo as a plain value. gr.Examples sets it
                    # with a property update, which gives the session a fresh gr.Image without photo_input's
                    # preprocess, so a bad upload after an example would fail inside Gradio, unexplained.
                    examples = gr.Gallery(value=[(p, _example_caption(p)) for p in EXAMPLES], label="Examples (click one)",
                                          columns=3, height="auto", allow_preview=False, interactive=False, elem_id="examples")
                with gr.Column(scale=2, min_width=400):
                    status = gr.Markdown("", elem_id="status")
                    overlay = gr.Image(label="Skeleton overlay (click a person)", type="filepath", interactive=False, elem_id="overlay")
                    person = gr.Dropdown(choices=[], value=None, label="Heatmaps of", interactive=True, elem_id="person")
                    gallery = gr.Gallery(label="Joint heatmaps", columns=6, height="auto", object_fit="contain",
                                         allow_preview=True, elem_id="gallery")
            with gr.Row():
                table = gr.Dataframe(headers=list(TABLE_HEADERS), label="Joints", interactive=False, elem_id="joints-table")
                with gr.Column():
                    keypoints_json = gr.JSON(label="Keypoints (JSON)")
                    with gr.Row():
                        json_file = gr.File(label="Download JSON", elem_id="download-json")
                        csv_file = gr.File(label="Download CSV")
            shown = gr.State(None)

            estimate = dict(fn=app.predict, inputs=[image, threshold, flip, box], outputs=[overlay, gallery, table, keypoints_json, shown],
                            trigger_mode="always_last")

            def then_show(event: Any) -> None:
                """After an estimate: the person list and status line, then the downloads."""
                event.then(app.people_list, inputs=[shown, threshold], outputs=[person, status], api_visibility="private",
                           show_progress="hidden").then(app.downloads, inputs=[shown], outputs=[json_file, csv_file],
                                                        api_visibility="private")

            # input (not change): change fires twice for one upload (two inferences, errors shown twice).
            then_show(gr.on(triggers=[run.click, image.input, flip.change], api_name="predict", **estimate))
            # An example sets the photo without an input event: estimate after it is set.
            then_show(examples.select(pick_example, outputs=[image], api_visibility="private", show_progress="hidden")
                      .then(api_visibility="private", **estimate))
            # change (not release): mouse, keyboard and the number box all redraw; always_last drops stale redraws.
            threshold.change(app.redraw, inputs=[shown, threshold], outputs=[overlay], api_visibility="private", trigger_mode="always_last"
                             ).then(app.people_list, inputs=[shown, threshold], outputs=[person, status], api_visibility="private",
                                    show_progress="hidden")  # the status line counts the people drawn
            # input (not change): only a person picked by hand; a click on the overlay sets the list itself.
            person.input(app.choose, inputs=[shown, person, threshold], outputs=[overlay, gallery, shown], api_visibility="private")
            overlay.select(app.click, inputs=[shown, threshold], outputs=[person, overlay, gallery, shown], api_visibility="private")

        with gr.Tab("Video"):
            gr.Markdown(
                f"Upload a video (up to {MAX_SECONDS:.0f} s; longer videos are cut). Everyone is tracked, as in the "
                "paper: the detector's boxes and boxes carried over from the frame before by optical flow, a pose in "
                "each, and each person matched to the one they were by pose similarity. Each person keeps a colour and "
                "a number; joints are smoothed over time. Give a box on the first frame to follow one person only."
            )
            with gr.Row():
                with gr.Column():
                    video_in = gr.Video(label="Video", sources=["upload"], elem_id="video-in")
                    video_flip = gr.Checkbox(value=False, label="Flip test (2x slower)")
                    video_box = gr.Textbox(value="", label="Follow one person: their box on the first frame (optional)",
                                           placeholder="x1,y1,x2,y2 in pixels")
                    video_every = number_slider(1, MAX_DETECT_EVERY, value=1, step=1, label=DETECT_EVERY_LABEL,
                                                info="1: the detector on every frame. Higher is faster; in between, "
                                                     "people are followed by optical flow and newcomers wait.")
                    video_run = gr.Button("Track poses", variant="primary")
                with gr.Column():
                    video_out = gr.Video(label="Annotated video", interactive=False, elem_id="video-out")
                    with gr.Row():
                        video_json = gr.File(label="Keypoints per frame (JSON)")
                        video_csv = gr.File(label="Keypoints per frame (CSV)")
            video_state = gr.State(None)
            video_run.click(
                app.video_every, inputs=[video_in, video_flip, video_box, video_every],
                outputs=[video_out, video_json, video_state], api_visibility="private", concurrency_id="video",
                concurrency_limit=1,
            ).then(app.video_csv, inputs=[video_state], outputs=[video_csv], api_visibility="private")

        with gr.Tab("Live webcam"):
            gr.Markdown(
                "Start the webcam and move: everyone in view is tracked, each with a colour and a number they keep. "
                f"The detector looks for people every {_every(app.live_detect_every)}; in between, each person's box follows "
                "their joints, which are smoothed over time. The picture is mirrored like the preview, but left and "
                "right are the real ones (left joints orange, right blue). When the model is slower than the camera, frames are "
                f"skipped, never queued, so the overlay stays current. Up to {live_sessions} people can stream at once; "
                f"when others are waiting, each gets turns of {_duration(live_turn_s)}. A pause of more than "
                f"{LIVE_MAX_GAP_S:.0f} s starts tracking afresh."
            )
            with gr.Row():
                with gr.Column():
                    live_in = photo_input(label="Webcam", sources=["webcam"], streaming=True,
                                          webcam_options=gr.WebcamOptions(mirror=LIVE_MIRRORED), elem_id="live-in")
                    live_threshold = number_slider(0.0, 1.0, value=DEFAULT_THRESHOLD, step=0.01, label=THRESHOLD_LABEL)
                    live_smooth = gr.Checkbox(value=True, label="Smooth joints over time (One Euro filter)")
                with gr.Column():
                    live_out = inline_image_output(label="Live overlay", elem_id="live-out")
                    live_status = gr.Textbox(label="Status", interactive=False, elem_id="live-status")
            live_state = gr.State(None)
            live_in.stream(
                app.live, inputs=[live_in, live_threshold, live_smooth, live_state], outputs=[live_out, live_status, live_state],
                # time_limit ends a turn: the stream then queues again, behind anyone waiting.
                stream_every=LIVE_STREAM_EVERY_S, time_limit=live_turn_s, concurrency_id="live",
                concurrency_limit=live_sessions, api_visibility="private", show_progress="hidden",
            )

        # API-only endpoint: keypoints JSON without pictures.
        api_button = gr.Button(visible=False)
        api_json = gr.JSON(label="Keypoints", visible=False)
        api_button.click(app.keypoints, inputs=[image, flip, box], outputs=[api_json], api_name="keypoints")
        # API-only /video (video, flip, box): the detector on every frame.
        video_api = gr.Button(visible=False)
        video_api.click(app.video, inputs=[video_in, video_flip, video_box], outputs=[video_out, video_json, video_state],
                        api_name="video", api_description=VIDEO_API, concurrency_id="video", concurrency_limit=1)
    return demo


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="Serve the pose demo (GRADIO_SERVER_NAME / GRADIO_SERVER_PORT apply). Queue: "
        "POSE_CONCURRENCY_LIMIT events run at once (default 1), POSE_QUEUE_MAX_SIZE may wait (default 64). "
        f"Live webcam: POSE_LIVE_SESSIONS stream at once (default {LIVE_SESSIONS}), in turns of POSE_LIVE_TURN_S "
        f"seconds of processing when others wait (default {LIVE_TURN_S}), the detector on every POSE_LIVE_DETECT_EVERY-th "
        f"frame (default {LIVE_DETECT_EVERY}). POSE_LOG_LEVEL=DEBUG logs every live frame."
    )
    add_model_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    level = os.environ.get("POSE_LOG_LEVEL", "INFO").upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise SystemExit(f"error: POSE_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, not {level!r}")
    for name in ("app", "pose"):  # ours only: DEBUG adds a line per live webcam frame
        logging.getLogger(name).setLevel(level)
    concurrency, max_size = _env_int("POSE_CONCURRENCY_LIMIT", 1), _env_int("POSE_QUEUE_MAX_SIZE", 64)
    live_sessions, live_turn_s = _env_int("POSE_LIVE_SESSIONS", LIVE_SESSIONS), _env_int("POSE_LIVE_TURN_S", LIVE_TURN_S)
    live_detect_every = _env_int("POSE_LIVE_DETECT_EVERY", LIVE_DETECT_EVERY)
    try:
        estimator = estimator_from_args(args)
    except PoseError as e:
        raise SystemExit(f"error: {e}") from None
    demo = build_demo(App(estimator, live_detect_every), live_sessions=live_sessions, live_turn_s=live_turn_s)
    demo.queue(default_concurrency_limit=concurrency, max_size=max_size)
    demo.launch(max_file_size=MAX_FILE_BYTES, show_error=False)


if __name__ == "__main__":
    main()
