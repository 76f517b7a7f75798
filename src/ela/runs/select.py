"""Which samples an attack run attacks, prepared exactly as the run was trained.

`select_attack_samples` reads the run's config and split, prepares its part of the data
(`ela.training.run.run_stream`: one batch of tensors in memory at a time) and keeps the
samples the model classifies correctly; `attack_inputs` returns them as one batch, the
inputs ``ela attack`` attacks, for the Python API.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ela.data.dataset import collate
from ela.errors import ElaError
from ela.io.base import UNLABELLED, SkeletonSet
from ela.training.checkpoint import load, load_config
from ela.training.run import resolve_device, run_stream

Fetch = Callable[[np.ndarray], tuple[torch.Tensor, torch.Tensor, torch.Tensor]]
"""Dataset indices -> (x (n, C, T, V, M), y (n,), lengths (n,)) prepared on the device."""


def correct_samples(model: torch.nn.Module, fetch: Fetch, candidates: np.ndarray,
                    batch_size: int, target: int | str | None = None) -> np.ndarray:
    """Indices among `candidates` that the model classifies correctly, in their order.

    Inputs come from `fetch`, `batch_size` at a time. With a class index `target`, samples
    of that class are left out (a targeted attack has nothing to do on them).
    """
    hits = []
    with torch.no_grad():
        for start in range(0, len(candidates), batch_size):
            idx = candidates[start:start + batch_size]
            with memory_guard(len(idx)):
                x, y, _ = fetch(idx)
                hit = model.predict_class(model(x)) == y
                if isinstance(target, int):
                    hit &= y != target
                hits.append(hit.cpu())
    hit = torch.cat(hits) if hits else torch.zeros(0, dtype=torch.bool)
    return candidates[hit.numpy()]


def subsample(indices: np.ndarray, samples: int | None, seed: int) -> np.ndarray:
    """At most `samples` of `indices`: a random subset (seeded) when there are more, in
    increasing order."""
    if samples is not None and len(indices) > samples:
        rng = np.random.default_rng(seed)
        return np.sort(rng.choice(indices, size=samples, replace=False))
    return indices


def select_samples(model: torch.nn.Module, fetch: Fetch, candidates: np.ndarray,
                   samples: int | None, seed: int, batch_size: int,
                   target: int | str | None = None) -> np.ndarray:
    """`correct_samples`, at most `samples` of them (`subsample`)."""
    return subsample(correct_samples(model, fetch, candidates, batch_size, target), samples,
                     seed)


def resolve_target(target: str | None, classes: list[str]) -> int | str | None:
    """``--target`` as the attacks take it: None, a class index or "least-likely"."""
    if target is None:
        return None
    if target in ("least-likely", "least_likely", "ll"):
        return "least-likely"
    if target in classes:
        return classes.index(target)
    try:
        value = int(target)
    except ValueError:
        raise ElaError(f"--target {target!r} is neither a class name nor an index; "
                       f"classes: {classes}") from None
    if not 0 <= value < len(classes):
        raise ElaError(f"--target {value} out of range for {len(classes)} classes")
    return value


@contextlib.contextmanager
def memory_guard(batch: int) -> Iterator[None]:
    """Turn an out-of-memory failure inside the block into an ElaError naming the fix."""
    try:
        yield
    except (RuntimeError, MemoryError) as err:  # torch.cuda.OutOfMemoryError included
        text = str(err).lower()
        if isinstance(err, RuntimeError) and "out of memory" not in text \
                and "can't allocate memory" not in text:
            raise
        raise ElaError(f"a batch of {batch} samples does not fit in memory ({err}); run "
                       "again with a smaller --batch-size") from err


@dataclass
class Selection:
    """The samples an attack run attacks: run `model` (on `device`), the run's prepared
    `dataset`, the `candidates` of its split part, the class names, the resolved `target`
    (None, a class index or "least-likely"), the number of candidates it classifies
    `correct`ly (those of the target class left out), the `chosen` dataset indices and the
    run's checkpoint `config`."""

    model: torch.nn.Module
    dataset: Any
    candidates: np.ndarray
    classes: list[str]
    target: int | str | None
    correct: int
    chosen: np.ndarray
    device: torch.device
    config: dict[str, Any]

    def fetch(self, idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x (n, C, T, V, M), y (n,), lengths (n,) of dataset indices `idx`, on the device;
        an unlabelled sample (`ela.io.UNLABELLED`) gets the model's prediction as label."""
        x, y, lengths = collate([self.dataset[int(i)] for i in idx])
        x, y, lengths = x.to(self.device), y.to(self.device), lengths.to(self.device)
        unknown = y == UNLABELLED
        if unknown.any():
            with torch.no_grad():
                y = torch.where(unknown, self.model.predict_class(self.model(x)), y)
        return x, y, lengths


def select_attack_samples(run: str | Path, data: SkeletonSet, samples: int | None = None,
                          seed: int = 0, label: str | None = None, split: str = "test",
                          target: str | None = None, device: str = "auto",
                          batch_size: int = 64) -> Selection:
    """The samples of the run's `split` part that its model classifies correctly (at most
    `samples`, chosen with `seed`; with a class `target`, none of that class), prepared
    exactly as the run was trained. Raises ElaError when there is none."""
    dev = resolve_device(device)
    config = load_config(run)
    ds, candidates, classes = run_stream(run, config, data, label, split)
    sel = Selection(load(run, device=dev), ds, candidates, classes,
                    resolve_target(target, classes), 0, np.zeros(0, dtype=np.int64), dev,
                    config)
    correct = correct_samples(sel.model, sel.fetch, candidates, batch_size, sel.target)
    sel.correct = len(correct)
    sel.chosen = subsample(correct, samples, seed)
    if len(sel.chosen) == 0:
        raise ElaError(f"{run}: the model classifies none of the {len(candidates)} candidate "
                       "samples correctly; nothing to attack")
    return sel


def attack_inputs(run: str | Path, data: SkeletonSet, samples: int | None = None,
                  seed: int = 0, label: str | None = None, split: str = "test",
                  target: str | None = None, device: str = "cpu"
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, np.ndarray]:
    """What `ela attack` attacks, as one batch (`select_attack_samples`): x (n, C, T, V, M),
    y (n,), lengths (n,) on `device`, and the dataset indices (n,)."""
    sel = select_attack_samples(run, data, samples, seed, label, split, target, device)
    return (*sel.fetch(sel.chosen), sel.chosen)
