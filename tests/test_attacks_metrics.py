"""Hand-computed checks of the imperceptibility metrics, the distances and the margins."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from ela.attacks import DynamicDistance, EmotionDistance, SmartPerceptualLoss, imperceptibility
from ela.attacks.distances import spine_joints
from ela.attacks.objectives import classification_loss, is_adversarial, margin
from ela.errors import ElaError
from ela.models.base import SkeletonModel
from ela.skeleton import Layout, get_layout

CHAIN = Layout(name="chain3", joints=("root", "mid", "tip"), parents=(-1, 0, 1), centre=0)
THETA = math.pi / 20  # rotation of the tip bone in frame 2: angle π/2 → π/2 + π/20 (+10 %)


def _chain_pair() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """x, x' of shape (1, 3, 4, 3, 2): frames 0-2 valid, frame 3 padding, person 2 absent.

    Frame 1 has a zero-length bone (tip on mid); the root never moves (still joint) and mid
    is still between frames 0 and 1.
    """
    pts = torch.tensor([
        [[0, 0, 0], [0, 1, 0], [1, 1, 0]],
        [[0, 0, 0], [0, 1, 0], [0, 1, 0]],
        [[0, 0, 0], [0, 2, 0], [2, 2, 0]],
    ], dtype=torch.float32)  # (T, V, 3)
    adv = pts.clone()
    adv[0, 2] = torch.tensor([1.1, 1.0, 0.0])  # tip bone 1 → 1.1
    adv[2, 2] = torch.tensor([2 * math.cos(THETA), 2 + 2 * math.sin(THETA), 0.0])
    x = torch.zeros(1, 3, 4, 3, 2)
    x[0, :, :3, :, 0] = pts.permute(2, 0, 1)
    x_adv = torch.zeros_like(x)
    x_adv[0, :, :3, :, 0] = adv.permute(2, 0, 1)
    x_adv[0, :, 3] = 0.7  # garbage in the padding frame: must be ignored
    return x, x_adv, torch.tensor([3])


def _expected() -> dict[str, float]:
    tip2 = torch.tensor([2 * math.cos(THETA), 2 + 2 * math.sin(THETA), 0.0])
    s_new = float((tip2 - torch.tensor([0.0, 1.0, 0.0])).norm())
    d2 = tip2 - torch.tensor([2.0, 2.0, 0.0])
    return {
        # bones (f0: 0, 0.1; f1: 0, zero bone out; f2: 0, 0) → 0.1 / 5
        "bone_length_change": 0.1 / 5,
        # angles (f0: 0; f1 out; f2: 0.1) → 0.1 / 2
        "bone_angle_change": (THETA / (math.pi / 2)) / 2,
        # speeds: tip 0→1 (1 → 1.1), mid 1→2 (1 → 1), tip 1→2 (√5 → s_new); root (both
        # pairs) and mid 0→1 are still and stay still: they count, with no change → /6
        "joint_speed_change": (0.1 + 0 + abs(s_new - math.sqrt(5)) / math.sqrt(5)) / 6,
        # the root and mid 0→1 are the still joint-frames; x' leaves them still
        "still_joint_speed": 0.0,
        # Zheng et al.'s angle measure, one triplet (root, mid, tip): frame 0 tip moved 0.1
        # on an arm of 1; frame 1 is out (zero arm); frame 2 tip moved |d2| on an arm of 2
        "bone_angle_change_paper": (0.1 / 1 + float(d2.norm()) / 2) / 2,
        # bone directions: only the tip bone of frame 2 turns (by θ), of the 5 bones b counts
        "bone_turn": THETA / 5,
        "centre_shift": 0.0,  # the root (the centre joint) never moves
        "l2": math.sqrt(0.01 + float(d2 @ d2)) / 3,
        "linf": max(0.1, float(d2.abs().max())),
        # one valid frame triple, 3 joints; only the tip changes: Δ²d = d2 − 0 + (0.1, 0, 0)
        "acceleration_change": float((d2 + torch.tensor([0.1, 0, 0])).norm()) / 3,
    }


def test_imperceptibility_matches_hand_computation():
    x, x_adv, lengths = _chain_pair()
    got = imperceptibility(x, x_adv, CHAIN, lengths)
    for key, value in _expected().items():
        assert got[key].shape == (1,)
        assert torch.isfinite(got[key]).all(), key
        assert got[key].item() == pytest.approx(value, rel=1e-4, abs=1e-6), key


def test_imperceptibility_zero_for_identical_and_nan_when_nothing_measurable():
    x, _, lengths = _chain_pair()
    got = imperceptibility(x, x.clone(), CHAIN, lengths)
    assert all(v.item() == pytest.approx(0.0, abs=1e-7) for v in got.values())
    still = x.clone()
    still[:, :, :3] = x[:, :, :1]  # every frame equals frame 0: no joint moves
    got = imperceptibility(still, still + 0.01 * (still != 0), CHAIN, lengths)
    assert got["joint_speed_change"].item() == pytest.approx(0.0, abs=1e-6)  # a rigid shift
    assert math.isfinite(got["bone_length_change"].item())
    ends = x.clone()
    ends[:, :, 3:] = 0  # one frame only: no frame pair, no speed to measure
    got = imperceptibility(ends, ends, CHAIN, torch.tensor([1]))
    assert math.isnan(got["joint_speed_change"].item())
    assert math.isnan(got["still_joint_speed"].item())


def test_rigid_jitter_of_a_still_body_is_not_free():
    """A body standing still, shaken rigidly by ±5 cm a frame: bones and angles do not
    change, but every still joint now moves 10 cm/frame, and the metrics must say so."""
    x, _, _ = _chain_pair()
    pause = x.clone()
    pause[:, :, :3] = x[:, :, :1]  # the pose of frame 0, held for 3 frames
    pause[:, :, 3] = 0  # the padding frame
    x_adv = pause.clone()
    x_adv[:, 1, :3, :, 0] += torch.tensor([0.0, 0.05, -0.05])[:, None]  # person 2 is absent
    lengths = torch.tensor([3])
    got = imperceptibility(pause, x_adv, CHAIN, lengths)
    assert got["bone_length_change"].item() == pytest.approx(0.0, abs=1e-6)
    assert got["bone_angle_change"].item() == pytest.approx(0.0, abs=1e-6)
    # |S' − S| / max(S, 1 mm/frame) = 0.05 m / 1 mm and 0.10 m / 1 mm, every joint
    assert got["joint_speed_change"].item() == pytest.approx((50 + 100) / 2, rel=1e-4)
    assert got["still_joint_speed"].item() == pytest.approx(0.10, rel=1e-4)
    dist = DynamicDistance(CHAIN)
    assert dist(x_adv, dist.reference(pause, lengths)).item() > 10


@pytest.mark.parametrize("scale", [0.01, 1.0, 100.0])
def test_angle_metric_is_the_same_at_every_scale(scale):
    """The angle guard works at 1 cm and at 1 m bones: a uniformly scaled pair of
    sequences has the same relative angle change, and a folded limb (angle 0) is left out
    at every scale instead of reading as an angle of 1e-6/(|u||v|) rad."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 5, 3, 1, generator=gen)
    x[1, :, :, 2] = x[1, :, :, 0]  # sample 1: tip folded back onto the root, angle 0
    x_adv = x + 0.005 * torch.randn(x.shape, generator=gen)
    ref = imperceptibility(x, x_adv, CHAIN)["bone_angle_change"]
    got = imperceptibility(scale * x, scale * x_adv, CHAIN)["bone_angle_change"]
    torch.testing.assert_close(got, ref, rtol=1e-3, atol=1e-6, equal_nan=True)
    assert math.isnan(got[1].item())  # the folded limb is excluded, not 409 %


