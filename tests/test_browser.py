"""The real page in a real browser: ``python app.py`` in a subprocess, driven by Playwright's
Chromium (Debian's ``/usr/bin/chromium``; ``playwright install`` is never needed).

The app logs one ``app: estimated WxH image in N ms: K people`` line per inference; counting those lines
in its log shows that moving the threshold slider redraws without inference and that flipping
the flip-test checkbox does run one. The live webcam tab runs on Chromium's fake camera
playing a stamped clip (``tests/live_camera.py``); with POSE_LOG_LEVEL=DEBUG the app logs
a line per live frame.

Skipped when Playwright or /usr/bin/chromium is missing, unless POSE_REQUIRE_BROWSER=1 or
POSE_REQUIRE_SHARED=1 (CI), which turn the skip into a failure.
"""

from __future__ import annotations

import importlib.util
import os
import re
import time
from pathlib import Path

import pytest

from pose.draw import SIDE_COLORS
from pose.joints import COCO, Side
from pose.live import LIVE_DETECT_EVERY
from tests.app_server import running_app
from tests.live_camera import (CHROMIUM, CHROMIUM_ARGS, LIVE_OUT_IMG, LIVE_STATUS, chromium_args, logged_frames, read_stamps,
                               start_live, write_camera_clip)
from tests.shared_data import REPO
from tests.test_hub import dead_endpoint

PHOTO = REPO / "examples" / "06_walking_street_000000252219.jpg"  # three people walking
TIMEOUT_MS = 30_000
QUIET_S = 2.5  # how long the log must stay unchanged to count as "no new inference"
ESTIMATED = re.compile(r" app: estimated \d+x\d+ image in \d+ ms: \d+ people$", re.MULTILINE)
CAPTION = re.compile(r"^(?P<joint>[a-z_]+) (?P<score>-?\d+(?:\.\d+)?)$")

LIVE_STATUS_LINE = re.compile(r"^frame (?P<frame>\d+) · (?P<fps>[\d.]+) fps · 1 person: #(?P<id>\d+) (?P<shown>\d+)/(?P<joints>\d+) joints shown$")
CAMERA_FRAMES = 150  # the fake camera's loop: 5 s at 30 fps
LAG_SAMPLES = 45  # overlay lag readings, 0.1 s apart

REQUIRE_BROWSER = os.environ.get("POSE_REQUIRE_BROWSER") == "1" or os.environ.get("POSE_REQUIRE_SHARED") == "1"


def _missing_browser() -> str | None:
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed (pip install -r requirements-dev.txt)"
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        return f"{CHROMIUM} not found (apt-get install chromium); `playwright install` is not used"
    return None


MISSING_BROWSER = _missing_browser()
pytestmark = pytest.mark.skipif(
    MISSING_BROWSER is not None and not REQUIRE_BROWSER,
    reason=f"{MISSING_BROWSER}; set POSE_REQUIRE_BROWSER=1 to fail instead",
)

# Selectors. elem_id is set on these components in app.py; the rest is Gradio 6's own markup.
PHOTO_UPLOAD = "Drop an image file here to upload"  # aria-label of the image input's upload button
FILE_INPUT = "#photo input[type=file]"
OVERLAY_IMG = "#overlay img"
GALLERY_ITEM = "#gallery .gallery-item"
GALLERY_CAPTION = ".caption-label"
THRESHOLD_NUMBER = "#threshold input[type=number]"
THRESHOLD_RANGE = "#threshold input[type=range]"
FLIP = "#flip input[type=checkbox]"
TABLE_GRID = "#joints-table [role=grid]"
TABLE_PERSON_CELLS = "#joints-table [role=gridcell][aria-colindex='1']"
TABLE_JOINT_CELLS = "#joints-table [role=gridcell][aria-colindex='2']"
GALLERY_FIRST_IMG = "#gallery .gallery-item img"
PERSON_INPUT = "#person input"
STATUS = "#status"


def inferences(log_path: Path) -> int:
    return len(ESTIMATED.findall(log_path.read_text(errors="replace")))


