"""The attack API: the `Attack` base class, `AttackResult`, target modes and bookkeeping.

An attack is called on a batch: ``result = attack(x, labels, target=None, lengths=None)``
with x (N, C, T, V, M) in metres. Modes (`target`):

* ``None`` — untargeted: any class but `labels` (labels None: the clean prediction);
* an int — every sample to that class; a (N,) tensor — per-sample targets;
* a callable ``labels -> targets``; ``"least-likely"`` — the class with the lowest clean logit.

Coordinates are never clamped to [0, 1]; `bounds=(lo, hi)` (floats, a (C,) tensor per
coordinate or anything broadcastable to x) clamps only when given. Frames past `lengths` and
absent (all-zero) persons never move, so padding stays padding.

Samples that are already adversarial, or whose input is not finite, are not attacked (noted).
Subclasses implement `_run(ctx, todo)`: they attack the samples `todo` (global indices) and
write `ctx.adversarial`, `ctx.iterations` and optional per-sample `ctx.info`. They call
`self.logits` for every model forward pass, so `evaluations` counts them per sample; the
final verification pass of the base class is a measurement and is not counted.
"""

from __future__ import annotations

import contextlib
import inspect
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Union

import numpy as np
import torch
from torch import nn

from ela.attacks.guard import split_guarded
from ela.attacks.metrics import imperceptibility
from ela.attacks.objectives import classification_loss, is_adversarial, margin
from ela.errors import ElaError
from ela.skeleton import Layout, get_layout, valid_mask

TargetSpec = Union[None, int, str, torch.Tensor, Callable[[torch.Tensor], torch.Tensor]]  # noqa: UP007
LEAST_LIKELY = ("least-likely", "least_likely", "ll")


class AttackError(ElaError):
    """An attack was called with arguments it cannot use."""


@dataclass
class AttackResult:
    """Outcome of one attack call; every per-sample tensor has N rows.

    Attributes:
        adversarial: (N, C, T, V, M) x'. For a successful sample the best (lowest-distance)
            adversarial point found; otherwise the attack's last iterate (x for samples not
            attacked).
        original: (N, C, T, V, M) the clean x.
        success: (N,) bool, from re-evaluating the model on `adversarial`.
        clean_predictions, adversarial_predictions: (N,) classes.
        labels: (N,) the classes an untargeted attack moves away from.
        targets: (N,) target classes, None when untargeted.
        iterations: (N,) gradient steps taken per sample.
        evaluations: (N,) forward passes of the attacked model per sample (clean pass included).
        gradients: (N,) backward passes through the attacked model that fed an update of
            the sample.
        metrics: per-sample imperceptibility metrics (see `ela.attacks.metrics`).
        info: per-sample attack-specific values (e.g. ELA's final λ, C&W's constant).
        seconds: wall time of the attack.
        notes: what happened to special samples (non-finite, stopped, already adversarial).
        method: attack name; layout: the data's layout; lengths: (N,) valid frames or None.
    """

    adversarial: torch.Tensor
    original: torch.Tensor
    success: torch.Tensor
    clean_predictions: torch.Tensor
    adversarial_predictions: torch.Tensor
    labels: torch.Tensor
    targets: torch.Tensor | None
    iterations: torch.Tensor
    evaluations: torch.Tensor
    gradients: torch.Tensor
    metrics: dict[str, torch.Tensor]
    seconds: float
    notes: list[str]
    method: str
    layout: Layout
    lengths: torch.Tensor | None = None
    info: dict[str, torch.Tensor] = field(default_factory=dict)

    @property
    def targeted(self) -> bool:
        return self.targets is not None

    @property
    def success_rate(self) -> float:
        """Share of the attacked samples — those the model classified correctly (and, when
        targeted, not already as the target) — that are adversarial; NaN when there is
        none. Samples already misclassified are never a success (as in `AttackSummary`)."""
        ok = self.success[attacked_mask(self.labels, self.clean_predictions, self.targets)]
        return float(ok.float().mean()) if ok.numel() else float("nan")

    def per_sample(self) -> dict[str, np.ndarray]:
        """Flat per-sample columns (numpy), e.g. for a CSV or Parquet table."""
        cols = {
            "label": self.labels, "clean_prediction": self.clean_predictions,
            "adversarial_prediction": self.adversarial_predictions, "success": self.success,
            "iterations": self.iterations, "evaluations": self.evaluations,
            "gradients": self.gradients, **self.metrics, **self.info,
        }
        if self.targets is not None:
            cols["target"] = self.targets
        return {k: v.detach().cpu().numpy() for k, v in cols.items()}


