"""Finding every person: the detector's steps pinned on hand-made inputs, batching, and
accuracy on the real shared COCO photos with the bundled models (YOLOX-Nano + PP-TinyPose)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from pose.detector import DetectorConfig, letterbox, nms, yolox_decode
from pose.errors import BoxError, ModelConfigError
from pose.evaluation import coco_ap_of
from pose.metrics import box_iou
from tests.shared_data import COCO_DIR, COCO_MULTI_DIR, REPO, coco_people

MIN_JOINTS = 5  # people with fewer labelled joints are mostly hidden or cut off


# ---- the detector's steps, on hand-made inputs ---------------------------------------------------


def test_yolox_decode_grid_strides_and_sizes():
    """Input 64x32 (w x h), strides 8 and 16: grids of 8x4 then 4x2 anchors, row-major."""
    raw = np.zeros((40, 7))  # 5 + 2 classes
    a = 32 + 1 * 4 + 2  # stride 16, cell (gx=2, gy=1)
    raw[a] = [0.5, 0.25, math.log(2), math.log(3), 0.8, 0.5, 0.9]
    b = 3 * 8 + 7  # stride 8, cell (gx=7, gy=3): the last of the first grid
    raw[b] = [0.0, 0.0, 0.0, 0.0, 1.0, 0.25, 0.0]
    boxes, scores = yolox_decode(raw, (64, 32), (8, 16))
    # centre ((0.5 + 2) * 16, (0.25 + 1) * 16) = (40, 20); size (2 * 16, 3 * 16) = (32, 48)
    np.testing.assert_allclose(boxes[a], [24, -4, 56, 44])
    np.testing.assert_allclose(scores[a], [0.4, 0.72])  # objectness x class score
    np.testing.assert_allclose(boxes[b], [56 - 4, 24 - 4, 56 + 4, 24 + 4])  # centre (7 * 8, 3 * 8), size exp(0) * 8
    np.testing.assert_allclose(scores[b], [0.25, 0.0])
    with pytest.raises(ValueError, match="has 39 anchors"):
        yolox_decode(raw[:39], (64, 32), (8, 16))


@pytest.mark.parametrize("place, offset", [("top-left", (0, 0)), ("centre", (0, 104))])
def test_letterbox_keeps_the_aspect_and_says_how_to_undo_it(place, offset):
    image = np.zeros((100, 200, 3), np.uint8)
    image[25, 50] = 255  # a dot at (50, 25)
    canvas, r, off = letterbox(image, (416, 416), 114, place)
    assert canvas.shape == (416, 416, 3) and r == pytest.approx(2.08)
    assert tuple(off) == offset
    assert (canvas[-1, -1] == 114).all() and (canvas[int(off[1]) + 10, 10] == 0).all()  # fill below, image at the offset
    y, x = np.unravel_index(np.argmax(canvas[..., 0] * (canvas[..., 0] != 114)), canvas.shape[:2])
    assert ((x - off[0]) / r, (y - off[1]) / r) == pytest.approx((50, 25), abs=1)  # back to image px


def test_nms_keeps_the_best_of_overlapping_boxes_and_drops_low_scores():
    boxes = np.array([[0, 0, 100, 100], [5, 5, 105, 105], [200, 200, 300, 300], [400, 0, 450, 50]], float)
    scores = np.array([0.6, 0.9, 0.5, 0.1])
    assert list(nms(boxes, scores, iou=0.45, min_score=0.3)) == [1, 2]  # 0 overlaps 1 (IoU 0.82); 3 is too weak
    assert list(nms(boxes, scores, iou=0.9, min_score=0.0)) == [1, 0, 2, 3]
    assert nms(np.zeros((0, 4)), np.zeros(0), 0.45, 0.3).size == 0


def test_detector_config_is_validated(tmp_path):
    from pose.detector import BUNDLED_DETECTOR, DETECTOR_CONFIG_FILENAME

    good = json.loads((BUNDLED_DETECTOR / DETECTOR_CONFIG_FILENAME).read_text())
    assert DetectorConfig.from_dict(good).anchors == 3549
    for edit, message in [
        (lambda d: d["input"].update(color="RGBA"), "input.color is 'RGBA'"),
        (lambda d: d["output"].update(strides=[8, 0]), "output.strides must be a list of positive whole numbers"),
        (lambda d: d["input"].update(width=420), "must be a multiple of every stride"),
        (lambda d: d.update(nms_iou=1.5), "nms_iou must be a number from 0 to 1"),
        (lambda d: d.update(format="ssd"), "format is 'ssd'; expected one of yolox"),
    ]:
        data = json.loads(json.dumps(good))
        edit(data)
        with pytest.raises(ModelConfigError, match="invalid model config") as info:
            DetectorConfig.from_dict(data, origin="det.json")
        assert message in str(info.value) and "det.json" in str(info.value)


# ---- the pipeline ----------------------------------------------------------------------------------


def test_caller_boxes_are_checked(coco_estimator):
    photo = REPO / "examples" / "06_walking_street_000000252219.jpg"
    with pytest.raises(BoxError, match="lies outside the 640x428 image"):
        coco_estimator.estimate_people(photo, boxes=[(10, 10, 100, 300), (700, 10, 800, 300)])
    with pytest.raises(BoxError, match="At most 20 person boxes"):
        coco_estimator.estimate_people(photo, boxes=[(10, 10, 100, 300)] * 21)
    two = coco_estimator.estimate_people(photo, boxes=[(320, 169, 397, 373), (2, 161, 131, 398)])
    assert [p.box_source for p in two.people] == ["user", "user"] and two.detector is None


def test_a_photo_with_nobody_is_estimated_whole_and_says_so(coco_estimator):
    sky = np.zeros((480, 640, 3), np.uint8)
    sky[:] = np.linspace(90, 200, 640, dtype=np.uint8)[None, :, None]  # a smooth gradient: nobody
    result = coco_estimator.estimate_people(sky)
    assert result.nobody_found and len(result.people) == 1
    assert result.people[0].box_source == "image" and result.people[0].box == (0.0, 0.0, 640.0, 480.0)
    assert result.to_dict()["people"][0]["box_source"] == "image"


def test_people_are_sorted_by_person_score_and_capped(coco_estimator):
    photo = REPO / "examples" / "04_sport_tennis_000000189775.jpg"  # a player and many spectators
    result = coco_estimator.estimate_people(photo)
    scores = [p.score for p in result.people]
    assert len(scores) >= 5 and scores == sorted(scores, reverse=True)
    for p in result.people:  # the paper's person score
        confident = p.scores[p.scores > 0.2]
        assert p.score == pytest.approx(p.box_score * confident.mean())
    capped = replace_max(coco_estimator, 3).estimate_people(photo)
    assert [p.box for p in capped.people] == [p.box for p in result.people[:3]]


def replace_max(estimator, n):
    from pose.estimator import PoseEstimator

    return PoseEstimator(estimator.model, estimator.detector, max_people=n)


def test_oks_nms_drops_a_duplicate_person(coco_estimator):
    """The same box given twice is one person after OKS non-maximum suppression."""
    photo = REPO / "examples" / "01_sport_skiing_000000000785.jpg"
    box = (280.8, 44.7, 499.5, 391.4)
    assert len(coco_estimator.estimate_people(photo, boxes=[box, box]).people) == 1
    assert len(coco_estimator.estimate_people(photo, boxes=[box, (0, 0, 200, 400)]).people) == 2


def test_a_batch_of_crops_gives_the_keypoints_of_single_runs(tmp_path):
    """A model that takes a batch (the exported PoseResNet does) runs all crops in one inference,
    and each person's keypoints equal those of running their crop alone."""
    pytest.importorskip("torch", reason="needs requirements-export.txt to export a batch model")
    from dataclasses import replace

    from pose.estimator import PoseEstimator
    from pose.export.cli import base_config
    from pose.export.onnx_export import export_onnx
    from pose.export.pose_resnet import PoseResNet
    from pose.hub import sha256_of
    from pose.joints import COCO
    from pose.model import PoseModel

    net = PoseResNet("resnet18", len(COCO)).eval()
    export_onnx(net, tmp_path / "model.onnx", COCO.input_size)
    config = replace(base_config("resnet18", COCO.input_size, COCO), onnx_sha256=sha256_of(tmp_path / "model.onnx"))
    model = PoseModel(config, tmp_path / "model.onnx", threads=2)
    calls = []
    run = model._run
    model._run = lambda session, x: calls.append(len(x)) or run(session, x)
    est = PoseEstimator(model, None)
    photo = REPO / "examples" / "06_walking_street_000000252219.jpg"
    boxes = [(2, 161, 131, 398), (320, 169, 397, 373), (502, 173, 633, 391)]
    for flip in (False, True):
        calls.clear()
        together = est.estimate_people(photo, boxes=boxes, flip=flip)
        assert calls == [6 if flip else 3]  # one inference for every crop (and its mirror)
        by_box = {p.box: p for p in together.people}
        for box in boxes:
            alone = est.estimate(photo, box=box, flip=flip)
            np.testing.assert_allclose(by_box[tuple(float(v) for v in box)].keypoints, alone.keypoints, atol=1e-3)