def wait_for_inferences(log_path: Path, expected: int, timeout_s: float = TIMEOUT_MS / 1000) -> None:
    deadline = time.monotonic() + timeout_s
    while inferences(log_path) < expected and time.monotonic() < deadline:
        time.sleep(0.1)
    assert inferences(log_path) == expected, log_path.read_text()[-3000:]


def assert_inferences_stay(log_path: Path, expected: int, quiet_s: float = QUIET_S) -> None:
    """The count is ``expected`` now and for ``quiet_s`` seconds more."""
    deadline = time.monotonic() + quiet_s
    while True:
        assert inferences(log_path) == expected, log_path.read_text()[-3000:]
        if time.monotonic() >= deadline:
            return
        time.sleep(0.1)


@pytest.fixture(scope="module")
def playwright():
    if MISSING_BROWSER is not None:
        pytest.fail(f"{MISSING_BROWSER} (POSE_REQUIRE_BROWSER=1 or POSE_REQUIRE_SHARED=1 is set)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright):
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def app_server(tmp_path_factory):
    """(url, log_path): the app as on a fresh clone without network (the bundled COCO model),
    a server of its own, so the inference count starts at 0."""
    tmp = tmp_path_factory.mktemp("browser-app")
    env = {"HF_ENDPOINT": dead_endpoint(), "HF_HOME": str(tmp / "hf")}
    with running_app(None, tmp, extra_env=env) as running:
        yield running.url, running.log_path


@pytest.fixture(scope="module")
def live_server(model_dir, tmp_path_factory):
    """(url, log_path) of the app on the shared MPII model; DEBUG logs a line per live webcam frame."""
    with running_app(model_dir, tmp_path_factory.mktemp("live-app"), extra_env={"POSE_LOG_LEVEL": "DEBUG"}) as running:
        yield running.url, running.log_path


@pytest.fixture
def page(browser, app_server):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(app_server[0], wait_until="domcontentloaded")  # "networkidle" never settles offline
    page.locator(FILE_INPUT).wait_for(state="attached")
    yield page
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


def overlay_changed_from(page, old_src: str) -> str:
    """Wait until the overlay shows a different, fully loaded image; return its src."""
    page.wait_for_function(
        """([sel, old]) => {
            const img = document.querySelector(sel);
            return img && img.src && img.src !== old && img.complete && img.naturalWidth > 0;
        }""",
        arg=[OVERLAY_IMG, old_src],
    )
    return page.locator(OVERLAY_IMG).get_attribute("src")


def wait_until_idle(page) -> None:
    """No component shows Gradio's progress tracker (the upload's .then(downloads) included)."""
    page.wait_for_function("() => !document.querySelector('[data-testid=status-tracker]:not(.hide)')")


def test_upload_threshold_redraws_without_inference_flip_reruns(page, app_server, tmp_path):
    from playwright.sync_api import expect

    _, log_path = app_server
    start = inferences(log_path)

    # Upload through the image input's file chooser, as a user does; the change event runs predict.
    with page.expect_file_chooser() as chooser:
        page.locator("#photo").get_by_role("button", name=PHOTO_UPLOAD).click()
    chooser.value.set_files(PHOTO)
    overlay = page.locator(OVERLAY_IMG)
    overlay.wait_for(state="visible")
    assert "Skeleton overlay" in page.locator("#overlay").inner_text()
    first_src = overlay_changed_from(page, "")
    page.locator(GALLERY_ITEM).nth(len(COCO) - 1).wait_for(state="attached")
    page.locator(TABLE_JOINT_CELLS).nth(len(COCO) - 1).wait_for(state="attached")
    wait_until_idle(page)
    wait_for_inferences(log_path, start + 1)  # exactly one inference for one upload

    # The page says which model runs, and why not the Simple Baselines one; and who was found.
    notice = page.locator("#model-notice").inner_text()
    assert "Running the bundled PP-TinyPose" in notice and "no network connection" in notice, notice
    expect(page.locator(STATUS)).to_contain_text("drawn at this confidence threshold")
    people = int(re.search(r"(\d+) people found", page.locator(STATUS).inner_text())[1])
    assert people >= 3

    # The COCO overlay: left limbs orange, right limbs blue, both drawn, on everyone.
    import cv2
    import numpy as np

    jpeg = page.request.get(first_src).body()
    drawn = cv2.cvtColor(cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB).astype(int)
    for side in (Side.LEFT, Side.RIGHT):
        near = (np.abs(drawn - SIDE_COLORS[side]).max(axis=2) <= 40).sum()
        assert near >= 300, (side, near)

    # Gallery: person 1's 17 heatmaps, captioned "<joint> <confidence>" in COCO order.
    assert "Joint heatmaps" in page.locator("#gallery").inner_text()
    expect(page.locator(PERSON_INPUT)).to_have_value(re.compile(r"^Person 1 · "))
    items = page.locator(GALLERY_ITEM)
    assert items.count() == len(COCO)
    assert items.locator("img").count() == len(COCO)
    captions = [c.strip() for c in items.locator(GALLERY_CAPTION).all_inner_texts()]
    matches = [CAPTION.match(c) for c in captions]
    assert all(matches), captions
    assert [m["joint"] for m in matches] == list(COCO.joints)
    # Heatmap peaks: training targets peak at 1, and a trained model's stay near it (up to 1.04 seen).
    assert all(0.0 <= float(m["score"]) <= 1.2 for m in matches), captions
    gallery_box = items.first.bounding_box()
    caption_box = items.first.locator(GALLERY_CAPTION).bounding_box()
    assert caption_box["width"] <= gallery_box["width"] + 1  # readable: not cut by the tile

    # Table: every person's 17 rows (plus the header row): person number, then joint names in COCO order.
    grid = page.locator(TABLE_GRID)
    assert grid.get_attribute("aria-label") == "Joints"
    assert grid.get_attribute("aria-rowcount") == str(people * len(COCO) + 1)
    persons = [int(c.strip()) for c in page.locator(TABLE_PERSON_CELLS).all_inner_texts()]
    assert persons[: len(COCO)] == [1] * len(COCO) and persons == sorted(persons)
    assert [c.strip() for c in page.locator(TABLE_JOINT_CELLS).all_inner_texts()][: len(COCO)] == list(COCO.joints)

    # Click person 3 in the overlay: their heatmaps replace person 1's, with no inference.
    third = keypoints_shown(page)["people"][2]
    first_tile = page.locator(GALLERY_FIRST_IMG).first.get_attribute("src")
    click_on_overlay(page, *box_centre(third["box"]), photo_width=keypoints_shown(page)["image"]["width"])
    expect(page.locator(PERSON_INPUT)).to_have_value(re.compile(r"^Person 3 · "))
    page.wait_for_function("([sel, old]) => document.querySelector(sel).src !== old", arg=[GALLERY_FIRST_IMG, first_tile])
    first_src = overlay_changed_from(page, first_src)  # person 3's box highlighted
    assert_inferences_stay(log_path, start + 1)
    # And back to person 1 from the list.
    page.locator(PERSON_INPUT).click()
    page.get_by_role("option", name=re.compile(r"^Person 1 · ")).click()
    expect(page.locator(PERSON_INPUT)).to_have_value(re.compile(r"^Person 1 · "))
    first_src = overlay_changed_from(page, first_src)
    assert_inferences_stay(log_path, start + 1)

    # Threshold 0.2 -> 0.85 in the number box (some joints, and the weaker people, go).
    before = overlay.screenshot()
    number = page.locator(THRESHOLD_NUMBER)
    number.fill("0.85")
    number.blur()
    all_joints_src = overlay_changed_from(page, first_src)
    expect(page.locator(THRESHOLD_RANGE)).to_have_value("0.85")
    after = overlay.screenshot()
    assert after != before, "the overlay's pixels did not change with the threshold"
    assert_inferences_stay(log_path, start + 1)  # redrawn from gr.State, no inference

    # Drag the slider to its right end (threshold 1.0): (nearly) no joint is drawn, still no inference.
    box = page.locator(THRESHOLD_RANGE).bounding_box()
    page.mouse.move(box["x"] + 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] + 20, box["y"] + box["height"] / 2, steps=10)
    page.mouse.up()
    expect(number).to_have_value("1")
    nothing_src = overlay_changed_from(page, all_joints_src)
    nothing = overlay.screenshot()
    assert nothing != after
    assert_inferences_stay(log_path, start + 1)

    # The keyboard moves it too (Home: back to 0), and the overlay follows, still no inference.
    page.locator(THRESHOLD_RANGE).focus()
    page.keyboard.press("Home")
    expect(number).to_have_value("0")
    overlay_changed_from(page, nothing_src)
    assert overlay.screenshot() != nothing
    assert_inferences_stay(log_path, start + 1)

    # The flip test is a new inference: the counter does count.
    page.locator(FLIP).check()
    wait_for_inferences(log_path, start + 2)
    wait_until_idle(page)
    assert_inferences_stay(log_path, start + 2)

    shot = tmp_path / "page.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.is_file()
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 50_000, len(data)


