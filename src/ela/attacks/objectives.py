"""Classification objectives on logits Θ (N, K): margins and the success criterion.

The margin C is the constraint of the Emotion Loss Attack (paper 000, eqs. 2-3) and, up to a
constant, the f of Carlini & Wagner: it is zero once the sample is misclassified (untargeted)
or classified as the target (targeted) with a logit gap of at least `conf`.
"""

from __future__ import annotations

import torch


def _best_other(logits: torch.Tensor, cls: torch.Tensor) -> torch.Tensor:
    """(N,) max_{j ≠ cls} Θ_j."""
    others = logits.scatter(1, cls[:, None], float("-inf"))
    return others.max(dim=1).values


def margin(
    logits: torch.Tensor,
    labels: torch.Tensor,
    targets: torch.Tensor | None = None,
    conf: float = 0.0,
) -> torch.Tensor:
    """Per-sample constraint C ≥ 0, shape (N,).

    untargeted (targets None): C = max(Θ_l − max_{j≠l} Θ_j + conf, 0), l = labels;
    targeted: C = max(max_{j≠t} Θ_j − Θ_t + conf, 0), t = targets.
    """
    if targets is None:
        own = logits.gather(1, labels[:, None]).squeeze(1)
        return torch.relu(own - _best_other(logits, labels) + conf)
    tgt = logits.gather(1, targets[:, None]).squeeze(1)
    return torch.relu(_best_other(logits, targets) - tgt + conf)


def is_adversarial(
    predictions: torch.Tensor, labels: torch.Tensor, targets: torch.Tensor | None = None
) -> torch.Tensor:
    """(N,) bool: prediction ≠ label (untargeted) or prediction = target (targeted). A
    negative prediction is a refusal (`ela.attacks.guard.REJECTED`: a detector flagged the
    input) and never adversarial."""
    if targets is None:
        return (predictions != labels) & (predictions >= 0)
    return predictions == targets


def classification_loss(
    logits: torch.Tensor, labels: torch.Tensor, targets: torch.Tensor | None = None
) -> torch.Tensor:
    """(N,) cross-entropy loss to *descend*: −CE(Θ, l) untargeted, CE(Θ, t) targeted."""
    if targets is None:
        return -torch.nn.functional.cross_entropy(logits, labels, reduction="none")
    return torch.nn.functional.cross_entropy(logits, targets, reduction="none")
