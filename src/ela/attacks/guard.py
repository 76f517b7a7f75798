"""An action model guarded by a detector of adversarial sequences, for adaptive attacks.

A detector (`ela detect`) flags a sequence when its log-odds of "attacked" exceed a
threshold τ (set for a share of false alarms on clean sequences). The guarded system
answers the model's class for an unflagged sequence and refuses (``REJECTED``) a flagged
one. An attack that knows the guard (Carlini & Wagner 2017, "Adversarial examples are not
easily detected") must fool the model *and* stay below τ:

* `Guarded.forward` returns (N, K + 1): the model's K logits, then the detector's
  log-odds minus τ (> 0: flagged);
* `Attack.margin` of a guarded model adds max(log-odds − τ + conf, 0) to the
  classification margin, and `Attack.loss` (PGD, SMART) subtracts max(log-odds − τ, 0)
  from the classification loss they ascend, so every attack of this package becomes
  adaptive by attacking `Guarded(model, detector, τ)` instead of the model;
* `predict_class` returns ``REJECTED`` (−1) for a flagged sequence, and a refused
  prediction is never adversarial (`ela.attacks.objectives.is_adversarial`), so success =
  misclassified and not flagged.
"""

from __future__ import annotations

import torch
from torch import nn

from ela.errors import ElaError

REJECTED = -1
FLAGGED = "flagged"
"""How tables name a REJECTED prediction."""


class Guarded(nn.Module):
    """`model` (x → (N, K) logits) guarded by `detector` (x → (N, 2) logits, classes
    clean / attacked) at log-odds threshold `threshold`; both read the same
    (N, C, T, V, M) input."""

    guarded = True

    def __init__(self, model: nn.Module, detector: nn.Module, threshold: float):
        super().__init__()
        if getattr(model, "layout", None) is not None and getattr(detector, "layout", None) \
                is not None and model.layout.name != detector.layout.name:
            raise ElaError(f"the detector reads layout {detector.layout.name}, the model "
                           f"{model.layout.name}; a guard needs one input space")
        self.model = model
        self.detector = detector
        self.threshold = float(threshold)
        self.layout = getattr(model, "layout", None)
        self.num_classes = getattr(model, "num_classes", None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, K + 1): the model's logits and the detector's log-odds − τ."""
        logits = self.model(x)
        d = self.detector(x).to(logits.dtype)
        return torch.cat([logits, (d[:, 1] - d[:, 0] - self.threshold)[:, None]], dim=1)

    @staticmethod
    def predict_class(logits: torch.Tensor) -> torch.Tensor:
        """(N,) the model's class, or REJECTED where the detector flags the sequence."""
        pred = logits[:, :-1].argmax(dim=1)
        return torch.where(logits[:, -1] > 0, torch.full_like(pred, REJECTED), pred)


def split_guarded(model: nn.Module, logits: torch.Tensor
                  ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(class logits (N, K), flag excess (N,) log-odds − τ or None) of `model`'s output."""
    if getattr(model, "guarded", False):
        return logits[:, :-1], logits[:, -1]
    return logits, None
