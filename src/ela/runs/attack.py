"""Attack a trained action model over a dataset and write the results as files: the one
attack-run engine behind ``ela attack``, ``ela experiment``, the demo and the Python API.

`run_attack(job, data, backend)` loads the checkpoint (safetensors + JSON, no pickle),
prepares the data exactly as the model was trained (`ela.runs.select`), picks the test
samples of the run's saved split that the model classifies correctly, cuts them into
batches and shards (`ela.runs.shards.plan_shards`; by default one batch per shard), lets the
backend's executor attack the shards (in this process, or on Ray actors) and writes every
finished shard to ``out/shards/`` atomically, then the merged ``summary.json``,
``samples.csv`` and ``adversarial.npz`` (`ela.runs.results`).

An interrupted run, started again with the same job, attacks only the missing shards (a
damaged or foreign shard file is redone, never trusted); a folder holding results of other
data is an error unless the job says `overwrite`. Inputs are prepared shard by shard, so
only one shard of prepared tensors is in memory at a time. A batch that does not fit in
memory stops the run with an `ElaError` suggesting a smaller batch size. What the attacks
noted (e.g. a sample stopped on a non-finite loss) goes into the summary's ``notes``, with
dataset sample indices.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from ela.data.fingerprint import data_fingerprint, same_data
from ela.errors import ElaError
from ela.files import atomic_write_npz
from ela.io.base import SkeletonSet
from ela.runs.detect import guard_threshold
from ela.runs.job import AttackJob
from ela.runs.progress import BatchProgress
from ela.runs.results import (
    load_result_file,
    merge_parts,
    reset_if_changed,
    write_outputs,
)
from ela.runs.select import Selection, select_attack_samples
from ela.runs.shards import (
    SHARDS_DIR,
    AttackSpec,
    Executor,
    ShardTask,
    local_executor,
    plan_shards,
    read_checkpoint,
    shard_path,
)
from ela.training.checkpoint import weights_digest
from ela.training.loop import format_seconds
from ela.training.run import PREPARATION


@dataclass
class Backend:
    """Where the shards of a run are attacked.

    name: "local" (this process) or "ray", recorded in the summary. shard_size: samples per
    shard, a multiple of the job's batch size (None: one batch per shard). executor: None
    for the local executor (with progress inside each batch), else e.g.
    `ela.runs.ray_backend.ray_executor(...)`. log: where backend messages go.
    """

    name: str = "local"
    shard_size: int | None = None
    executor: Executor | None = None
    log: Callable[[str], None] | None = None


def make_backend(name: str = "local", shard_size: int | None = None,
                 address: str | None = None, workers: int | None = None, num_cpus: int = 1,
                 num_gpus: float | None = None,
                 log: Callable[[str], None] | None = None) -> Backend:
    """The backend of ``--backend`` ("local" or "ray", with the Ray options of
    `ela.runs.ray_backend.ray_executor`)."""
    if name == "local":
        return Backend(name, shard_size, log=log)
    if name == "ray":
        from ela.runs.ray_backend import ray_executor

        return Backend(name, shard_size, ray_executor(address, workers, num_cpus, num_gpus,
                                                      log), log)
    raise ElaError(f"--backend must be 'local' or 'ray', got {name!r}")


def run_attack(job: AttackJob, data: SkeletonSet, backend: Backend | None = None,
               progress: bool = True,
               fingerprint: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run `job` on `data` with `backend` (default: local, one batch per shard); write the
    shards, summary, table and arrays into ``job.out``.

    `progress`: on a terminal a bar over samples and one over each batch's steps, else one
    stderr line per shard (and one every 30 s inside a long batch); False for silence.
    `fingerprint`: `data_fingerprint(data)` when the caller has it already (a grid of many
    runs on one dataset hashes it once). Returns the summary dict (also written to
    ``out/summary.json``).
    """
    backend = backend or Backend()
    out = Path(job.out)
    fingerprint = fingerprint or data_fingerprint(data)
    if (out / "summary.json").is_file():
        same_data(_recorded_data(out), fingerprint, str(out), job.overwrite)
    sel = select_attack_samples(job.run, data, job.samples, job.seed, job.label, job.split,
                                job.target, job.device if backend.name == "local" else "auto",
                                job.batch_size)
    shards = plan_shards(sel.chosen, job.batch_size, backend.shard_size)
    folder = out / SHARDS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    reset_if_changed(folder, {
        "run": str(job.run), "method": job.method, "options": job.options,
        "target": str(sel.target), "seed": job.seed, "emotion": str(job.emotion),
        "emotion_loss": job.emotion_loss, "threads": torch.get_num_threads(),
        "batch_size": job.batch_size, "shard_size": backend.shard_size,
        "chosen": sel.chosen.tolist(), **_guard_fields(job)}, fingerprint, "shard_*.npz",
        job.overwrite)
    done = _finished_shards(out, shards)
    todo = [k for k in range(len(shards)) if k not in done]
    unit = "batch" if all(len(s) == 1 for s in shards) else "shard"
    units = "batches" if unit == "batch" else "shards"
    say = _stderr if progress else (lambda _: None)
    if done:
        say(f"attack {job.method}: {len(done)} of {len(shards)} {units} done"
            + (f", resuming at {unit} {todo[0] + 1}" if todo else ""))
    on_tty = progress and sys.stderr.isatty()
    bar = tqdm(total=len(sel.chosen), initial=sum(len(d["indices"]) for d in done.values()),
               desc=f"attack {job.method}", unit="sample", file=sys.stderr,
               dynamic_ncols=True, leave=False, disable=not on_tty)

    started, resumed = time.perf_counter(), sum(len(d["indices"]) for d in done.values())

    def finished(task: ShardTask, arrays: dict[str, np.ndarray]) -> None:
        atomic_write_npz(shard_path(out, task.shard), arrays)
        done[task.shard] = arrays
        bar.update(len(arrays["indices"]))
        if not on_tty:
            finished_samples = sum(len(d["indices"]) for d in done.values())
            elapsed = time.perf_counter() - started
            eta = elapsed / max(finished_samples - resumed, 1) * (len(sel.chosen)
                                                                  - finished_samples)
            say(f"attack {job.method}: {unit} {task.shard + 1}/{len(shards)} done "
                f"({len(done)}/{len(shards)} {units}, {finished_samples}/{len(sel.chosen)} "
                f"samples, success {float(arrays['success'].mean()):.0%}, "
                f"{float(arrays['seconds']):.1f} s; run {format_seconds(elapsed)}, "
                f"ETA {format_seconds(eta)})")

    if todo:
        n_batches = sum(len(s) for s in shards)

        def reporter(b: int) -> BatchProgress:
            return BatchProgress(f"attack {job.method}, batch {b + 1}/{n_batches}", on_tty)

        executor = backend.executor or local_executor(reporter if progress else None)
        executor(_spec(job, sel, data), _tasks(sel, shards, todo), len(todo), job.seed,
                 finished)
    bar.close()
    config = sel.config
    missing = [k for k in range(len(shards)) if k not in done]
    if missing:
        raise ElaError(f"{out}: shards {missing} were not attacked")
    return write_outputs(out, merge_parts([done[k] for k in range(len(shards))]), data,
                         sel.classes, config, {
                             **_summary_fields(job, sel), "data_fingerprint": fingerprint,
                             "preparation": {k: config.get(k) for k in PREPARATION},
                             "backend": backend.name, "shards": len(shards),
                             "shard_size": backend.shard_size or job.batch_size},
                         job.emotion)


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _recorded_data(out: Path) -> dict[str, Any] | None:
    try:
        summary = json.loads((out / "summary.json").read_text())
    except (OSError, ValueError):
        return None
    return summary.get("data_fingerprint") if isinstance(summary, dict) else None


