"""Perceptual distances between a clean batch x and a perturbed batch x', per sample.

* `DynamicDistance`: the dynamic distance of the Emotion Loss Attack, b + a + s — mean
  relative change of bone lengths, bone angles (atan2) and joint speeds.
* `EmotionDistance`: e, the change of an emotion model's view of the motion: by default the
  relative change ‖E(x) − E(x')‖₂ / ‖E(x)‖₂ of its penultimate-layer features (a fraction,
  like b, a and s), read through a layout mapping when its skeleton differs.
* `SmartPerceptualLoss`: the perceptual loss of SMART (Wang et al., CVPR 2021).

Every distance splits into `reference(x, lengths)`, computed once per attack without
gradients, and `__call__(x_adv, ref)`, differentiable in x_adv. References have `select(index)`
so an attack can drop finished samples from its active batch.

Which elements count is decided on the CLEAN x: frames beyond `lengths` and absent persons
(all-zero) are out; bones shorter than `min_length` (metres) and angles whose arms are shorter
than `min_length` or which are smaller than `min_angle` (radians) are out, because a relative
change of a (near) zero length or angle is undefined. Joint speeds are never left out:
nothing may move for free. A joint's speed change is divided by max(S, `min_speed`)
(`min_speed` in metres per frame), so for a moving joint it is the paper's |S' − S| / S and
for a still joint (S < `min_speed`) it is the speed the attack gave it, in units of
`min_speed`: a standing foot pushed to 1 cm/frame costs as much as doubling the speed of a
joint that moves at 1 cm/frame.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Literal

import torch
from torch import nn

from ela.errors import ElaError
from ela.skeleton import (
    Layout,
    bone_angles,
    bone_lengths,
    bone_turns,
    bone_vectors,
    get_layout,
    joint_speeds,
    layout_indices,
    map_layout,
    mapping_matrix,
    speed_mask,
    valid_mask,
)

MIN_LENGTH = 1e-3  # m: shorter bones (and angle arms) count as zero-length and are skipped
MIN_ANGLE = 1e-3  # rad: smaller angles are skipped (relative change undefined)
MIN_SPEED = 1e-3  # m/frame (3 cm/s at 30 fps): the speed floor; slower joints count as still


class _Selectable:
    """Dataclass mix-in: `select(index)` indexes every tensor field along the sample axis."""

    def select(self, index: torch.Tensor):
        return type(self)(**{f.name: getattr(self, f.name)[index] for f in fields(self)})


@dataclass
class DynamicReference(_Selectable):
    """Clean features and masks, each (N, T or T−1, elements, M); `bone_vec` (N, 3, T, B,
    M), `velocity` (N, 3, T−1, V, M) and `acceleration` (N, 3, T−2, V, M) with its mask
    `accel_mask` (N, T−2, V, M: three valid frames); `position` (N, 3, T, V, M) the clean joints;
    `speed_scale` = max(S, min_speed), the
    denominator of the speed term, and `still_mask` (N, T−1, V, M) the counted joint-frames
    slower than min_speed; `centre` (N, 3, T, M) the centre joint's path, `body`
    (N,) the mean length of the counted bones (the scale of the centre-shift term) and
    `frame_mask` (N, T, M) the valid frames of present persons."""

    bone: torch.Tensor
    bone_vec: torch.Tensor
    position: torch.Tensor
    centre: torch.Tensor
    body: torch.Tensor
    frame_mask: torch.Tensor
    angle: torch.Tensor
    speed: torch.Tensor
    velocity: torch.Tensor
    acceleration: torch.Tensor
    speed_scale: torch.Tensor
    bone_mask: torch.Tensor
    angle_mask: torch.Tensor
    speed_mask: torch.Tensor
    still_mask: torch.Tensor
    accel_mask: torch.Tensor


def dynamic_reference(
    x: torch.Tensor,
    layout: Layout,
    lengths: torch.Tensor | None = None,
    min_length: float = MIN_LENGTH,
    min_angle: float = MIN_ANGLE,
    min_speed: float = MIN_SPEED,
) -> DynamicReference:
    """Clean bone lengths B, angles A, speeds S of x (N, C, T, V, M) and their masks."""
    with torch.no_grad():
        frames = valid_mask(x, lengths)  # (N, T, M)
        bone = bone_lengths(x, layout)
        angle = bone_angles(x, layout)
        speed = joint_speeds(x)
        arm_a, arm_c = angle_arms(x, layout)
        bone_mask = frames[:, :, None, :] & (bone >= min_length)
        velocity = x[:, :3, 1:] - x[:, :3, :-1]
        moving = speed_mask(frames)[:, :, None, :].expand_as(speed)
        return DynamicReference(
            bone=bone,
            bone_vec=bone_vectors(x, layout),
            position=x[:, :3],
            centre=x[:, :3, :, layout.centre],
            body=masked_mean(bone, bone_mask, 1.0),
            frame_mask=frames,
            angle=angle,
            speed=speed,
            velocity=velocity,
            acceleration=velocity[:, :, 1:] - velocity[:, :, :-1],
            speed_scale=speed.clamp(min=min_speed),
            bone_mask=bone_mask,
            angle_mask=frames[:, :, None, :]
            & (arm_a >= min_length)
            & (arm_c >= min_length)
            & (angle >= min_angle),
            speed_mask=moving,
            still_mask=moving & (speed < min_speed),
            accel_mask=moving[:, 1:] & moving[:, :-1],
        )


def angle_arms(x: torch.Tensor, layout: Layout) -> tuple[torch.Tensor, torch.Tensor]:
    """Lengths |a − b| and |c − b| of the two arms of every angle triplet, (N, T, A, M)."""
    idx = layout_indices(layout, x.device)
    xyz = x[:, :3]
    centre = xyz[:, :, :, idx["angle_b"]]
    return (torch.linalg.vector_norm(xyz[:, :, :, idx["angle_a"]] - centre, dim=1),
            torch.linalg.vector_norm(xyz[:, :, :, idx["angle_c"]] - centre, dim=1))


def masked_mean(values: torch.Tensor, mask: torch.Tensor, empty: float) -> torch.Tensor:
    """(N,) mean of values over mask per sample; `empty` where a sample has no element."""
    total = torch.where(mask, values, torch.zeros_like(values)).flatten(1).sum(1)
    count = mask.flatten(1).sum(1)
    out = total / count.clamp(min=1)
    return torch.where(count > 0, out, torch.full_like(out, empty))


def relative_changes(
    x_adv: torch.Tensor,
    ref: DynamicReference,
    layout: Layout,
    tolerances: tuple[float, float, float] = (0.0, 0.0, 0.0),
    eps: float = 0.0,
    empty: float = 0.0,
    velocity: bool = False,
    sharpness: float = 50.0,
    turn_sharpness: float = 50.0,
) -> dict[str, torch.Tensor]:
    """Per-sample changes {"b", "a", "s", "r", "p", "j", "q", "c", "t", "h"} (N,); b, a, s
    each relu(change − ε).

    b = |B' − B| / (B + eps), a = |A' − A| / (A + eps), s = |S' − S| / max(S, min_speed);
    with `velocity`, s = ‖v' − v‖ / max(S, min_speed) instead, the change of the velocity
    vector: it bounds |S' − S| from above and also charges a change of direction.
    r = the angle (radians) by which each bone turns from its clean direction
    (`ela.skeleton.bone_turns`), over the bones b counts: what b and a cannot see.
    p = ‖c' − c‖ / body, the shift of the centre joint c over the valid frames, relative
    to the mean bone length of the clean sample: a whole-body translation, which no other
    term sees while it is steady. Joint positions are the centre joint plus sums of bone
    vectors, so b, r and p together leave no displacement free.

    b, a, s, r and p are means over bones, angles, joints and frames, so a change that
    moves one limb far in a few frames costs little. Two terms price where the change is,
    on u = ‖x'ᵥₜ − xᵥₜ‖ / body, each joint-frame's displacement relative to the mean bone
    length: j = (logsumexp(k·u) − log n) / k over the n valid joint-frames, a soft maximum
    (between the mean and the largest u; k = `sharpness`), and q = mean of u², which grows
    with the square of a concentrated change.

    c = ‖Δ²x' − Δ²x‖ / body, the change of each joint's acceleration (second difference over
    three valid frames) relative to the mean bone length: the quantity SMART's perceptual
    loss weighs, and what makes a change read as a jerk rather than a different motion.

    t = the soft maximum (as j, with k = `turn_sharpness` per radian) of r's turns over the
    bones and frames r counts, radians: the largest turn of a bone, which r's mean lets one
    short bone make in a few frames.

    h = s's change over the clean-still joint-frames alone (S < min_speed: the speed the
    attack gave a joint that stood, in units of min_speed): s averages them with every
    moving joint, so where few joints stand a term that spreads the change (q) can set them
    moving at little cost in s.
    """
    v_adv = x_adv[:, :3, 1:] - x_adv[:, :3, :-1]
    if velocity:
        d = v_adv - ref.velocity
        speed_change = torch.sqrt((d * d).sum(1) + 1e-18)
    else:
        speed_change = (joint_speeds(x_adv) - ref.speed).abs()
    feats = {
        "b": ((bone_lengths(x_adv, layout) - ref.bone).abs() / (ref.bone + eps), ref.bone_mask),
        "a": ((bone_angles(x_adv, layout) - ref.angle).abs() / (ref.angle + eps), ref.angle_mask),
        "s": (speed_change / ref.speed_scale, ref.speed_mask),
    }
    shift = x_adv[:, :3, :, layout.centre] - ref.centre
    feats["r"] = (bone_turns(x_adv, ref.bone_vec, layout), ref.bone_mask)
    feats["p"] = (torch.sqrt((shift * shift).sum(1) + 1e-18) / ref.body[:, None, None],
                  ref.frame_mask)
    move = x_adv[:, :3] - ref.position
    u = torch.sqrt((move * move).sum(1) + 1e-18) / ref.body[:, None, None, None]  # (N,T,V,M)
    joints = ref.frame_mask[:, :, None, :].expand_as(u)
    feats["q"] = (u * u, joints)
    feats["h"] = (feats["s"][0], ref.still_mask)
    jerk = (v_adv[:, :, 1:] - v_adv[:, :, :-1]) - ref.acceleration
    feats["c"] = (torch.sqrt((jerk * jerk).sum(1) + 1e-18) / ref.body[:, None, None, None],
                  ref.accel_mask)
    tolerance = dict(zip("bas", tolerances, strict=True))  # the other terms have none
    out = {}
    for key, (rel, mask) in feats.items():
        if tol := tolerance.get(key, 0.0):
            rel = torch.relu(rel - tol)
        out[key] = masked_mean(rel, mask, empty)
    out["j"] = soft_maximum(u, joints, sharpness, empty)
    out["t"] = soft_maximum(feats["r"][0], ref.bone_mask, turn_sharpness, empty)
    return out


def soft_maximum(values: torch.Tensor, mask: torch.Tensor, sharpness: float,
                 empty: float = 0.0) -> torch.Tensor:
    """(N,) (logsumexp(k·v) − log n) / k over the n masked elements of each sample: between
    their mean and their maximum, nearer the maximum as k grows; `empty` where n = 0."""
    scaled = torch.where(mask, sharpness * values, torch.full_like(values, -torch.inf))
    count = mask.flatten(1).sum(1)
    peak = (torch.logsumexp(scaled.flatten(1), dim=1) - torch.log(count.clamp(min=1))) / sharpness
    return torch.where(count > 0, peak, torch.full_like(peak, empty))


class DynamicDistance:
    """Differentiable dynamic distance w_b·b + w_a·a + w_s·s + w_r·r + w_p·p + w_j·j + w_q·q
    + w_c·c + w_t·t + w_h·h per sample (fractions, not %; r in radians; terms as in
    `relative_changes`).

    Args:
        layout: skeleton layout of the data.
        weights: (w_b, w_a, w_s).
        turn_weight: w_r, weight of the bone-turn term r (0: the paper's b + a + s).
        shift_weight: w_p, weight of the centre-shift term p (0: the paper's).
        peak_weight: w_j, weight of the soft maximum j of the relative joint displacement
            (0: the paper's); peak_sharpness is its k.
        spread_weight: w_q, weight of q, the mean squared relative joint displacement
            (0: the paper's).
        accel_weight: w_c, weight of c, the relative acceleration change (0: the paper's).
        turn_peak_weight: w_t, weight of t, the soft maximum of the bone turns (radians;
            0: the paper's); turn_peak_sharpness is its k (per radian).
        still_weight: w_h, weight of h, the speed given to clean-still joints (in units of
            min_speed; 0: the paper's).
        tolerances: (ε_b, ε_a, ε_s); a relative change below ε costs nothing (relu(change − ε)).
        min_length, min_angle, min_speed: see the module docstring (m, rad, m/frame).
        eps: added to the bone and angle denominators as a second guard.
        velocity: measure the speed term on velocity vectors (see `relative_changes`).
    """

    def __init__(
        self,
        layout: str | Layout,
        weights: tuple[float, float, float] = (1.0, 1.0, 1.0),
        tolerances: tuple[float, float, float] = (0.0, 0.0, 0.0),
        min_length: float = MIN_LENGTH,
        min_angle: float = MIN_ANGLE,
        min_speed: float = MIN_SPEED,
        eps: float = 1e-8,
        velocity: bool = False,
        turn_weight: float = 0.0,
        shift_weight: float = 0.0,
        peak_weight: float = 0.0,
        peak_sharpness: float = 50.0,
        spread_weight: float = 0.0,
        accel_weight: float = 0.0,
        turn_peak_weight: float = 0.0,
        turn_peak_sharpness: float = 50.0,
        still_weight: float = 0.0,
    ):
        if len(weights) != 3 or len(tolerances) != 3:
            raise ElaError("DynamicDistance: weights and tolerances need 3 values (b, a, s)")
        if min(tolerances) < 0:
            raise ElaError(f"DynamicDistance: tolerances must be ≥ 0, got {tolerances}")
        if min_speed <= 0:
            raise ElaError(f"DynamicDistance: min_speed must be > 0 m/frame, got {min_speed}")
        self.layout = get_layout(layout)
        self.weights = tuple(float(w) for w in weights)
        self.tolerances = tuple(float(t) for t in tolerances)
        self.thresholds = (min_length, min_angle, min_speed)
        self.eps = eps
        self.velocity = bool(velocity)
        if min(turn_weight, shift_weight) < 0:
            raise ElaError("DynamicDistance: turn_weight and shift_weight must be ≥ 0, got "
                           f"{turn_weight}, {shift_weight}")
        self.turn_weight, self.shift_weight = float(turn_weight), float(shift_weight)
        if (min(peak_weight, spread_weight, accel_weight, turn_peak_weight, still_weight) < 0
                or min(peak_sharpness, turn_peak_sharpness) <= 0):
            raise ElaError("DynamicDistance: peak_weight, spread_weight, accel_weight, "
                           "turn_peak_weight and still_weight must be ≥ 0, peak_sharpness "
                           "and turn_peak_sharpness > 0, got "
                           f"{peak_weight}, {spread_weight}, {accel_weight}, "
                           f"{turn_peak_weight}, {still_weight}, {peak_sharpness}, "
                           f"{turn_peak_sharpness}")
        self.peak_weight, self.spread_weight = float(peak_weight), float(spread_weight)
        self.accel_weight = float(accel_weight)
        self.turn_peak_weight = float(turn_peak_weight)
        self.still_weight = float(still_weight)
        self.peak_sharpness = float(peak_sharpness)
        self.turn_peak_sharpness = float(turn_peak_sharpness)

    def reference(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> DynamicReference:
        """Clean features of x (N, C, T, V, M), computed once per attack."""
        return dynamic_reference(x, self.layout, lengths, *self.thresholds)

    def terms(self, x_adv: torch.Tensor, ref: DynamicReference) -> dict[str, torch.Tensor]:
        """Unweighted per-sample terms {"b", "a", "s", "r", "p", "j", "q", "c", "t", "h"},
        each (N,)."""
        return relative_changes(x_adv, ref, self.layout, self.tolerances, self.eps,
                                velocity=self.velocity, sharpness=self.peak_sharpness,
                                turn_sharpness=self.turn_peak_sharpness)

    def __call__(self, x_adv: torch.Tensor, ref: DynamicReference) -> torch.Tensor:
        """(N,) weighted sum of the terms."""
        t = self.terms(x_adv, ref)
        wb, wa, ws = self.weights
        return (wb * t["b"] + wa * t["a"] + ws * t["s"] + self.turn_weight * t["r"]
                + self.shift_weight * t["p"] + self.peak_weight * t["j"]
                + self.spread_weight * t["q"] + self.accel_weight * t["c"]
                + self.turn_peak_weight * t["t"] + self.still_weight * t["h"])


EmotionMode = Literal["relative", "kl", "feature"]
EMOTION_MODES = ("relative", "kl", "feature")


@dataclass
class EmotionReference(_Selectable):
    """Clean emotion features E(x) (N, D), their norms (N,) and log-posteriors (N, K)."""

    features: torch.Tensor
    norm: torch.Tensor
    log_prob: torch.Tensor


class EmotionDistance:
    """e(x, x'): how much the emotion model's view of the motion changes, per sample.

    Modes (`mode`):

    * ``"relative"`` (default): ‖E(x) − E(x')‖₂ / ‖E(x)‖₂, the relative change of the
      penultimate-layer features — a fraction like b, a and s, whatever the width or scale
      of the feature layer;
    * ``"kl"``: KL(p(x) ‖ p(x')) between the emotion posteriors (nats);
    * ``"feature"``: the raw ‖E(x) − E(x')‖₂ of the paper's formula. Its scale is that of
      the feature layer (a 512-d CNN layer gives values hundreds of times larger than the
      relative bone changes), so beside b, a and s it dominates D.

    E is the emotion model's penultimate layer, the representation before the emotion
    logits. When the emotion model's layout differs from `source_layout`, x is mapped first
    with `mapping_matrix(source, emotion layout)`; the mapped sequence keeps the same frame
    count T. Only the first `in_channels` coordinates of x are fed.
    """

    def __init__(self, emotion_model: nn.Module, source_layout: str | Layout,
                 mode: EmotionMode = "relative"):
        if not hasattr(emotion_model, "forward_features") or not hasattr(emotion_model, "layout"):
            raise ElaError("EmotionDistance: emotion_model must be a SkeletonModel "
                           "(with .layout and .forward_features)")
        if mode not in EMOTION_MODES:
            raise ElaError(f"EmotionDistance: mode must be one of {EMOTION_MODES}, got {mode!r}")
        self.model = emotion_model
        self.mode = mode
        self.source = get_layout(source_layout)
        self.target = get_layout(emotion_model.layout)
        self.channels = int(getattr(emotion_model, "in_channels", 3))
        self.mapping = (None if self.source.name == self.target.name
                        else mapping_matrix(self.source, self.target))

    def emotion_input(self, x: torch.Tensor) -> torch.Tensor:
        """x (N, C, T, V_source, M) → (N, in_channels, T, V_emotion, M)."""
        x = x[:, : self.channels]
        return x if self.mapping is None else map_layout(x, self.mapping)

    def embed(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits (N, K), features (N, D)) of the emotion model on x."""
        logits, feats = self.model.forward_features(self.emotion_input(x))
        return logits, feats.flatten(1)

    def reference(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> EmotionReference:
        with torch.no_grad():
            logits, feats = self.embed(x)
            return EmotionReference(feats, feats.norm(dim=1).clamp(min=1e-12),
                                    torch.log_softmax(logits, dim=1))

    def __call__(self, x_adv: torch.Tensor, ref: EmotionReference) -> torch.Tensor:
        logits, feats = self.embed(x_adv)
        if self.mode == "kl":
            log_q = torch.log_softmax(logits, dim=1)
            return (ref.log_prob.exp() * (ref.log_prob - log_q)).sum(1)
        diff = feats - ref.features
        # sqrt(Σ d² + tiny): finite gradient at x' = x, where the distance starts.
        dist = torch.sqrt((diff * diff).sum(1) + 1e-12)
        return dist / ref.norm if self.mode == "relative" else dist


_SPINE_WORDS = ("spine", "neck", "head", "root", "pelvis", "thorax", "centre", "chest", "hips")


def spine_joints(layout: Layout) -> list[int]:
    """Indices of torso/head joints, chosen by name (spine, neck, head, root, pelvis, ...)."""
    return [j for j, name in enumerate(layout.joints)
            if any(w in name.lower() for w in _SPINE_WORDS)]


@dataclass
class SmartReference(_Selectable):
    """Clean data, bone lengths and masks for the SMART loss."""

    x: torch.Tensor
    bone: torch.Tensor
    frames: torch.Tensor  # (N, T, M) bool


class SmartPerceptualLoss:
    """SMART's perceptual loss per sample (squared errors, SI units):

    (1−rw)·blw·L_bone + (1−rw)·(1−blw)·L_acc + rw·L_l2, with
    L_bone = Σ (|b'| − |b|)² over bones × valid frames,
    L_acc = Σ ‖Δ²x'/Δt² − Δ²x/Δt²‖² over joints × valid frame triples (Δt = 1/30 s),
    L_l2 = Σ w_v ‖x' − x‖² over joints × valid frames, w_v = 0.04 on spine joints
    (`spine_joints`), 0.02 elsewhere. As in the public SMART code, joint weights enter L_l2
    only.
    """

    def __init__(
        self,
        layout: str | Layout,
        recon_weight: float = 0.4,
        bone_weight: float = 0.7,
        dt: float = 1 / 30,
        joint_weight: float = 0.02,
        spine_weight: float = 0.04,
    ):
        self.layout = get_layout(layout)
        self.recon_weight = recon_weight
        self.bone_weight = bone_weight
        self.dt = dt
        w = torch.full((self.layout.num_joints,), joint_weight)
        w[spine_joints(self.layout)] = spine_weight
        self.joint_weights = w

    def reference(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> SmartReference:
        with torch.no_grad():
            return SmartReference(x=x[:, :3].clone(), bone=bone_lengths(x, self.layout),
                                  frames=valid_mask(x, lengths))

    def __call__(self, x_adv: torch.Tensor, ref: SmartReference) -> torch.Tensor:
        frames = ref.frames.to(x_adv.dtype)  # (N, T, M)
        d = x_adv[:, :3] - ref.x  # (N, 3, T, V, M)
        w = self.joint_weights.to(x_adv.device, x_adv.dtype)
        l2 = ((d * d).sum(1) * w[None, None, :, None] * frames[:, :, None]).flatten(1).sum(1)
        dbone = bone_lengths(x_adv, self.layout) - ref.bone
        bone = (dbone * dbone * frames[:, :, None]).flatten(1).sum(1)
        acc = (d[:, :, 2:] - 2 * d[:, :, 1:-1] + d[:, :, :-2]) / (self.dt * self.dt)
        acc_mask = frames[:, 2:] * frames[:, 1:-1] * frames[:, :-2]
        acc_loss = ((acc * acc).sum(1) * acc_mask[:, :, None]).flatten(1).sum(1)
        rw, blw = self.recon_weight, self.bone_weight
        return (1 - rw) * blw * bone + (1 - rw) * (1 - blw) * acc_loss + rw * l2
