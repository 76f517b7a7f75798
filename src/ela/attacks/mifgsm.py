"""MI-FGSM: momentum iterative FGSM (Dong et al., CVPR 2018), L∞ in metres.

The PGD loop (`ela.attacks.pgd`) with a momentum in the step direction:
g ← μ·g + ∇ / ‖∇‖₁ (the L1 norm over each sample's movable coordinates), x' ← x' − α·sign(g),
then the projection onto the ε ball, for the loss PGD descends. The momentum steadies the
direction across steps, so the adversarial sequences transfer better to other models: the
common baseline of transfer tests. Defaults follow the paper: μ = 1, 10 steps of α = ε/steps,
no random start and no early stop (every sample takes all steps and keeps the last point,
which transfers better than the first adversarial one).
"""

from __future__ import annotations

import torch
from torch import nn

from ela.attacks.base import AttackError
from ela.attacks.pgd import PGD
from ela.skeleton import Layout


class MIFGSM(PGD):
    """MI-FGSM (L∞, momentum): the transfer baseline.

    Args:
        model, layout, bounds: see `Attack`.
        eps: L∞ radius in metres.
        alpha: step size in metres (default eps / steps).
        steps: number of sign steps.
        decay: momentum decay μ (0 gives I-FGSM).
        early_stop: stop each sample at its first adversarial point (default no).
    """

    name = "mifgsm"

    def __init__(self, model: nn.Module, layout: str | Layout | None = None,
                 eps: float = 0.02, alpha: float | None = None, steps: int = 10,
                 decay: float = 1.0, early_stop: bool = False, bounds=None):
        if steps < 1:
            raise AttackError("MI-FGSM: steps must be positive")
        if decay < 0:
            raise AttackError(f"MI-FGSM: decay must be ≥ 0, got {decay}")
        super().__init__(model, layout, eps=eps,
                         alpha=alpha if alpha is not None else eps / steps, steps=steps,
                         random_start=False, early_stop=early_stop, bounds=bounds)
        self.decay = float(decay)

    def step_direction(self, previous: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
        """μ·previous + grad / ‖grad‖₁ per sample, (n, C, T, V, M)."""
        l1 = grad.abs().flatten(1).sum(1).clamp_min(1e-12)
        return self.decay * previous + grad / l1.view(-1, *[1] * (grad.dim() - 1))