def test_dynamic_distance_terms_tolerances_and_gradients():
    x, x_adv, lengths = _chain_pair()
    dist = DynamicDistance(CHAIN)
    ref = dist.reference(x, lengths)
    exp = _expected()
    terms = dist.terms(x_adv, ref)
    assert terms["b"].item() == pytest.approx(exp["bone_length_change"], rel=1e-4)
    assert terms["a"].item() == pytest.approx(exp["bone_angle_change"], rel=1e-4)
    assert terms["s"].item() == pytest.approx(exp["joint_speed_change"], rel=1e-4)
    tol = DynamicDistance(CHAIN, tolerances=(0.05, 0.0, 0.0)).terms(x_adv, ref)
    assert tol["b"].item() == pytest.approx(0.05 / 5, rel=1e-4)
    weighted = DynamicDistance(CHAIN, weights=(2.0, 0.0, 1.0))(x_adv, ref)
    assert weighted.item() == pytest.approx(2 * terms["b"].item() + terms["s"].item(), rel=1e-5)
    full = DynamicDistance(CHAIN, turn_weight=1.0, shift_weight=1.0)
    for d in (dist, full):
        for start in (x_adv.clone(), x.clone()):  # also at x' = x, where attacks start
            start.requires_grad_(True)
            d(start, ref).sum().backward()
            assert torch.isfinite(start.grad).all()
        assert start.grad.abs().sum() == 0  # a zero perturbation costs nothing to first order


