"""Attack runs split into shards, for many processes or machines (`ela.runs.ray_backend`).

`run_sharded` does what `ela.runs.attack.run_attack` does — same sample choice, same
batches, same per-batch seeds, same output files (``summary.json``, ``samples.csv``,
``adversarial.npz``) — but the chosen samples are cut into shards of `shard_size` (whole
batches of `batch_size`), an executor attacks the shards (``local``: in this process; ``ray``:
Ray actors), and each finished shard is written atomically to ``out/shards/shard_<k>.npz``.
A run started again with the same arguments attacks only the shards whose file is missing or
damaged, so a crashed run or a cancelled cluster job resumes. Since a batch gets the seed
``seed + b`` of its global batch number b, whatever process attacks it, the merged results
are those of a local `run_attack` with the same arguments.

A worker gets everything it needs in its task: the checkpoints as file bytes (built once
per worker with `ela.training.load`, no shared file system needed) and each shard's prepared
inputs; only the process that called `run_sharded` reads the data and writes files.
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
from ela.errors import ElaError
from ela.io.base import SkeletonSet
from ela.runs.attack import (
    attack_options,
    batch_arrays,
    dataset_notes,
    load_result_file,
    memory_guard,
    merge_parts,
    reset_if_changed,
    save_npz,
    select_attack_samples,
    summary_fields,
    write_outputs,
)
from ela.training.checkpoint import CONFIG_FILE, MODEL_FILE, checkpoint_dir, load, load_config
from ela.training.run import resolve_device

SHARDS_DIR = "shards"


@dataclass
class AttackSpec:
    """Everything a worker needs to build the attack once (picklable, no paths).

    `model` / `emotion` are checkpoints as {file name: bytes}; `target` is already resolved
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
        self.emotion = (load_checkpoint_bytes(spec.emotion, self.device)
                        if spec.emotion is not None else None)
        self.attack = ATTACKS[spec.method].build(
            model, spec.layout, emotion_model=self.emotion if spec.emotion_loss else None,
            **spec.options)
        self.target = spec.target

    def attack_shard(self, task: ShardTask, seed: int) -> dict[str, np.ndarray]:
        """The shard's per-sample arrays (its batches concatenated), as `run_attack` writes."""
        parts = []
        for b, idx, x, y, lengths in task.batches:
            torch.manual_seed(seed + b)  # the seed of batch b in a local run
            with memory_guard(len(idx)):
                xt, yt, lt = (torch.as_tensor(a, device=self.device) for a in (x, y, lengths))
                result = self.attack(xt, yt, target=self.target, lengths=lt)
                arrays = batch_arrays(result, idx, lt, self.emotion)
            arrays["notes"] = np.array(dataset_notes(result.notes, idx), dtype=str)
            parts.append(arrays)
        return merge_parts(parts)


Executor = Callable[[AttackSpec, Iterator[ShardTask], int, int,
                     Callable[[ShardTask, dict[str, np.ndarray]], None]], None]
"""executor(spec, tasks, count, seed, done): attack the `count` shards of `tasks` (prepared
lazily) with `spec`, calling done(task, arrays) in this process as each one finishes."""


def local_executor(spec: AttackSpec, tasks: Iterator[ShardTask], count: int, seed: int,
                   done: Callable[[ShardTask, dict[str, np.ndarray]], None]) -> None:
    """Attack the shards one after the other in this process."""
    attacker = ShardAttacker(spec)
    for task in tasks:
        done(task, attacker.attack_shard(task, seed))


def plan_shards(chosen: np.ndarray, batch_size: int, shard_size: int | None
                ) -> list[list[tuple[int, np.ndarray]]]:
    """Cut `chosen` into batches of `batch_size` (numbered as in `run_attack`) and group
    them into shards of `shard_size` samples (a multiple of the batch size; default one
    batch). Returns per shard the list of (batch number, indices)."""
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
    return Path(out) / SHARDS_DIR / f"shard_{shard:05d}.npz"