@dataclass
class Progress:
    """Where an attack call stands: `step` of its `budget` of gradient steps, samples still
    `active`, samples `fooled` so far, of the `samples` attacked in the call."""

    step: int
    budget: int
    active: int
    fooled: int
    samples: int


@dataclass
class AttackContext:
    """Full-batch state shared by the base class and `_run` (all tensors on one device)."""

    x: torch.Tensor
    labels: torch.Tensor
    targets: torch.Tensor | None
    lengths: torch.Tensor | None
    movable: torch.Tensor  # (N, 1, T, 1, M) 1.0 where coordinates may change
    lower: torch.Tensor | None
    upper: torch.Tensor | None
    adversarial: torch.Tensor
    iterations: torch.Tensor
    evaluations: torch.Tensor
    gradients: torch.Tensor
    fooled: torch.Tensor  # (N,) bool: an iterate of the sample has met the goal
    notes: list[str] = field(default_factory=list)
    info: dict[str, torch.Tensor] = field(default_factory=dict)

    def sub_targets(self, idx: torch.Tensor) -> torch.Tensor | None:
        return None if self.targets is None else self.targets[idx]

    def sub_lengths(self, idx: torch.Tensor) -> torch.Tensor | None:
        return None if self.lengths is None else self.lengths[idx]