def _finished_shards(out: Path, shards: list[list[tuple[int, np.ndarray]]]
                     ) -> dict[int, dict[str, np.ndarray]]:
    """Shard number -> arrays of each sound result file of this plan."""
    done = {}
    for k, batches in enumerate(shards):
        path = shard_path(out, k)
        found = load_result_file(path) if path.exists() else None
        if found is not None and np.array_equal(found["indices"],
                                                np.concatenate([i for _, i in batches])):
            done[k] = found
    return done


def _tasks(sel: Selection, shards: list[list[tuple[int, np.ndarray]]],
           todo: list[int]) -> Iterator[ShardTask]:
    """The shards still to attack, their inputs prepared when the executor asks."""
    for k in todo:
        task = ShardTask(k)
        for b, idx in shards[k]:
            x, y, lengths = sel.fetch(idx)
            task.batches.append((b, idx, x.cpu().numpy(), y.cpu().numpy(),
                                 lengths.cpu().numpy()))
        yield task


def _spec(job: AttackJob, sel: Selection, data: SkeletonSet) -> AttackSpec:
    return AttackSpec(method=job.method, options=job.options, layout=data.layout.name,
                      model=read_checkpoint(job.run),
                      emotion=read_checkpoint(job.emotion) if job.emotion is not None else None,
                      emotion_loss=job.emotion_loss, target=sel.target, device=job.device,
                      threads=torch.get_num_threads(),
                      guard=None if job.guard is None else read_checkpoint(job.guard),
                      guard_threshold=None if job.guard is None else guard_threshold(job.guard))


def _summary_fields(job: AttackJob, sel: Selection) -> dict[str, Any]:
    """The settings an attack summary records beside its metrics."""
    tgt = sel.target
    return {
        "method": job.method, "run": str(job.run), "model_digest": weights_digest(job.run),
        "candidates": int(len(sel.candidates)), "correct": sel.correct,
        "target": None if tgt is None else (tgt if isinstance(tgt, str) else sel.classes[tgt]),
        "emotion_model": None if job.emotion is None else str(job.emotion),
        "emotion_loss": job.uses_emotion_loss(), "options": dict(job.options),
        "seed": job.seed, "torch_threads": torch.get_num_threads(), **_guard_fields(job),
    }


def _guard_fields(job: AttackJob) -> dict[str, Any]:
    """The guard of an adaptive attack (nothing for a plain one, whose files stay as
    before)."""
    if job.guard is None:
        return {}
    return {"guard": str(job.guard), "guard_threshold": guard_threshold(job.guard)}
