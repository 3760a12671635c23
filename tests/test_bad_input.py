"""What the public sends a Space, through the real HTTP API of the running app.

Each input gets either a correct result or a plain-language error naming the problem,
and after the whole matrix the server still answers a normal request correctly.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from tests.shared_data import mpii_people
from tests.test_app import assert_near_ground_truth, box_text, single_person

GENERIC = "has raised an exception"  # Gradio's text when an error was not turned into a plain message


def photo() -> Image.Image:
    return Image.open(single_person().image).convert("RGB")


def png_claiming(path: Path, width: int, height: int) -> Path:
    """A tiny valid PNG whose header claims width x height (a decompression bomb)."""
    Image.new("L", (8, 8)).save(path)
    data = bytearray(path.read_bytes())
    ihdr = 8 + 8  # signature, then length + "IHDR"
    data[ihdr : ihdr + 8] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[ihdr - 4 : ihdr + 13])) & 0xFFFFFFFF
    data[ihdr + 13 : ihdr + 17] = struct.pack(">I", crc)
    path.write_bytes(bytes(data))
    return path


def make(case: str, tmp: Path) -> Path:
    """Build the file for one case from the real test photo."""
    p = tmp / case
    img = photo()
    if case == "text.jpg":
        p.write_text("Dear Sir or Madam, this is not a photo.")
    elif case == "empty.jpg":
        p.write_bytes(b"")
    elif case == "truncated.jpg":
        full = tmp / "full.jpg"
        img.save(full, quality=90)
        p.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    elif case == "one_pixel.png":
        Image.new("RGB", (1, 1), (200, 100, 50)).save(p)
    elif case == "sixteen_bit.png":
        grey = np.asarray(img.convert("L"), np.uint16) * 257
        Image.fromarray(grey).save(p)  # mode I;16
    elif case == "grey.jpg":
        img.convert("L").save(p, quality=90)
    elif case == "cmyk.jpg":
        img.convert("CMYK").save(p, quality=90)
    elif case == "rgba.png":
        rgba = img.convert("RGBA")
        rgba.putalpha(Image.new("L", img.size, 255))
        rgba.save(p)
    elif case == "animated.gif":
        frames = [img.convert("P", palette=Image.Palette.ADAPTIVE, colors=256), Image.new("RGB", img.size).convert("P")]
        frames[0].save(p, save_all=True, append_images=frames[1:], duration=200, loop=0)
    elif case == "exif6.jpg":
        # Pixels stored rotated; EXIF orientation 6 says: turn 90 degrees clockwise to view.
        exif = Image.Exif()
        exif[0x0112] = 6
        img.transpose(Image.Transpose.ROTATE_90).save(p, quality=92, exif=exif)
    elif case == "huge_12000x8000.jpg":
        canvas = Image.new("RGB", (12000, 8000))
        canvas.paste(img.resize((12000, 6750), Image.BILINEAR), (0, 0))
        canvas.save(p, quality=80)
    elif case == "bomb.png":
        png_claiming(p, 20000, 20000)
    elif case == "over_limit.png":
        png_claiming(p, 12000, 9000)
    else:
        raise ValueError(case)
    return p


PERSON_OK = "person"  # keypoints within PCKh of the ground truth, in the file's own pixels

# (file, threshold, flip, box, expected): expected is PERSON_OK, "ok" (16 joints), or an error regex.
CASES = [
    ("text.jpg", 0.2, False, None, r"not an image we can read.*JPEG, PNG"),
    ("empty.jpg", 0.2, False, None, r"empty \(0 bytes\)"),
    ("truncated.jpg", 0.2, False, None, r"incomplete"),
    ("one_pixel.png", 0.2, False, None, r"only 1x1 pixels"),
    ("sixteen_bit.png", 0.2, False, "box", PERSON_OK),
    ("grey.jpg", 0.2, False, "box", PERSON_OK),
    ("cmyk.jpg", 0.2, False, "box", PERSON_OK),
    ("rgba.png", 0.2, False, "box", PERSON_OK),
    ("animated.gif", 0.2, False, "box", PERSON_OK),
    ("exif6.jpg", 0.2, False, "box", PERSON_OK),
    ("huge_12000x8000.jpg", 0.2, False, "box x9.375", PERSON_OK),
    ("bomb.png", 0.2, False, None, r"too many pixels; the limit is 100 megapixels"),
    ("over_limit.png", 0.2, False, None, r"12000x9000 pixels \(108 megapixels\); the limit is 100"),
    ("grey.jpg", "high", False, None, r"Confidence threshold must be a number from 0 to 1, not 'high'"),
    ("grey.jpg", 1.5, False, None, r"Confidence threshold must be between 0 and 1, not 1.5"),
    ("grey.jpg", -0.1, False, None, r"Confidence threshold must be between 0 and 1, not -0.1"),
    ("grey.jpg", 0.2, "yes", None, r"flip must be true or false"),
    ("grey.jpg", 0.2, False, "3000,3000,4000,4000", r"lies outside the 1280x720 image"),
    ("grey.jpg", 0.2, False, "600,100,300,500", r"empty: x2 must be greater than x1"),
    ("grey.jpg", 0.2, False, "left,top,right,bottom", r"x1,y1,x2,y2"),
    ("grey.jpg", 0.2, False, "100,100,300,500; 200,100,250", r"x1,y1,x2,y2 \(four numbers.*not '200,100,250'"),
    ("grey.jpg", 0.2, False, "100,100,300,500; 3000,3000,4000,4000", r"lies outside the 1280x720 image"),
    ("grey.jpg", 0.2, False, "; ".join(["100,100,300,500"] * 21), r"At most 20 person boxes can be given at once, not 21"),
]


@pytest.fixture(scope="module")
def clean_keypoints(client) -> np.ndarray:
    """(16, 2) keypoints of the clean test photo, as the app answers for it."""
    from gradio_client import handle_file

    person = single_person()
    result = client.predict(handle_file(str(person.image)), False, box_text(person), api_name="/keypoints")
    return np.array([[j["x"], j["y"]] for j in result["people"][0]["joints"]])


@pytest.mark.parametrize("name, threshold, flip, box, expected", CASES, ids=[f"{c[0]}-{c[1]}-{c[2]}-{c[3]}" for c in CASES])
def test_bad_input_matrix(client, clean_keypoints, tmp_path, name, threshold, flip, box, expected):
    from gradio_client import handle_file

    person = single_person()
    scale = 9.375 if box == "box x9.375" else 1.0
    box_arg = box_text(person) if box == "box" else ",".join(f"{v * scale:.1f}" for v in person.box) if box == "box x9.375" else (box or "")
    upload = handle_file(str(make(name, tmp_path)))
    if expected == PERSON_OK:
        overlay, gallery, table, keypoints = client.predict(upload, threshold, flip, box_arg, api_name="/predict")
        assert len(gallery) == 16 and len(table["data"]) == 16
        (only,) = keypoints["people"]
        pred = np.array([[j["x"], j["y"]] for j in only["joints"]]) / scale  # back to the clean photo's pixels
        # Same answer as for the clean photo (converted pixels differ slightly: JPEG, palette, 16-bit) ...
        drift = np.linalg.norm(pred - clean_keypoints, axis=1)[person.visible] / person.head_size
        assert np.median(drift) <= 0.1, f"{name}: drift / head size {np.round(drift, 2)}"
        # ... and right: this person has one borderline joint (r_ankle at 0.48 head sizes on the clean photo).
        err = np.linalg.norm(pred - person.joints, axis=1)[person.visible] / person.head_size
        assert (err <= 0.5).sum() >= person.visible.sum() - 2, f"{name}: errors / head size {np.round(err, 2)}"
        w, h = Image.open(overlay).size
        assert (w / h) == pytest.approx(keypoints["image"]["width"] / keypoints["image"]["height"], rel=0.01)
    else:
        with pytest.raises(Exception) as info:
            client.predict(upload, threshold, flip, box_arg, api_name="/predict")
        message = str(info.value)
        assert GENERIC not in message, message
        assert "Traceback" not in message and "/tmp/" not in message, message
        import re

        assert re.search(expected, message), message


def test_server_still_serves_correctly_after_the_matrix(client):
    from gradio_client import handle_file

    person = single_person()
    result = client.predict(handle_file(str(person.image)), False, box_text(person), api_name="/keypoints")
    assert_near_ground_truth(result["people"][0]["joints"], person)


@pytest.mark.parametrize("path", ["/etc/passwd", "../../../../../../etc/passwd", str(mpii_people()[0].image) if mpii_people else ""])
def test_api_cannot_read_files_that_were_not_uploaded(server, path):
    """A raw API call naming a server-side file (no upload) is refused, and nothing of the
    file comes back."""
    base = server[0] + "gradio_api"
    payload = {"data": [{"path": path, "meta": {"_type": "gradio.FileData"}}, False, ""]}
    event = httpx.post(f"{base}/call/keypoints", json=payload, timeout=30).json()["event_id"]
    answer = httpx.get(f"{base}/call/keypoints/{event}", timeout=60).text
    assert "event: error" in answer and "joints" not in answer and "root:" not in answer
    assert httpx.get(f"{base}/file={path}", timeout=30).status_code in (403, 404)


def test_model_source_cannot_be_changed_through_the_api(client):
    api = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    assert set(api) == {"/predict", "/keypoints", "/video"}
    names = {p["parameter_name"] for e in api.values() for p in e["parameters"]}
    assert names == {"image", "threshold", "flip", "boxes", "box", "video"}  # boxes: photos; box: a video's first frame
