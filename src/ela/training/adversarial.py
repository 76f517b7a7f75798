"""Adversarial training under a perceptual bound suited to skeletons (``ela train
--adversarial pgd|trades|dynamic|dynamic-trades|rotation``).

Each training batch is attacked before the weights are updated. The attack of ``pgd`` and
``trades`` is a few sign-gradient steps (PGD with a random start, Madry et al. 2018)
inside an l∞ ball of radius ``adv_eps`` metres around the clean sequence, on valid frames
only (padding and absent persons never move), maximising

    inner(x') = L(x') − adv_bone_weight · ΔB/B(x', x)

where ΔB/B is the mean relative bone-length change over valid frames (the paper's
perceptual measure of limbs that stretch or shrink). The bone term keeps the training
examples skeletons a person could perform: a point that stretches limbs to gain loss is
penalised rather than preferred. L and the outer loss are

- ``pgd`` (Madry): L = cross-entropy with the label; the model is trained on the attacked
  batch only: loss = CE(f(x'), y);
- ``trades`` (Zhang et al. 2019): L = KL(f(x) ‖ f(x')); loss = CE(f(x), y) + β · KL(f(x) ‖
  f(x')) with β = ``trades_beta``;
- ``dynamic``: the inner attack takes ELA's path: from the clean sequence (no random
  start, which would add frame-to-frame noise that no penalty can take back), ``adv_steps``
  steps along the gradient itself, not its sign, of CE(f(x'), y) − w · D(x', x), where D is
  ELA's dynamic distance with the terms and weights the ``dynamic`` defences were chosen
  with (ELA's `EARLIER_DEFAULTS`: bone length, bone angle and velocity changes, bone turn, centre
  shift, the peak and the spread of the joint displacement; `ela.attacks.ela.ELA`) and w =
  ``adv_bone_weight``; each step moves a sample by ``adv_eps`` / ``adv_steps`` metres
  root-mean-square over its valid coordinates, so the
  penalty shapes the direction and ``adv_eps`` bounds the RMS change. On 96 MSR
  training samples of the plain hcn (3 steps, w = 1) it fools 13.5 % at 1 cm with ΔB/B
  0.99 % and D 0.65 (2 cm: 34 %, 2.3 %, 1.8), where PGD at 2 cm fools 11.5 % with ΔB/B
  11 % and D 4.9: the l∞ ball's random start and sign steps are frame-to-frame noise.
  The model trains on x' as in ``pgd``;
- ``dynamic-trades``: ``dynamic``'s inner attack (the same x') with TRADES' outer loss,
  CE(f(x), y) + β · KL(f(x) ‖ f(x')): the clean batch keeps its own term, so a budget
  large enough to move the model (RMS 4-6 cm; docs/robustness.md#defences) need not cost
  clean accuracy. The inner attack keeps dynamic's cross-entropy: TRADES' KL has no
  gradient at the clean start that dynamic's path takes;
- ``rotation``: a perceptual inner attack in a smaller space. ELA's changes are not l∞
  noise: bones keep their lengths and limbs turn, smoothly over the clip. This attack
  searches that space: every bone turns about its parent joint by a rotation vector that
  is a sum of ``ROTATION_COMPONENTS`` low-frequency cosines over the frames (a constant
  turn, one half-wave, one full wave), each coordinate of the turn at most ``adv_angle``
  degrees; the bones are chained again from the root (`rotate_bones`), so every bone
  keeps its length exactly and the root joint never moves. PGD (sign steps from a random
  start) on the cosine coefficients maximises L = CE(f(x'), y); the model trains on x' as
  in ``pgd``.

The attack runs with the model in eval mode (batch-norm statistics and dropout are not
touched by the attack's extra passes), then the loss is computed in training mode. A batch
costs ``adv_steps`` extra forward + backward passes (TRADES one more forward):
`bench/adversarial_training.py` measures the cost per epoch against plain training.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ela.attacks.distances import DynamicDistance
from ela.attacks.ela import EARLIER_DEFAULTS, ELA
from ela.errors import ElaError
from ela.skeleton import Layout
from ela.skeleton.features import bone_lengths, valid_mask

METHODS = ("pgd", "trades", "dynamic", "dynamic-trades", "rotation")
DYNAMIC = ("dynamic", "dynamic-trades")
"""The methods whose inner attack takes ELA's path (`dynamic_perturb`, penalty D)."""
TRADES = ("trades", "dynamic-trades")
"""The methods trained on CE(f(x), y) + β · KL(f(x) ‖ f(x'))."""
ROTATION_COMPONENTS = 3

