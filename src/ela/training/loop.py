"""One training loop for every model: `train`, `evaluate` and their `TrainConfig`.

Datasets yield ``(x, y, length)`` (or ``(x, y)``) with x (C, T, V, M) float32 and y an int
class index. The loss is cross-entropy on the model's logits (N, num_classes); predictions
come from ``model.predict_class(logits)``. A training set with ``set_epoch(epoch)`` (e.g.
`ela.data.SkeletonDataset`) is told the epoch before each one, for fresh augmentation.

Model selection: with a validation set, the weights of the best validation epoch (by
``TrainConfig.monitor``; ties go to the lower validation loss, then the earlier epoch) are put
back into the model when training ends, so a later test score is that of the best-validation
model, never of the best test epoch. Without a validation set the last epoch is kept.

Determinism: at the start of every epoch e, torch, numpy and random are seeded with
``seed + e`` and the shuffling generator likewise, so a resumed run draws the same batches,
augmentations and dropout masks as an uninterrupted one (on the same device).

Resume: with ``checkpoint_dir`` the loop writes ``last.safetensors`` after every epoch
(atomically), holding the model weights (``model.*``), the best weights so far (``best.*``),
the optimiser's moment tensors (``optim.<param>.<name>``) and, in its metadata, the JSON
state (epoch, history, best epoch and score, optimiser hyper-parameters and step counts,
scheduler state, config); ``state.json`` is a readable copy of that JSON state.
``train(..., resume=True)`` continues from it with the optimiser state restored.
"""

from __future__ import annotations

import json
import math
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import safe_open
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from ela.errors import CheckpointError, ElaError
from ela.files import atomic_write_json
from ela.training.adversarial import METHODS as ADVERSARIAL_METHODS
from ela.training.adversarial import Objective, adversarial_objective
from ela.training.checkpoint import cpu_tensors, save_tensor_file
from ela.training.metrics import classification_metrics, vote_metrics

LAST_FILE = "last.safetensors"
STATE_FILE = "state.json"
STATE_KEY = "ela_train_state"
# Changing these between an interrupted run and its resumption does not change the result.
_RESUME_FREE = {"epochs", "device", "num_workers", "eval_batch_size", "patience"}


