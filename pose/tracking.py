"""Following everyone through video frames with stable identities: the paper's Sec. 3 (UI-free).

For each frame t:

1. Boxes. The detector's (every ``detect_every`` frames, and on any frame where nobody was
   seen in the frame before), plus one box per person of frame t-1: their joints moved to
   frame t (optical flow when the caller has the frames, ``pose.flow``; else each track's own
   recent motion), boxed and extended by 15 % (the paper's extension). Boxes of the same
   person are merged by non-maximum suppression (IoU).
2. A pose for every box, all crops in one batched inference, near-duplicate poses dropped
   by OKS non-maximum suppression (``PoseEstimator.estimate_candidates``).
3. Identities. Greedy matching, most similar (track, person) pair first, each used once: the
   similarity is OKS between the track's pose moved to frame t and the person's pose
   ("oks", the paper's flow-based pose similarity), or plain IoU of the track's last box and
   the person's box ("iou", the baseline). Unmatched people start new tracks; a track unseen
   for more than ``max_age`` frames ends.
4. Smoothing. Each track's joints go through a One Euro filter (Casiez et al., CHI 2012): a
   low-pass filter whose cut-off rises with speed, so still joints stop jittering while
   moving joints do not lag.

Everything a frame needs from the past is a ``TrackerState`` of small arrays (no frames), so
a web session can keep it between webcam frames; ``VideoTracker`` adds the optical flow for
videos processed in one go.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .detector import nms
from .errors import PoseError
from .estimator import Box, Candidate, PoseEstimator, check_box
from .flow import FlowField
from .image_io import LoadedImage, from_array
from .metrics import box_area, box_iou, pose_similarity
from .result import PERSON_SCORE_MIN_JOINT, PoseResult

PROPAGATED_BOX_EXTENSION = 0.15  # the paper's: the moved joints' box grows by 15 % (7.5 % each side)
DEFAULT_THRESHOLD = 0.2  # a joint at or above this score counts as confident (drawing, status)

# Moves points (N, 2) px of the previous frame to the current one; ``groups`` (N,) names each
# point's person. None when it has no frames to compare (the first frame).
Motion = Callable[[np.ndarray, np.ndarray], "np.ndarray | None"]


@dataclass(frozen=True)
class SmoothingParams:
    """One Euro filter parameters (units: px and seconds)."""

    min_cutoff: float = 1.0  # Hz: cut-off at rest; lower = smoother still joints
    beta: float = 0.05  # how fast the cut-off rises with speed (1/px); higher = less lag
    d_cutoff: float = 1.0  # Hz: cut-off for the speed estimate


@dataclass(frozen=True)
class TrackerSettings:
    detect_every: int = 1  # run the detector on frames 0, k, 2k...; in between, propagated boxes only
    similarity: str = "oks"  # "oks": flow-moved previous pose vs current pose; "iou": box overlap
    min_similarity: float = 0.2  # a (track, person) pair less similar than this is never matched
    max_age: int = 30  # frames a track may go unseen (hidden, missed) and still be matched again
    box_nms: float = 0.6  # IoU above which two candidate boxes are taken for the same person
    pose_nms: float = 0.5  # OKS above which two poses are the same person (the better one stays; see README)
    min_score: float = 0.25  # person score (box x joints) a pose needs to start a track
    keep_score: float = 0.1  # ... and to continue one (lower: a tracked person who turns away is not dropped)
    box_joint_score: float = 0.0  # joints at or above this score make the propagated box (0: all)
    smooth: bool = True  # One Euro filter on each track's joints
    smoothing: SmoothingParams = SmoothingParams()
    flip: bool = False  # flip test on every crop (2x the pose work)

    def __post_init__(self) -> None:
        if not (isinstance(self.detect_every, int) and self.detect_every >= 1):
            raise TrackingError(f"The detector runs every k frames with k a whole number of at least 1, not {self.detect_every!r}.")
        if self.similarity not in SIMILARITIES:
            raise TrackingError(f"similarity must be one of {', '.join(SIMILARITIES)}, not {self.similarity!r}")


SIMILARITIES = ("oks", "iou")


class TrackingError(PoseError):
    """A tracking option is out of range."""


@dataclass(frozen=True)
class FilterState:
    """What a One Euro filter remembers between samples."""

    value: np.ndarray  # the last output, same shape as the input (e.g. (J, 2) px)
    speed: np.ndarray  # its low-passed derivative, units per second, same shape


def one_euro(x: np.ndarray, dt: float, state: FilterState | None,
             params: SmoothingParams = SmoothingParams()) -> tuple[np.ndarray, FilterState]:
    """One step of the One Euro filter: sample ``x`` taken ``dt`` s after the previous one
    -> (filtered x, new state). ``state=None`` starts afresh (the sample passes unchanged).
    For (N, 2) points the speed that opens the filter is each point's 2-D speed."""
    x = np.asarray(x, dtype=np.float64)
    if state is None:
        return x.copy(), FilterState(x.copy(), np.zeros_like(x))
    dt = max(dt, 1e-3)
    a_d = _alpha(params.d_cutoff, dt)
    speed = a_d * (x - state.value) / dt + (1 - a_d) * state.speed
    magnitude = np.linalg.norm(speed, axis=-1, keepdims=True) if x.ndim > 1 else np.abs(speed)
    a = _alpha(params.min_cutoff + params.beta * magnitude, dt)
    value = a * x + (1 - a) * state.value
    return value.copy(), FilterState(value, speed)