def run_sharded(run: str | Path, data: SkeletonSet, method: str, out: str | Path,
                label: str | None = None, emotion: str | Path | None = None,
                target: str | None = None, gamma: float | None = None,
                iters: int | None = None, samples: int | None = None, seed: int = 0,
                device: str = "auto", batch_size: int = 64, shard_size: int | None = None,
                attack_cfg: dict[str, Any] | None = None, split: str = "test",
                emotion_loss: bool = True, executor: Executor = local_executor,
                backend: str = "local", log: Callable[[str], None] | None = None
                ) -> dict[str, Any]:
    """`run_attack` in shards attacked by `executor`; writes the same files plus ``shards/``.

    `device` is where the workers run the attack ("auto": CUDA where a worker has one);
    samples are chosen in this process on its own best device. Returns the summary.
    """
    opts = attack_options(method, gamma, iters, **(attack_cfg or {}))
    out = Path(out)
    say = log or (lambda _: None)
    config = load_config(run)
    sel = select_attack_samples(run, data, samples, seed, label, split, target,
                                device if backend == "local" else "auto", batch_size)
    fetch, chosen, tgt = sel.fetch, sel.chosen, sel.target
    candidates, classes = sel.candidates, sel.classes
    shards = plan_shards(chosen, batch_size, shard_size)
    folder = out / SHARDS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    reset_if_changed(folder, {"run": str(run), "method": method, "options": opts,
                              "target": str(tgt), "seed": seed, "emotion": str(emotion),
                              "emotion_loss": emotion_loss,
                              "threads": torch.get_num_threads(), "batch_size": batch_size,
                              "shard_size": shard_size, "chosen": chosen.tolist()},
                     pattern="shard_*.npz")
    done: dict[int, dict[str, np.ndarray]] = {}
    for k, batches in enumerate(shards):
        found = load_result_file(shard_path(out, k)) if shard_path(out, k).exists() else None
        if found is not None and np.array_equal(found["indices"],
                                                np.concatenate([i for _, i in batches])):
            done[k] = found
    todo = [k for k in range(len(shards)) if k not in done]
    say(f"{len(shards)} shards, {len(done)} already done, {len(todo)} to attack")

    def tasks() -> Iterator[ShardTask]:
        for k in todo:
            task = ShardTask(k)
            for b, idx in shards[k]:
                x, y, lengths = fetch(idx)
                task.batches.append((b, idx, x.cpu().numpy(), y.cpu().numpy(),
                                     lengths.cpu().numpy()))
            yield task

    def finished(task: ShardTask, arrays: dict[str, np.ndarray]) -> None:
        save_npz(shard_path(out, task.shard), arrays)
        done[task.shard] = arrays
        say(f"shard {task.shard + 1}/{len(shards)} done ({len(done)}/{len(shards)}, "
            f"success {float(arrays['success'].mean()):.0%})")

    if todo:
        spec = AttackSpec(method=method, options=opts, layout=data.layout.name,
                          model=read_checkpoint(run),
                          emotion=read_checkpoint(emotion) if emotion is not None else None,
                          emotion_loss=emotion_loss, target=tgt, device=device,
                          threads=torch.get_num_threads())
        executor(spec, tasks(), len(todo), seed, finished)
    missing = [k for k in range(len(shards)) if k not in done]
    if missing:
        raise ElaError(f"{out}: shards {missing} were not attacked")
    merged = merge_parts([done[k] for k in range(len(shards))])
    return write_outputs(out, merged, data, classes, config, {
        **summary_fields(method, run, candidates, tgt, classes, emotion, emotion_loss, opts,
                         seed),
        "backend": backend, "shards": len(shards), "shard_size": shard_size or batch_size,
    }, emotion)


def sharded_runner(backend: str = "local", shard_size: int | None = None,
                   address: str | None = None, workers: int | None = None,
                   num_cpus: int = 1, num_gpus: float | None = None,
                   log: Callable[[str], None] | None = None) -> Callable[..., dict[str, Any]]:
    """A drop-in for `run_attack` (same arguments) that runs `run_sharded` on `backend`
    ("local" or "ray"; the Ray options are those of `ela.runs.ray_backend.ray_executor`)."""
    if backend == "local":
        executor: Executor = local_executor
    elif backend == "ray":
        from ela.runs.ray_backend import ray_executor

        executor = ray_executor(address, workers, num_cpus, num_gpus, log)
    else:
        raise ElaError(f"--backend must be 'local' or 'ray', got {backend!r}")

    def runner(run: str | Path, data: SkeletonSet, method: str, out: str | Path,
               **kwargs: Any) -> dict[str, Any]:
        kwargs.pop("progress", None)
        return run_sharded(run, data, method, out, shard_size=shard_size, executor=executor,
                           backend=backend, log=log, **kwargs)

    return runner
