"""``python -m pose``: several images, one model load, JSON and overlays out."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.shared_data import REPO, mpii_people


def run_cli(*args, env=None):
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("POSE_MODEL")}, "POSE_THREADS": "2", **(env or {})}
    return subprocess.run([sys.executable, "-m", "pose", *map(str, args)], cwd=REPO, env=env, capture_output=True, text=True, timeout=180)


def test_cli_json_overlays_and_a_bad_file(model_dir, tmp_path):
    people = mpii_people()[:2]
    bad = tmp_path / "notes.jpg"
    bad.write_text("not a photo")
    out = tmp_path / "out.json"
    box = ",".join(str(v) for v in people[0].box)
    proc = run_cli(people[0].image, bad, people[1].image, "--box", box, "--flip", "--json", out, "--overlay-dir", tmp_path / "ov", env={"POSE_MODEL_PATH": str(model_dir)})
    assert proc.returncode == 1, proc.stderr  # one file failed
    assert proc.stderr.count("loaded EfficientPose-I") == 1  # one model load for all images
    results = json.loads(out.read_text())
    assert [r["file"] for r in results] == [str(people[0].image), str(bad), str(people[1].image)]
    assert "not an image" in results[1]["error"]
    assert results[0]["flip"] is True and results[0]["detector"] is None  # the box was given
    (person,) = results[0]["people"]
    assert person["box_source"] == "user" and len(person["joints"]) == 16
    assert results[2]["detector"] is None and results[2]["people"][0]["box_source"] == "user"  # --box applies to every file
    assert sorted(p.name for p in (tmp_path / "ov").iterdir()) == sorted(f"{p.image.stem}_pose.jpg" for p in people)


def test_cli_finds_everyone_by_default(tmp_path):
    """No box: the bundled detector finds the three people of the street example."""
    photo = REPO / "examples" / "06_walking_street_000000252219.jpg"
    proc = run_cli(photo, "--model-path", REPO / "models" / "pp-tinypose-256x192-coco")
    assert proc.returncode == 0, proc.stderr
    (result,) = json.loads(proc.stdout)
    assert result["skeleton"] == "coco" and result["detector"].startswith("YOLOX-Nano")
    people = result["people"]
    assert {p["box_source"] for p in people} == {"detector"}
    assert [p["score"] >= 0.5 for p in people[:3]] == [True] * 3  # the three walkers, best first
    assert all(p["score"] < 0.2 for p in people[3:])  # any weak box after them (a cart, a coat)


def test_cli_model_flag_overrides_environment(model_dir, tmp_path):
    proc = run_cli(mpii_people()[0].image, "--model-path", model_dir, env={"POSE_MODEL_PATH": str(tmp_path / "nowhere")})
    assert proc.returncode == 0, proc.stderr
    assert len(json.loads(proc.stdout)[0]["people"][0]["joints"]) == 16


def test_cli_bad_box_is_refused_before_loading(tmp_path):
    proc = run_cli("x.jpg", "--box", "1,2,3", env={"POSE_MODEL_PATH": str(tmp_path)})
    assert proc.returncode == 2
    assert "x1,y1,x2,y2" in proc.stderr and "Traceback" not in proc.stderr
