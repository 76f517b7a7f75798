"""The one fold runner of every training run (skeleton and multimodal alike).

`train_splits` trains one fresh model per split, tests it as its best-validation epoch and
writes the results; `run_training` and `run_multimodal_training` only prepare the data, the
model factory and the datasets. Result (also what ``ela train`` writes to metrics.json):
with one split, that split's test metrics (`train_one_split`); with folds, ``folds``
(per-fold test metrics with training summary), ``mean`` and ``std`` over folds (population
std) of every scalar metric, and at top level ``accuracy``/``war``/``uar``/``wap`` = the
fold means, ``confusion`` and ``support`` summed over folds (each sample is tested once in
k-fold), and ``classes``. ``checkpoint_fold`` is the fold with the best validation score
(ties: the earlier fold; fold 1 without validation sets), whose checkpoint is copied to the
run folder.

With ``out_dir`` one split writes its checkpoint and then ``metrics.json`` there; folds
write ``fold_<k>/`` each (k from 1). A split whose metrics.json exists is not trained again
(resume), and an interrupted one resumes from its per-epoch training state in
``train_state/`` (removed when the split is done).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from torch.utils.data import Dataset

from ela.errors import ElaError
from ela.files import atomic_write_json
from ela.models.base import SkeletonModel
from ela.training.checkpoint import read_json, save_checkpoint
from ela.training.folder import METRICS_FILE, STATE_DIR, copy_checkpoint, fold_dir
from ela.training.loop import TrainConfig, evaluate, make_logger, seed_everything, train
from ela.training.metrics import mean_std

DatasetFactory = Callable[[np.ndarray, bool], Dataset]
"""(indices, is_training) -> Dataset of (x, y, length) for those samples of the set."""

ModelFactory = Callable[["SplitLike"], SkeletonModel]
"""split -> a fresh model for that split (called right after seeding, so every split
starts from the same reproducible initialisation; the split lets a model fit statistics,
e.g. audio standardisation, on its training part only)."""


class SplitLike(Protocol):
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def split_digest(split: SplitLike) -> str:
    """Short hash of a split's index arrays, to recognise the split a finished fold used."""
    h = hashlib.sha1()
    for part in (split.train, split.val, split.test):
        h.update(np.asarray(part, dtype=np.int64).tobytes())
        h.update(b"|")
    return h.hexdigest()[:16]


