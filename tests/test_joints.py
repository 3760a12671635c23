import copy
import pickle

import pytest

from pose.joints import COCO, MPII, SKELETONS, Side, skeleton_named


def test_mpii_order_and_names():
    assert MPII.joints == (
        "r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle", "pelvis", "thorax",
        "upper_neck", "head_top", "r_wrist", "r_elbow", "r_shoulder", "l_shoulder", "l_elbow", "l_wrist",
    )
    assert MPII.index("l_wrist") == 15 and MPII.input_size == (256, 256)


def test_mpii_borrows_cocos_oks_sigmas_for_the_joints_both_have():
    """MPII has no OKS of its own; tracking and duplicate removal use COCO's sigma for every
    joint both sets share, and a mirror pair always has one sigma."""
    shared = [j for j in MPII.joints if j in COCO.joints]
    assert len(shared) == 12
    for j in shared:
        assert MPII.oks_sigmas[MPII.index(j)] == COCO.oks_sigmas[COCO.index(j)], j
    for a, b in MPII.flip_pairs:
        assert MPII.oks_sigmas[a] == MPII.oks_sigmas[b]


def test_coco_order_names_and_sigmas():
    assert COCO.joints == (
        "nose", "l_eye", "r_eye", "l_ear", "r_ear", "l_shoulder", "r_shoulder", "l_elbow", "r_elbow",
        "l_wrist", "r_wrist", "l_hip", "r_hip", "l_knee", "r_knee", "l_ankle", "r_ankle",
    )
    assert COCO.input_size == (192, 256)  # (width, height): the 256x192 models
    assert COCO.oks_sigmas[COCO.index("nose")] == 0.026 and COCO.oks_sigmas[COCO.index("r_hip")] == 0.107
    assert len(COCO.limbs) == 19  # COCO's own skeleton


@pytest.mark.parametrize("skeleton", [MPII, COCO], ids=lambda s: s.name)
def test_limbs_connect_every_joint(skeleton):
    reached, frontier = {0}, [0]
    while frontier:
        j = frontier.pop()
        for a, b in skeleton.limbs:
            for x, y in ((a, b), (b, a)):
                if x == j and y not in reached:
                    reached.add(y)
                    frontier.append(y)
    assert reached == set(range(len(skeleton)))
    if skeleton is MPII:
        assert len(skeleton.limbs) == len(skeleton) - 1  # a tree


@pytest.mark.parametrize("skeleton", [MPII, COCO], ids=lambda s: s.name)
def test_sides_and_flip(skeleton):
    perm = skeleton.flip_permutation
    assert all(perm[perm[i]] == i for i in range(len(skeleton)))
    for left, right in skeleton.flip_pairs:
        assert skeleton.sides[left] is Side.LEFT and skeleton.sides[right] is Side.RIGHT
        assert skeleton.joints[left][2:] == skeleton.joints[right][2:]
    centre = [j for j, s in zip(skeleton.joints, skeleton.sides) if s is Side.CENTRE]
    assert len(skeleton.flip_pairs) * 2 + len(centre) == len(skeleton)
    for (a, b), side in zip(skeleton.limbs, skeleton.limb_sides):
        ends = {skeleton.sides[a], skeleton.sides[b]} - {Side.CENTRE}
        assert side is (ends.pop() if len(ends) == 1 else Side.CENTRE)


def test_limb_sides_by_name():
    def side(s, a, b):
        return s.limb_sides[s.limbs.index((s.index(a), s.index(b)))]

    assert side(MPII, "l_knee", "l_ankle") is Side.LEFT
    assert side(MPII, "r_shoulder", "thorax") is Side.RIGHT
    assert side(MPII, "thorax", "upper_neck") is Side.CENTRE
    assert side(COCO, "l_hip", "r_hip") is Side.CENTRE  # joins both sides
    assert side(COCO, "nose", "l_eye") is Side.LEFT
    # the reference's flip pairs, 1-based in its COCO loader, match ours
    assert {frozenset(p) for p in COCO.flip_pairs} == {frozenset((a - 1, b - 1)) for a, b in
                                                        [(2, 3), (4, 5), (6, 7), (8, 9), (10, 11), (12, 13), (14, 15), (16, 17)]}


def test_one_value_per_skeleton_even_after_copies():
    assert set(SKELETONS) == {"mpii", "coco"} and skeleton_named("coco") is COCO
    assert pickle.loads(pickle.dumps(COCO)) is COCO and copy.deepcopy(MPII) is MPII
    assert len(pickle.dumps(COCO)) < 100
    with pytest.raises(ValueError, match="unknown skeleton 'h36m'"):
        skeleton_named("h36m")
    with pytest.raises(ValueError, match="not a coco joint"):
        COCO.index("thorax")
