"""Scoring a tracker against clips whose truth is known in every frame (``tests/shared_data``
composed clips): which track each true person was given, frame by frame, and how often that
changed (identity switches, as CLEAR-MOT counts them)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pose.metrics import oks
from pose.tracking import TrackedFrame

MIN_OKS = 0.5  # a tracked pose this close to a true person (OKS) is that person
MIN_LABELLED = 5  # true people with fewer joints in view are not scored (mostly out of the picture)


def assignments(results: Sequence[TrackedFrame], clip: Sequence[tuple], sigmas: Sequence[float]) -> list[dict[int, int | None]]:
    """Per frame: {true person: track id of the tracked pose matched to them (None: none)}, for
    the true people with at least MIN_LABELLED joints in view. Matching is one to one, the
    closest pair (OKS) first, pairs under MIN_OKS never: one pose cannot stand for two people
    who overlap."""
    out = []
    for result, (_, truth) in zip(results, clip):
        truth = [g for g in truth if g.labelled.sum() >= MIN_LABELLED]
        pairs = sorted(((oks(p.keypoints, g.joints, g.labelled, g.area, sigmas), gi, pi)
                        for gi, g in enumerate(truth) for pi, p in enumerate(result.people)), reverse=True)
        frame: dict[int, int | None] = {g.person: None for g in truth}
        used: set[int] = set()
        for score, gi, pi in pairs:
            if score < MIN_OKS:
                break
            if frame[truth[gi].person] is None and pi not in used:
                frame[truth[gi].person] = result.track_ids[pi]
                used.add(pi)
        out.append(frame)
    return out


def identity_switches(per_frame: Sequence[dict[int, int | None]]) -> int:
    """How many times a true person's track id differs from the one they had when last found,
    plus how many times a track id passes to a different true person than it last had."""
    person_track: dict[int, int] = {}
    track_person: dict[int, int] = {}
    switches = 0
    for frame in per_frame:
        for person, track in frame.items():
            if track is None:
                continue
            switches += person in person_track and person_track[person] != track
            switches += track in track_person and track_person[track] != person
            person_track[person], track_person[track] = track, person
    return switches


def found_fraction(per_frame: Sequence[dict[int, int | None]]) -> float:
    """Share of (frame, true person) pairs in which the person was found."""
    pairs = [track for frame in per_frame for track in frame.values()]
    return sum(t is not None for t in pairs) / max(1, len(pairs))


class JsonFrame:
    """One frame of a video's JSON (``VideoResult.frames``) read back like a TrackedFrame (track
    ids and keypoints), for scoring."""

    class Person:
        def __init__(self, person: dict[str, Any]) -> None:
            self.keypoints = np.array([[j["x"], j["y"]] for j in person["joints"]])

    def __init__(self, frame: dict[str, Any]) -> None:
        self.track_ids = tuple(p["track_id"] for p in frame["people"])
        self.people = [JsonFrame.Person(p) for p in frame["people"]]