RECOMMENDED: dict[str, dict[str, Any]] = {
    "hcn": {"adversarial": "dynamic", "adv_eps": 0.04, "adv_steps": 3, "adv_bone_weight": 1.0},
    "sgn": {"adversarial": "pgd", "adv_eps": 0.06, "adv_steps": 3, "adv_bone_weight": 10.0},
}
"""Per model, the defence `ela train --adversarial recommended` trains: the one
`scripts/select_defence.py` chose by its rule, fixed before training, on 96 MSR training-part
samples (docs/robustness.md#defences): for hcn among PGD at 2, 4 and 6 cm, TRADES at 2 cm,
rotation at 10° and 20°, the `dynamic` training at RMS 1, 2, 4 and 6 cm and
`dynamic-trades` at RMS 6 cm β 1 and 6 and 8 cm β 6 (docs/results/defence_msr/select.json:
dynamic at 4 cm), for sgn among PGD at 2, 4 and 6 cm
(select_sgn.json); 3 inner steps each. TrainConfig fields; flags given beside it win. Other
models get hcn's (`recommended`)."""


def recommended(model: str) -> dict[str, Any]:
    """The settings `--adversarial recommended` trains `model` with: its own choice where the
    rule was run on it (`RECOMMENDED`), else hcn's."""
    return RECOMMENDED.get(model, RECOMMENDED["hcn"])


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


def perturb(x: torch.Tensor, lengths: torch.Tensor | None,
            gain: Callable[[torch.Tensor], torch.Tensor], eps: float,
            steps: int) -> torch.Tensor:
    """The attacked batch x' (N, C, T, V, M): `steps` sign-gradient ascent steps of
    gain(x') (a scalar: the inner loss less the penalty) from a uniform random start in the
    l∞ ball of radius `eps` (metres), step 2.5 · eps / steps, projected back into the ball
    each step; padding frames and absent persons never move."""
    movable = valid_mask(x, lengths)[:, None, :, None, :].to(x.dtype)
    alpha = 2.5 * eps / steps
    x_adv = x + eps * (torch.rand_like(x) * 2 - 1) * movable
    for _ in range(steps):
        x_adv = x_adv.detach().requires_grad_(True)
        grad = torch.autograd.grad(gain(x_adv), x_adv)[0]
        x_adv = x + (x_adv.detach() + alpha * grad.sign() * movable - x).clamp(-eps, eps)
    return x_adv.detach()


def default_distance(model: nn.Module) -> DynamicDistance:
    """``dynamic``'s D: ELA's dynamic distance at ELA's `EARLIER_DEFAULTS`, on the model's
    layout: the D its defences were chosen with (docs/robustness.md#defences), pinned so
    that a retrained defence is the one the tables report."""
    return ELA(model, **EARLIER_DEFAULTS).distance


def penalty(method: str, model: nn.Module, x: torch.Tensor, lengths: torch.Tensor | None,
            weight: float, distance: DynamicDistance | None = None
            ) -> Callable[[torch.Tensor], torch.Tensor]:
    """x' -> the scalar penalty of the ``pgd``/``trades`` (weight · ΔB/B) or ``dynamic``/
    ``dynamic-trades`` (weight · D, `distance` or else `default_distance`) training attack,
    summed over the batch x (N, C, T, V, M)."""
    if method in DYNAMIC:
        distance = distance or default_distance(model)
        ref = distance.reference(x, lengths)
        return lambda x_adv: weight * distance(x_adv, ref).sum()
    mask = valid_mask(x, lengths)
    return lambda x_adv: weight * bone_change(x_adv, x, model.layout, mask).sum()