@dataclass
class TrainConfig:
    """Hyper-parameters of `train`.

    epochs: maximum number of epochs. batch_size: training batch size (eval_batch_size,
    default the same, for evaluation). optimizer: "adam" or "sgd" (momentum, nesterov off).
    lr, weight_decay: as in torch.optim (Adam's weight decay is L2, as in the papers).
    schedule: "none", "cosine" (to min_lr over `epochs`) or "step" (× gamma every step_size
    epochs). patience: stop after that many epochs without a better `monitor` value on the
    validation set ("accuracy", "uar" or "loss"); None never stops early. seed: see module
    doc. device: "auto" (CUDA when available, else CPU) or a torch device string.
    num_workers: DataLoader worker processes that read and prepare the items (of a store:
    each worker opens it).
    grad_clip: max gradient L2 norm, None for no clipping. label_smoothing: of the default
    cross-entropy. class_weight: None, or "balanced" to weight each class's loss by
    N / (C · n_c) of the training set (for skewed classes scored by UAR).
    adversarial: None, or "pgd" / "trades" to train on attacked batches under an l∞ budget
    of adv_eps metres with adv_steps steps and the bone-length penalty adv_bone_weight
    (`ela.training.adversarial`); "dynamic": gradient steps from the clean batch on the
    loss less adv_bone_weight × ELA's dynamic distance, adv_eps metres RMS;
    "dynamic-trades": that attack with TRADES' loss; trades_beta weighs TRADES' robustness
    term; "rotation" attacks by turning bones smoothly over the
    clip, at most adv_angle degrees.
    """

    epochs: int = 60
    batch_size: int = 32
    optimizer: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 1e-4
    momentum: float = 0.9
    schedule: str = "cosine"
    step_size: int = 30
    gamma: float = 0.1
    min_lr: float = 0.0
    patience: int | None = None
    monitor: str = "accuracy"
    seed: int = 0
    device: str = "auto"
    num_workers: int = 0
    grad_clip: float | None = None
    label_smoothing: float = 0.0
    class_weight: str | None = None
    eval_batch_size: int | None = None
    adversarial: str | None = None
    adv_eps: float = 0.01
    adv_steps: int = 3
    adv_bone_weight: float = 10.0
    trades_beta: float = 6.0
    adv_angle: float = 10.0

    def __post_init__(self) -> None:
        checks = [
            (self.epochs >= 0, "epochs must be >= 0"),
            (self.batch_size >= 1, "batch_size must be >= 1"),
            (self.optimizer in ("adam", "sgd"), "optimizer must be 'adam' or 'sgd'"),
            (self.lr > 0, "lr must be > 0"),
            (self.weight_decay >= 0, "weight_decay must be >= 0"),
            (self.schedule in ("none", "cosine", "step"),
             "schedule must be 'none', 'cosine' or 'step'"),
            (self.step_size >= 1, "step_size must be >= 1"),
            (self.patience is None or self.patience >= 1, "patience must be >= 1 or None"),
            (self.monitor in ("accuracy", "uar", "loss"),
             "monitor must be 'accuracy', 'uar' or 'loss'"),
            (self.num_workers >= 0, "num_workers must be >= 0"),
            (self.grad_clip is None or self.grad_clip > 0, "grad_clip must be > 0 or None"),
            (0 <= self.label_smoothing < 1, "label_smoothing must be in [0, 1)"),
            (self.class_weight in (None, "balanced"), "class_weight must be None or 'balanced'"),
            (self.eval_batch_size is None or self.eval_batch_size >= 1,
             "eval_batch_size must be >= 1 or None"),
            (self.adversarial in (None, *ADVERSARIAL_METHODS),
             f"adversarial must be None or one of {ADVERSARIAL_METHODS}"),
            (self.adv_eps > 0 and self.adv_steps >= 1 and self.adv_bone_weight >= 0
             and self.trades_beta >= 0 and self.adv_angle > 0, "adv_eps, adv_angle and "
             "adv_steps must be > 0, adv_bone_weight and trades_beta >= 0"),
        ]
        for ok, message in checks:
            if not ok:
                raise ElaError(f"TrainConfig: {message} (got {self._describe()})")

    def _describe(self) -> str:
        return ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def overridden(cls, base: TrainConfig | None = None, **values: Any) -> TrainConfig:
        """`base` (default: the defaults) with the given fields replaced, None meaning keep."""
        given = {k: v for k, v in values.items() if v is not None}
        return cls.from_dict({**(base or cls()).to_dict(), **given})

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ElaError(f"TrainConfig: unknown options {unknown}; known: {sorted(known)}")
        return cls(**values)


@dataclass
class TrainResult:
    """What `train` returns. Epochs are counted from 1; `best_state` is a CPU copy."""

    history: list[dict[str, Any]]
    best_epoch: int
    best_score: float | None
    best_state: dict[str, torch.Tensor] = field(repr=False)
    seconds: float
    stopped_early: bool
    monitor: str
    device: str

    def summary(self) -> dict[str, Any]:
        """JSON-able summary (everything but the weights)."""
        return {"best_epoch": self.best_epoch, "best_score": self.best_score,
                "monitor": self.monitor, "epochs_run": len(self.history),
                "stopped_early": self.stopped_early, "seconds": round(self.seconds, 3),
                "device": self.device, "history": self.history}


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """torch.device for "auto" (CUDA if available, else CPU) or an explicit name."""
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ElaError(f"unknown device {device!r} (use 'auto', 'cpu', 'cuda', 'cuda:1', ...)"
                       ) from err
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ElaError(f"device {device!r} requested but CUDA is not available here")
    return dev