# ---- real pixels: recall and COCO keypoint AP -----------------------------------------------------


@pytest.fixture(scope="module")
def found(coco_estimator, shared):
    """image path -> PeopleResult, for every shared COCO photo."""
    images = sorted({p.image for p in coco_people()})
    return {image: coco_estimator.estimate_people(image) for image in images}


def test_person_recall_on_the_shared_coco_photos(found):
    """Ground-truth people with at least 5 labelled joints, matched by a returned box at IoU >= 0.5."""
    people = [p for p in coco_people() if p.labelled.sum() >= MIN_JOINTS]
    hits = [any(box_iou(p.box, q.box)[0, 0] >= 0.5 for q in found[p.image].people) for p in people]
    assert len(people) == 99
    assert np.mean(hits) >= 0.85, f"recall {np.mean(hits):.3f} ({sum(hits)}/{len(hits)})"


def test_coco_keypoint_ap_through_the_pipeline(found):
    """pycocotools' keypoint AP on both shared COCO sets, detector boxes, no flip."""
    by_name = {image.name: result for image, result in found.items()}
    ap = {folder.name: coco_ap_of(next(folder.glob("*.json")), by_name) for folder in (COCO_DIR, COCO_MULTI_DIR)}
    assert min(ap.values()) >= 0.50, ap