def dynamic_perturb(x: torch.Tensor, lengths: torch.Tensor | None,
                    gain: Callable[[torch.Tensor], torch.Tensor], rms: float,
                    steps: int) -> torch.Tensor:
    """The attacked batch x' (N, C, T, V, M) of the ``dynamic`` method (module doc): from x,
    `steps` ascent steps of gain(x') along each sample's gradient normalised to a
    root-mean-square of `rms` / `steps` metres over its valid coordinates; padding frames
    and absent persons never move."""
    movable = valid_mask(x, lengths)[:, None, :, None, :].to(x.dtype)
    count = movable.sum(dim=(1, 2, 3, 4), keepdim=True).clamp_min(1.0) * x.shape[1] * x.shape[3]
    x_adv = x.clone()
    for _ in range(steps):
        x_adv = x_adv.detach().requires_grad_(True)
        grad = torch.autograd.grad(gain(x_adv), x_adv)[0] * movable
        norm = (grad.square().sum(dim=(1, 2, 3, 4), keepdim=True) / count).sqrt()
        x_adv = x_adv.detach() + rms / steps * grad / norm.clamp_min(1e-12)
    return x_adv.detach()


def cosine_basis(frames: int, components: int, like: torch.Tensor) -> torch.Tensor:
    """(components, frames) low-frequency cosines cos(π k (t + ½) / frames), k = 0, 1, …
    (k = 0: a constant), in the dtype and device of `like`."""
    t = torch.arange(frames, dtype=like.dtype, device=like.device) + 0.5
    k = torch.arange(components, dtype=like.dtype, device=like.device)[:, None]
    return torch.cos(torch.pi * k * t / frames)


