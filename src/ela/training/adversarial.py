"""Adversarial training under a perceptual bound suited to skeletons (``ela train
--adversarial pgd|trades``).

Each training batch is attacked before the weights are updated. The attack is a few
sign-gradient steps (PGD with a random start, Madry et al. 2018) inside an l∞ ball of radius
``adv_eps`` metres around the clean sequence, on valid frames only (padding and absent
persons never move), maximising

    inner(x') = L(x') − adv_bone_weight · ΔB/B(x', x)

where ΔB/B is the mean relative bone-length change over valid frames (the paper's
perceptual measure of limbs that stretch or shrink). The bone term keeps the training
examples skeletons a person could perform: a point that stretches limbs to gain loss is
penalised rather than preferred. L and the outer loss are

- ``pgd`` (Madry): L = cross-entropy with the label; the model is trained on the attacked
  batch only: loss = CE(f(x'), y);
- ``trades`` (Zhang et al. 2019): L = KL(f(x) ‖ f(x')); loss = CE(f(x), y) + β · KL(f(x) ‖
  f(x')) with β = ``trades_beta``.

The attack runs with the model in eval mode (batch-norm statistics and dropout are not
touched by the attack's extra passes), then the loss is computed in training mode. A batch
costs ``adv_steps`` extra forward + backward passes (TRADES one more forward):
`bench/adversarial_training.py` measures the cost per epoch against plain training.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ela.errors import ElaError
from ela.skeleton import Layout
from ela.skeleton.features import bone_lengths, valid_mask

METHODS = ("pgd", "trades")

Objective = Callable[[nn.Module, torch.Tensor, torch.Tensor, torch.Tensor | None],
                     tuple[torch.Tensor, torch.Tensor]]
"""(model, x, y, lengths) -> (loss to minimise, logits on the clean or attacked batch)."""


def bone_change(x_adv: torch.Tensor, x: torch.Tensor, layout: Layout,
                mask: torch.Tensor) -> torch.Tensor:
    """(N,) mean relative bone-length change |L' − L| / L over the valid frames `mask`
    (N, T, M) of each sample; x, x_adv (N, C, T, V, M) in metres."""
    clean = bone_lengths(x, layout)  # (N, T, B, M)
    change = (bone_lengths(x_adv, layout) - clean).abs() / clean.clamp_min(1e-3)
    weight = mask[:, :, None, :].to(change.dtype).expand_as(change)
    return (change * weight).sum(dim=(1, 2, 3)) / weight.sum(dim=(1, 2, 3)).clamp_min(1.0)


def kl_to(log_p: torch.Tensor, logits: torch.Tensor, reduction: str) -> torch.Tensor:
    """KL(p ‖ softmax(logits)) for log-probabilities `log_p` (N, K). Both sides stay in
    log space: a probability that underflows to 0 beside a log-probability of −inf would
    make 0 · ∞ = NaN (what happened to TRADES once a model grew confident)."""
    return F.kl_div(F.log_softmax(logits, dim=1), log_p, reduction=reduction, log_target=True)


def perturb(model: nn.Module, x: torch.Tensor, lengths: torch.Tensor | None,
            inner: Callable[[torch.Tensor], torch.Tensor], layout: Layout, eps: float,
            steps: int, bone_weight: float) -> torch.Tensor:
    """The attacked batch x' (N, C, T, V, M): `steps` sign-gradient ascent steps of
    inner(x') − bone_weight · ΔB/B from a uniform random start in the l∞ ball of radius
    `eps` (metres), step 2.5 · eps / steps, projected back into the ball each step."""
    mask = valid_mask(x, lengths)
    movable = mask[:, None, :, None, :].to(x.dtype)
    alpha = 2.5 * eps / steps
    x_adv = x + eps * (torch.rand_like(x) * 2 - 1) * movable
    for _ in range(steps):
        x_adv = x_adv.detach().requires_grad_(True)
        gain = inner(x_adv) - bone_weight * bone_change(x_adv, x, layout, mask).sum()
        grad = torch.autograd.grad(gain, x_adv)[0]
        x_adv = x + (x_adv.detach() + alpha * grad.sign() * movable - x).clamp(-eps, eps)
    return x_adv.detach()


def adversarial_objective(method: str, eps: float, steps: int, bone_weight: float,
                          beta: float,
                          loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
                          ) -> Objective:
    """The training objective of `method` ("pgd" or "trades"; see the module doc)."""
    if method not in METHODS:
        raise ElaError(f"adversarial training must be one of {METHODS}, got {method!r}")

    def objective(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                  lengths: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        if not isinstance(x, torch.Tensor) or x.dim() != 5:
            raise ElaError("adversarial training needs a skeleton model whose input is one "
                           "(N, C, T, V, M) tensor; multimodal models are not supported")
        layout = model.layout
        model.eval()
        if method == "pgd":
            def inner(x_adv: torch.Tensor) -> torch.Tensor:
                return F.cross_entropy(model(x_adv), y, reduction="sum")
        else:
            with torch.no_grad():
                clean_log_p = F.log_softmax(model(x), dim=1)

            def inner(x_adv: torch.Tensor) -> torch.Tensor:
                return kl_to(clean_log_p, model(x_adv), "sum")
        x_adv = perturb(model, x, lengths, inner, layout, eps, steps, bone_weight)
        model.train()
        if method == "pgd":
            logits = model(x_adv)
            return loss_fn(logits, y), logits
        logits = model(x)
        robust = kl_to(F.log_softmax(logits, dim=1), model(x_adv), "batchmean")
        return loss_fn(logits, y) + beta * robust, logits

    return objective