def keypoints_shown(page) -> dict:
    """The keypoints JSON the page shows (the gr.JSON component's text)."""
    import json

    return json.loads(page.request.get(page.locator("#download-json a").first.get_attribute("href")).text())


def box_centre(box: list[float]) -> tuple[float, float]:
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2


def click_on_overlay(page, x: float, y: float, photo_width: int) -> None:
    """Click the overlay where photo pixel (x, y) is shown (the picture is fitted inside the element)."""
    img = page.locator(OVERLAY_IMG)
    natural = img.evaluate("i => [i.naturalWidth, i.naturalHeight]")
    box = img.bounding_box()
    scale = min(box["width"] / natural[0], box["height"] / natural[1])
    dx, dy = (box["width"] - natural[0] * scale) / 2, (box["height"] - natural[1] * scale) / 2
    f = natural[0] / photo_width  # the overlay may be a downscaled copy of the photo
    page.mouse.click(box["x"] + dx + x * f * scale, box["y"] + dy + y * f * scale)


def test_each_example_shows_skeletons_and_a_new_photo_runs_once(page, app_server, tmp_path):
    """Every example, clicked, is estimated once and shows people; a new upload over a loaded
    photo runs one inference; a bad file shows its message once."""
    from playwright.sync_api import expect

    _, log_path = app_server
    count = inferences(log_path)
    examples = page.locator("#examples .gallery-item")
    examples.first.wait_for(state="visible")
    n = examples.count()
    assert n == len(list((REPO / "examples").glob("*.jpg"))) >= 5
    src = ""
    for i in range(n):
        examples.nth(i).click()
        count += 1
        wait_for_inferences(log_path, count)
        src = overlay_changed_from(page, src)
        expect(page.locator(STATUS)).to_contain_text("found")
        wait_until_idle(page)
        shown = keypoints_shown(page)
        drawn = [p for p in shown["people"] if p["score"] >= 0.2]
        assert drawn and all(sum(j["score"] >= 0.2 for j in p["joints"]) >= 10 for p in drawn[:1]), shown["people"][:1]
    assert_inferences_stay(log_path, count)

    # A new photo over the loaded one: one inference.
    page.locator(FILE_INPUT).set_input_files(PHOTO)
    wait_for_inferences(log_path, count + 1)
    overlay_changed_from(page, src)
    assert_inferences_stay(log_path, count + 1)

    # A bad file: its message, once.
    bad = tmp_path / "holiday.jpg"
    bad.write_text("not a photo")
    page.locator(FILE_INPUT).set_input_files(bad)
    toast = page.locator(".toast-body").first
    expect(toast).to_contain_text("This file is not an image we can read")
    time.sleep(1.0)
    assert page.locator(".toast-body").count() == 1 and "(2)" not in toast.inner_text(), toast.inner_text()
    assert_inferences_stay(log_path, count + 1)