def seed_everything(seed: int) -> None:
    """Seed torch (CPU and CUDA), numpy's global generator and `random`."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def train(
    model: nn.Module,
    train_ds: Dataset,
    val_ds: Dataset | None = None,
    config: TrainConfig | None = None,
    *,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    checkpoint_dir: str | Path | None = None,
    resume: bool = False,
    class_names: list[str] | None = None,
) -> TrainResult:
    """Train `model` in place on `train_ds`, selecting the best epoch on `val_ds`.

    progress: a tqdm bar per epoch (rate, ETA) when stderr is a terminal, otherwise one line
    per epoch; False for silence. log: receives the per-epoch lines instead (default stderr).
    checkpoint_dir / resume: see the module doc. Afterwards the model holds the best-validation
    weights (or the last epoch's without `val_ds`) and is in eval mode.
    """
    cfg = config or TrainConfig()
    device = resolve_device(cfg.device)
    n_train = len(train_ds)
    if n_train == 0:
        raise ElaError("the training set is empty")
    if val_ds is not None and len(val_ds) == 0:
        val_ds = None
    say = make_logger(progress, log)
    bar = progress and sys.stderr.isatty()
    model.to(device)
    optimizer = make_optimizer(model, cfg)
    scheduler = make_scheduler(optimizer, cfg)
    weight = (balanced_class_weights(train_ds, int(getattr(model, "num_classes", 0)))
              if cfg.class_weight == "balanced" else None)
    loss_fn = _loss_function(cfg.label_smoothing, None if weight is None else weight.to(device))
    objective = (adversarial_objective(cfg.adversarial, cfg.adv_eps, cfg.adv_steps,
                                       cfg.adv_bone_weight, cfg.trades_beta, loss_fn,
                                       angle=cfg.adv_angle)
                 if cfg.adversarial else _plain_objective(loss_fn))

    run = _RunState()
    ckpt = Path(checkpoint_dir) if checkpoint_dir is not None else None
    if ckpt is not None and resume and (ckpt / LAST_FILE).exists():
        run = _restore(ckpt, model, optimizer, scheduler, cfg)
        say(f"resumed from {ckpt / LAST_FILE} after epoch {run.epoch}")

    gen = torch.Generator()
    # A last batch of one sample breaks BatchNorm in training mode; drop it (it is random).
    drop_last = n_train % cfg.batch_size == 1 and n_train > 1
    loader = DataLoader(train_ds, batch_size=cfg.batch_size, shuffle=True, generator=gen,
                        num_workers=cfg.num_workers, drop_last=drop_last,
                        worker_init_fn=_seed_worker, pin_memory=device.type == "cuda")
    start = time.perf_counter() - run.seconds
    for epoch in range(run.epoch, cfg.epochs if not run.stopped else run.epoch):
        t0 = time.perf_counter()
        seed_everything(cfg.seed + epoch)
        gen.manual_seed(cfg.seed + epoch)
        if callable(getattr(train_ds, "set_epoch", None)):
            train_ds.set_epoch(epoch)
        lr = optimizer.param_groups[0]["lr"]
        row: dict[str, Any] = {"epoch": epoch + 1, "lr": lr}
        row.update(_train_epoch(model, loader, optimizer, objective, device, cfg,
                                desc=f"epoch {epoch + 1}/{cfg.epochs}", bar=bar))
        if scheduler is not None:
            scheduler.step()
        improved = False
        if val_ds is not None:
            metrics, _, _ = evaluate(model, val_ds, cfg.eval_batch_size or cfg.batch_size,
                                     device, class_names=class_names,
                                     num_workers=cfg.num_workers)
            row.update(val_loss=metrics["loss"], val_accuracy=metrics["accuracy"],
                       val_uar=metrics["uar"])
            score = metrics[cfg.monitor]
            improved = run.better(score, metrics["loss"], cfg.monitor)
            if improved:
                run.best_state = cpu_tensors(model.state_dict())
                run.best_epoch, run.best_score, run.best_loss = epoch + 1, score, metrics["loss"]
                run.bad_epochs = 0
            else:
                run.bad_epochs += 1
        row["seconds"] = round(time.perf_counter() - t0, 3)
        run.history.append(row)
        run.epoch = epoch + 1
        run.stopped = cfg.patience is not None and run.bad_epochs >= cfg.patience
        if ckpt is not None:
            run.seconds = time.perf_counter() - start
            _save(ckpt, model, optimizer, scheduler, cfg, run)
        mean_epoch = sum(r["seconds"] for r in run.history) / len(run.history)
        say(_epoch_line(row, cfg.epochs, improved, mean_epoch * (cfg.epochs - run.epoch)))
        if run.stopped:
            say(f"early stop: no better validation {cfg.monitor} for {cfg.patience} epochs; "
                f"best epoch {run.best_epoch}")
            break

    if val_ds is not None and run.best_state is not None:
        upgrade = getattr(model, "upgrade_state_dict", None)
        model.load_state_dict(upgrade(run.best_state) if upgrade else run.best_state)
    else:
        run.best_state = cpu_tensors(model.state_dict())
        run.best_epoch, run.best_score = run.epoch, None
    model.eval()
    return TrainResult(history=run.history, best_epoch=run.best_epoch,
                       best_score=run.best_score, best_state=run.best_state,
                       seconds=time.perf_counter() - start, stopped_early=run.stopped,
                       monitor=cfg.monitor, device=str(device))


@torch.no_grad()
def evaluate(
    model: nn.Module,
    ds: Dataset,
    batch_size: int = 64,
    device: str | torch.device | None = None,
    class_names: list[str] | None = None,
    groups: Sequence[str] | np.ndarray | None = None,
    num_workers: int = 0,
) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """Metrics of `model` on `ds`: (classification_metrics + "loss", y_true, y_pred).

    `device` defaults to the device of the model's parameters. The model is left in eval
    mode. y_true / y_pred are (N,) int64 arrays in dataset order. groups: one id per item of
    `ds` (e.g. the clip of each window); adds ``clip`` = accuracy, war, uar, wap and
    num_samples of one vote per group (`vote_metrics`: mean softmax of its items) and
    ``clip_confusion``. num_workers: DataLoader worker processes preparing the items.
    """
    if len(ds) == 0:
        raise ElaError("cannot evaluate on an empty set")
    dev = _model_device(model) if device is None else resolve_device(device)
    model.to(dev).eval()
    loss_fn = _loss_function(0.0)
    loader = DataLoader(ds, batch_size=batch_size, shuffle=False, num_workers=num_workers)
    trues, preds, probs = [], [], []
    total = torch.zeros((), dtype=torch.float64, device=dev)
    for batch in loader:
        x, y = batch[0].to(dev), batch[1].to(dev).long()
        logits = model(x)
        total += loss_fn(logits, y).double() * y.shape[0]
        trues.append(y)
        preds.append(_predict(model, logits))
        if groups is not None:
            probs.append(logits.float().softmax(dim=1))
    y_true = torch.cat(trues).cpu().numpy()
    y_pred = torch.cat(preds).cpu().numpy()
    num_classes = int(getattr(model, "num_classes", 0)) or int(max(y_true.max(),
                                                                   y_pred.max()) + 1)
    metrics = classification_metrics(y_true, y_pred, num_classes, class_names)
    metrics["loss"] = float(total.item() / len(y_true))
    if groups is not None:
        votes = vote_metrics(torch.cat(probs).cpu().numpy(), y_true, groups, class_names)
        metrics["clip"] = {k: votes[k] for k in ("accuracy", "war", "uar", "wap", "num_samples")}
        metrics["clip_confusion"] = votes["confusion"]
    return metrics, y_true, y_pred


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ElaError("the model has no trainable parameters")
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum,
                           weight_decay=cfg.weight_decay)


def make_scheduler(optimizer: torch.optim.Optimizer, cfg: TrainConfig):
    """Per-epoch learning-rate schedule, or None for a constant rate."""
    if cfg.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(cfg.epochs, 1),
                                                          eta_min=cfg.min_lr)
    if cfg.schedule == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=cfg.step_size,
                                               gamma=cfg.gamma)
    return None


@dataclass
class _RunState:
    epoch: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int = 0
    best_score: float | None = None
    best_loss: float = math.inf
    best_state: dict[str, torch.Tensor] | None = None
    bad_epochs: int = 0
    stopped: bool = False
    seconds: float = 0.0

    def better(self, score: float, loss: float, monitor: str) -> bool:
        if self.best_score is None:
            return True
        if monitor == "loss":
            return score < self.best_score
        return score > self.best_score or (score == self.best_score and loss < self.best_loss)

    def to_json(self) -> dict[str, Any]:
        loss = self.best_loss if math.isfinite(self.best_loss) else None
        return {"epoch": self.epoch, "history": self.history, "best_epoch": self.best_epoch,
                "best_score": self.best_score, "best_loss": loss,
                "bad_epochs": self.bad_epochs, "stopped": self.stopped,
                "seconds": self.seconds}


def _train_epoch(model, loader, optimizer, objective: Objective, device, cfg, desc: str,
                 bar: bool):
    model.train()
    total = torch.zeros((), dtype=torch.float64, device=device)
    correct = torch.zeros((), dtype=torch.int64, device=device)
    seen = 0
    batches = tqdm(loader, desc=desc, leave=False, file=sys.stderr, dynamic_ncols=True,
                   unit="batch") if bar else loader
    for i, batch in enumerate(batches):
        x = batch[0].to(device, non_blocking=True)
        y = batch[1].to(device, non_blocking=True).long()
        lengths = batch[2].to(device) if len(batch) > 2 else None
        loss, logits = objective(model, x, y, lengths)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        total += loss.detach().double() * y.shape[0]
        correct += (_predict(model, logits.detach()) == y).sum()
        seen += y.shape[0]
        if bar and i % 10 == 0:
            batches.set_postfix(loss=f"{total.item() / seen:.4f}")
    mean_loss = total.item() / max(seen, 1)
    if not math.isfinite(mean_loss):
        raise ElaError(f"training loss became {mean_loss} ({desc}); lower the learning rate "
                       f"(lr={cfg.lr}) or set grad_clip")
    return {"loss": mean_loss, "accuracy": correct.item() / max(seen, 1)}


def _plain_objective(loss_fn) -> Objective:
    def objective(model, x, y, lengths):
        logits = model(x)
        return loss_fn(logits, y), logits

    return objective


def _loss_function(label_smoothing: float, weight: torch.Tensor | None = None):
    return lambda logits, y: F.cross_entropy(logits, y, weight=weight,
                                             label_smoothing=label_smoothing)


def balanced_class_weights(ds: Dataset, num_classes: int = 0) -> torch.Tensor:
    """(C,) float32 weights N / (C · n_c) from the labels of `ds` (its ``labels`` attribute
    when it has one, else item[1] of every item); classes absent from `ds` get weight 1."""
    labels = getattr(ds, "labels", None)
    if labels is None:
        labels = [int(ds[i][1]) for i in range(len(ds))]
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    if labels.size == 0 or labels.min() < 0:
        raise ElaError("balanced class weights need non-negative labels in the training set")
    count = np.bincount(labels, minlength=max(num_classes, int(labels.max()) + 1))
    present = count > 0
    weight = np.ones(len(count))
    weight[present] = labels.size / (present.sum() * count[present])
    return torch.as_tensor(weight, dtype=torch.float32)


def _predict(model: nn.Module, logits: torch.Tensor) -> torch.Tensor:
    predict = getattr(model, "predict_class", None)
    return predict(logits) if callable(predict) else logits.argmax(dim=1)


def _model_device(model: nn.Module) -> torch.device:
    for t in model.parameters():
        return t.device
    for t in model.buffers():
        return t.device
    return torch.device("cpu")


def _seed_worker(worker_id: int) -> None:
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


def make_logger(progress: bool, log: Callable[[str], None] | None) -> Callable[[str], None]:
    """`log` if given, else a stderr writer that keeps tqdm bars intact, or silence."""
    if log is not None:
        return log
    if not progress:
        return lambda line: None
    return lambda line: tqdm.write(line, file=sys.stderr)


def _epoch_line(row: dict[str, Any], epochs: int, improved: bool, eta: float) -> str:
    parts = [f"epoch {row['epoch']}/{epochs}", f"loss {row['loss']:.4f}",
             f"acc {row['accuracy']:.3f}"]
    if "val_accuracy" in row:
        parts += [f"val_loss {row['val_loss']:.4f}", f"val_acc {row['val_accuracy']:.3f}",
                  f"val_uar {row['val_uar']:.3f}"]
    parts += [f"lr {row['lr']:.3g}", f"{row['seconds']:.1f}s"]
    if row["epoch"] < epochs:  # the whole run's remaining time at the mean epoch so far
        parts.append(f"ETA {format_seconds(eta)}")
    return "  ".join(parts) + ("  *" if improved else "")


def format_seconds(seconds: float) -> str:
    """12 s, 3m05s or 1h02m."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, sec = divmod(seconds, 60)
    return f"{minutes}m{sec:02d}s" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"


def _save(ckpt: Path, model, optimizer, scheduler, cfg: TrainConfig, run: _RunState) -> None:
    tensors = cpu_tensors(model.state_dict(), "model.")
    if run.best_state is not None:
        tensors.update({f"best.{k}": v for k, v in run.best_state.items()})
    opt = optimizer.state_dict()
    opt_scalars: dict[str, dict[str, Any]] = {}
    for pid, slots in opt["state"].items():
        for name, value in slots.items():
            if torch.is_tensor(value):
                tensors[f"optim.{pid}.{name}"] = value.detach().to("cpu", copy=True).contiguous()
            else:
                opt_scalars.setdefault(str(pid), {})[name] = value
    state = {**run.to_json(), "config": cfg.to_dict(),
             "optimizer": {"param_groups": opt["param_groups"], "scalars": opt_scalars},
             "scheduler": scheduler.state_dict() if scheduler is not None else None}
    text = json.dumps(state, allow_nan=False)
    save_tensor_file(ckpt / LAST_FILE, tensors, metadata={STATE_KEY: text})
    atomic_write_json(ckpt / STATE_FILE, state)


def _restore(ckpt: Path, model, optimizer, scheduler, cfg: TrainConfig) -> _RunState:
    path = ckpt / LAST_FILE
    try:
        with safe_open(str(path), framework="pt", device="cpu") as fh:
            meta = fh.metadata() or {}
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118
        state = json.loads(meta[STATE_KEY])
    except KeyError as err:
        raise CheckpointError(f"{path}: no training state in its metadata") from err
    except Exception as err:  # safetensors' own error type, or bad JSON
        raise CheckpointError(f"{path}: unreadable training state ({err})") from err
    saved_cfg = state.get("config", {})
    changed = sorted(k for k, v in cfg.to_dict().items()
                     if k not in _RESUME_FREE and saved_cfg.get(k, v) != v)
    if changed:
        diff = ", ".join(f"{k}: {saved_cfg[k]!r} -> {getattr(cfg, k)!r}" for k in changed)
        raise CheckpointError(f"{path}: written with a different training config ({diff}); "
                              f"restore those options or start without resume")
    split = {"model.": {}, "best.": {}, "optim.": {}}
    for key, value in tensors.items():
        prefix = key[: key.index(".") + 1]
        if prefix in split:
            split[prefix][key[len(prefix):]] = value
    try:
        upgrade = getattr(model, "upgrade_state_dict", None)  # keys of older versions
        model.load_state_dict(upgrade(split["model."]) if upgrade else split["model."],
                              strict=True)
        opt_state: dict[int, dict[str, Any]] = {}
        for pid, slots in state["optimizer"]["scalars"].items():
            opt_state.setdefault(int(pid), {}).update(slots)
        for key, value in split["optim."].items():
            pid, name = key.split(".", 1)
            opt_state.setdefault(int(pid), {})[name] = value
        groups = [{k: (tuple(v) if isinstance(v, list) and k != "params" else v)
                   for k, v in g.items()} for g in state["optimizer"]["param_groups"]]
        optimizer.load_state_dict({"state": opt_state, "param_groups": groups})
        if scheduler is not None and state.get("scheduler") is not None:
            scheduler.load_state_dict(state["scheduler"])
    except (RuntimeError, KeyError, ValueError) as err:
        raise CheckpointError(f"{path}: saved training state does not fit this model or "
                              f"optimiser ({err})") from err
    best_loss = state.get("best_loss")
    return _RunState(epoch=int(state["epoch"]), history=list(state["history"]),
                     best_epoch=int(state["best_epoch"]), best_score=state["best_score"],
                     best_loss=math.inf if best_loss is None else float(best_loss),
                     best_state=split["best."] or None, bad_epochs=int(state["bad_epochs"]),
                     stopped=bool(state["stopped"]), seconds=float(state["seconds"]))
