"""Imperceptibility metrics of adversarial skeleton sequences, per sample (their dataset
summary is `ela.attacks.summary`).

Definitions (paper 000 §3.2, with the guards the paper leaves implicit); all are fractions
or SI units, never percent. The floors are `METRIC_FLOORS` (metres, radians, metres/frame);
`ela.attacks.summary.summarize` and `ela attack` write them into every summary.

* bone_length_change ΔB/B: mean over valid bones × frames × persons of |B' − B| / B; bones
  with B < 1 mm on the clean x are excluded.
* bone_angle_change ΔA/A: mean relative change |A' − A| / A of the inner joint angles
  (atan2 of the two bones meeting at a joint, ≈ π for a straight limb); angles below 1e-3
  rad or with an arm shorter than 1 mm are excluded. Because a straight limb's angle is
  ≈ π, this is a small number for every attack.
* bone_angle_change_paper: the quantity behind the ΔA/A columns of the paper's tables (the
  angle measure of Zheng et al.'s public ADMM code, which the paper's numbers come from): per
  angle triplet (a, b, c) and frame, (‖Δa‖ + ‖Δb‖) / |a − b| + (‖Δc‖ + ‖Δb‖) / |c − b|, Δ the
  joint displacement — a small-angle estimate (radians) of how far the two arms turn; same
  masks as ΔA/A without the 1e-3 rad one. Not a relative change: compare it with the
  paper's ΔA/A column, not with ours.
* bone_turn: mean over the bones ΔB/B counts of the angle (radians) by which each bone
  turns from its clean direction. ΔB/B and ΔA/A cannot see a limb swung on a cone about
  its parent bone (lengths and inner angles stay); this sees every change of direction. A
  small turn θ moves the bone's far end by about θ·B.
* bone_turn_max: the largest turn (radians) of any counted bone in any valid frame: where
  the means above hide a limb swung far in a few frames.
* centre_shift: mean over valid frames and present persons of the displacement of the
  layout's centre joint (metres): a whole-body translation, which no relative measure sees.
* joint_speed_change ΔS/S: mean of |S' − S| / max(S, 1 mm/frame) over EVERY valid joint ×
  consecutive-frame pair: for moving joints the paper's |S' − S| / S; a still joint (clean
  speed under 1 mm/frame) counts with the speed it was given, in mm/frame — nothing moves
  for free.
* still_joint_speed: per sample, the largest adversarial speed (metres/frame) over the
  joint-frames that are still in the clean x (NaN when none is); `summarize` also reports
  ``still_joint_speed_p99_mm``, the 99th percentile (mm/frame) over all still joint-frames
  of the successful samples together.
* l2: ‖x − x'‖₂ over the whole sample divided by its frame count F (valid frames), so that
  the dataset value Σ‖x − x'‖₂ / (F × N) is the mean of this column.
* linf: max |x − x'| (metres).
* acceleration_change: mean over valid joints × frame triples of ‖Δ²x' − Δ²x‖, the change of
  the second temporal difference (metres/frame²), as SMART measures smoothness.

Frames past `lengths` and absent (all-zero) persons of the clean x are excluded everywhere.
A sample with no measurable element of a kind gets NaN for it; summaries use nan-means.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from ela.attacks.distances import (
    MIN_ANGLE,
    MIN_LENGTH,
    MIN_SPEED,
    EmotionDistance,
    angle_arms,
    dynamic_reference,
    masked_mean,
    relative_changes,
)
from ela.skeleton import (
    Layout,
    acceleration_mask,
    bone_turns,
    get_layout,
    joint_speeds,
    layout_indices,
    valid_mask,
)

METRICS = ("bone_length_change", "bone_angle_change", "bone_angle_change_paper", "bone_turn",
           "bone_turn_max",
           "centre_shift", "joint_speed_change", "still_joint_speed", "l2", "linf",
           "acceleration_change")

METRIC_FLOORS = {
    "min_bone_length_m": MIN_LENGTH,
    "min_angle_rad": MIN_ANGLE,
    "speed_floor_m_per_frame": MIN_SPEED,
    "still_below_m_per_frame": MIN_SPEED,
}
"""The guards of the metrics, as written into every summary."""


def imperceptibility(
    x: torch.Tensor,
    x_adv: torch.Tensor,
    layout: str | Layout,
    lengths: torch.Tensor | None = None,
    min_length: float = MIN_LENGTH,
    min_angle: float = MIN_ANGLE,
    min_speed: float = MIN_SPEED,
) -> dict[str, torch.Tensor]:
    """Per-sample metrics {name: (N,) float tensor} of x' against x, both (N, C, T, V, M)."""
    lay = get_layout(layout)
    with torch.no_grad():
        x, x_adv = x.float(), x_adv.float()
        ref = dynamic_reference(x, lay, lengths, min_length, min_angle, min_speed)
        rel = relative_changes(x_adv, ref, lay, empty=math.nan)
        frames = valid_mask(x, lengths)  # (N, T, M)
        d = (x_adv - x)[:, :3] * frames[:, None, :, None, :]
        n_frames = frames.any(dim=2).sum(1).clamp(min=1).to(x.dtype)
        acc = d[:, :, 2:] - 2 * d[:, :, 1:-1] + d[:, :, :-2]
        acc_norm = torch.linalg.vector_norm(acc, dim=1)  # (N, T−2, V, M)
        acc_valid = acceleration_mask(frames)[:, :, None, :].expand_as(acc_norm)
        still = ref.still_mask.flatten(1)
        adv_speed = torch.where(still, exact_speeds(x_adv).flatten(1), -1.0)
        fastest = (adv_speed.amax(1) if adv_speed.shape[1]
                   else torch.full((x.shape[0],), -1.0, device=x.device))
        turns = torch.where(ref.bone_mask, bone_turns(x_adv, ref.bone_vec, lay), -1.0)
        largest = turns.flatten(1).amax(1) if turns[0].numel() else torch.full_like(fastest, -1)
        return {
            "bone_length_change": rel["b"],
            "bone_angle_change": rel["a"],
            "bone_angle_change_paper": _angle_proxy(x, d, lay, frames, min_length),
            "bone_turn": rel["r"],
            "bone_turn_max": largest.where(largest >= 0, math.nan),
            "centre_shift": masked_mean(torch.linalg.vector_norm(d[:, :, :, lay.centre], dim=1),
                                        frames, math.nan),
            "joint_speed_change": rel["s"],
            "still_joint_speed": fastest.where(still.any(1), math.nan),
            "l2": torch.linalg.vector_norm(d.flatten(1), dim=1) / n_frames,
            "linf": d.abs().flatten(1).amax(1),
            "acceleration_change": masked_mean(acc_norm, acc_valid, math.nan),
        }