@pytest.mark.parametrize("scale", [0.01, 1.0])
def test_a_limb_swung_on_a_cone_is_seen_only_by_the_turn_term(scale):
    """The tip bone swung by φ about the axis of its parent bone keeps every bone length
    and inner angle: b = a = 0, so the paper's b + a + s cannot see it; r = φ per turned
    bone, at any scale. A rigid shift of the whole body turns nothing."""
    phi = 0.3
    x = scale * torch.tensor([[0.0, 0, 0], [0, 1, 0], [1, 1, 0]]).T[None, :, None, :, None]
    swung = x.clone()
    swung[0, :, 0, 2, 0] = scale * torch.tensor([math.cos(phi), 1.0, math.sin(phi)])
    plain, turn = DynamicDistance(CHAIN), DynamicDistance(CHAIN, turn_weight=2.0)
    ref = plain.reference(x)
    terms = plain.terms(swung, ref)
    assert terms["b"].item() == pytest.approx(0.0, abs=1e-6)
    assert terms["a"].item() == pytest.approx(0.0, abs=1e-6)
    assert terms["r"].item() == pytest.approx(phi / 2, rel=1e-5)  # one of two bones turned
    assert plain(swung, ref).item() == pytest.approx(0.0, abs=1e-6)
    assert turn(swung, ref).item() == pytest.approx(2.0 * phi / 2, rel=1e-5)
    got = imperceptibility(x, swung, CHAIN)
    assert got["bone_turn"].item() == pytest.approx(phi / 2, rel=1e-5)
    with pytest.raises(ElaError, match="turn_weight"):
        DynamicDistance(CHAIN, turn_weight=-1.0)


