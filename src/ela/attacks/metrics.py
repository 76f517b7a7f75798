"""Imperceptibility metrics of adversarial skeleton sequences, per sample and summarised.

Definitions (paper 000 §3.2, with the guards the paper leaves implicit); all are fractions
or SI units, never percent:

* bone_length_change ΔB/B: mean over valid bones × frames × persons of |B' − B| / B; bones
  with B < 1 mm on the clean x are excluded.
* bone_angle_change ΔA/A: mean relative change |A' − A| / A of the joint angles (atan2);
  angles below 1e-3 rad or with an arm shorter than 1 mm are excluded.
* joint_speed_change ΔS/S: mean |S' − S| / S over valid consecutive-frame pairs; joints
  moving less than 1e-3 m/frame (still joints) are excluded.
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
from typing import TYPE_CHECKING

import torch
from torch import nn

from ela.attacks.distances import (
    MIN_ANGLE,
    MIN_LENGTH,
    MIN_SPEED,
    EmotionDistance,
    dynamic_reference,
    masked_mean,
    relative_changes,
)
from ela.attacks.objectives import is_adversarial
from ela.skeleton import Layout, acceleration_mask, get_layout, valid_mask

if TYPE_CHECKING:
    from ela.attacks.base import AttackResult

METRICS = ("bone_length_change", "bone_angle_change", "joint_speed_change", "l2", "linf",
           "acceleration_change")


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
        return {
            "bone_length_change": rel["b"],
            "bone_angle_change": rel["a"],
            "joint_speed_change": rel["s"],
            "l2": torch.linalg.vector_norm(d.flatten(1), dim=1) / n_frames,
            "linf": d.abs().flatten(1).amax(1),
            "acceleration_change": masked_mean(acc_norm, acc_valid, math.nan),
        }


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


def _nanmean(values: torch.Tensor) -> float | None:
    values = values.float()
    if values.numel() == 0 or torch.isnan(values).all():
        return None
    return float(values.nanmean())


def summarize(
    result: AttackResult,
    emotion_model: nn.Module | None = None,
    batch_size: int = 256,
) -> dict[str, float | int | None]:
    """Dataset-level numbers of an `AttackResult` (fractions, not percent).

    ``success_rate`` is the share of all N samples that are adversarial after the attack
    (the paper's SR); ``success_rate_attacked`` leaves out the samples that were already
    adversarial on the clean input (``num_already_adversarial``), which the attack returns
    unchanged. Metric averages never include those samples: for every metric, ``<metric>``
    is the mean over the successful attacked samples — the paper's convention, its N being
    the adversarial samples — and ``<metric>_all`` the mean over all attacked samples.
    ``emotion_consistency`` is the share of successful attacked samples whose emotion
    prediction (through the layout mapping) is unchanged (``_all``: all attacked samples);
    None without an emotion model. ``model_evaluations_per_sample`` counts forward passes of
    the attacked model, ``model_gradients_per_sample`` its backward passes, both averaged
    over all N. Averages over an empty set are None.
    """
    ok = result.success.bool().cpu()
    targets = None if result.targets is None else result.targets.cpu()
    already = is_adversarial(result.clean_predictions.cpu(), result.labels.cpu(), targets)
    attacked = ~already
    won = ok & attacked
    out: dict[str, float | int | None] = {
        "num_samples": int(ok.numel()),
        "num_successful": int(ok.sum()),
        "num_already_adversarial": int(already.sum()),
        "success_rate": _nanmean(ok.float()),
        "success_rate_attacked": _nanmean(ok[attacked].float()),
    }
    for name in METRICS:
        values = result.metrics[name].detach().cpu()
        out[name] = _nanmean(values[won])
        out[f"{name}_all"] = _nanmean(values[attacked])
    out["emotion_consistency"] = out["emotion_consistency_all"] = None
    if emotion_model is not None:
        clean = emotion_predictions(emotion_model, result.original, result.layout, batch_size)
        adv = emotion_predictions(emotion_model, result.adversarial, result.layout, batch_size)
        same = (clean == adv).cpu().float()
        out["emotion_consistency"] = _nanmean(same[won])
        out["emotion_consistency_all"] = _nanmean(same[attacked])
    out["model_evaluations_per_sample"] = _nanmean(result.evaluations.cpu())
    out["model_gradients_per_sample"] = _nanmean(result.gradients.cpu())
    out["seconds"] = float(result.seconds)
    return out
