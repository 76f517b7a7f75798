"""SMART (Wang et al., "Understanding the robustness of skeleton-based action recognition
under adversarial attack", CVPR 2021), following its public code.

Each iteration: the classification loss (−CE(Θ, l) untargeted — i.e. CE is *ascended* — or
CE(Θ, t) targeted) and the perceptual loss (`SmartPerceptualLoss`) are differentiated
separately, each gradient is normalised — per sample by default, as in the group's later public
code (realcrane/Defending-Black-box-Skeleton-based-Human-Activity-Classifiers,
`SMARTAttacker.py`), or per frame as in the CVPR 2021 code (``normalise="frame"``) — and
x ← x − lr·(cw·ĝ_cls + (1 − cw)·ĝ_perc); the update of each sample is clipped to an L2 norm of
`clip`. Only samples not yet fooled move: a fooled sample leaves the batch as it is, and the
attack stops when every sample is fooled or after `steps`.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from ela.attacks.base import ActiveBatch, Attack, AttackContext, AttackError
from ela.attacks.distances import SmartPerceptualLoss
from ela.skeleton import Layout


def _normalise(g: torch.Tensor, per: str) -> torch.Tensor:
    """g (n, C, T, V, M) divided by its norm per frame (over C, V, M) or per sample."""
    if per == "frame":
        norm = g.pow(2).sum(dim=(1, 3, 4), keepdim=True).sqrt()
    else:
        norm = g.flatten(1).norm(dim=1).view(-1, 1, 1, 1, 1)
    return g / (norm + 1e-18)


class SMART(Attack):
    """SMART.

    Args:
        model, layout, bounds: see `Attack`.
        steps: maximum number of updates per sample.
        lr: step size of the combined normalised gradient.
        class_weight: cw, share of the classification gradient.
        recon_weight: rw, weight of the joint-weighted L2 term in the perceptual loss.
        bone_weight: blw, bone-length share of the rest (acceleration gets 1 − blw).
        clip: maximum L2 norm (metres) of one sample's update per iteration (0: no clip).
        normalise: "sample" (the later public code: each gradient divided by its norm over the
            whole sample; the stronger variant) or "frame" (the CVPR 2021 code: per frame).
    """

    name = "smart"

    def __init__(self, model: nn.Module, layout: str | Layout | None = None,
                 steps: int = 1000, lr: float = 0.01, class_weight: float = 0.6,
                 recon_weight: float = 0.4, bone_weight: float = 0.7, clip: float = 0.01,
                 normalise: Literal["frame", "sample"] = "sample", bounds=None):
        super().__init__(model, layout, bounds)
        if steps < 1 or lr <= 0 or clip < 0 or not 0 <= class_weight <= 1:
            raise AttackError("SMART: steps ≥ 1, lr > 0, clip ≥ 0, class_weight in [0, 1]")
        if normalise not in ("frame", "sample"):
            raise AttackError(f"SMART: normalise must be 'frame' or 'sample', got {normalise!r}")
        self.steps, self.lr, self.class_weight = int(steps), float(lr), class_weight
        self.clip, self.normalise = float(clip), normalise
        self.perceptual = SmartPerceptualLoss(self.layout, recon_weight, bone_weight)

    def _run(self, ctx: AttackContext, todo: torch.Tensor) -> None:
        x = ctx.x[todo]
        s = ActiveBatch(todo, x=x.clone(), movable=ctx.movable[todo],
                        ref=self.perceptual.reference(x, ctx.sub_lengths(todo)))
        cw = self.class_weight
        for it in range(self.steps + 1):
            x_adv = s["x"].detach().requires_grad_(True)
            logits = self.logits(ctx, x_adv, s.idx)
            cls = self.loss(ctx, logits, s.idx)
            finite = self.stop_nonfinite(ctx, cls, s.idx, "classification loss")
            ok = self.succeeded(ctx, logits, s.idx) & finite
            ctx.adversarial[s.idx[finite]] = x_adv.detach()[finite]
            keep = finite & ~ok
            if it % 10 == 0:
                self.report(ctx, it, self.steps, keep)
            if it == self.steps or not bool(keep.any()):
                break
            g_cls = torch.autograd.grad(torch.where(keep, cls, 0.0).sum(), x_adv)[0][keep]
            s.keep(keep)
            ctx.gradients[s.idx] += 1
            x_cur = s["x"].detach().requires_grad_(True)
            g_perc = torch.autograd.grad(self.perceptual(x_cur, s["ref"]).sum(), x_cur)[0]
            step = cw * _normalise(g_cls, self.normalise) + \
                (1 - cw) * _normalise(g_perc, self.normalise)
            update = -self.lr * step * s["movable"]
            if self.clip > 0:
                norm = update.flatten(1).norm(dim=1).view(-1, 1, 1, 1, 1)
                update = update * torch.clamp(self.clip / (norm + 1e-18), max=1.0)
            s["x"] = self.project(ctx, s["x"] + update, s.idx)
            ctx.iterations[s.idx] += 1
