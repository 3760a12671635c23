"""Scoring a tracker against clips whose truth is known in every frame (``tests/shared_data``
composed clips): which track each true person was given, frame by frame, and how often that
changed (identity switches, as CLEAR-MOT counts them)."""

from __future__ import annotations

from collections.abc import Sequence

from pose.metrics import oks
from pose.tracking import TrackedFrame

MIN_OKS = 0.5  # a tracked pose this close to a true person (OKS) is that person
MIN_LABELLED = 5  # true people with fewer joints in view are not scored (mostly out of the picture)


def assignments(results: Sequence[TrackedFrame], clip: Sequence[tuple], sigmas: Sequence[float]) -> list[dict[int, int | None]]:
    """Per frame: {true person: track id of the tracked pose closest to them by OKS (None: no
    pose reaches MIN_OKS)}, for the true people with at least MIN_LABELLED joints in view."""
    out = []
    for result, (_, truth) in zip(results, clip):
        frame = {}
        for g in truth:
            if g.labelled.sum() < MIN_LABELLED:
                continue
            scores = [oks(p.keypoints, g.joints, g.labelled, g.area, sigmas) for p in result.people]
            best = max(range(len(scores)), key=scores.__getitem__, default=None)
            frame[g.person] = result.track_ids[best] if best is not None and scores[best] >= MIN_OKS else None
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
