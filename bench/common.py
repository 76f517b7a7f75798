"""Shared set-up of the benchmarks: arguments, data, models, attack inputs and timers.

Every benchmark works on MSR Action3D (`--data`, default ``../shared/data/msr_action3d``)
and on action models given as run folders (`--run`, repeatable) or, when none is given,
trained briefly here (`--epochs`, default 5) into `--cache` so a second bench reuses them:
a few epochs give a model good enough to attack, which is all a speed benchmark needs.
2s-AGCN is trained with the reduced widths ``channels=[32, 64, 64, 128, 128]``.

Times are the CPU time of this process (`time.process_time`) with one torch thread: on a
machine shared with other work this measures what the code costs, not how busy the machine
is. With ``--threads N`` (N > 1, e.g. both cores of a 2-core machine) torch uses N threads
and times are wall-clock seconds (`time.perf_counter`), which only mean something on an
otherwise idle machine. Each number is the minimum over `--reps` repetitions.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ela.io import read
from ela.io.base import SkeletonSet
from ela.models import create_model
from ela.models.base import SkeletonModel
from ela.training.checkpoint import load, load_config
from ela.training.run import run_inputs, run_training

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "msr_action3d"
MODEL_CFG = {"2s-agcn": {"channels": [32, 64, 64, 128, 128]},
             "stgcn": {"channels": [32, 64, 64, 128, 128]}, "sgn": {"frames": 32}}
# The small emotion model E of the overhead bench: S-STGCN (two blocks) on gait16.
SMALL_EMOTION = {"channels": [16, 32], "heads": 1, "temporal_kernel": 5}


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--data", default=str(DEFAULT_DATA), help="MSR Action3D folder")
    p.add_argument("--run", action="append", default=[],
                   help="action run folder to use (repeatable); default: train --models")
    p.add_argument("--models", default="hcn,2s-agcn", help="models to train when no --run")
    p.add_argument("--epochs", type=int, default=5, help="epochs of the quick training")
    p.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "ela-bench-runs"),
                   help="folder for the quickly trained runs (reused)")
    p.add_argument("--emotion", default=None,
                   help="emotion run folder for E (default: a small untrained S-STGCN, "
                        "whose weights do not change the cost)")
    p.add_argument("--samples", type=int, default=32, help="attacked samples")
    p.add_argument("--reps", type=int, default=3, help="repetitions of each timing")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads; above 1, wall-clock times (needs an idle machine)")
    return p


@dataclass
class Subject:
    """One attacked model with its inputs: x (N, C, T, V, M), labels (N,), lengths (N,)."""

    name: str
    run: Path
    model: SkeletonModel
    x: torch.Tensor
    y: torch.Tensor
    lengths: torch.Tensor


def read_data(path: str) -> SkeletonSet:
    """The MSR Action3D set, or exit with a message when it is absent."""
    if not Path(path).exists():
        print(f"skipped: no data at {path} (pass --data PATH to MSR Action3D)")
        raise SystemExit(0)
    return read(path, format="msr")


def action_runs(args: argparse.Namespace, data: SkeletonSet) -> list[Path]:
    """The run folders of `--run`, or those of `--models` trained briefly into `--cache`."""
    if args.run:
        return [Path(r) for r in args.run]
    runs = []
    for name in args.models.split(","):
        out = Path(args.cache) / f"msr_{name}_e{args.epochs}_s{args.seed}"
        if not (out / "metrics.json").is_file():
            start = time.perf_counter()
            metrics = run_training(data, name, "action", out, model_cfg=MODEL_CFG.get(name),
                                   frames=32, epochs=args.epochs, seed=args.seed,
                                   progress=False, log=lambda _: None)
            print(f"trained {name} for {args.epochs} epochs in "
                  f"{time.perf_counter() - start:.0f} s: test accuracy "
                  f"{metrics['accuracy']:.3f} -> {out}", file=sys.stderr)
        runs.append(out)
    return runs


def subject(run: Path, data: SkeletonSet, samples: int, seed: int) -> Subject:
    """Up to `samples` test samples of `run`'s split that its model classifies correctly."""
    config = load_config(run)
    model = load(run)
    x, y, lengths, candidates, _ = run_inputs(run, config, data)
    with torch.no_grad():
        pred = torch.cat([model.predict_class(model(x[candidates[i:i + 64]]))
                          for i in range(0, len(candidates), 64)])
    correct = candidates[(pred == y[candidates]).numpy()]
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(correct, size=min(samples, len(correct)), replace=False))
    return Subject(config["model"]["name"], run, model, x[chosen], y[chosen], lengths[chosen])


def emotion_model(args: argparse.Namespace) -> tuple[SkeletonModel, str]:
    """E and its description: `--emotion` or the small S-STGCN of `SMALL_EMOTION`."""
    if args.emotion:
        e = load(args.emotion)
        return e, f"{load_config(args.emotion)['model']['name']} from {args.emotion}"
    torch.manual_seed(args.seed)
    e = create_model("sstgcn", "gait16", 4, **SMALL_EMOTION).eval()
    return e, f"sstgcn {SMALL_EMOTION} on gait16 (untrained)"


_CLOCK: list[Callable[[], float]] = [time.process_time]


def timed(fn: Callable[[], object], reps: int) -> float:
    """Minimum seconds over `reps` calls of fn: CPU time of this process, or wall-clock
    time after ``start(threads > 1)``."""
    clock = _CLOCK[0]
    best = float("inf")
    for _ in range(reps):
        begin = clock()
        fn()
        best = min(best, clock() - begin)
    return best


def forward_backward(model: torch.nn.Module, x: torch.Tensor) -> Callable[[], None]:
    """One bare forward + backward of `model` to its input x (parameters frozen)."""
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)

    def step() -> None:
        xa = x.detach().clone().requires_grad_(True)
        torch.autograd.grad(model(xa).logsumexp(1).sum(), xa)

    return step


def median(values: np.ndarray) -> float:
    return float(np.median(values)) if len(values) else float("nan")


def start(threads: int = 1) -> None:
    """Set torch's thread count; more than one thread switches `timed` to wall-clock time."""
    torch.set_num_threads(max(1, threads))
    _CLOCK[0] = time.perf_counter if threads > 1 else time.process_time
    if threads > 1:
        print(f"{threads} torch threads: wall-clock times (run on an idle machine)")
