"""APGD: PGD with a step size that adapts itself (Croce & Hein, ICML 2020), L∞ in metres.

The attack of robustness evaluations (AutoAttack's first member), here for the budget
curves that check a defence for masked gradients: its success must rise to 100 % as ε
grows. Fixed-step PGD cannot show that on a guarded model, because its sign steps of ε/4
jump to where the detector flags; APGD starts with steps of 2ε and halves them whenever
progress stalls, so at a large ε it still searches close to where it stands.

Per sample, with f the objective to *descend* and P the projection onto the ε ball:

* z = P(x_k − η·sign ∇f(x_k)), x_{k+1} = P(x_k + a·(z − x_k) + (1 − a)·(x_k − x_{k−1}))
  with a = 0.75 (1 on the first step), η = 2ε at the start;
* at checkpoints after 22 %, then shrinking intervals (by 3 % of the budget, at least 6 %)
  of the steps, η is halved and the search restarts from the best point so far when the
  loss fell in fewer than ρ = 75 % of the steps since the last checkpoint, or when η was
  not halved there and the best loss has not improved since.

The objective (`loss`): ``"margin"`` (default) is the C&W logit margin max(Θ_l − max_{j≠l}
Θ_j + conf, 0) (targeted: the target's), which is zero once the goal is met — on a
`Guarded` model plus max(log-odds − τ + conf, 0), so once the model is fooled only the
detector is left to pass; ``"ce"`` is PGD's cross-entropy loss. A sample stops at its first
adversarial point; one never fooled keeps its lowest-objective point of the last start.
``restarts`` runs the search again on the samples not yet fooled, from a uniform random
point of the ball. The first start is x itself unless ``random_start`` (the paper starts
every run at random): near x is where a guard's detector lets a sequence through, and on a
guarded toy model (tests/test_attacks_guard.py's) 50 steps at ε = 32 cm fooled 75 % of the
samples from x and 31 % from a random start (fixed-step PGD: 0 %).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ela.attacks.base import ActiveBatch, Attack, AttackContext, AttackError
from ela.skeleton import Layout

LOSSES = ("margin", "ce")


def checkpoints(steps: int) -> list[int]:
    """The steps after which APGD may halve its step size: ⌈p_j·steps⌉ with p_0 = 0,
    p_1 = 0.22, p_{j+1} = p_j + max(p_j − p_{j−1} − 0.03, 0.06), below `steps`."""
    p = [0.0, 0.22]
    while p[-1] < 1:
        p.append(p[-1] + max(p[-1] - p[-2] - 0.03, 0.06))
    marks = {math.ceil(round(q * steps, 9)) for q in p[1:]}  # round: 0.57·100 is 57.0000…1
    return sorted(m for m in marks if 0 < m < steps)


class APGD(Attack):
    """APGD (L∞, adaptive step size).

    Args:
        model, layout, bounds: see `Attack`.
        eps: L∞ radius in metres.
        steps: gradient steps per start.
        loss: ``"margin"`` (C&W margin, with a guard's detector term) or ``"ce"``.
        conf: margin the ``"margin"`` objective asks for (logit units).
        rho: share of loss-decreasing steps below which a checkpoint halves the step.
        restarts: starts; each later one is random and attacks only the samples not yet
            fooled.
        random_start: make the first start random too (default: x).
        seed: seed of the random starts.
    """

    name = "apgd"

    def __init__(self, model: nn.Module, layout: str | Layout | None = None,
                 eps: float = 0.02, steps: int = 100, loss: str = "margin",
                 conf: float = 0.0, rho: float = 0.75, restarts: int = 1,
                 random_start: bool = False, seed: int = 0, bounds=None):
        super().__init__(model, layout, bounds)
        if eps <= 0 or steps < 1 or restarts < 1:
            raise AttackError(f"{self.name}: eps, steps and restarts must be positive")
        if loss not in LOSSES:
            raise AttackError(f"{self.name}: loss must be one of {', '.join(LOSSES)}, "
                              f"got {loss!r}")
        if not 0 < rho <= 1 or conf < 0:
            raise AttackError(f"{self.name}: rho must be in (0, 1] and conf ≥ 0")
        self.eps, self.steps, self.restarts = float(eps), int(steps), int(restarts)
        self.objective, self.conf, self.rho, self.seed = loss, float(conf), float(rho), seed
        self.random_start = random_start

    def _objective(self, ctx: AttackContext, logits: torch.Tensor,
                   idx: torch.Tensor) -> torch.Tensor:
        if self.objective == "margin":
            return self.margin(ctx, logits, idx, self.conf)
        return self.loss(ctx, logits, idx)

    def _ball(self, ctx: AttackContext, s: ActiveBatch, x: torch.Tensor) -> torch.Tensor:
        """Projection onto the ε ball around x0 (movable coordinates only) and the bounds."""
        x = s["x0"] + ((x - s["x0"]).clamp(-self.eps, self.eps) * s["movable"])
        return self.project(ctx, x, s.idx)

    def _run(self, ctx: AttackContext, todo: torch.Tensor) -> None:
        gen = torch.Generator(device=ctx.x.device).manual_seed(self.seed)
        for start in range(self.restarts):
            self._search(ctx, todo, gen, self.random_start or start > 0)
            todo = todo[~ctx.fooled[todo]]
            if not todo.numel():
                break

    def _search(self, ctx: AttackContext, todo: torch.Tensor, gen: torch.Generator,
                random_start: bool) -> None:
        x0 = ctx.x[todo]
        n = x0.shape[0]
        s = ActiveBatch(todo, x0=x0, movable=ctx.movable[todo], x=x0, previous=x0,
                        best=x0.clone(), best_grad=torch.zeros_like(x0),
                        best_f=torch.full((n,), math.inf, device=x0.device),
                        f=torch.full((n,), math.inf, device=x0.device),
                        eta=torch.full((n,), 2 * self.eps, device=x0.device),
                        decreased=torch.zeros(n, device=x0.device),
                        halved=torch.ones(n, dtype=torch.bool, device=x0.device),
                        best_at_check=torch.full((n,), math.inf, device=x0.device))
        start = x0
        if random_start:
            noise = torch.rand(x0.shape, generator=gen, device=x0.device) * 2 - 1
            start = x0 + self.eps * noise
        s["x"] = s["previous"] = self._ball(ctx, s, start)
        marks = checkpoints(self.steps)
        since = 0
        for it in range(self.steps + 1):
            x_adv = s["x"].detach().requires_grad_(it < self.steps)
            with torch.set_grad_enabled(it < self.steps):
                logits = self.logits(ctx, x_adv, s.idx)
                objective = self._objective(ctx, logits, s.idx)
            finite = self.stop_nonfinite(ctx, objective, s.idx, "objective")
            fooled = self.succeeded(ctx, logits, s.idx) & finite
            ctx.adversarial[s.idx[fooled]] = x_adv.detach()[fooled]
            f = objective.detach()
            if it:
                s["decreased"] += (f < s["f"]).float()
            s["f"] = f
            better = finite & (f < s["best_f"])
            s["best"] = torch.where(better.view(-1, *[1] * (x0.dim() - 1)), x_adv.detach(),
                                    s["best"])
            s["best_f"] = torch.where(better, f, s["best_f"])
            keep = finite & ~fooled
            self.report(ctx, it, self.steps, keep)
            if it == self.steps or not bool(keep.any()):
                ctx.adversarial[s.idx[keep]] = s["best"][keep]
                break
            grad = torch.autograd.grad(torch.where(keep, objective, 0.0).sum(), x_adv)[0]
            stopped = ~keep & ~fooled  # non-finite: keep the best finite point
            ctx.adversarial[s.idx[stopped]] = s["best"][stopped]
            s["grad"] = grad
            s["best_grad"] = torch.where(better.view(-1, *[1] * (x0.dim() - 1)), grad,
                                         s["best_grad"])
            s.keep(keep)
            ctx.gradients[s.idx] += 1
            ctx.iterations[s.idx] += 1
            since += 1
            if it + 1 in marks:
                self._checkpoint(s, since)
                since = 0
            self._step(ctx, s, first=it == 0)

    def _checkpoint(self, s: ActiveBatch, since: int) -> None:
        """Halve η and go back to the best point where the search stalled."""
        stalled = s["decreased"] < self.rho * since
        stalled |= ~s["halved"] & (s["best_f"] >= s["best_at_check"])
        s["halved"] = stalled
        s["best_at_check"] = s["best_f"].clone()
        s["decreased"] = torch.zeros_like(s["decreased"])
        if bool(stalled.any()):
            s["eta"] = torch.where(stalled, s["eta"] / 2, s["eta"])
            back = stalled.view(-1, *[1] * (s["x"].dim() - 1))
            s["x"] = torch.where(back, s["best"], s["x"])
            s["previous"] = torch.where(back, s["best"], s["previous"])
            s["f"] = torch.where(stalled, s["best_f"], s["f"])
            s["grad"] = torch.where(back, s["best_grad"], s["grad"])

    def _step(self, ctx: AttackContext, s: ActiveBatch, first: bool) -> None:
        """One momentum step from x_k with step η (and the gradient at x_k in s["grad"])."""
        a = 1.0 if first else 0.75
        eta = s["eta"].view(-1, *[1] * (s["x"].dim() - 1))
        x = s["x"]
        z = self._ball(ctx, s, x - eta * s["grad"].sign() * s["movable"])
        moved = self._ball(ctx, s, x + a * (z - x) + (1 - a) * (x - s["previous"]))
        s["previous"], s["x"] = x, moved
