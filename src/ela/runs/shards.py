"""Shards of an attack run and the executors that attack them.

`ela.runs.attack.run_attack` cuts the chosen samples into batches of `batch_size` and groups
whole batches into shards (`plan_shards`; by default one batch per shard); an executor
attacks the shards — `local_executor` in this process, `ela.runs.ray_backend.ray_executor`
on Ray actors — and hands each finished one back to the calling process, which writes it.
Since batch b is seeded with ``seed + b`` whatever process attacks it, and every worker uses
the caller's torch thread count, the results do not depend on the executor.

A worker gets everything it needs in its task: the checkpoints as file bytes (built once
per worker with `ela.training.load`, no shared file system needed) and each shard's prepared
inputs; only the calling process reads the data and writes files.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ela.attacks import ATTACKS
from ela.attacks.guard import Guarded
from ela.errors import ElaError
from ela.runs.progress import BatchProgress
from ela.runs.results import batch_arrays, dataset_notes, merge_parts
from ela.runs.select import memory_guard
from ela.training.checkpoint import CONFIG_FILE, MODEL_FILE, checkpoint_dir, load
from ela.training.run import resolve_device

SHARDS_DIR = "shards"


@dataclass
class AttackSpec:
    """Everything a worker needs to build the attack once (picklable, no paths).

    `model` / `emotion` / `guard` are checkpoints as {file name: bytes}; with a `guard` (a
    detector of `ela detect`) the attack is adaptive: it attacks the model guarded by the
    detector at log-odds `guard_threshold` (`ela.attacks.guard`); `target` is already resolved
    (None, a class index or "least-likely"); `threads` is the torch thread count of the
    process that started the run, which every worker uses too: CPU kernels add up in an
    order that depends on the thread count, so any other count would change the numbers.
    """

    method: str
    options: dict[str, Any]
    layout: str
    model: dict[str, bytes]
    emotion: dict[str, bytes] | None = None
    emotion_loss: bool = True
    target: int | str | None = None
    device: str = "auto"
    threads: int = 1
    guard: dict[str, bytes] | None = None
    guard_threshold: float | None = None


@dataclass
class ShardTask:
    """One shard: its number, the global numbers of its batches and their inputs.

    `batches` holds one (batch number, indices (n,), x (n, C, T, V, M), y (n,), lengths (n,))
    tuple of numpy arrays per batch.
    """

    shard: int
    batches: list[tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = field(
        default_factory=list)


def read_checkpoint(path: str | Path) -> dict[str, bytes]:
    """The files of a checkpoint folder (config + weights) as bytes."""
    folder = checkpoint_dir(path)
    return {name: (folder / name).read_bytes() for name in (CONFIG_FILE, MODEL_FILE)}


def load_checkpoint_bytes(files: dict[str, bytes], device: str | torch.device) -> torch.nn.Module:
    """Rebuild a model from `read_checkpoint` bytes (through a temporary folder)."""
    with tempfile.TemporaryDirectory(prefix="ela-ckpt-") as tmp:
        for name, data in files.items():
            (Path(tmp) / name).write_bytes(data)
        return load(tmp, device=device)


class ShardAttacker:
    """Builds the models and the attack of `spec` once; `attack(task)` attacks one shard."""

    def __init__(self, spec: AttackSpec):
        self.device = resolve_device(spec.device)
        model = load_checkpoint_bytes(spec.model, self.device)
        if spec.guard is not None:
            model = Guarded(model, load_checkpoint_bytes(spec.guard, self.device),
                            spec.guard_threshold)
        self.emotion = (load_checkpoint_bytes(spec.emotion, self.device)
                        if spec.emotion is not None else None)
        self.attack = ATTACKS[spec.method].build(
            model, spec.layout, emotion_model=self.emotion if spec.emotion_loss else None,
            **spec.options)
        self.target = spec.target

    def attack_shard(self, task: ShardTask, seed: int,
                     progress: Callable[[int], BatchProgress] | None = None
                     ) -> dict[str, np.ndarray]:
        """The shard's per-sample arrays (its batches concatenated); `progress(b)` gives the
        reporter of batch b's steps (None: silent)."""
        parts = []
        for b, idx, x, y, lengths in task.batches:
            torch.manual_seed(seed + b)  # whatever process attacks batch b
            reporter = progress(b) if progress is not None else None
            self.attack.progress = reporter
            with memory_guard(len(idx)):
                xt, yt, lt = (torch.as_tensor(a, device=self.device) for a in (x, y, lengths))
                result = self.attack(xt, yt, target=self.target, lengths=lt)
                arrays = batch_arrays(result, idx, lt, self.emotion)
            if reporter is not None:
                reporter.close()
            arrays["notes"] = np.array(dataset_notes(result.notes, idx), dtype=str)
            parts.append(arrays)
        return merge_parts(parts)


Executor = Callable[[AttackSpec, Iterator[ShardTask], int, int,
                     Callable[[ShardTask, dict[str, np.ndarray]], None]], None]
"""executor(spec, tasks, count, seed, done): attack the `count` shards of `tasks` (prepared
lazily) with `spec`, calling done(task, arrays) in this process as each one finishes."""


def local_executor(progress: Callable[[int], BatchProgress] | None = None) -> Executor:
    """An executor that attacks the shards one after the other in this process;
    `progress(b)` gives the reporter of batch b's steps (None: silent)."""
    def execute(spec: AttackSpec, tasks: Iterator[ShardTask], count: int, seed: int,
                done: Callable[[ShardTask, dict[str, np.ndarray]], None]) -> None:
        attacker = ShardAttacker(spec)
        for task in tasks:
            done(task, attacker.attack_shard(task, seed, progress))

    return execute


def plan_shards(chosen: np.ndarray, batch_size: int, shard_size: int | None
                ) -> list[list[tuple[int, np.ndarray]]]:
    """Cut `chosen` into batches of `batch_size` (numbered from 0) and group them into
    shards of `shard_size` samples (a multiple of the batch size; default one batch).
    Returns per shard the list of (batch number, indices)."""
    if batch_size < 1:
        raise ElaError(f"--batch-size must be ≥ 1, got {batch_size}")
    shard_size = batch_size if shard_size is None else shard_size
    if shard_size < 1 or shard_size % batch_size:
        raise ElaError(f"--shard-size must be a positive multiple of --batch-size "
                       f"({batch_size}), got {shard_size}")
    per = shard_size // batch_size
    batches = [(b, chosen[s:s + batch_size])
               for b, s in enumerate(range(0, len(chosen), batch_size))]
    return [batches[k:k + per] for k in range(0, len(batches), per)]


def shard_path(out: str | Path, shard: int) -> Path:
    """Where shard `shard` of attack folder `out` is kept."""
    return Path(out) / SHARDS_DIR / f"shard_{shard:05d}.npz"
