"""I-FGSM / PGD with an L∞ bound on the coordinates (metres).

x' ← Π_{‖x' − x‖∞ ≤ eps}(x' + alpha·sign(∇ loss)), loss = CE(Θ, l) ascended (untargeted) or
CE(Θ, t) descended (targeted). `random_start=True` (PGD) starts from a uniform point of the
ball; False is I-FGSM. With `early_stop` (default) a sample leaves the batch as soon as it is
adversarial, so it keeps the first adversarial point found; without it every sample takes all
`steps` and keeps the last point.

The step follows the sign of a direction that `step_direction` makes from the gradient: the
gradient itself here; MI-FGSM (`ela.attacks.mifgsm`) accumulates a momentum in it instead.
"""

from __future__ import annotations

import torch
from torch import nn

from ela.attacks.base import ActiveBatch, Attack, AttackContext, AttackError
from ela.skeleton import Layout


class PGD(Attack):
    """I-FGSM / PGD (L∞).

    Args:
        model, layout, bounds: see `Attack`.
        eps: L∞ radius in metres.
        alpha: step size in metres (default eps / 4).
        steps: number of sign-gradient steps.
        random_start: start uniformly inside the ball (PGD) instead of at x (I-FGSM).
        early_stop: stop each sample at its first adversarial point.
        seed: seed of the random start.
    """

    name = "pgd"

    def __init__(self, model: nn.Module, layout: str | Layout | None = None,
                 eps: float = 0.02, alpha: float | None = None, steps: int = 20,
                 random_start: bool = False, early_stop: bool = True, seed: int = 0,
                 bounds=None):
        super().__init__(model, layout, bounds)
        if eps <= 0 or steps < 1 or (alpha is not None and alpha <= 0):
            raise AttackError(f"{self.name}: eps, alpha and steps must be positive")
        self.eps, self.steps = float(eps), int(steps)
        self.alpha = float(alpha) if alpha is not None else self.eps / 4
        self.random_start, self.early_stop, self.seed = random_start, early_stop, seed

    def step_direction(self, previous: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
        """The direction whose sign the next step descends, (n, C, T, V, M) like `grad` (the
        gradient of the loss to descend at the active samples, zero where nothing may move);
        `previous` is the last direction (zeros before the first step). PGD: the gradient."""
        return grad

    def _run(self, ctx: AttackContext, todo: torch.Tensor) -> None:
        x = ctx.x[todo]
        start = x.clone()
        if self.random_start:
            gen = torch.Generator(device=x.device).manual_seed(self.seed)
            noise = torch.rand(x.shape, generator=gen, device=x.device) * 2 - 1
            start = x + self.eps * noise * ctx.movable[todo]
        s = ActiveBatch(todo, x0=x, x=self.project(ctx, start, todo),
                        movable=ctx.movable[todo], direction=torch.zeros_like(x))
        for it in range(self.steps + 1):
            x_adv = s["x"].detach().requires_grad_(it < self.steps)
            with torch.set_grad_enabled(it < self.steps):
                logits = self.logits(ctx, x_adv, s.idx)
                loss = self.loss(ctx, logits, s.idx)
            finite = self.stop_nonfinite(ctx, loss, s.idx, "loss")
            ctx.adversarial[s.idx[finite]] = x_adv.detach()[finite]
            keep = finite.clone()
            fooled = self.succeeded(ctx, logits, s.idx)  # also counted for the reports
            if self.early_stop:
                keep &= ~fooled
            self.report(ctx, it, self.steps, keep)
            if it == self.steps or not bool(keep.any()):
                break
            grad = torch.autograd.grad(torch.where(keep, loss, 0.0).sum(), x_adv)[0][keep]
            s.keep(keep)
            ctx.gradients[s.idx] += 1
            ctx.iterations[s.idx] += 1
            s["direction"] = self.step_direction(s["direction"], grad * s["movable"])
            moved = s["x"] - self.alpha * s["direction"].sign() * s["movable"]
            moved = s["x0"] + (moved - s["x0"]).clamp(-self.eps, self.eps)
            s["x"] = self.project(ctx, moved, s.idx)