def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    """Smoothing factor of a first-order low-pass with ``cutoff`` Hz, sampled every ``dt`` s."""
    tau = 1.0 / (2 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


# ---- pure pieces ------------------------------------------------------------------------------


def keypoint_box(keypoints: np.ndarray, scores: np.ndarray, image_size: tuple[int, int], min_score: float = 0.0,
                 extension: float = PROPAGATED_BOX_EXTENSION) -> tuple[float, float, float, float] | None:
    """Box (x1, y1, x2, y2) px around the joints (J, 2) scoring at least ``min_score``, each side
    pushed out by ``extension`` / 2 of the box size, clipped to the image; None when fewer than
    two joints count or the box falls outside the image."""
    ok = scores >= min_score
    if ok.sum() < 2:
        return None
    pts = keypoints[ok]
    (x1, y1), (x2, y2) = pts.min(axis=0), pts.max(axis=0)
    dx, dy = max(x2 - x1, 1.0) * extension / 2, max(y2 - y1, 1.0) * extension / 2
    width, height = image_size
    box = (max(0.0, x1 - dx), max(0.0, y1 - dy), min(float(width), x2 + dx), min(float(height), y2 + dy))
    return box if box[2] > box[0] + 1 and box[3] > box[1] + 1 else None


def greedy_match(similarity: np.ndarray, min_similarity: float) -> list[tuple[int, int]]:
    """(T, P) similarities of tracks to people -> [(track, person)]: the most similar pair first,
    then the most similar of the rest, each track and person used once; pairs below
    ``min_similarity`` never match (the paper's greedy matching)."""
    pairs = []
    if similarity.size == 0:
        return pairs
    order = np.argsort(-similarity, axis=None, kind="stable")
    used_t, used_p = set(), set()
    for flat in order:
        t, p = divmod(int(flat), similarity.shape[1])
        if similarity[t, p] < min_similarity:
            break
        if t not in used_t and p not in used_p:
            pairs.append((t, p))
            used_t.add(t)
            used_p.add(p)
    return pairs


# ---- state ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Track:
    """One identity: where the person was last seen and how they move (a few hundred bytes)."""

    id: int  # 1, 2, ... in order of appearance
    keypoints: np.ndarray  # (J, 2) px: raw (unsmoothed) joints when last seen
    scores: np.ndarray  # (J,) joint scores when last seen
    box: tuple[float, float, float, float]  # px: the person box of that frame
    joint_score: float  # mean score of the joints above 0.2 then: the score of the box propagated from it
    seen: int  # frame number when last seen
    time: float  # s: when last seen
    velocity: np.ndarray  # (2,) px per frame: median joint motion, low-passed
    filter: FilterState | None  # One Euro memory of the smoothed joints (None when smoothing is off)


@dataclass(frozen=True)
class TrackerState:
    """All that tracking carries from a frame to the next: the tracks, no frames."""

    tracks: tuple[Track, ...] = ()
    next_id: int = 1  # identity of the next new track
    frame: int = 0  # number of the next frame (frames processed so far)
    time: float | None = None  # s: when the last frame was taken
    follow: int | None = None  # single-person mode: the identity followed (everyone is tracked, only they are shown)
    following: bool = False  # whether single-person mode is on (``follow`` may then be None: nobody left)


@dataclass(frozen=True)
class TrackedFrame:
    """The people of one frame, each with its identity."""

    frame: int  # 0, 1, 2, ...
    time: float  # s since the start
    people: tuple[PoseResult, ...]  # keypoints smoothed when smoothing is on; ordered by track id
    track_ids: tuple[int, ...]  # identity of each person
    image_size: tuple[int, int]  # (width, height) px
    detected: bool  # whether the detector ran on this frame

    def to_dict(self) -> dict[str, Any]:
        """{"frame", "time", "people": [{"track_id", "box", "box_source", "score", "joints"}]}."""
        people = []
        for tid, p in zip(self.track_ids, self.people):
            d = p.person_dict()
            people.append({"track_id": tid, "box": d["box"], "box_source": d["box_source"], "score": d["score"],
                           "joints": d["joints"]})
        return {"frame": self.frame, "time": round(self.time, 4), "people": people}


FRAME_CSV_HEADERS = ("frame", "time", "track_id", "joint", "x", "y", "confidence")


# ---- one frame --------------------------------------------------------------------------------


def track_frame(estimator: PoseEstimator, frame: np.ndarray | LoadedImage, state: TrackerState | None, now: float, *,
                settings: TrackerSettings = TrackerSettings(), motion: Motion | None = None,
                follow_box: Box | None = None, max_gap: float = math.inf) -> tuple[TrackedFrame, TrackerState]:
    """One frame: (H, W, 3) uint8 RGB ``frame`` taken at ``now`` s -> (its people with their
    identities, the state for the next frame).

    ``state=None`` (or more than ``max_gap`` s since the last frame) starts afresh.
    ``motion`` moves the previous frame's joints to this frame (optical flow); without it,
    each track moves by its own recent velocity. ``follow_box`` (x1, y1, x2, y2) px, on the
    first frame, switches to single-person mode: the person whose box overlaps it most is
    followed, and only they are returned (until their track ends; then nobody).
    """
    if state is None or (state.time is not None and now - state.time > max_gap):
        state = TrackerState()
    image = frame if isinstance(frame, LoadedImage) else from_array(frame)
    t, size = state.frame, image.original_size
    if follow_box is not None and t == 0:
        follow_box = check_box(follow_box, size)
        state = replace(state, following=True)
    if state.following and t > 0 and state.follow is None:  # the person followed is gone for good
        return TrackedFrame(t, now, (), (), size, False), replace(state, frame=t + 1, time=now)

    alive = [tr for tr in state.tracks if t - tr.seen <= settings.max_age]
    moved = _propagate(alive, t, motion)

    # 1. Boxes: propagated from the people of the frame before, the detector's, the caller's.
    candidates = []
    for tr, kps in zip(alive, moved):
        if tr.seen == t - 1:
            box = keypoint_box(kps, tr.scores, size, settings.box_joint_score)
            if box is not None:
                candidates.append(Candidate(box, tr.joint_score, "previous"))
    propagated = [c.box for c in candidates]
    detected = t % settings.detect_every == 0 or not propagated
    if detected:
        candidates += estimator.detect(image, whole_image=estimator.detector is None)
    if follow_box is not None and t == 0:
        candidates.append(Candidate(follow_box, 1.0, "user"))
    candidates = _merge_boxes(candidates, settings.box_nms)

    # 2. A pose in every box.
    found_people = estimator.estimate_candidates(image, candidates, settings.flip, nms_threshold=settings.pose_nms).people
    people = [p for p in found_people if p.score >= settings.keep_score or p.box_source == "user"]

    # 3. Identities: a match continues a track; a person left over starts one if sure enough.
    pairs = _match(alive, moved, people, settings, estimator.config.skeleton.oks_sigmas)
    by_person = {p: alive[ti] for ti, p in pairs}
    tracks, out, next_id = {tr.id: tr for tr in alive}, [], state.next_id
    for pi, person in enumerate(people):
        before = by_person.get(pi)
        if before is None:
            if person.score < settings.min_score and person.box_source != "user":
                continue
            track, next_id = _new_track(next_id, person, t, now, settings), next_id + 1
        else:
            track = _continue_track(before, person, t, now, settings)
        tracks[track.id] = track
        out.append((track.id, person, track))

    kept = tuple(tr for tr in tracks.values() if t - tr.seen <= settings.max_age)
    follow = state.follow
    if state.following:
        # Everyone is still tracked (so that nobody else can take the followed person's
        # identity when they pass close by); only the followed person is returned.
        follow = _followed(out, follow_box) if t == 0 else follow
        out = [o for o in out if o[0] == follow]
        if not any(tr.id == follow for tr in kept):
            follow = None
    out.sort(key=lambda o: o[0])
    shown = tuple(replace(person, keypoints=track.filter.value) if settings.smooth and track.filter is not None else person
                  for _, person, track in out)
    result = TrackedFrame(t, now, shown, tuple(o[0] for o in out), size, detected)
    return result, TrackerState(tuple(sorted(kept, key=lambda tr: tr.id)), next_id, t + 1, now, follow, state.following)


def _propagate(tracks: list[Track], t: int, motion: Motion | None) -> list[np.ndarray]:
    """Each track's joints moved to frame t (J, 2) px: the sure joints (score above 0.2) of tracks
    seen in the frame before by the optical flow (when there is one), the rest by the track's
    own velocity."""
    moved = [tr.keypoints + tr.velocity * (t - tr.seen) for tr in tracks]
    recent = [i for i, tr in enumerate(tracks) if tr.seen == t - 1]
    if motion is not None and recent:
        points = np.concatenate([tracks[i].keypoints for i in recent])
        groups = np.repeat(np.arange(len(recent)), [len(tracks[i].keypoints) for i in recent])
        flowed = motion(points, groups)
        if flowed is not None:
            for n, part in enumerate(np.split(flowed, np.cumsum([len(tracks[i].keypoints) for i in recent])[:-1])):
                sure = tracks[recent[n]].scores > PERSON_SCORE_MIN_JOINT
                # An unsure joint is often hidden: the flow there is whoever is in front of it.
                moved[recent[n]] = np.where(sure[:, None], part, moved[recent[n]])
    return moved


def _merge_boxes(candidates: list[Candidate], iou: float) -> list[Candidate]:
    """Candidates with the boxes of one person merged: the best-scoring box of each overlapping
    group stays (non-maximum suppression at ``iou``)."""
    if len(candidates) < 2:
        return candidates
    keep = nms(np.array([c.box for c in candidates]), np.array([c.score for c in candidates]), iou, 0.0)
    return [candidates[i] for i in keep]


def _match(tracks: list[Track], moved: list[np.ndarray], people: list[PoseResult], settings: TrackerSettings,
           sigmas: tuple[float, ...] | None) -> list[tuple[int, int]]:
    """[(track index, person index)] by greedy matching on the chosen similarity."""
    if not tracks or not people:
        return []
    if settings.similarity == "oks" and sigmas is not None:
        sim = pose_similarity(np.stack(moved), np.stack([tr.scores for tr in tracks]),
                              np.array([box_area(tr.box) for tr in tracks]), np.stack([p.keypoints for p in people]),
                              np.stack([p.scores for p in people]), np.array([box_area(p.box) for p in people]),
                              np.asarray(sigmas), PERSON_SCORE_MIN_JOINT)
    else:
        sim = box_iou(np.array([tr.box for tr in tracks]), np.array([p.box for p in people]))
    return greedy_match(sim, settings.min_similarity)


def _new_track(track_id: int, person: PoseResult, t: int, now: float, settings: TrackerSettings) -> Track:
    filtered = one_euro(person.keypoints, 0.0, None, settings.smoothing)[1] if settings.smooth else None
    return Track(track_id, np.array(person.keypoints), np.array(person.scores), person.box, person.joint_score, t, now,
                 np.zeros(2), filtered)


VELOCITY_SMOOTHING = 0.5  # weight of the newest motion in a track's velocity


def _continue_track(track: Track, person: PoseResult, t: int, now: float, settings: TrackerSettings) -> Track:
    both = (track.scores > PERSON_SCORE_MIN_JOINT) & (person.scores > PERSON_SCORE_MIN_JOINT)
    velocity = track.velocity
    if both.any():
        step = np.median(person.keypoints[both] - track.keypoints[both], axis=0) / max(t - track.seen, 1)
        velocity = (1 - VELOCITY_SMOOTHING) * track.velocity + VELOCITY_SMOOTHING * step
    filtered = None
    if settings.smooth:
        filtered = one_euro(person.keypoints, now - track.time, track.filter, settings.smoothing)[1]
    return Track(track.id, np.array(person.keypoints), np.array(person.scores), person.box, person.joint_score, t, now,
                 velocity, filtered)


def _followed(out: list[tuple[int, PoseResult, Track]], box: Box | None) -> int | None:
    """Identity of the person whose box overlaps the caller's box most (None: nobody overlaps it)."""
    if not out or box is None:
        return None
    iou = box_iou(np.array([box]), np.array([p.box for _, p, _ in out]))[0]
    return out[int(np.argmax(iou))][0] if iou.max() > 0 else None


# ---- a whole video ----------------------------------------------------------------------------


class VideoTracker:
    """``track_frame`` over the frames of a video at a fixed frame rate, with optical flow
    between consecutive frames; state kept inside."""

    def __init__(self, estimator: PoseEstimator, settings: TrackerSettings = TrackerSettings(), fps: float = 30.0,
                 use_flow: bool = True) -> None:
        self.estimator, self.settings, self.fps = estimator, settings, fps
        self.flow = FlowField() if use_flow else None
        self.state: TrackerState | None = None

    def update(self, frame: np.ndarray, follow_box: Box | None = None) -> TrackedFrame:
        """The next (H, W, 3) uint8 RGB frame -> its people with identities. ``follow_box``
        on the first frame: follow that person only."""
        t = self.state.frame if self.state is not None else 0
        motion = None
        if self.flow is not None:
            self.flow.advance(frame)
            motion = self.flow.move
        result, self.state = track_frame(self.estimator, frame, self.state, t / self.fps, settings=self.settings,
                                         motion=motion, follow_box=follow_box if t == 0 else None)
        return result