def train_splits(
    model_factory: ModelFactory,
    make_ds: DatasetFactory,
    splits: Sequence[SplitLike],
    train_config: TrainConfig,
    out_dir: str | Path | None = None,
    *,
    class_names: list[str],
    prep: dict[str, Any] | None = None,
    checkpoint_extra: dict[str, Any] | None = None,
    groups: np.ndarray | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Train and test one model per split; see the module doc for the result and files.

    prep: how the data were prepared (frames, transform, vocabulary, ...): a finished split
    is reused only for the same model, training options and `prep`. checkpoint_extra:
    merged into every checkpoint's config (folds also get "fold": k). groups: the clip id
    of every sample, for per-clip test metrics (see `train_one_split`).
    """
    if not splits:
        raise ElaError("train_splits needs at least one split")
    extra = {**(prep or {}), **(checkpoint_extra or {})}
    if len(splits) == 1:
        return train_one_split(model_factory, make_ds, splits[0], train_config, out_dir,
                               class_names=class_names, prep=prep, checkpoint_extra=extra,
                               groups=groups, progress=progress, log=log)
    say = make_logger(progress, log)
    folds = []
    for k, split in enumerate(splits, start=1):
        say(f"fold {k}/{len(splits)}: train {len(split.train)}, val {len(split.val)}, "
            f"test {len(split.test)}")
        metrics = train_one_split(
            model_factory, make_ds, split, train_config,
            fold_dir(out_dir, k) if out_dir is not None else None, class_names=class_names,
            prep=prep, checkpoint_extra={**extra, "fold": k}, fold=k, groups=groups,
            progress=progress, log=log)
        say(f"fold {k}/{len(splits)}: test accuracy {metrics['accuracy']:.4f}, "
            f"UAR {metrics['uar']:.4f} (best epoch {metrics['best_epoch']})")
        folds.append(metrics)
    summary = summarise_folds(folds, class_names)
    if out_dir is not None:
        copy_checkpoint(fold_dir(out_dir, summary["checkpoint_fold"]), Path(out_dir))
    return summary


def options_diff(saved: dict[str, Any], now: dict[str, Any], prefix: str = "") -> str:
    """The keys whose values differ, as "key: saved → now" (nested dicts as dotted keys),
    comma-separated."""
    out = []
    for key in sorted(set(saved) | set(now)):
        a, b = saved.get(key), now.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            inner = options_diff(a, b, f"{prefix}{key}.")
            out += [inner] if inner else []
        elif a != b:
            out.append(f"{prefix}{key}: {a!r} → {b!r}")
    return ", ".join(out)


def train_one_split(
    model_factory: ModelFactory,
    make_ds: DatasetFactory,
    split: SplitLike,
    train_config: TrainConfig,
    out_dir: str | Path | None = None,
    *,
    class_names: list[str],
    prep: dict[str, Any] | None = None,
    checkpoint_extra: dict[str, Any] | None = None,
    fold: int | None = None,
    groups: np.ndarray | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Train a fresh model on `split`, pick its best-validation epoch, test it.

    Returns the test metrics plus ``split_digest``, ``sizes``, ``best_epoch``,
    ``best_val_score``, ``training`` (the TrainResult summary), ``options`` (model config,
    training options and `prep`) and ``fold`` when given; with `groups` (one clip id per
    sample of the set, e.g. for windows) also ``clip`` and ``clip_confusion``: one vote per
    test clip.
    With `out_dir`: if ``out_dir/metrics.json`` exists for the same split and options it is
    returned without training (other options raise ElaError); otherwise training resumes
    from ``out_dir/train_state`` if present, and the checkpoint and then metrics.json are
    written to `out_dir`.
    """
    folder = Path(out_dir) if out_dir is not None else None
    digest = split_digest(split)
    seed_everything(train_config.seed)
    model = model_factory(split)
    options = _options(train_config, model, prep)
    if folder is not None and (folder / METRICS_FILE).exists():
        done = read_json(folder / METRICS_FILE, error=ElaError)
        if done.get("split_digest") != digest:
            raise ElaError(f"{folder / METRICS_FILE} was computed on a different split "
                           f"(seed or protocol changed); use another output folder")
        if done.get("options") != options:
            raise ElaError(f"{folder / METRICS_FILE} was computed with other model or "
                           f"training options: {options_diff(done.get('options') or {}, options)}"
                           "; use another output folder")
        make_logger(progress, log)(f"{folder / METRICS_FILE} exists: not trained again")
        return done
    if len(split.test) == 0:
        raise ElaError("the split has an empty test part")
    val_ds = make_ds(np.asarray(split.val), False) if len(split.val) else None
    result = train(model, make_ds(np.asarray(split.train), True), val_ds, train_config,
                   progress=progress, log=log, class_names=class_names,
                   checkpoint_dir=folder / STATE_DIR if folder else None, resume=True)
    test = np.asarray(split.test)
    metrics, _, _ = evaluate(model, make_ds(test, False),
                             train_config.eval_batch_size or train_config.batch_size,
                             class_names=class_names,
                             groups=None if groups is None else np.asarray(groups)[test],
                             num_workers=train_config.num_workers)
    metrics.update(split_digest=digest,
                   sizes={"train": len(split.train), "val": len(split.val),
                          "test": len(split.test)},
                   best_epoch=result.best_epoch, best_val_score=result.best_score,
                   training=result.summary(), options=options)
    if fold is not None:
        metrics["fold"] = fold
    if folder is not None:
        save_checkpoint(model, folder, {"classes": class_names, **(checkpoint_extra or {})})
        atomic_write_json(folder / METRICS_FILE, metrics)
        shutil.rmtree(folder / STATE_DIR, ignore_errors=True)
    return metrics


def _options(train_config: TrainConfig, model: SkeletonModel,
             prep: dict[str, Any] | None) -> dict[str, Any]:
    """What makes a finished result reusable: the model config, the training options that
    change results (not device, workers or evaluation batch size) and the data preparation,
    as JSON values."""
    train_opts = {k: v for k, v in train_config.to_dict().items()
                  if k not in ("device", "num_workers", "eval_batch_size")}
    return json.loads(json.dumps({"model": dict(model.config), "train": train_opts,
                                  "prep": prep or {}}))


def summarise_folds(folds: list[dict[str, Any]], classes: list[str]) -> dict[str, Any]:
    """Fold means at top level, summed confusion/support, mean/std and the folds."""
    skip = ("fold", "best_epoch", "best_val_score", "sizes", "training", "options")
    stats = mean_std([{k: v for k, v in f.items() if k not in skip} for f in folds])
    confusion = np.sum([np.asarray(f["confusion"]) for f in folds], axis=0)
    clip_confusion = ({"clip_confusion": np.sum([np.asarray(f["clip_confusion"]) for f in folds],
                                                axis=0).tolist()}
                      if all("clip_confusion" in f for f in folds) else {})
    scores = []
    for f in folds:  # higher is better; the "loss" monitor is negated
        s = f.get("best_val_score")
        sign = -1.0 if f.get("training", {}).get("monitor") == "loss" else 1.0
        scores.append(-np.inf if s is None else sign * s)
    checkpoint_fold = 1 + int(np.argmax(scores))
    return {
        **{key: stats["mean"][key] for key in ("accuracy", "war", "uar", "wap")},
        "confusion": confusion.tolist(),
        "support": confusion.sum(axis=1).tolist(),
        "classes": classes,
        **({"clip": stats["mean"]["clip"]} if "clip" in stats["mean"] else {}),
        **clip_confusion,
        "num_folds": len(folds),
        "checkpoint_fold": checkpoint_fold,
        "folds": folds,
        "mean": stats["mean"],
        "std": stats["std"],
    }
