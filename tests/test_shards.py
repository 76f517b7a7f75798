"""Sharded attack runs (local backend): same results as one batch per shard, resumable
after SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from ela.cli import main
from ela.data.demo import demo_dataset
from ela.errors import ElaError
from ela.io import read, write_npz
from ela.runs.attack import Backend, run_attack
from ela.runs.job import AttackJob
from ela.runs.shards import plan_shards, shard_path
from ela.training.loop import TrainConfig
from ela.training.run import run_training

SAME = ("indices", "adversarial", "success", "adv_pred", "iterations", "evaluations",
        "gradients", "metric_bone_length_change", "metric_l2")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """(data file, action run) for a small HCN trained briefly on demo data."""
    root = tmp_path_factory.mktemp("shards")
    data_file = root / "demo.npz"
    write_npz(demo_dataset(n_per_class=4, frames=24, actions=("walk", "wave", "bow"), seed=3),
              data_file)
    run = root / "hcn"
    run_training(read(data_file), "hcn", "action", run, model_cfg={"width": 0.25},
                 frames=16, split="holdout:0.4,0.1,0.5", train_config=TrainConfig(epochs=8),
                 seed=0, progress=False, log=lambda _: None)
    return data_file, run


def arrays(out: Path) -> dict[str, np.ndarray]:
    with np.load(out / "adversarial.npz") as f:
        table = {k: f[k] for k in f.files}
    parts = sorted((out / "shards").glob("shard_*.npz"))
    merged: dict[str, list[np.ndarray]] = {}
    for path in parts:
        with np.load(path) as f:
            for k in SAME:
                merged.setdefault(k, []).append(f[k])
    return {**{k: np.concatenate(v) for k, v in merged.items()}, "table": table["adversarial"]}


def test_plan_shards_numbers_batches_like_a_local_run():
    shards = plan_shards(np.arange(10), batch_size=3, shard_size=6)
    assert [[b for b, _ in s] for s in shards] == [[0, 1], [2, 3]]
    assert np.array_equal(shards[1][1][1], [9])
    assert len(plan_shards(np.arange(10), 4, None)) == 3  # default: one batch per shard
    with pytest.raises(ElaError, match="multiple of --batch-size"):
        plan_shards(np.arange(10), batch_size=4, shard_size=6)


def test_sharded_local_run_equals_run_attack(tiny, tmp_path):
    data_file, run = tiny
    data = read(data_file)
    job = AttackJob.from_flags(run, "ela", tmp_path / "plain", iters=30, samples=6, seed=1,
                               batch_size=2, device="cpu")
    ref = run_attack(job, data, progress=False)
    got = run_attack(job.moved(tmp_path / "sharded"), data, Backend(shard_size=4),
                     progress=False)
    a, b = arrays(tmp_path / "plain"), arrays(tmp_path / "sharded")
    for key in (*SAME, "table"):
        assert np.array_equal(a[key], b[key]), key
    assert got["shards"] == 2 and got["backend"] == "local"
    for key in ("n", "success_rate", "bone_length_change", "l2", "model_evaluations_per_sample"):
        assert got[key] == ref[key], key


def attack_cmd(data_file: Path, run: Path, out: Path, *extra: str) -> list[str]:
    return ["attack", str(run), "--data", str(data_file), "--method", "ela", "--iters", "100",
            "--cfg", "patience=11", "--samples", "8", "--batch-size", "2", "--device", "cpu",
            "--out", str(out), *extra]


def kill_midway_and_resume(cmd: list[str], out: Path, rerun) -> None:
    """Start `cmd` as a subprocess, SIGKILL it once a shard file exists but not all, check
    the re-run (`rerun()`) keeps the finished shards' files untouched and finishes."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "ela.cli", *cmd], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    first = shard_path(out, 0)
    deadline = time.monotonic() + 600  # generous: a loaded machine starts Ray slowly
    while not first.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert first.exists(), proc.stderr.read().decode()[-2000:]
    before = {p.name: p.stat().st_mtime_ns for p in (out / "shards").glob("shard_*.npz")}
    assert 0 < len(before) < 4, "the run was not stopped midway"
    assert not (out / "summary.json").exists()
    time.sleep(0.05)  # a rewritten file would get a later mtime
    summary = rerun()
    after = {p.name: p.stat().st_mtime_ns for p in (out / "shards").glob("shard_*.npz")}
    assert len(after) == 4 and summary["n"] == 8
    assert all(after[name] == mtime for name, mtime in before.items())


def test_killed_run_resumes_without_redoing_finished_shards(tiny, tmp_path):
    data_file, run = tiny
    out = tmp_path / "killed"
    cmd = attack_cmd(data_file, run, out, "--shard-size", "2")
    kill_midway_and_resume(cmd, out, lambda: (main(cmd) == 0 and
                                              json.loads((out / "summary.json").read_text())))
    whole = tmp_path / "whole"
    assert main(attack_cmd(data_file, run, whole, "--shard-size", "2")) == 0
    a, b = arrays(out), arrays(whole)
    for key in (*SAME, "table"):
        assert np.array_equal(a[key], b[key]), key
