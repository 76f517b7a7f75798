"""Ray executor for sharded attack runs: ``ela attack ... --backend ray [--address ADDR]``.

Each Ray actor builds the models and the attack once (from checkpoint bytes shipped through
the object store, so the nodes need `ela` installed but not the run folders or the data) and
attacks one shard at a time; the calling process feeds shards to idle actors and writes each
result as it arrives (`ela.runs.attack.run_attack`). Actors ask for `num_cpus` CPUs each
and for `num_gpus` GPUs each (by default one when the cluster has GPUs, none otherwise), and
run the attack with the calling process's number of torch threads, so that a run's numbers
do not depend on the backend: CPU kernels sum in a thread-dependent order. A shard whose
worker or node is lost mid-run is attacked again on a surviving worker (`MAX_ATTEMPTS`);
each shard's result is written once, atomically, by the calling process. Ray is
optional: ``pip install 'ela[ray]'``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch

from ela.errors import ElaError
from ela.runs.shards import AttackSpec, Executor, ShardAttacker, ShardTask


def import_ray() -> Any:
    """The `ray` module, or an ElaError saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ElaError("the ray backend needs Ray: pip install 'ela[ray]' "
                       "(or pip install 'ray[default]')") from None
    return ray


class ShardWorker:
    """Body of a Ray actor: one `ShardAttacker`, built when the actor starts."""

    def __init__(self, spec: AttackSpec):
        torch.set_num_threads(max(1, spec.threads))
        self.attacker = ShardAttacker(spec)

    def attack_shard(self, task: ShardTask, seed: int) -> dict[str, np.ndarray]:
        return self.attacker.attack_shard(task, seed)


def ray_executor(address: str | None = None, workers: int | None = None,
                 num_cpus: int = 1, num_gpus: float | None = None,
                 log: Callable[[str], None] | None = None) -> Executor:
    """An executor for `ela.runs.attack.run_attack` on a Ray cluster (`make_backend("ray")`).

    address: None starts a local Ray (unless one is already initialised in this process);
    "auto" or "HOST:PORT" connects to a running cluster. workers: actors to start (default:
    as many as the cluster's CPUs, or GPUs, allow, at most one per shard). num_cpus /
    num_gpus: resources per actor (num_gpus None: 1 when the cluster has a GPU, else 0).
    """
    say = log or (lambda _: None)

    def execute(spec: AttackSpec, tasks: Iterator[ShardTask], count: int, seed: int,
                done: Callable[[ShardTask, dict[str, np.ndarray]], None]) -> None:
        ray = import_ray()
        started = not ray.is_initialized()
        if started:
            ray.init(address=address, log_to_driver=False)
        try:
            resources = ray.cluster_resources()
            gpus = num_gpus if num_gpus is not None else (
                1.0 if resources.get("GPU", 0) >= 1 else 0.0)
            fit = (resources.get("GPU", 0) / gpus if gpus > 0
                   else resources.get("CPU", 1) / max(num_cpus, 1))
            n = max(1, min(count, workers or int(fit)))
            say(f"ray: {n} workers × ({num_cpus} CPU, {gpus:g} GPU) for {count} shards "
                f"on a cluster with {resources.get('CPU', 0):g} CPUs, "
                f"{resources.get('GPU', 0):g} GPUs")
            _run_actors(ray, spec, tasks, seed, done, n, num_cpus, gpus, say)
        finally:
            if started:
                ray.shutdown()

    return execute


MAX_ATTEMPTS = 3
"""Tries of one shard whose worker or node was lost (an error of the attack itself is not
retried: it would fail again)."""


def _run_actors(ray: Any, spec: AttackSpec, tasks: Iterator[ShardTask], seed: int,
                done: Callable[[ShardTask, dict[str, np.ndarray]], None], n: int,
                num_cpus: int, gpus: float, say: Callable[[str], None] = lambda _: None
                ) -> None:
    """Keep `n` actors busy with one shard each until `tasks` is exhausted.

    A shard whose actor died (its worker process crashed or its node left the cluster) goes
    back to the queue and is given to the next idle actor, up to `MAX_ATTEMPTS` tries; a
    dead actor is replaced only when no actor is left, so a cluster that lost a node goes on
    with the actors it still has. `done` is called once per shard, with the first result
    that came back.
    """
    from ray.exceptions import RayError, RayTaskError

    actor_cls = ray.remote(ShardWorker)
    spec_ref = ray.put(spec)

    def start() -> Any:
        return actor_cls.options(num_cpus=num_cpus, num_gpus=gpus).remote(spec_ref)

    actors = [start() for _ in range(n)]
    idle = list(actors)
    retry: list[ShardTask] = []
    attempts: dict[int, int] = {}
    pending: dict[Any, tuple[Any, ShardTask]] = {}

    def feed() -> None:
        while idle:
            task = retry.pop(0) if retry else next(tasks, None)
            if task is None:
                return
            actor = idle.pop()
            attempts[task.shard] = attempts.get(task.shard, 0) + 1
            pending[actor.attack_shard.remote(task, seed)] = (actor, task)

    try:
        feed()
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            actor, task = pending.pop(ready[0])
            try:
                arrays = ray.get(ready[0])
            except RayTaskError as err:  # the attack itself failed: it would fail again
                raise ElaError(f"shard {task.shard} failed on a Ray worker ({err}); finished "
                               "shards are kept: run the same command again to resume") from err
            except RayError as err:  # the actor, its worker process or its node is gone
                if attempts[task.shard] >= MAX_ATTEMPTS:
                    raise ElaError(f"shard {task.shard}: its Ray worker was lost "
                                   f"{MAX_ATTEMPTS} times ({type(err).__name__}); finished "
                                   "shards are kept: run the same command again to "
                                   "resume") from err
                say(f"ray: shard {task.shard} lost with its worker ({type(err).__name__}); "
                    f"attempt {attempts[task.shard] + 1} of {MAX_ATTEMPTS} on another worker")
                actors.remove(actor)
                ray.kill(actor)
                retry.append(task)
                if not actors:
                    actors.append(start())
                    idle.append(actors[-1])
                feed()
                continue
            done(task, arrays)
            idle.append(actor)
            feed()
    finally:
        for actor in actors:
            ray.kill(actor)