@pytest.fixture(scope="module")
def camera_browser(playwright, shared, tmp_path_factory):
    """Chromium whose webcam loops a stamped clip of a shared MPII person swaying, 640x480 at 30 fps."""
    clip = write_camera_clip(tmp_path_factory.mktemp("camera") / "cam.y4m", CAMERA_FRAMES)
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=[*CHROMIUM_ARGS, *chromium_args(clip)])
    yield browser
    browser.close()


def test_live_webcam_tracks_and_skips_frames_instead_of_queueing(camera_browser, live_server):
    from playwright.sync_api import expect

    url, log_path = live_server
    context, page = visitor(camera_browser)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    before = len(logged_frames(log_path))
    record = start_live(page, url)

    # The overlay streams in (inline JPEGs, one per processed frame) and the person is followed.
    page.wait_for_function("sel => /^frame ([2-9]\\d|\\d{3,}) /.test(document.querySelector(sel).value)", arg=LIVE_STATUS)
    status = LIVE_STATUS_LINE.match(page.input_value(LIVE_STATUS))
    assert status, page.input_value(LIVE_STATUS)
    assert status["id"] == "1" and int(status["shown"]) >= 10, status.string
    assert status["joints"] == "16", status.string  # the MPII model
    assert page.locator(LIVE_OUT_IMG).get_attribute("src").startswith("data:image/jpeg;base64,")

    # The overlay keeps up: how many camera frames it is behind (read from the frames' stamps)
    # stays put. Were frames queued while the model is slower than the camera, it would grow.
    lags = []
    while len(lags) < LAG_SAMPLES:
        lag = read_stamps(page, LIVE_OUT_IMG, CAMERA_FRAMES)[2]
        if lag is not None:
            lags.append(lag)
        time.sleep(0.1)
    third = LAG_SAMPLES // 3
    early, late = sorted(lags[:third])[third // 2], sorted(lags[-third:])[third // 2]
    assert late <= early + 10 and max(lags) < CAMERA_FRAMES // 2, lags

    # Server side: one session, frames numbered 1, 2, 3... from the camera's 640x480, tracked.
    frames = logged_frames(log_path)[before:]
    assert [f.number for f in frames] == list(range(1, len(frames) + 1))
    assert {(f.width, f.height) for f in frames} == {(640, 480)}
    # The one person keeps number 1 throughout: no shrink-and-restart, no new identity.
    assert {f.track_ids for f in frames} == {(1,)}, [f.track_ids for f in frames]
    assert [f.detected for f in frames] == [(f.number - 1) % LIVE_DETECT_EVERY == 0 for f in frames]

    # Stop ends the session: nothing more is processed.
    record.click()
    expect(record).to_contain_text("Record")
    time.sleep(1.0)  # the frame in flight when Stop was clicked may still finish
    stopped = len(logged_frames(log_path))
    time.sleep(QUIET_S)
    assert len(logged_frames(log_path)) == stopped
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


def visitor(browser):
    """A new browser context (its own session) allowed to use the camera, and its page."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, permissions=["camera"])
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    return context, page


def test_live_sessions_take_turns_when_all_slots_are_busy(camera_browser, model_dir, tmp_path):
    """One live slot, turns of 3 s of processing: a second visitor is served when the first's
    turn ends, and the first comes back after the second's turn, instead of waiting forever."""
    status = "sel => /^frame \\d+ /.test(document.querySelector(sel).value)"
    env = {"POSE_LOG_LEVEL": "DEBUG", "POSE_LIVE_SESSIONS": "1", "POSE_LIVE_TURN_S": "3"}
    with running_app(model_dir, tmp_path, extra_env=env) as server:
        (first_context, first), (second_context, second) = visitor(camera_browser), visitor(camera_browser)
        start_live(first, server.url)
        first.wait_for_function(status, arg=LIVE_STATUS)
        start_live(second, server.url)  # the slot is taken: it waits
        second.wait_for_function(status, arg=LIVE_STATUS)  # served after the first's turn
        first_then = first.input_value(LIVE_STATUS)
        first.wait_for_function("([sel, old]) => document.querySelector(sel).value !== old", arg=[LIVE_STATUS, first_then])
        # In the log: runs of frames 1, 2, 3... one per turn, at least three turns, never two at once.
        numbers = [f.number for f in logged_frames(server.log_path)]
        starts = [i for i, n in enumerate(numbers) if n == 1]
        assert len(starts) >= 3 and starts[0] == 0, numbers
        runs = [numbers[a:b] for a, b in zip(starts, starts[1:] + [len(numbers)])]
        assert all(run == list(range(1, len(run) + 1)) for run in runs), numbers
        first_context.close()
        second_context.close()