@pytest.mark.parametrize("scale", [0.01, 1.0])
def test_a_steady_whole_body_shift_is_seen_only_by_the_shift_term(scale):
    """Every joint moved by the same t in every frame: no bone, angle, speed or direction
    changes; p = |t| / mean bone length, and the metric reports |t| in metres."""
    x = torch.zeros(1, 3, 3, 3, 1)
    x[0, :, :, :, 0] = scale * torch.tensor([[0.0, 0, 0], [0, 1, 0], [1, 1, 0]]).T[:, None]
    x[0, 1, :, :, 0] += scale * torch.arange(3.0)[:, None]  # walking along y
    t = scale * torch.tensor([0.3, 0.0, 0.4])  # |t| = 0.5 bone lengths
    shifted = x + t[None, :, None, None, None]
    dist = DynamicDistance(CHAIN, shift_weight=3.0)
    ref = dist.reference(x)
    terms = dist.terms(shifted, ref)
    assert all(terms[k].item() == pytest.approx(0.0, abs=1e-5) for k in "basr")
    assert terms["p"].item() == pytest.approx(0.5, rel=1e-5)
    assert dist(shifted, ref).item() == pytest.approx(1.5, rel=1e-5)
    assert DynamicDistance(CHAIN)(shifted, ref).item() == pytest.approx(0.0, abs=1e-5)
    got = imperceptibility(x, shifted, CHAIN)
    assert got["centre_shift"].item() == pytest.approx(0.5 * scale, rel=1e-5)
    assert got["bone_turn"].item() == pytest.approx(0.0, abs=1e-6)


def test_the_acceleration_term_prices_a_jerk_not_a_steady_drift():
    """c = ‖Δ²x' − Δ²x‖ / body: a drift at constant velocity adds no acceleration (c = 0),
    a joint pushed out in one frame adds a jerk; c is the metric's acceleration_change
    (metres per frame²) over the mean bone length, and accel_weight weighs it in D."""
    x = torch.zeros(1, 3, 5, 3, 1)
    x[0, :, :, :, 0] = torch.tensor([[0.0, 0, 0], [0, 1, 0], [1, 1, 0]]).T[:, None]
    drift = x.clone()
    drift[0, 0] += 0.1 * torch.arange(5.0)[:, None, None]
    jump = x.clone()
    jump[0, 2, 2, 2, 0] += 0.3
    dist = DynamicDistance(CHAIN, accel_weight=2.0)
    ref = dist.reference(x)
    assert dist.terms(drift, ref)["c"].item() == pytest.approx(0.0, abs=1e-6)
    c = dist.terms(jump, ref)["c"]
    metric = imperceptibility(x, jump, CHAIN)["acceleration_change"]
    assert c.item() > 0
    assert c.item() == pytest.approx(metric.item(), rel=1e-4)  # both bones 1 m: body = 1
    assert dist(jump, ref).item() == pytest.approx(
        DynamicDistance(CHAIN)(jump, ref).item() + 2.0 * c.item(), rel=1e-5)
    with pytest.raises(ElaError, match="accel_weight"):
        DynamicDistance(CHAIN, accel_weight=-1.0)


def test_the_turn_peak_prices_one_bone_turned_far_above_the_same_total_spread_thinly():
    """t, the soft maximum of the bone turns: one bone turned by φ in one frame costs more in
    t than every bone-frame turned by the mean it leaves; r (the mean) cannot tell them
    apart; t of an unchanged skeleton is 0 and lies between r and the largest turn."""
    x = torch.zeros(1, 3, 4, 3, 1)
    x[0, :, :, :, 0] = torch.tensor([[0.0, 0, 0], [0, 1, 0], [1, 1, 0]]).T[:, None]
    phi = 0.8
    one = x.clone()  # the tip bone (1 m) turned by φ in frame 1 only
    one[0, :, 1, 2, 0] = x[0, :, 1, 1, 0] + torch.tensor([math.cos(phi), 0, math.sin(phi)])
    spread = x.clone()  # the tip bone turned by φ / 4 in every frame: the same mean turn
    spread[0, :, :, 2, 0] = (x[0, :, :, 1, 0]
                             + torch.tensor([math.cos(phi / 4), 0, math.sin(phi / 4)])[:, None])
    dist = DynamicDistance(CHAIN, turn_peak_weight=2.0)
    ref = dist.reference(x)
    t_one, t_spread = dist.terms(one, ref), dist.terms(spread, ref)
    assert t_one["r"].item() == pytest.approx(t_spread["r"].item(), rel=1e-4)
    assert t_one["t"].item() > 2 * t_spread["t"].item()
    assert t_one["r"].item() < t_one["t"].item() < phi
    assert dist.terms(x, ref)["t"].item() == pytest.approx(0.0, abs=1e-4)
    assert dist(one, ref).item() == pytest.approx(
        DynamicDistance(CHAIN)(one, ref).item() + 2.0 * t_one["t"].item(), rel=1e-5)
    sharp = DynamicDistance(CHAIN, turn_peak_weight=2.0, turn_peak_sharpness=500.0)
    t_sharp = sharp.terms(one, ref)
    assert t_one["t"].item() < t_sharp["t"].item() < phi  # nearer the largest turn
    assert t_sharp["j"].item() == pytest.approx(t_one["j"].item(), rel=1e-6)  # j keeps its k
    with pytest.raises(ElaError, match="turn_peak_weight"):
        DynamicDistance(CHAIN, turn_peak_weight=-1.0)
    with pytest.raises(ElaError, match="turn_peak_sharpness"):
        DynamicDistance(CHAIN, turn_peak_sharpness=0.0)


