"""What ``ela train`` and ``ela eval`` do, as two library calls on an already-read dataset.

`run_training` prepares the skeleton data and hands it to the one fold runner
(`ela.training.crossval.train_splits`); it writes into the run folder
(`ela.training.folder`):

- ``data.json``: the fingerprint of the data (a folder of other data is refused);
- ``split.json``: the split (``ela-split``) or the folds (``ela-folds``) used;
- ``metrics.json``: test metrics of the best-validation model. One split: ``accuracy`` =
  ``war``, ``uar``, ``wap``, ``confusion``, ``classes``, ``support``, ``per_class_recall``,
  ``loss``, plus ``best_epoch`` and ``training`` (per-epoch history). Folds: the fold means
  at top level, ``confusion`` summed over folds, ``folds`` (each fold's metrics), ``mean``
  and ``std`` (see `ela.training.crossval`);
- ``model.safetensors`` + ``config.json``: the checkpoint. With folds every fold keeps its
  own under ``fold_<k>/`` and the run folder gets a copy of the fold with the best
  validation score (``checkpoint_fold`` in metrics.json and ``fold`` in config.json).

Runs resume: finished folds (or a finished single split) are read back, and an interrupted
training continues from its last epoch.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ela.data import splits as S
from ela.data.dataset import SAMPLINGS, SkeletonDataset, clip_id, collate, window_set
from ela.data.fingerprint import data_fingerprint
from ela.data.splits import resolve_splits
from ela.data.transforms import build_transform
from ela.errors import ElaError
from ela.files import atomic_write_bytes, atomic_write_json
from ela.io.base import SkeletonSet, require_labels
from ela.models.base import SkeletonModel
from ela.models.registry import create_model
from ela.training.checkpoint import check_compatible, load, load_config
from ela.training.crossval import DatasetFactory, train_splits
from ela.training.folder import METRICS_FILE, SPLIT_FILE, claim, run_part
from ela.training.loop import TrainConfig, evaluate, make_logger, resolve_device

PREPARATION = ("label", "frames", "sampling", "window", "transform")
"""The config.json keys that say how a run prepares its inputs (besides layout and classes):
two runs agreeing on them can score each other's prepared sequences."""

__all__ = ["PREPARATION", "class_names_of", "clip_groups", "default_split", "evaluate_run",
           "prepare_data", "resolve_splits", "run_dataset", "run_inputs", "run_stream",
           "run_training", "skeleton_datasets", "write_evaluation"]

def skeleton_datasets(
    skeleton_set: SkeletonSet,
    label: str,
    frames: int,
    transform=None,
    train_transform=None,
    sampling: str = "resample",
    seed: int = 0,
) -> DatasetFactory:
    """A DatasetFactory of `ela.data.SkeletonDataset`s of `skeleton_set`.

    Training datasets get `train_transform` (augmentation) and random crops; validation and
    test datasets are deterministic.
    """
    def make(indices: np.ndarray, training: bool) -> SkeletonDataset:
        return SkeletonDataset(skeleton_set, label, frames, transform=transform,
                               train_transform=train_transform if training else None,
                               indices=indices, sampling=sampling, train=training, seed=seed)

    return make


def class_names_of(skeleton_set: SkeletonSet, label: str) -> list[str]:
    """Names of the classes of `label` (label_names, else "0".."K-1" from the labels)."""
    names = skeleton_set.label_names.get(label)
    if names:
        return list(names)
    labels = skeleton_set.labels(label)
    return [str(i) for i in range(int(labels.max()) + 1)] if labels.size else []


