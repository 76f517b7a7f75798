"""`AttackSummary`: the dataset-level numbers of an attack, and `summarize` that makes them.

The success rate counts only the samples the model classified correctly: a sample the model
already gets wrong on the clean input is not attacked (it is returned unchanged) and is
counted in `num_misclassified`, never as a success. Every value is a fraction or an SI unit,
never percent; an average over an empty set is None. ``to_dict()`` is what ``summary.json``
holds (before the run's own keys: model, dataset, options, ...).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from torch import nn

from ela.attacks.base import AttackResult, attacked_mask
from ela.attacks.metrics import (
    METRIC_FLOORS,
    METRICS,
    emotion_predictions,
    still_joint_speeds,
    still_motion_p99_mm,
)


@dataclass(frozen=True)
class AttackSummary:
    """The numbers of one attack over N samples.

    Attributes:
        num_samples: N, every sample given to the attack.
        num_misclassified: samples whose clean prediction is not their label: not attacked.
        num_attacked: samples attacked: the correctly classified ones (a targeted attack also
            leaves out a sample whose target is its own class).
        num_successful: attacked samples that are adversarial after the attack.
        success_rate: num_successful / num_attacked — the success over the correctly
            classified samples; None when none was attacked.
        success_rate_all: the share of all N samples that are adversarial after the attack,
            misclassified ones included (they are "adversarial" without any change).
        metrics: {metric: mean over the successful attacked samples} for every metric of
            `ela.attacks.metrics.METRICS` (fractions, metres, radians, metres/frame) — the
            paper's convention, its N being the adversarial samples.
        metrics_all: {metric: mean over all attacked samples}.
        emotion_consistency: share of the successful attacked samples whose predicted
            emotion is unchanged; None without an emotion model.
        emotion_consistency_all: the same over all attacked samples.
        still_joint_speed_p99_mm: p99 adversarial speed (mm/frame) of the joint-frames that
            are still in the clean input, over the successful attacked samples.
        model_evaluations_per_sample: forward passes of the attacked model, mean over all N;
            `model_evaluations_median` and `model_evaluations_p90` beside it.
        model_gradients_per_sample: backward passes of the attacked model, mean over all N.
        seconds: wall time of the attack.
        metric_floors: the metrics' guards (`ela.attacks.metrics.METRIC_FLOORS`).
    """

    num_samples: int
    num_misclassified: int
    num_attacked: int
    num_successful: int
    success_rate: float | None
    success_rate_all: float | None
    metrics: dict[str, float | None]
    metrics_all: dict[str, float | None]
    emotion_consistency: float | None
    emotion_consistency_all: float | None
    still_joint_speed_p99_mm: float | None
    model_evaluations_per_sample: float | None
    model_evaluations_median: float | None
    model_evaluations_p90: float | None
    model_gradients_per_sample: float | None
    seconds: float
    metric_floors: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        """The flat JSON-able form of ``summary.json``: each metric as ``<metric>`` (over
        the successful attacked samples) and ``<metric>_all`` (over all attacked ones)."""
        out: dict[str, Any] = {
            "num_samples": self.num_samples, "num_misclassified": self.num_misclassified,
            "num_attacked": self.num_attacked, "num_successful": self.num_successful,
            "success_rate": self.success_rate, "success_rate_all": self.success_rate_all,
        }
        for name in METRICS:
            out[name] = self.metrics[name]
            out[f"{name}_all"] = self.metrics_all[name]
        out.update({
            "emotion_consistency": self.emotion_consistency,
            "emotion_consistency_all": self.emotion_consistency_all,
            "still_joint_speed_p99_mm": self.still_joint_speed_p99_mm,
            "model_evaluations_per_sample": self.model_evaluations_per_sample,
            "model_evaluations_median": self.model_evaluations_median,
            "model_evaluations_p90": self.model_evaluations_p90,
            "model_gradients_per_sample": self.model_gradients_per_sample,
            "seconds": self.seconds,
            "metric_floors": dict(self.metric_floors),
        })
        return out

    def __str__(self) -> str:
        def pct(value: float | None) -> str:
            return "n/a" if value is None else f"{100 * value:.1f} %"

        return (f"{self.num_successful} of {self.num_attacked} attacked samples fooled "
                f"(success {pct(self.success_rate)}; {self.num_misclassified} of "
                f"{self.num_samples} already misclassified, not attacked); "
                f"ΔB/B {pct(self.metrics['bone_length_change'])}, "
                f"ΔA/A {pct(self.metrics['bone_angle_change'])}, "
                f"ΔS/S {pct(self.metrics['joint_speed_change'])}")


def summarize(
    result: AttackResult,
    emotion_model: nn.Module | None = None,
    batch_size: int = 256,
) -> AttackSummary:
    """The `AttackSummary` of an `AttackResult`: `summarize_arrays` of its per-sample
    arrays, with the emotion predictions of `emotion_model` (through the layout mapping)
    when given. `result.labels` decide which samples were classified correctly."""
    m = {"success": result.success, "evaluations": result.evaluations,
         "gradients": result.gradients, "original": result.original,
         "adversarial": result.adversarial, "labels": result.labels,
         "clean_pred": result.clean_predictions,
         **{f"metric_{name}": result.metrics[name] for name in METRICS}}
    if result.targets is not None:
        m["targets"] = result.targets
    if result.lengths is not None:
        m["lengths"] = result.lengths
    if emotion_model is not None:
        m["clean_emotion"] = emotion_predictions(emotion_model, result.original, result.layout,
                                                 batch_size)
        m["adv_emotion"] = emotion_predictions(emotion_model, result.adversarial,
                                               result.layout, batch_size)
    arrays = {k: v.detach().cpu().numpy() for k, v in m.items()}
    return summarize_arrays(arrays, float(result.seconds))


def summarize_arrays(m: dict[str, np.ndarray], seconds: float) -> AttackSummary:
    """The `AttackSummary` of per-sample arrays (those of `ela attack`'s result files).

    `m` holds (N,) ``success``, ``labels``, ``clean_pred`` (class indices),
    ``metric_<name>`` for every metric, ``evaluations`` and ``gradients``, the sequences
    ``original`` and ``adversarial`` (N, C, T, V, M) in metres, and optionally ``targets``
    ((N,) target classes, -1 or absent: untargeted), ``lengths`` ((N,) valid frames) and
    ``clean_emotion`` / ``adv_emotion`` ((N,) emotion classes). `seconds` is the attack's
    wall time.
    """
    ok = m["success"].astype(bool)
    labels, clean = m["labels"].astype(np.int64), m["clean_pred"].astype(np.int64)
    correct = clean == labels
    attacked = attacked_mask(labels, clean, m["targets"].astype(np.int64) if "targets" in m
                             else None)
    won = ok & attacked

    def mean(values: np.ndarray) -> float | None:
        values = values.astype(np.float64)
        return None if values.size == 0 or np.isnan(values).all() else float(np.nanmean(values))

    same = None
    if "clean_emotion" in m:
        same = (m["clean_emotion"] == m["adv_emotion"]).astype(np.float64)
    lengths = m["lengths"][won] if "lengths" in m else None
    evals = m["evaluations"].astype(np.float64)
    return AttackSummary(
        num_samples=int(ok.size), num_misclassified=int((~correct).sum()),
        num_attacked=int(attacked.sum()), num_successful=int(won.sum()),
        success_rate=mean(ok[attacked]), success_rate_all=mean(ok),
        metrics={name: mean(m[f"metric_{name}"][won]) for name in METRICS},
        metrics_all={name: mean(m[f"metric_{name}"][attacked]) for name in METRICS},
        emotion_consistency=None if same is None else mean(same[won]),
        emotion_consistency_all=None if same is None else mean(same[attacked]),
        still_joint_speed_p99_mm=still_motion_p99_mm(still_joint_speeds(
            m["original"][won], m["adversarial"][won], lengths)),
        model_evaluations_per_sample=mean(evals),
        model_evaluations_median=float(np.median(evals)) if evals.size else None,
        model_evaluations_p90=float(np.percentile(evals, 90)) if evals.size else None,
        model_gradients_per_sample=mean(m["gradients"]),
        seconds=float(seconds),
        metric_floors=dict(METRIC_FLOORS),
    )