class ActiveBatch:
    """Per-sample state of the samples still attacked; `keep(mask)` drops the others.

    Holds `idx` (global sample indices) and named entries that are tensors with one row per
    active sample, references with `select(index)`, or None.
    """

    def __init__(self, idx: torch.Tensor, **state: Any):
        self.idx = idx
        self._state = dict(state)

    def __getitem__(self, key: str) -> Any:
        return self._state[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._state[key] = value

    def __len__(self) -> int:
        return int(self.idx.numel())

    def keep(self, mask: torch.Tensor) -> None:
        """Keep the rows where `mask` (bool, one per active sample) is True."""
        if bool(mask.all()):
            return
        where = mask.nonzero().squeeze(1)
        self.idx = self.idx[where]
        for key, value in self._state.items():
            if value is None:
                continue
            self._state[key] = (value[where] if isinstance(value, torch.Tensor)
                                else value.select(where))


@contextlib.contextmanager
def frozen(modules: list[nn.Module]) -> Iterator[None]:
    """Eval mode and no parameter gradients inside; modes and flags restored after."""
    saved = [(m, m.training, [(p, p.requires_grad) for p in m.parameters()]) for m in modules]
    try:
        for m in modules:
            m.eval()
            for p in m.parameters():
                p.requires_grad_(False)
        yield
    finally:
        for m, training, flags in saved:
            m.train(training)
            for p, flag in flags:
                p.requires_grad_(flag)


def attacked_mask(labels: Any, clean_pred: Any, targets: Any = None) -> Any:
    """(N,) bool: the samples an attack works on — classified correctly on the clean input
    and, when targeted (a target ≥ 0), not already classified as the target. Takes and
    returns tensors or NumPy arrays alike (an `AttackResult`'s or a result file's)."""
    correct = clean_pred == labels
    return correct if targets is None else correct & ((targets < 0) | (clean_pred != targets))


class LogitsOnly(nn.Module):
    """A model whose forward returns several outputs (a tuple or list such as
    ``(logits, features)``, or a dict), wrapped so that it returns only its logits (N, K):
    ``output[index]``, `index` a position or a key."""

    def __init__(self, model: nn.Module, index: int | str = 0):
        super().__init__()
        self.model = model
        self.index = index

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The logits (N, K) of x (N, C, T, V, M)."""
        return self.model(x)[self.index]


def describe_output(out: Any) -> str:
    """A short description of a model's output: shapes of tensors, types of the rest."""
    if isinstance(out, torch.Tensor):
        return f"a tensor of shape {tuple(out.shape)}"
    if isinstance(out, tuple | list):
        inner = ", ".join(describe_output(o) for o in out[:4]) + (", ..." if len(out) > 4 else "")
        return f"a {type(out).__name__} of {len(out)} ({inner})"
    if isinstance(out, dict):
        return f"a dict with keys {', '.join(map(repr, list(out)[:6]))}"
    return f"a {type(out).__name__}"


def _as_bound(value: Any, x: torch.Tensor, name: str) -> torch.Tensor:
    t = torch.as_tensor(value, dtype=x.dtype, device=x.device)
    if t.dim() == 1 and t.numel() == x.shape[1] and x.shape[1] > 1:
        t = t.view(1, -1, 1, 1, 1)
    try:
        return t.expand_as(x)
    except RuntimeError:
        raise AttackError(f"bounds: {name} of shape {tuple(t.shape)} does not broadcast to "
                          f"x of shape {tuple(x.shape)}") from None


class Attack:
    """Base class: model, layout, optional bounds, target resolution and counting.

    Args:
        model: a `SkeletonModel` (any nn.Module mapping (N, C, T, V, M) to logits (N, K)).
        layout: the data's skeleton layout (default: `model.layout`).
        bounds: optional (lo, hi) clamp for x'; None (default) leaves coordinates unbounded.
    """

    name = "attack"
    #: called now and then during an attack with a `Progress` (e.g. to draw a bar); None:
    #: no reports, and no host-device synchronisation for them
    progress: Callable[[Progress], None] | None = None

    def __init__(self, model: nn.Module, layout: str | Layout | None = None,
                 bounds: tuple[Any, Any] | None = None):
        if not isinstance(model, nn.Module):
            raise AttackError(f"{type(self).__name__}: model must be a torch nn.Module, "
                              f"got {type(model).__name__}")
        layout = layout if layout is not None else getattr(model, "layout", None)
        if layout is None:
            raise AttackError(f"{type(self).__name__}: pass layout= (the model has no .layout)")
        self.model = model
        self.layout = get_layout(layout)
        if bounds is not None and len(bounds) != 2:
            raise AttackError("bounds must be a pair (lo, hi) or None")
        self.bounds = bounds

    @classmethod
    def options(cls) -> dict[str, Any]:
        """The attack's own options and their defaults (constructor keywords after
        model and layout), e.g. for ``ela attack --cfg`` and its help."""
        params = list(inspect.signature(cls.__init__).parameters.values())[1:]
        return {p.name: p.default for p in params
                if p.name not in ("model", "layout", "emotion_model")
                and p.kind is p.POSITIONAL_OR_KEYWORD}

    @classmethod
    def build(cls, model: nn.Module, layout: str | Layout | None = None,
              emotion_model: nn.Module | None = None, **options: Any) -> Attack:
        """The attack with `options` checked by name against `options()`.

        Every iterative attack takes ``steps``, its budget of gradient steps per sample.
        `emotion_model` reaches the attacks that use one (ELA) and is ignored by the others
        (they are measured with E, never steered by it).
        """
        known = cls.options()
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise AttackError(f"{cls.name}: unknown option(s) {', '.join(unknown)}; "
                              f"{cls.name} takes: {', '.join(known)}")
        if "emotion_model" in inspect.signature(cls.__init__).parameters:
            options["emotion_model"] = emotion_model
        return cls(model, layout, **options)

    @property
    def device(self) -> torch.device:
        param = next(self.model.parameters(), None)
        return param.device if param is not None else torch.device("cpu")

    def _modules(self) -> list[nn.Module]:
        """Modules put in eval mode with frozen parameters during the attack."""
        return [self.model]

    # ---- helpers for subclasses -------------------------------------------------------
    def logits(self, ctx: AttackContext, x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """Model forward on the active rows `idx`; counts one evaluation each."""
        ctx.evaluations[idx] += 1
        return self.model(x)

    def predict(self, logits: torch.Tensor) -> torch.Tensor:
        fn = getattr(self.model, "predict_class", None)
        return fn(logits) if fn is not None else logits.argmax(dim=1)

    def margin(self, ctx: AttackContext, logits: torch.Tensor, idx: torch.Tensor,
               conf: float) -> torch.Tensor:
        """(n,) constraint C ≥ 0 of the active rows `idx` (zero: goal met with margin
        `conf`); for a `Guarded` model also max(log-odds − τ + conf, 0) of its detector."""
        classes, flag = split_guarded(self.model, logits)
        c = margin(classes, ctx.labels[idx], ctx.sub_targets(idx), conf)
        return c if flag is None else c + torch.relu(flag + conf)

    def loss(self, ctx: AttackContext, logits: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """(n,) loss a gradient attack descends (`classification_loss`); for a `Guarded`
        model plus max(log-odds − τ, 0) of its detector."""
        classes, flag = split_guarded(self.model, logits)
        loss = classification_loss(classes, ctx.labels[idx], ctx.sub_targets(idx))
        return loss if flag is None else loss + torch.relu(flag)

    def project(self, ctx: AttackContext, x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """Clamp to the bounds, if any (gradients pass where not clamped)."""
        if ctx.lower is None:
            return x
        return torch.maximum(torch.minimum(x, ctx.upper[idx]), ctx.lower[idx])

    def report(self, ctx: AttackContext, step: int, budget: int,
               active: int | torch.Tensor) -> None:
        """Tell `progress` (if set) where the attack stands after `step` of `budget` steps;
        `active` is a count or a bool mask of the samples still attacked."""
        if self.progress is not None:
            if isinstance(active, torch.Tensor):
                active = int(active.sum())
            self.progress(Progress(step, budget, active, int(ctx.fooled.sum()),
                                   int(ctx.x.shape[0])))

    def succeeded(self, ctx: AttackContext, logits: torch.Tensor,
                  idx: torch.Tensor) -> torch.Tensor:
        """(n,) bool: the prediction on these logits fulfils the attack goal (also marks
        the samples as fooled for the progress reports)."""
        ok = is_adversarial(self.predict(logits.detach()), ctx.labels[idx],
                            ctx.sub_targets(idx))
        ctx.fooled[idx] |= ok
        return ok

    def stop_nonfinite(self, ctx: AttackContext, values: torch.Tensor, idx: torch.Tensor,
                       what: str) -> torch.Tensor:
        """(n,) bool finite mask of per-sample `values`; notes every non-finite sample."""
        finite = torch.isfinite(values.detach())
        for i in idx[~finite].tolist():
            ctx.notes.append(f"sample {i}: non-finite {what}; stopped after "
                             f"{int(ctx.iterations[i])} steps")
        return finite

    # ---- the call --------------------------------------------------------------------
    def _run(self, ctx: AttackContext, todo: torch.Tensor) -> None:
        raise NotImplementedError

    def __call__(self, x: torch.Tensor, labels: torch.Tensor | None = None,
                 target: TargetSpec = None,
                 lengths: torch.Tensor | None = None) -> AttackResult:
        """Attack the batch x (N, C, T, V, M); see the module docstring for the modes."""
        x = self._check_x(x)
        n = x.shape[0]
        lengths = self._check_lengths(lengths, x)
        with frozen(self._modules()):
            start = time.perf_counter()
            zeros = torch.zeros(n, dtype=torch.long, device=x.device)
            lower = upper = None
            if self.bounds is not None:
                lower = _as_bound(self.bounds[0], x, "lo")
                upper = _as_bound(self.bounds[1], x, "hi")
            with torch.no_grad():
                clean_logits = self._check_logits(self.model(x), x.shape[0])
            clean_pred = self.predict(clean_logits)
            labels = self._check_labels(labels, clean_pred, clean_logits.shape[1])
            targets = self._resolve_targets(target, labels, clean_logits)
            ctx = AttackContext(
                x=x, labels=labels, targets=targets, lengths=lengths,
                movable=valid_mask(x, lengths)[:, None, :, None, :].to(x.dtype),
                lower=lower, upper=upper, adversarial=x.clone(), iterations=zeros.clone(),
                evaluations=zeros + 1, gradients=zeros.clone(),
                fooled=torch.zeros(n, dtype=torch.bool, device=x.device),
            )
            finite = torch.isfinite(x).flatten(1).all(1) & torch.isfinite(clean_logits).all(1)
            for i in (~finite).nonzero().squeeze(1).tolist():
                ctx.notes.append(f"sample {i}: non-finite input or clean logits; not attacked")
            already = is_adversarial(clean_pred, labels, targets) & finite
            if bool(already.any()):
                which = already.nonzero().squeeze(1).tolist()
                ctx.notes.append(f"{len(which)} samples already adversarial before the attack, "
                                 f"returned unchanged: {which}")
            todo = (finite & ~already).nonzero().squeeze(1)
            if todo.numel():
                self._run(ctx, todo)
            seconds = time.perf_counter() - start
            with torch.no_grad():
                adv_logits = self.model(ctx.adversarial)
            adv_pred = self.predict(adv_logits)
            adv_finite = torch.isfinite(ctx.adversarial).flatten(1).all(1)
            success = is_adversarial(adv_pred, labels, targets) & finite & adv_finite
        metrics = imperceptibility(x, ctx.adversarial, self.layout, lengths)
        return AttackResult(
            adversarial=ctx.adversarial, original=x, success=success,
            clean_predictions=clean_pred, adversarial_predictions=adv_pred, labels=labels,
            targets=targets, iterations=ctx.iterations, evaluations=ctx.evaluations,
            gradients=ctx.gradients, metrics=metrics, seconds=seconds, notes=ctx.notes,
            method=self.name, layout=self.layout, lengths=lengths, info=ctx.info,
        )

    # ---- argument checks -------------------------------------------------------------
    def _check_logits(self, out: Any, n: int) -> torch.Tensor:
        if isinstance(out, torch.Tensor) and out.dim() == 2 and out.shape[0] == n:
            return out
        wrap = ""
        if isinstance(out, tuple | list | dict):
            first = next(iter(out), 0) if isinstance(out, dict) else 0
            wrap = (f" If one of its outputs is the logits, wrap the model so that it returns "
                    f"only those: ela.attacks.LogitsOnly(model, index={first!r}) returns "
                    f"output[{first!r}].")
        raise AttackError(f"{self.name}: the model must return logits of shape (N, classes) "
                          f"with N={n}, one tensor; it returned {describe_output(out)}.{wrap}")

    def _check_x(self, x: Any) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.dim() != 5:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise AttackError(f"{self.name}: x must be a tensor (N, C, T, V, M), got {shape}")
        if x.shape[1] < 3:
            raise AttackError(f"{self.name}: x needs at least 3 coordinates, got C={x.shape[1]}")
        if x.shape[3] != self.layout.num_joints:
            raise AttackError(f"{self.name}: x has V={x.shape[3]} joints but layout "
                              f"{self.layout.name} has {self.layout.num_joints}")
        return x.detach().to(device=self.device, dtype=torch.float32)

    def _check_lengths(self, lengths: Any, x: torch.Tensor) -> torch.Tensor | None:
        if lengths is None:
            return None
        lengths = torch.as_tensor(lengths, device=x.device).long()
        n, t = x.shape[0], x.shape[2]
        if lengths.shape != (n,) or bool((lengths < 1).any()) or bool((lengths > t).any()):
            raise AttackError(f"{self.name}: lengths must be (N,)={n} integers in 1..T={t}, "
                              f"got {lengths.tolist()}")
        return lengths

    def _check_labels(self, labels: Any, clean_pred: torch.Tensor, k: int) -> torch.Tensor:
        if labels is None:
            return clean_pred.clone()
        labels = torch.as_tensor(labels, device=clean_pred.device)
        if labels.shape != clean_pred.shape or labels.is_floating_point():
            raise AttackError(f"{self.name}: labels must be (N,)={tuple(clean_pred.shape)} "
                              f"integers, got shape {tuple(labels.shape)} {labels.dtype}")
        labels = labels.long()
        if bool(((labels < 0) | (labels >= k)).any()):
            raise AttackError(f"{self.name}: labels must lie in 0..{k - 1}")
        return labels

    def _resolve_targets(self, target: TargetSpec, labels: torch.Tensor,
                         clean_logits: torch.Tensor) -> torch.Tensor | None:
        n, k = clean_logits.shape
        if target is None:
            return None
        if isinstance(target, str):
            if target.lower() not in LEAST_LIKELY:
                raise AttackError(f"{self.name}: unknown target mode {target!r}; use None, an "
                                  "int, a tensor, a callable or 'least-likely'")
            return split_guarded(self.model, clean_logits)[0].argmin(dim=1)
        if callable(target) and not isinstance(target, torch.Tensor):
            target = target(labels)
        if isinstance(target, bool):
            raise AttackError(f"{self.name}: target must be a class index, got a bool")
        t = torch.as_tensor(target, device=labels.device)
        if t.is_floating_point():
            raise AttackError(f"{self.name}: targets must be integers, got {t.dtype}")
        t = t.long().expand(n).clone() if t.dim() == 0 else t.long()
        if t.shape != (n,):
            raise AttackError(f"{self.name}: targets must be (N,)={n}, got {tuple(t.shape)}")
        if bool(((t < 0) | (t >= k)).any()):
            raise AttackError(f"{self.name}: targets must lie in 0..{k - 1}")
        return t


def adam_update(param: torch.Tensor, grad: torch.Tensor, m: torch.Tensor, v: torch.Tensor,
                step: int, lr: float, betas: tuple[float, float] = (0.9, 0.999),
                eps: float = 1e-8) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One Adam step on rows of `param` whose moments m, v are kept per sample by the caller.

    `step` is the 1-based step count (the same for every active row, since samples only
    ever leave the active batch). Returns (new param, new m, new v).
    """
    b1, b2 = betas
    m = b1 * m + (1 - b1) * grad
    v = b2 * v + (1 - b2) * grad * grad
    m_hat = m / (1 - b1**step)
    v_hat = v / (1 - b2**step)
    return param - lr * m_hat / (v_hat.sqrt() + eps), m, v