def run_training(
    skeleton_set: SkeletonSet,
    model: str,
    label: str,
    out: str | Path,
    *,
    model_cfg: dict[str, Any] | None = None,
    frames: int = 32,
    split: str | S.Split | Sequence[S.Split] | None = None,
    folds: int | None = None,
    train_config: TrainConfig | None = None,
    epochs: int | None = None,
    batch_size: int | None = None,
    lr: float | None = None,
    seed: int | None = None,
    device: str | None = None,
    window: int | None = None,
    transform: Sequence[str] | str | None = None,
    augment: Sequence[str] | str | None = None,
    sampling: str = "resample",
    val_fraction: float = 0.1,
    group: str = "clip",
    overwrite: bool = False,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Train model `model` (a registry name) on `skeleton_set` for `label`; write run `out`.

    split: a `resolve_splits` spec (default: `default_split`); folds: shorthand for ``"kfold:K"``
    (with an "emotion" split it sets K). train_config: all training options; epochs,
    batch_size, lr, seed and device, when given, override its fields. window: first cut
    every clip into windows of that many frames, stride window // 2 (`ela.data.window_set`;
    windows of a clip stay on one side of every split). transform / augment: step strings of
    `ela.data.transforms.build_transform` (preprocessing of every sample, default "centre",
    "" for none; augmentation of training samples only). Everything needed to prepare data
    the same way again (label, frames, sampling, window, transform) goes into config.json
    for `evaluate_run` and `run_inputs`. group: the metadata key whose samples stay on one
    side of every split (`ela.data.splits.group_ids`; "subject" validates on held-out
    subjects). A folder trained on other data is an error naming
    both datasets, or, with `overwrite`, replaced (`ela.training.folder.claim`). Returns
    the metrics written to metrics.json.
    """
    cfg = TrainConfig.overridden(train_config, epochs=epochs, batch_size=batch_size, lr=lr,
                                 seed=seed, device=device)
    if sampling not in SAMPLINGS:
        raise ElaError(f"sampling must be one of {SAMPLINGS}, got {sampling!r}")
    require_labels(skeleton_set, label, "training")
    transform = "centre" if transform is None else transform
    prep = {"label": label, "frames": int(frames), "sampling": sampling, "window": window,
            "transform": _spec_list(transform), "augment": _spec_list(augment)}
    data = prepare_data(skeleton_set, prep)
    split = split or default_split(data)
    if folds is not None:
        split = f"emotion:{folds}" if str(split).startswith("emotion") else f"kfold:{folds}"
    splits = resolve_splits(split, data, label, cfg.seed, val_fraction, group)
    fingerprint = data_fingerprint(skeleton_set)
    out = claim(out, fingerprint, overwrite)
    S.save_splits(splits, out / SPLIT_FILE)

    layout = data.layout
    names = class_names_of(data, label)
    in_channels = int(data.samples[0].data.shape[0])
    pre = build_transform(transform, layout)
    aug = build_transform(augment, layout) if augment else None

    def factory(_split: S.Split) -> SkeletonModel:
        return create_model(model, layout, len(names), in_channels=in_channels,
                            **(model_cfg or {}))

    metrics = train_splits(
        factory, skeleton_datasets(data, label, frames, pre, aug, sampling, cfg.seed), splits,
        cfg, out, class_names=names, prep=prep,
        checkpoint_extra={"train_config": cfg.to_dict(), "data": skeleton_set.source,
                          "data_fingerprint": fingerprint,
                          "split": [s.name for s in splits]},
        groups=clip_groups(data) if window else None, progress=progress, log=log)
    metrics["split"] = [s.name for s in splits] if len(splits) > 1 else splits[0].name
    metrics["data_fingerprint"] = fingerprint
    atomic_write_json(out / METRICS_FILE, metrics)
    make_logger(progress, log)(
        f"test accuracy {metrics['accuracy']:.4f}  UAR {metrics['uar']:.4f}  "
        f"WAP {metrics['wap']:.4f}  -> {out / METRICS_FILE}")
    return metrics


def default_split(skeleton_set: SkeletonSet) -> str:
    """The dataset's own protocol when its metadata shows one, else "holdout".

    NTU RGB+D (meta ``performer`` and ``camera``): "ntu-cross-subject"; MSR Action3D (meta
    ``subject`` and ``episode``): "msr-cross-subject".
    """
    def has(key: str) -> bool:
        return all(v is not None for v in skeleton_set.meta(key))

    if has("performer") and has("camera"):
        return "ntu-cross-subject"
    if has("subject") and has("episode"):
        return "msr-cross-subject"
    return "holdout"


def clip_groups(skeleton_set: SkeletonSet) -> np.ndarray:
    """The clip id (`ela.data.dataset.clip_id`) of every sample, as a (N,) str array."""
    return np.array([clip_id(s, i) for i, s in enumerate(skeleton_set.samples)], dtype=str)


def prepare_data(skeleton_set: SkeletonSet, config: dict[str, Any]) -> SkeletonSet:
    """The set as the run saw it before splitting: cut into windows if ``config["window"]``."""
    window = config.get("window")
    if not window:
        return skeleton_set
    return window_set(skeleton_set, int(window), max(1, int(window) // 2))


def run_dataset(config: dict[str, Any], data: SkeletonSet, label: str,
                indices: np.ndarray | None = None, cache: bool | None = None
                ) -> SkeletonDataset:
    """Deterministic dataset of `data` (already `prepare_data`-ed) prepared as the run was.

    `cache=False` prepares every item when asked for and keeps nothing (streaming); None
    caches a set held in memory, not a store."""
    return SkeletonDataset(data, label, int(config.get("frames", 32)),
                           transform=build_transform(config.get("transform"), data.layout),
                           indices=indices, sampling=config.get("sampling", "resample"),
                           cache=cache)


def evaluate_run(
    run_dir: str | Path,
    skeleton_set: SkeletonSet,
    label: str | None = None,
    out: str | Path | None = None,
    *,
    part: str | None = None,
    batch_size: int = 64,
    device: str = "auto",
) -> dict[str, Any]:
    """Evaluate the checkpoint of `run_dir` on `skeleton_set` (all samples, or one `part`).

    label: defaults to the checkpoint's label. part: "train", "val" or "test" of the run's
    own split.json (when `skeleton_set` is the data it was trained on; for a run with folds,
    the part of the fold whose checkpoint the run folder holds). The checkpoint's window,
    transform, frames and sampling are reused; layout, joints and classes are checked
    first. With `out` writes the metrics and a table of predictions (index, true and
    predicted class names, correct): into ``out/metrics.json`` and ``out/predictions.csv``
    for a folder, or into ``out`` and ``<out stem>_predictions.csv`` beside it when `out`
    ends in ".json". Returns the metrics.
    """
    config = load_config(run_dir)
    label, names = _check_data(run_dir, config, skeleton_set, label)
    require_labels(skeleton_set, label, "evaluation")
    data = prepare_data(skeleton_set, config)
    indices = run_part(run_dir, config, part, len(data)) if part is not None else None
    model = load(run_dir, device=resolve_device(device))
    ds = run_dataset(config, data, label, indices)
    groups = clip_groups(data)[ds.indices] if config.get("window") else None
    metrics, y_true, y_pred = evaluate(model, ds, batch_size, class_names=names, groups=groups)
    metrics.update(run=str(run_dir), data=skeleton_set.source, part=part or "all")
    if out is not None:
        write_evaluation(out, metrics, ds.indices, y_true, y_pred, names)
    return metrics


def write_evaluation(out: str | Path, metrics: dict[str, Any], indices, y_true, y_pred,
                     names: list[str]) -> None:
    """Metrics and the predictions table: ``out/metrics.json`` + ``out/predictions.csv`` for
    a folder, or ``out`` + ``<out stem>_predictions.csv`` beside it for a ".json" path."""
    path = Path(out)
    metrics_path = path if path.suffix == ".json" else path / METRICS_FILE
    table = (path.with_name(f"{path.stem}_predictions.csv") if path.suffix == ".json"
             else path / "predictions.csv")
    atomic_write_json(metrics_path, metrics)
    atomic_write_bytes(table, _predictions_csv(indices, y_true, y_pred, names))


def run_inputs(
    run_dir: str | Path,
    config: dict[str, Any],
    skeleton_set: SkeletonSet,
    label: str | None = None,
    part: str | None = "test",
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, np.ndarray, list[str]]:
    """The data prepared exactly as run `run_dir` was trained, for attacks.

    Returns x (N, C, T, V, M) float32, y (N,) int64, lengths (N,) int64 of every sample of
    the (windowed, if the run used windows) set, the indices of `part` of the run's split
    ("train", "val", "test"; None or "all" for every sample) and the class names. Checks
    layout, joints and classes against the checkpoint `config` first. `run_stream` gives
    the same inputs a few at a time.
    """
    ds, candidates, names = run_stream(run_dir, config, skeleton_set, label, part)
    if len(ds) == 0:
        raise ElaError(f"{run_dir}: no samples to prepare")
    x, y, lengths = collate([ds[k] for k in range(len(ds))])
    return x, y, lengths, candidates, names


def run_stream(
    run_dir: str | Path,
    config: dict[str, Any],
    skeleton_set: SkeletonSet,
    label: str | None = None,
    part: str | None = "test",
) -> tuple[SkeletonDataset, np.ndarray, list[str]]:
    """`run_inputs` without building the tensors: (dataset, candidate indices, class names).

    Item k of the dataset is ``(x (C, T, V, M), y, length)`` of sample k, identical to row
    k of `run_inputs`, prepared only when asked for and not kept, so a set whose prepared
    tensors do not fit in memory can be processed batch by batch (``collate``).
    """
    label, names = _check_data(run_dir, config, skeleton_set, label)
    data = prepare_data(skeleton_set, config)
    if part is None or part == "all":
        candidates = np.arange(len(data))
    else:
        candidates = run_part(run_dir, config, part, len(data))
    return run_dataset(config, data, label, cache=False), candidates, names


def _check_data(run_dir, config: dict[str, Any], sset: SkeletonSet,
                label: str | None) -> tuple[str, list[str]]:
    label = label or config.get("label")
    if not label:
        raise ElaError(f"{run_dir}: the checkpoint records no label; pass one")
    check_compatible(config, sset.layout.name, sset.layout.num_joints,
                     sset.label_names.get(label), where=str(run_dir))
    return label, config.get("classes") or class_names_of(sset, label)


def _predictions_csv(indices, y_true, y_pred, names: list[str]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["index", "true", "predicted", "correct"])
    for i, t, p in zip(indices.tolist(), y_true.tolist(), y_pred.tolist(), strict=True):
        writer.writerow([i, names[t], names[p], int(t == p)])
    return buf.getvalue().encode("utf-8")


def _spec_list(spec: Sequence[str] | str | None) -> list[str]:
    """Transform step strings as saved in config.json (round-trips through build_transform)."""
    if spec is None:
        return []
    if isinstance(spec, str):
        return [s for s in spec.replace("+", " ").split() if s]
    return [str(s) for s in spec]