def _angle_proxy(x: torch.Tensor, d: torch.Tensor, layout: Layout, frames: torch.Tensor,
                 min_length: float) -> torch.Tensor:
    """(N,) Zheng et al.'s angle measure (see the module docstring) of displacements d."""
    idx = layout_indices(layout, x.device)
    arm_a, arm_c = angle_arms(x, layout)
    move = torch.linalg.vector_norm(d, dim=1)  # (N, T, V, M)
    ma, mb, mc = (move[:, :, idx[k]] for k in ("angle_a", "angle_b", "angle_c"))
    valid = frames[:, :, None, :] & (arm_a >= min_length) & (arm_c >= min_length)
    value = (ma + mb) / arm_a.clamp(min=min_length) + (mc + mb) / arm_c.clamp(min=min_length)
    return masked_mean(value, valid, math.nan)


def still_joint_speeds(x: np.ndarray | torch.Tensor, x_adv: np.ndarray | torch.Tensor,
                       lengths: np.ndarray | torch.Tensor | None = None,
                       min_speed: float = MIN_SPEED) -> np.ndarray:
    """Adversarial speeds (m/frame) of every joint-frame that is still in the clean x.

    x, x_adv (N, C, T, V, M); the values of all samples, flattened (empty when nothing is
    still). Their p99 is the summaries' ``still_joint_speed_p99_mm`` (in mm/frame).
    """
    x, x_adv = (torch.as_tensor(np.asarray(a), dtype=torch.float32) for a in (x, x_adv))
    if lengths is not None:
        lengths = torch.as_tensor(np.asarray(lengths))
    frames = valid_mask(x, lengths)
    speed = joint_speeds(x)
    still = (frames[:, 1:] & frames[:, :-1])[:, :, None, :] & (speed < min_speed)
    return exact_speeds(x_adv)[still].numpy()


def exact_speeds(x: torch.Tensor) -> torch.Tensor:
    """(N, T−1, V, M) joint speeds without the gradient guard of `joint_speeds` (exact 0
    for a joint that does not move), for measuring."""
    return torch.linalg.vector_norm(x[:, :3, 1:] - x[:, :3, :-1], dim=1)


def still_motion_p99_mm(speeds: np.ndarray) -> float | None:
    """p99 of still-joint speeds in mm/frame; None when there is no still joint-frame."""
    return float(np.percentile(speeds, 99) * 1000) if speeds.size else None


def emotion_predictions(
    emotion_model: nn.Module,
    x: torch.Tensor,
    source_layout: str | Layout,
    batch_size: int = 256,
) -> torch.Tensor:
    """(N,) emotion classes of x read through the layout mapping to the emotion model."""
    reader = EmotionDistance(emotion_model, source_layout)
    was_training = emotion_model.training
    emotion_model.eval()
    try:
        with torch.no_grad():
            out = [emotion_model.predict_class(emotion_model(reader.emotion_input(chunk)))
                   for chunk in x.split(batch_size)]
    finally:
        emotion_model.train(was_training)
    return torch.cat(out)
