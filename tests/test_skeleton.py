"""Layouts, mappings between them and the differentiable skeleton features."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ela.errors import LayoutError
from ela.skeleton import (
    JOINT_ORDERS,
    LAYOUTS,
    Layout,
    available_mappings,
    bone_angles,
    bone_lengths,
    frame_mask,
    get_layout,
    joint_accelerations,
    joint_speeds,
    map_array,
    map_layout,
    mapping_matrix,
    order_by_name,
    valid_mask,
)


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_layout_is_a_tree_with_consistent_parts(name):
    lay = get_layout(name)
    roots = [j for j, p in enumerate(lay.parents) if p < 0]
    assert len(roots) == 1
    assert len(lay.bones) == lay.num_joints - 1 - len(lay.zero_bones)
    assert all(d >= 0 for d in lay.depth) and lay.depth[lay.centre] == 0
    # every angle is made of two bones that meet at its middle joint
    bones = {frozenset(b) for b in lay.bones}
    for a, b, c in lay.angles:
        assert frozenset((a, b)) in bones and frozenset((b, c)) in bones
    # left/right pairs name a left and a right joint, and mirroring twice is the identity
    for left, right in lay.pairs:
        assert "left" in lay.joints[left].lower() or lay.joints[left].endswith("_L")
        assert "right" in lay.joints[right].lower() or lay.joints[right].endswith("_R")
    assert tuple(lay.mirror[i] for i in lay.mirror) == tuple(range(lay.num_joints))


def test_known_sizes():
    sizes = {"ntu25": 25, "kinect20": 20, "openpose18": 18, "coco17": 17, "gait16": 16,
             "upper10": 10, "mediapipe33": 33, "bandai21": 21}
    assert {n: get_layout(n).num_joints for n in sizes} == sizes
    ntu = get_layout("ntu")
    assert ntu.joints[ntu.centre] == "spine_shoulder"
    assert ntu.parents[ntu.index("left_hand_tip")] == ntu.index("left_hand")
    msr = get_layout("msr")
    assert msr.parents[msr.index("head")] == msr.index("shoulder_centre")


def test_zero_length_bones_are_not_bones_but_edges():
    lay = Layout("chain", ("a", "b", "c"), (-1, 0, 1), centre=0, zero_bones=frozenset({2}))
    assert lay.bones == ((1, 0),)
    assert lay.edges == ((1, 0), (2, 1))


def test_invalid_layouts_are_refused():
    with pytest.raises(LayoutError, match="cycle"):
        Layout("bad", ("a", "b"), (1, 0), centre=0)
    with pytest.raises(LayoutError, match="parents"):
        Layout("bad", ("a", "b"), (-1,), centre=0)
    with pytest.raises(LayoutError, match="unknown layout"):
        get_layout("no-such-layout")


REQUIRED_MAPPINGS = [("ntu25", "gait16"), ("ntu25", "upper10"), ("ntu25", "kinect20"),
                     ("kinect20", "gait16"), ("kinect20", "upper10"), ("bandai21", "gait16"),
                     ("bandai21", "upper10"), ("mediapipe33", "upper10"),
                     ("mediapipe33", "ntu25")]


@pytest.mark.parametrize(("src", "dst"), REQUIRED_MAPPINGS)
def test_mappings_average_rows_and_keep_sides(src, dst):
    assert (src, dst) in available_mappings()
    w = mapping_matrix(src, dst)
    s, d = get_layout(src), get_layout(dst)
    assert w.shape == (d.num_joints, s.num_joints)
    torch.testing.assert_close(w.sum(1), torch.ones(d.num_joints))
    for row, name in enumerate(d.joints):  # a left target joint never reads a right source
        for col in torch.nonzero(w[row]).flatten().tolist():
            src_name = s.joints[col].lower()
            if name.startswith("left"):
                assert "right" not in src_name and not src_name.endswith("_r")
            if name.startswith("right"):
                assert "left" not in src_name and not src_name.endswith("_l")


def test_mapping_carries_gradients_and_selects_joints():
    x = torch.randn(2, 3, 4, 25, 1, requires_grad=True)
    y = map_layout(x, mapping_matrix("ntu25", "upper10"))
    assert y.shape == (2, 3, 4, 10, 1)
    torch.testing.assert_close(y[..., 3, :], x[..., 3, :])  # head <- head
    y.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    with pytest.raises(LayoutError, match="no mapping"):
        mapping_matrix("gait16", "ntu25")


def test_ntu25_to_kinect20_keeps_the_first_20_slots_and_drops_the_v2_joints():
    w = mapping_matrix("ntu25", "kinect20")
    sdk = JOINT_ORDERS["kinect20-sdk"][1]  # Kinect v1 order = ntu25's first 20 slots
    kinect = get_layout("kinect20")
    for slot, name in enumerate(sdk):
        assert w[kinect.index(name)].nonzero().flatten().tolist() == [slot]
    assert not w[:, 20:].any()
    x = np.random.default_rng(0).normal(size=(3, 4, 25, 2)).astype(np.float32)
    np.testing.assert_allclose(map_array(x, "ntu25", "kinect20")[:, :, kinect.index("head")],
                               x[:, :, 3])


def test_order_by_name_reorders_and_names_what_does_not_fit():
    kinect = get_layout("kinect20")
    sdk = JOINT_ORDERS["kinect20-sdk"][1]
    assert [sdk[i] for i in order_by_name(sdk, kinect)] == list(kinect.joints)
    with pytest.raises(LayoutError, match=r"missing \['head'\], unknown \['nose'\]"):
        order_by_name([n if n != "head" else "nose" for n in sdk], kinect)
    with pytest.raises(LayoutError, match="is a joint order of layout kinect20"):
        get_layout("kinect20-sdk")


def _chain(points: list[list[list[float]]]) -> torch.Tensor:
    """(T, V, 3) nested lists -> (1, 3, T, V, 1) tensor."""
    return torch.tensor(points, dtype=torch.float64).permute(2, 0, 1)[None, ..., None]


def test_features_match_hand_computed_values():
    lay = Layout("chain3", ("a", "b", "c"), (-1, 0, 1), centre=0)
    x = _chain([
        [[0, 0, 0], [1, 0, 0], [1, 2, 0]],
        [[0, 0, 0], [1, 0, 0], [2, 0, 0]],
        [[0, 0, 0], [1, 0, 0], [3, 0, 0]],
    ])
    lengths = bone_lengths(x, lay)[0, :, :, 0]
    torch.testing.assert_close(lengths, torch.tensor([[1.0, 2.0], [1.0, 1.0], [1.0, 2.0]],
                                                     dtype=torch.float64))
    angles = bone_angles(x, lay)[0, :, :, 0]  # angle at b between b->a and b->c
    torch.testing.assert_close(angles, torch.tensor([[math.pi / 2], [math.pi], [math.pi]],
                                                    dtype=torch.float64), atol=1e-5, rtol=0)
    speeds = joint_speeds(x)[0, :, :, 0]
    torch.testing.assert_close(speeds, torch.tensor([[0, 0, math.sqrt(5)], [0, 0, 1.0]],
                                                    dtype=torch.float64), atol=1e-6, rtol=0)
    acc = joint_accelerations(x)[0, :, :, 0]
    torch.testing.assert_close(acc, torch.tensor([[0, 0, 2.0]], dtype=torch.float64),
                               atol=1e-6, rtol=0)


def test_feature_gradients_stay_finite_at_degenerate_points():
    lay = Layout("chain3", ("a", "b", "c"), (-1, 0, 1), centre=0)
    x = torch.zeros(1, 3, 3, 3, 1, requires_grad=True)  # zero-length bones, still joints
    total = bone_lengths(x, lay).sum() + bone_angles(x, lay).sum() + joint_speeds(x).sum()
    total.backward()
    assert torch.isfinite(x.grad).all()
    straight = _chain([[[0, 0, 0], [1, 0, 0], [2, 0, 0]]]).requires_grad_(True)
    bone_angles(straight, lay).sum().backward()  # angle π: arccos would give inf here
    assert torch.isfinite(straight.grad).all()


def test_masks_ignore_padding_and_absent_persons():
    x = torch.ones(2, 3, 5, 4, 2)
    x[:, :, :, :, 1] = 0  # second person absent
    mask = valid_mask(x, torch.tensor([5, 3]))
    assert mask.shape == (2, 5, 2)
    assert mask[:, :, 1].sum() == 0
    assert mask[0, :, 0].all() and mask[1, :, 0].tolist() == [True, True, True, False, False]
    assert frame_mask(None, 2, 4).all()