def test_the_still_term_prices_a_standing_joint_set_moving_apart_from_the_moving_ones():
    """h is s over the clean-still joint-frames alone: a standing joint pushed 1 cm out for
    one frame (10 mm/frame, in and back) costs 10 min_speed in each of its two changed
    speed frames; s spreads that over every joint-frame, h over the still joint's only."""
    x = torch.zeros(1, 3, 4, 3, 1)
    x[0, :, :, :, 0] = torch.tensor([[0.0, 0, 0], [0, 1, 0], [1, 1, 0]]).T[:, None]
    x[0, 1, :, :2, 0] += 0.1 * torch.arange(4.0)[:, None]  # joints 0 and 1 walk along y
    pushed = x.clone()
    pushed[0, 2, 2, 2, 0] += 0.01  # joint 2 stands; pushed 1 cm along z in frame 2
    dist = DynamicDistance(CHAIN, velocity=True, still_weight=2.0)
    ref = dist.reference(x)
    terms = dist.terms(pushed, ref)
    assert terms["s"].item() == pytest.approx(20 / 9, rel=1e-4)  # 3 joints × 3 speed frames
    assert terms["h"].item() == pytest.approx(20 / 3, rel=1e-4)  # the still joint's 3
    assert dist.terms(x, ref)["h"].item() == pytest.approx(0.0, abs=1e-6)
    assert dist(pushed, ref).item() == pytest.approx(
        DynamicDistance(CHAIN, velocity=True)(pushed, ref).item() + 2.0 * terms["h"].item(),
        rel=1e-5)
    with pytest.raises(ElaError, match="still_weight"):
        DynamicDistance(CHAIN, still_weight=-1.0)


def test_reference_select_keeps_rows():
    x, _, lengths = _chain_pair()
    both = torch.cat([x, 2 * x])
    ref = DynamicDistance(CHAIN).reference(both, torch.cat([lengths, lengths]))
    sub = ref.select(torch.tensor([1]))
    assert torch.equal(sub.bone, ref.bone[1:]) and torch.equal(sub.speed_mask, ref.speed_mask[1:])


def test_smart_perceptual_loss_by_hand():
    x, x_adv, lengths = _chain_pair()
    loss = SmartPerceptualLoss(CHAIN, recon_weight=0.4, bone_weight=0.7)
    assert spine_joints(CHAIN) == [0]
    tip2 = x_adv[0, :, 2, 2, 0]
    d2 = tip2 - x[0, :, 2, 2, 0]
    l2 = 0.02 * (0.01 + float(d2 @ d2))  # tip is not a spine joint
    bone = 0.1**2  # frame 0 tip bone; frame 2 keeps its length
    acc = float((d2 + torch.tensor([0.1, 0, 0])).pow(2).sum()) * 30.0**4
    want = 0.6 * 0.7 * bone + 0.6 * 0.3 * acc + 0.4 * l2
    got = loss(x_adv, loss.reference(x, lengths))
    assert got.item() == pytest.approx(want, rel=1e-4)
    assert [get_layout("ntu25").joints[j] for j in spine_joints(get_layout("ntu25"))] == [
        "spine_base", "spine_mid", "neck", "head", "spine_shoulder"]


