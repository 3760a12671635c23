"""The real app: ``python app.py`` in a subprocess on a free loopback port, called with
``gradio_client`` exactly as API users do; plus the UI handlers in-process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image
import pytest

from tests.shared_data import REPO, mpii_people, mpii_person


def single_person():
    return mpii_person("060754485.jpg")


def box_text(person) -> str:
    return ",".join(f"{v:.1f}" for v in person.box)


def assert_near_ground_truth(joints: list[dict], person) -> None:
    pred = np.array([[j["x"], j["y"]] for j in joints])
    err = np.linalg.norm(pred - person.joints, axis=1)
    ok = (err <= 0.5 * person.head_size)[person.visible]
    assert ok.mean() >= 0.9, f"{ok.sum()}/{ok.size} joints within PCKh@0.5; errors {np.round(err)}"


def test_predict_endpoint(client):
    from gradio_client import handle_file

    person = single_person()
    overlay, gallery, table, keypoints = client.predict(
        handle_file(str(person.image)), 0.2, False, box_text(person), api_name="/predict"
    )
    assert Path(overlay).is_file()
    from PIL import Image

    assert Image.open(overlay).size == (1280, 720)
    from pose.joints import MPII

    assert len(gallery) == 16
    assert [g["caption"].split()[0] for g in gallery] == list(MPII.joints)
    assert all(Path(g["image"]).is_file() for g in gallery)
    assert table["headers"] == ["person", "joint", "x", "y", "confidence"]
    assert len(table["data"]) == 16
    assert keypoints["image"] == {"width": 1280, "height": 720}
    assert keypoints["skeleton"] == "mpii" and keypoints["detector"] is None  # the box was given
    (only,) = keypoints["people"]
    assert only["id"] == 1 and only["box_source"] == "user" and only["box_score"] == 1.0
    assert [j["name"] for j in only["joints"]] == list(MPII.joints)
    assert_near_ground_truth(only["joints"], person)
    assert [row[2:4] for row in table["data"]] == [[j["x"], j["y"]] for j in only["joints"]]
    assert {row[0] for row in table["data"]} == {1}


def test_keypoints_endpoint_with_flip_and_box(client):
    from gradio_client import handle_file

    person = mpii_people()[0]  # two people in the photo: the box selects one
    result = client.predict(handle_file(str(person.image)), True, box_text(person), api_name="/keypoints")
    assert set(result) == {"model", "skeleton", "detector", "image", "flip", "people"}
    (only,) = result["people"]
    assert result["flip"] is True and only["box_source"] == "user"
    assert only["box"] == pytest.approx(list(person.box), abs=0.05)
    assert len(only["joints"]) == 16
    assert_near_ground_truth(only["joints"], person)


def test_bad_upload_gives_a_plain_error_and_the_server_goes_on(client, tmp_path):
    from gradio_client import handle_file

    fake = tmp_path / "holiday.jpg"
    fake.write_text("this is not a photo")
    with pytest.raises(Exception, match="not an image we can read"):
        client.predict(handle_file(str(fake)), 0.2, False, api_name="/predict")
    with pytest.raises(Exception, match="x2 must be greater than x1"):
        client.predict(handle_file(str(single_person().image)), False, "300,10,100,200", api_name="/keypoints")
    person = single_person()
    result = client.predict(handle_file(str(person.image)), False, box_text(person), api_name="/keypoints")
    assert_near_ground_truth(result["people"][0]["joints"], person)


def test_importing_app_loads_no_model_and_starts_no_server():
    code = (
        "import gc, onnxruntime, app, threading;"
        "assert not [o for o in gc.get_objects() if isinstance(o, onnxruntime.InferenceSession)];"
        "assert threading.active_count() == 1, threading.enumerate();"
        "print('ok')"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSE_MODEL")}
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


@pytest.mark.parametrize("name, value", [
    ("POSE_CONCURRENCY_LIMIT", "two"), ("POSE_QUEUE_MAX_SIZE", "0"), ("POSE_LIVE_SESSIONS", "-1"), ("POSE_LIVE_TURN_S", "1.5"),
])
def test_bad_server_setting_stops_start_up_with_a_message(name, value, tmp_path):
    """Checked before any model is looked for: the folder given here does not even exist."""
    env = {**os.environ, "POSE_MODEL_PATH": str(tmp_path / "no-model"), name: value}
    out = subprocess.run([sys.executable, "app.py"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode != 0
    assert f"error: {name} must be a whole number of at least 1, not {value!r}" in out.stderr, out.stderr
    assert "Traceback" not in out.stderr


class CountingEstimator:
    """The real estimator, counting inference calls."""

    def __init__(self, inner):
        self.inner, self.calls = inner, 0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def estimate_people(self, *args, **kwargs):
        self.calls += 1
        return self.inner.estimate_people(*args, **kwargs)


def test_threshold_redraws_from_state_without_inference(estimator):
    import app

    counting = CountingEstimator(estimator)
    ui = app.App(counting)
    overlay, gallery, table, keypoints, shown = ui.predict(str(single_person().image), 0.0, False, box_text(single_person()))
    assert counting.calls == 1
    everything = ui.redraw(shown, 0.0)
    nothing = ui.redraw(shown, 1.0)
    assert counting.calls == 1
    assert everything == overlay  # the same picture: files are named by their content
    plain = np.asarray(Image.open(nothing).convert("RGB"), dtype=float)
    assert np.abs(plain - shown.image).mean() < 2  # no joint reaches 1.0: the photo (after JPEG)
    assert np.abs(np.asarray(Image.open(everything).convert("RGB"), dtype=float) - plain).max() > 100
    assert len(gallery) == 16 and all(Path(p).is_file() for p, _ in gallery)


def test_downloads_are_json_and_csv_of_the_result(estimator):
    import csv

    import app

    ui = app.App(estimator)
    *_, keypoints, shown = ui.predict(str(single_person().image), 0.2, False, "")
    json_path, csv_path = ui.downloads(shown)
    assert json.loads(Path(json_path).read_text()) == keypoints
    rows = list(csv.reader(Path(csv_path).read_text().splitlines()))
    assert rows[0] == ["person", "joint", "x", "y", "confidence"]
    joints = [(p["id"], j) for p in keypoints["people"] for j in p["joints"]]
    assert [(int(r[0]), r[1]) for r in rows[1:]] == [(i, j["name"]) for i, j in joints]
    assert [float(r[2]) for r in rows[1:]] == [j["x"] for _, j in joints]


@pytest.mark.parametrize("threshold, message", [("high", "must be a number"), (1.5, "between 0 and 1"), (-0.1, "between 0 and 1")])
def test_threshold_is_validated(estimator, threshold, message):
    import gradio as gr

    import app

    with pytest.raises(gr.Error, match=message):
        app.App(estimator).predict(str(single_person().image), threshold, False, "")


def test_readme_api_example_runs(server, capsys):
    """The gradio_client example in README.md, run as written against the real server."""
    readme = (REPO / "README.md").read_text()
    block = readme.split("<!-- api-example -->", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    assert 'Client("http://127.0.0.1:7860/")' in block
    code = block.replace("http://127.0.0.1:7860/", server[0])
    cwd = os.getcwd()
    os.chdir(REPO)  # the example names a photo in examples/ relative to the checkout
    try:
        namespace: dict = {}
        exec(compile(code, "README.md api-example", "exec"), namespace)
    finally:
        os.chdir(cwd)
    printed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("person ")]
    people = namespace["result"]["people"]
    assert len(people) >= 3 and len(printed) == len(people)  # a group photo: one line per person
    assert printed[0].startswith("person 1: score ")
    assert namespace["keypoints"]["flip"] is True and len(namespace["keypoints"]["people"]) == len(people)
    assert len(namespace["gallery"]) == len(people[0]["joints"])  # the heatmaps of person 1


def test_choosing_a_person_redraws_from_state_without_inference(coco_estimator):
    """The group example: the gallery shows person 1; picking person 3 in the list, or clicking
    on them in the overlay, shows theirs (and highlights their box), with no new inference."""
    import gradio as gr

    import app

    counting = CountingEstimator(coco_estimator)
    ui = app.App(counting)
    photo = REPO / "examples" / "06_walking_street_000000252219.jpg"
    overlay, gallery, table, keypoints, shown = ui.predict(str(photo), 0.2, False, "")
    assert counting.calls == 1 and len(keypoints["people"]) >= 3 and shown.person == 0
    assert sorted({row[0] for row in table}) == list(range(1, len(keypoints["people"]) + 1))
    update, status = ui.people_list(shown, 0.2)
    assert [c[0].split(" · ")[0] for c in update["choices"]][:3] == ["Person 1", "Person 2", "Person 3"]
    assert "3 drawn at this confidence threshold" in status  # the walkers; weak boxes are only listed

    third_overlay, third_gallery, third = ui.choose(shown, 2, 0.2)
    assert third.person == 2 and third_overlay != overlay
    assert [Path(p).read_bytes() for p, _ in third_gallery] != [Path(p).read_bytes() for p, _ in gallery]
    x1, y1, x2, y2 = keypoints["people"][2]["box"]
    f = shown.image.shape[1] / keypoints["image"]["width"]
    click = gr.SelectData(None, {"index": [(x1 + x2) / 2 * f, (y1 + y2) / 2 * f], "value": None})
    person, clicked_overlay, clicked_gallery, clicked = ui.click(shown, 0.2, click)
    assert person == 2 and clicked.person == 2 and clicked_overlay == third_overlay
    assert counting.calls == 1
