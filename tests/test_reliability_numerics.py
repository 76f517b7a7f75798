"""Numerical safety of features, distances and metrics on degenerate skeleton sequences.

Cases: zero-length bones (a joint on its parent, a skeleton collapsed to one point), still
joints (a frozen pose), a one-frame sequence, zero-padded frames with `lengths`, an absent
second person, and huge coordinates (1e6 m). Features and the attack distances must stay
finite with finite gradients; the metrics never give inf and give NaN only where the
module documents it: a sample with no measurable element of a kind (no moving joint for
ΔS/S, fewer than three valid frames for the acceleration change).
"""

from __future__ import annotations

import math

import pytest
import torch

from ela.attacks.distances import DynamicDistance, SmartPerceptualLoss
from ela.attacks.metrics import imperceptibility, still_joint_speeds
from ela.data.demo import demo_dataset
from ela.skeleton import (
    bone_angles,
    bone_lengths,
    get_layout,
    joint_accelerations,
    joint_speeds,
)

LAYOUT = get_layout("ntu25")


@pytest.fixture(scope="module")
def base() -> torch.Tensor:
    """(1, 3, 12, 25, 1) real-looking motion (metres) from the demo generator."""
    s = demo_dataset(n_per_class=1, frames=12, actions=("wave",), emotions=("happy",), seed=3)
    return torch.from_numpy(s.samples[0].data[None]).float()


def _cases(x: torch.Tensor) -> dict[str, tuple[torch.Tensor, torch.Tensor | None, set[str]]]:
    """name -> (x, lengths, metrics allowed to be NaN there)."""
    collapsed_bone = x.clone()
    child, parent = LAYOUT.bones[3]
    collapsed_bone[:, :, :, child] = collapsed_bone[:, :, :, parent]
    point = x.clone()
    point[:] = x[:, :, :, :1]  # every joint on the first one: every bone has length 0
    still = x[:, :, :1].expand_as(x).clone()
    padded = x.clone()
    padded[:, :, 7:] = 0.0
    two = torch.cat([x, torch.zeros_like(x)], dim=4)  # second person absent
    no_motion = {"joint_speed_change", "acceleration_change"}
    return {
        "zero_length_bone": (collapsed_bone, None, set()),
        "collapsed_to_a_point": (point, None, {"bone_length_change", "bone_angle_change",
                                               "bone_angle_change_paper", "bone_turn",
                                               "bone_turn_max"}),
        "still_joints": (still, None, set()),  # still joints count: nothing moves for free
        "one_frame": (x[:, :, :1].clone(), None, no_motion),
        "two_frames": (x[:, :, :2].clone(), None, {"acceleration_change"}),
        "padded": (padded, torch.tensor([7]), set()),
        "padded_to_one_frame": (padded, torch.tensor([1]), no_motion),
        "absent_person": (two, None, set()),
        "huge_1e6_m": (x * 1e6, None, set()),
        "far_away_1e6_m": (x + 1e6, None, set()),
    }


def _no_still_joint(x: torch.Tensor, lengths: torch.Tensor | None) -> set[str]:
    """{"still_joint_speed"} when x has no still joint-frame (the metric is then NaN)."""
    return set() if still_joint_speeds(x, x, lengths).size else {"still_joint_speed"}


def _perturb(x: torch.Tensor, lengths: torch.Tensor | None, scale: float) -> torch.Tensor:
    """x plus a small smooth perturbation on valid frames of present persons."""
    g = torch.Generator().manual_seed(0)
    noise = torch.randn(x.shape, generator=g) * scale
    present = (x.abs().sum(dim=(1, 3), keepdim=True) > 0).float()
    if lengths is not None:
        present = present * (torch.arange(x.shape[2]) < lengths[:, None]).float()[
            :, None, :, None, None]
    return x + noise * present


@pytest.mark.parametrize("case", ["zero_length_bone", "collapsed_to_a_point", "still_joints",
                                  "one_frame", "two_frames", "padded", "padded_to_one_frame",
                                  "absent_person", "huge_1e6_m", "far_away_1e6_m"])
def test_features_distances_and_metrics_stay_finite(base, case):
    x, lengths, may_be_nan = _cases(base)[case]
    may_be_nan = may_be_nan | _no_still_joint(x, lengths)
    scale = 1e-2 * max(1.0, float(x.abs().max()) * 1e-6)
    for point in (x.clone(), _perturb(x, lengths, scale)):  # at x' = x and nearby
        x_adv = point.clone().requires_grad_(True)
        feats = [bone_lengths(x_adv, LAYOUT), bone_angles(x_adv, LAYOUT), joint_speeds(x_adv),
                 joint_accelerations(x_adv)]
        for f in feats:
            assert torch.isfinite(f).all()
        grad = torch.autograd.grad(sum(f.sum() for f in feats), x_adv)[0]
        assert torch.isfinite(grad).all(), f"{case}: feature gradient not finite"

        for dist in (DynamicDistance(LAYOUT), SmartPerceptualLoss(LAYOUT),
                     DynamicDistance(LAYOUT, velocity=True, turn_weight=1, shift_weight=1,
                                     peak_weight=1, spread_weight=100)):
            ref = dist.reference(x, lengths)
            d = dist(x_adv, ref)
            assert d.shape == (x.shape[0],) and torch.isfinite(d).all(), \
                f"{case}: {type(dist).__name__} = {d}"
            (g,) = torch.autograd.grad(d.sum(), x_adv)
            assert torch.isfinite(g).all(), f"{case}: {type(dist).__name__} gradient"

        metrics = imperceptibility(x, x_adv.detach(), LAYOUT, lengths)
        for name, value in metrics.items():
            v = float(value[0])
            assert not math.isinf(v), f"{case}: {name} is infinite"
            if name in may_be_nan:
                continue
            assert math.isfinite(v), f"{case}: {name} = {v}"


def test_metrics_are_zero_for_an_unchanged_sequence_and_nan_only_when_undefined(base):
    for case, (x, lengths, may_be_nan) in _cases(base).items():
        may_be_nan = may_be_nan | _no_still_joint(x, lengths)
        metrics = imperceptibility(x, x.clone(), LAYOUT, lengths)
        for name, value in metrics.items():
            v = float(value[0])
            if math.isnan(v):
                assert name in may_be_nan, f"{case}: {name} is NaN"
            else:
                assert v == 0.0, f"{case}: {name} = {v} for x' = x"


def test_dynamic_distance_ignores_padding_and_absent_persons(base):
    """Moving padded frames or an absent person costs nothing: they are masked out."""
    x = torch.cat([base, torch.zeros_like(base)], dim=4)
    x[:, :, 7:] = 0.0
    lengths = torch.tensor([7])
    dist = DynamicDistance(LAYOUT)
    ref = dist.reference(x, lengths)
    moved = x.clone()
    moved[:, :, 7:] += 5.0
    moved[..., 1] += 3.0
    assert float(dist(moved, ref)) == pytest.approx(0.0, abs=1e-6)