def test_margins_by_hand():
    logits = torch.tensor([[3.0, 1.0, 2.0], [3.0, 1.0, 2.0]])
    labels = torch.tensor([0, 1])
    assert margin(logits, labels, conf=0.5).tolist() == pytest.approx([1.5, 0.0])
    targets = torch.tensor([1, 0])
    assert margin(logits, labels, targets, conf=0.5).tolist() == pytest.approx([2.5, 0.0])
    assert margin(logits, labels, targets, conf=1.5).tolist() == pytest.approx([3.5, 0.5])
    preds = logits.argmax(1)
    assert is_adversarial(preds, labels).tolist() == [False, True]
    assert is_adversarial(preds, labels, targets).tolist() == [False, True]
    ce = classification_loss(logits, labels)
    assert ce[0].item() == pytest.approx(-(math.log(math.exp(3) + math.exp(1) + math.exp(2)) - 3))


class _TinyEmotion(SkeletonModel):
    kind = "emotion"

    def __init__(self, layout, num_classes=4, in_channels=3):
        super().__init__(layout, num_classes, in_channels)
        self.body = nn.Linear(in_channels * layout.num_joints, 8)
        self.head = nn.Linear(8, num_classes)

    def forward_features(self, x):
        n, c, t, v, m = x.shape
        h = torch.tanh(self.body(x.permute(0, 2, 4, 1, 3).reshape(n, t * m, c * v))).mean(1)
        return self.head(h), h


def test_emotion_distance_across_layouts_has_gradients():
    torch.manual_seed(0)
    emo = _TinyEmotion(get_layout("gait16")).eval()
    dist = EmotionDistance(emo, "ntu25")
    x = torch.randn(2, 3, 6, 25, 1) * 0.3
    ref = dist.reference(x)
    assert ref.features.shape == (2, 8)
    start = x.clone().requires_grad_(True)
    d0 = dist(start, ref)
    assert d0.max().item() < 1e-5
    d0.sum().backward()
    assert torch.isfinite(start.grad).all()
    moved = (x + 0.05 * torch.randn_like(x)).requires_grad_(True)
    d = dist(moved, ref)
    assert (d > 1e-4).all()
    d.sum().backward()
    grad = moved.grad
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0
    # joints without a gait16 counterpart (hand tips, thumbs, hands) get no gradient
    unmapped = [get_layout("ntu25").index(n) for n in ("left_hand_tip", "right_thumb", "left_hand")]
    assert grad[:, :, :, unmapped].abs().sum() == 0


def test_velocity_speed_term_charges_a_change_of_direction():
    """A joint that keeps its speed but turns costs nothing to the speed-magnitude term and
    |v' − v| / max(S, floor) to the velocity term, which bounds the magnitude term."""
    x, x_adv, lengths = _chain_pair()
    turned = x.clone()
    turned[0, 0, 1, 2, 0], turned[0, 1, 1, 2, 0] = 0.0, 1.0 + 1.0  # tip at frame 1: (0, 2)
    plain, velocity = DynamicDistance(CHAIN), DynamicDistance(CHAIN, velocity=True)
    ref = plain.reference(x, lengths)
    for adv in (x_adv, turned):
        assert velocity.terms(adv, ref)["s"] >= plain.terms(adv, ref)["s"] - 1e-6
    mirrored = x.clone()
    mirrored[0, 0, :3] *= -1  # every x coordinate mirrored: speeds equal, directions not
    assert plain.terms(mirrored, ref)["s"].item() == pytest.approx(0.0, abs=1e-5)
    assert velocity.terms(mirrored, ref)["s"].item() > 0.1
