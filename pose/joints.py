"""The joint sets this package knows (MPII-16, COCO-17), each defined once as a ``Skeleton``.

A skeleton is one value holding everything drawing, tables, JSON, the flip test, tracking
and metrics need: ordered joint names, limbs, the side of each joint, the flip pairs, the
usual network input size, and the OKS sigmas. A model's ``pose_config.json`` names
its skeleton; results carry it; nothing downstream counts joints.

Every array of joints (keypoints, scores, heatmaps) is in its skeleton's order: for MPII
the standard MPII order that Simple Baselines outputs, for COCO the COCO keypoint order.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Side(Enum):
    LEFT = "left"
    RIGHT = "right"
    CENTRE = "centre"


def joint_side(name: str) -> Side:
    """``l_*`` joints are left, ``r_*`` right, the rest centre."""
    return Side.LEFT if name.startswith("l_") else Side.RIGHT if name.startswith("r_") else Side.CENTRE


@dataclass(frozen=True)
class Skeleton:
    """One joint set. Build it with ``make_skeleton``: sides and flip pairs follow from the names."""

    name: str  # "mpii" or "coco": the value of "skeleton" in pose_config.json and in JSON results
    title: str  # for people, e.g. "COCO (17 joints)"
    joints: tuple[str, ...]  # joint names in this skeleton's order, e.g. ("r_ankle", ...)
    limbs: tuple[tuple[int, int], ...]  # pairs of joint indices joined by a line when drawing
    sides: tuple[Side, ...]  # (J,) side of each joint
    limb_sides: tuple[Side, ...]  # side of each limb: left/right if its ends agree, else centre
    flip_pairs: tuple[tuple[int, int], ...]  # (left, right) index pairs swapped by the flip test
    flip_permutation: tuple[int, ...]  # (J,) index of each joint's mirror joint (centre: itself)
    input_size: tuple[int, int]  # (width, height) px: the usual network input for this joint set
    oks_sigmas: tuple[float, ...] | None = None  # (J,) keypoint sigmas for OKS (COCO's; for MPII borrowed)

    def __len__(self) -> int:
        return len(self.joints)

    def index(self, joint: str) -> int:
        try:
            return self.joints.index(joint)
        except ValueError:
            raise ValueError(f"{joint!r} is not a {self.name} joint; expected one of {', '.join(self.joints)}") from None

    # One instance per skeleton: copies (gr.State deep-copies, pickles) refer to it by name.
    def __reduce__(self) -> tuple:
        return skeleton_named, (self.name,)

    def __deepcopy__(self, memo: dict) -> Skeleton:
        return self


def make_skeleton(name: str, title: str, joints: tuple[str, ...], limbs: tuple[tuple[str, str], ...],
                  input_size: tuple[int, int], oks_sigmas: tuple[float, ...] | None = None) -> Skeleton:
    """A Skeleton from joint names and limbs by name; sides and flip pairs derived from the names."""
    index = {j: i for i, j in enumerate(joints)}
    sides = tuple(joint_side(j) for j in joints)
    limb_idx = tuple((index[a], index[b]) for a, b in limbs)

    def limb_side(a: int, b: int) -> Side:
        ends = {sides[a], sides[b]} - {Side.CENTRE}
        return ends.pop() if len(ends) == 1 else Side.CENTRE  # l_hip-r_hip is centre

    pairs = tuple((i, index["r_" + j[2:]]) for i, j in enumerate(joints) if sides[i] is Side.LEFT)
    perm = list(range(len(joints)))
    for a, b in pairs:
        perm[a], perm[b] = b, a
    if oks_sigmas is not None and len(oks_sigmas) != len(joints):
        raise ValueError(f"{name}: {len(oks_sigmas)} OKS sigmas for {len(joints)} joints")
    return Skeleton(name, title, tuple(joints), limb_idx, sides, tuple(limb_side(a, b) for a, b in limb_idx),
                    pairs, tuple(perm), input_size, oks_sigmas)


MPII = make_skeleton(
    "mpii", "MPII (16 joints)",
    ("r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle", "pelvis", "thorax",
     "upper_neck", "head_top", "r_wrist", "r_elbow", "r_shoulder", "l_shoulder", "l_elbow", "l_wrist"),
    (("r_ankle", "r_knee"), ("r_knee", "r_hip"), ("r_hip", "pelvis"), ("l_hip", "pelvis"), ("l_hip", "l_knee"),
     ("l_knee", "l_ankle"), ("pelvis", "thorax"), ("thorax", "upper_neck"), ("upper_neck", "head_top"),
     ("r_wrist", "r_elbow"), ("r_elbow", "r_shoulder"), ("r_shoulder", "thorax"), ("l_shoulder", "thorax"),
     ("l_shoulder", "l_elbow"), ("l_elbow", "l_wrist")),
    input_size=(256, 256),
    # MPII defines no OKS; tracking and duplicate removal need one. COCO's sigma for each joint both
    # sets share (ankles .089, knees .087, hips .107, wrists .062, elbows .072, shoulders .079), and
    # for the four MPII-only joints the nearest COCO joint's: pelvis as the hips, thorax and upper
    # neck as the shoulders, head top as the ears (.035).
    oks_sigmas=(.089, .087, .107, .107, .087, .089, .107, .079, .079, .035, .062, .072, .079, .079, .072, .062),
)

COCO = make_skeleton(
    "coco", "COCO (17 joints)",
    ("nose", "l_eye", "r_eye", "l_ear", "r_ear", "l_shoulder", "r_shoulder", "l_elbow", "r_elbow",
     "l_wrist", "r_wrist", "l_hip", "r_hip", "l_knee", "r_knee", "l_ankle", "r_ankle"),
    # The 19 limbs of COCO's own "skeleton" field (person_keypoints annotations).
    (("l_ankle", "l_knee"), ("l_knee", "l_hip"), ("r_ankle", "r_knee"), ("r_knee", "r_hip"), ("l_hip", "r_hip"),
     ("l_shoulder", "l_hip"), ("r_shoulder", "r_hip"), ("l_shoulder", "r_shoulder"), ("l_shoulder", "l_elbow"),
     ("r_shoulder", "r_elbow"), ("l_elbow", "l_wrist"), ("r_elbow", "r_wrist"), ("l_eye", "r_eye"),
     ("nose", "l_eye"), ("nose", "r_eye"), ("l_eye", "l_ear"), ("r_eye", "r_ear"), ("l_ear", "l_shoulder"),
     ("r_ear", "r_shoulder")),
    input_size=(192, 256),
    oks_sigmas=(.026, .025, .025, .035, .035, .079, .079, .072, .072, .062, .062, .107, .107, .087, .087, .089, .089),
)

SKELETONS: dict[str, Skeleton] = {s.name: s for s in (MPII, COCO)}


def skeleton_named(name: str) -> Skeleton:
    try:
        return SKELETONS[name]
    except KeyError:
        raise ValueError(f"unknown skeleton {name!r}; expected one of {', '.join(SKELETONS)}") from None