def rodrigues(v: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """v turned by the rotation vectors r (axis × angle in radians); both (N, 3, ...), the
    coordinate on dim 1. Exact for any angle; r = 0 leaves v as it is."""
    angle = (r.square().sum(dim=1, keepdim=True) + 1e-12).sqrt()
    axis = r / angle
    cos, sin = angle.cos(), angle.sin()
    along = (axis * v).sum(dim=1, keepdim=True)
    return v * cos + torch.linalg.cross(axis, v, dim=1) * sin + axis * along * (1 - cos)


def _ancestors(layout: Layout, joint: int) -> int:
    """Number of joints above `joint` on its chain to a root."""
    count = 0
    while layout.parents[joint] >= 0:
        joint, count = layout.parents[joint], count + 1
    return count


def rotate_bones(x: torch.Tensor, layout: Layout, turns: torch.Tensor) -> torch.Tensor:
    """x (N, 3, T, V, M) with the bone from each joint's parent to the joint turned by
    turns[:, :, :, joint] (N, 3, T, V, M rotation vectors, radians), the joints chained
    again from the roots: bone lengths are kept exactly, roots stay where they are, and a
    turned bone moves its children with it without turning them."""
    joints: list[torch.Tensor | None] = [None] * layout.num_joints
    for j in sorted(range(layout.num_joints), key=lambda i: _ancestors(layout, i)):
        p = layout.parents[j]
        if p < 0:
            joints[j] = x[:, :, :, j]
        else:
            bone = x[:, :, :, j] - x[:, :, :, p]
            joints[j] = joints[p] + rodrigues(bone, turns[:, :, :, j])
    return torch.stack(joints, dim=3)


def rotation_perturb(x: torch.Tensor, lengths: torch.Tensor | None,
                     inner: Callable[[torch.Tensor], torch.Tensor], layout: Layout,
                     angle: float, steps: int) -> torch.Tensor:
    """The attacked batch x' (N, 3, T, V, M) of the ``rotation`` method (module doc):
    `steps` sign-gradient ascent steps of inner(x') on the cosine coefficients of every
    bone's turn, each in [−a, a] with a = radians(`angle`) / ROTATION_COMPONENTS (so each
    coordinate of a turn stays within `angle` degrees), from a uniform random start, step
    2.5 · a / steps. Padding frames and absent persons stay as they are."""
    if x.shape[1] != 3:
        raise ElaError(f"adversarial training 'rotation' turns bones in 3D; the data has "
                       f"{x.shape[1]} coordinate channel(s)")
    n, c, t, v, m = x.shape
    bound = torch.pi * angle / 180.0 / ROTATION_COMPONENTS
    basis = cosine_basis(t, ROTATION_COMPONENTS, x)
    movable = valid_mask(x, lengths)[:, None, :, None, :].to(x.dtype)
    alpha = 2.5 * bound / steps
    coef = bound * (torch.rand(n, c, ROTATION_COMPONENTS, v, m, dtype=x.dtype,
                               device=x.device) * 2 - 1)

    def attacked(coef: torch.Tensor) -> torch.Tensor:
        turns = torch.einsum("nckvm,kt->nctvm", coef, basis)
        return x + (rotate_bones(x, layout, turns) - x) * movable

    for _ in range(steps):
        coef = coef.detach().requires_grad_(True)
        grad = torch.autograd.grad(inner(attacked(coef)), coef)[0]
        coef = (coef.detach() + alpha * grad.sign()).clamp(-bound, bound)
    with torch.no_grad():
        return attacked(coef)


def training_attack(method: str, model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                    lengths: torch.Tensor | None, eps: float, steps: int, bone_weight: float,
                    angle: float = 10.0, distance: DynamicDistance | None = None
                    ) -> torch.Tensor:
    """The attacked batch x' (N, C, T, V, M) that `method` (one of `METHODS`; module doc)
    trains on, for the batch x with labels y (N,) and valid lengths (N,) or None. Run it
    with the model in eval mode. eps: l∞ budget of pgd/trades, RMS budget of `DYNAMIC`, in
    metres; angle: rotation's budget in degrees; bone_weight: the penalty's weight;
    distance: dynamic's D, made once by the caller (default: `default_distance`)."""
    if method not in METHODS:
        raise ElaError(f"adversarial training must be one of {METHODS}, got {method!r}")
    if method == "trades":
        with torch.no_grad():
            clean_log_p = F.log_softmax(model(x), dim=1)

        def inner(x_adv: torch.Tensor) -> torch.Tensor:
            return kl_to(clean_log_p, model(x_adv), "sum")
    else:
        def inner(x_adv: torch.Tensor) -> torch.Tensor:
            return F.cross_entropy(model(x_adv), y, reduction="sum")
    if method == "rotation":
        return rotation_perturb(x, lengths, inner, model.layout, angle, steps)
    cost = penalty(method, model, x, lengths, bone_weight, distance)
    attack = dynamic_perturb if method in DYNAMIC else perturb
    return attack(x, lengths, lambda x_adv: inner(x_adv) - cost(x_adv), eps, steps)


def adversarial_objective(method: str, eps: float, steps: int, bone_weight: float,
                          beta: float,
                          loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                          angle: float = 10.0) -> Objective:
    """The training objective of `method` (one of `METHODS`; see the module doc) with the
    attack of `training_attack` (eps, steps, bone_weight, angle as there); beta: TRADES' β."""
    if method not in METHODS:
        raise ElaError(f"adversarial training must be one of {METHODS}, got {method!r}")
    distances: dict[int, DynamicDistance] = {}  # dynamic's D, one per model, made once

    def objective(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                  lengths: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        if not isinstance(x, torch.Tensor) or x.dim() != 5:
            raise ElaError("adversarial training needs a skeleton model whose input is one "
                           "(N, C, T, V, M) tensor; multimodal models are not supported")
        model.eval()
        if method in DYNAMIC and id(model) not in distances:
            distances[id(model)] = default_distance(model)
        x_adv = training_attack(method, model, x, y, lengths, eps, steps, bone_weight, angle,
                                distances.get(id(model)))
        model.train()
        if method not in TRADES:
            logits = model(x_adv)
            return loss_fn(logits, y), logits
        logits = model(x)
        robust = kl_to(F.log_softmax(logits, dim=1), model(x_adv), "batchmean")
        return loss_fn(logits, y) + beta * robust, logits

    return objective
