"""A real 2-node Ray cluster on this machine (``ray start --head`` and a second ``ray start
--address`` node, each a process group of its own): `ela attack --backend ray --address`
attacks MSR Action3D, read from a store, in shards, once undisturbed and once with the second
node killed (SIGKILL of its `ray start` process and every process below it) mid-run. Both
runs complete, every shard is attacked and written once, and the summaries equal the local
run's to 1e-6."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import shared
from ela.io import read, write_store
from ela.runs.attack import run_attack
from ela.runs.job import AttackJob
from ela.runs.shards import shard_path
from ela.training.run import run_training

ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'ela[ray]')")

RAY = Path(sys.executable).with_name("ray")
# Recent Ray turns token authentication on for `ray start`: a driver of another temp dir
# then cannot connect. This private cluster on one machine runs without it.
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "RAY_USAGE_STATS_ENABLED": "0",
       "RAY_AUTH_MODE": "disabled"}
SAMPLES, BATCH, ITERS = 16, 2, 100  # at most 8 shards of one batch
NUMERIC = ("n", "success_rate", "bone_length_change", "bone_angle_change",
           "joint_speed_change", "l2", "model_evaluations_per_sample")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


PORTS = ("--node-manager-port", "--object-manager-port", "--dashboard-agent-listen-port",
         "--dashboard-agent-grpc-port", "--runtime-env-agent-port", "--metrics-export-port")
"""Ports of a node, each given a free one: two nodes share this machine, and other Ray
clusters may run on it too (their defaults would clash)."""


def _node(log: Path, *args: str) -> subprocess.Popen:
    """`ray start ... --block` in a new process group (so that the node can be killed
    whole, and only it), its output in `log`."""
    ports = [a for flag in PORTS for a in (flag, str(_free_port()))]
    with open(log, "ab") as fh:
        return subprocess.Popen([str(RAY), "start", "--block", "--num-cpus", "1",
                                 "--object-store-memory", str(100 * 2**20),
                                 "--disable-usage-stats", *ports, *args],
                                env=ENV, stdout=fh, stderr=subprocess.STDOUT,
                                start_new_session=True)


def _stop(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _kill_tree(proc: subprocess.Popen) -> None:
    """SIGKILL a node: its `ray start` process and every process below it (the raylet and
    its workers, which Ray may put in sessions of their own), found through /proc."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            parents.setdefault(ppid, []).append(int(stat.parent.name))
    tree, todo = [], [proc.pid]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo += parents.get(pid, [])
    for pid in tree:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    proc.wait()


def _alive_nodes(address: str) -> int:
    out = subprocess.run(
        [sys.executable, "-c", f"import ray; ray.init(address={address!r}, "
         "log_to_driver=False); print(sum(n['Alive'] for n in ray.nodes()))"],
        env=ENV, capture_output=True, text=True, timeout=120)
    return int(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 else 0


def _wait_nodes(address: str, count: int, log: Path) -> None:
    deadline = time.monotonic() + 300  # a loaded machine starts Ray slowly
    while _alive_nodes(address) < count:
        assert time.monotonic() < deadline, (f"the Ray cluster did not reach {count} nodes: "
                                             + log.read_text(errors="replace")[-2000:])
        time.sleep(1)


@pytest.fixture(scope="module")
def head():
    """The head node (1 CPU) of a cluster of this module; yields (address, the nodes' log)."""
    if not RAY.exists():
        pytest.skip(f"{RAY} is absent: the ray command comes with pip install 'ela[ray]'")
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short: Ray's socket paths
    port = _free_port()
    log = Path(temp) / "nodes.log"
    proc = _node(log, "--head", "--port", str(port), "--node-ip-address", "127.0.0.1",
                 "--temp-dir", temp, "--include-dashboard", "false",
                 "--ray-client-server-port", str(_free_port()))
    address = f"127.0.0.1:{port}"
    try:
        _wait_nodes(address, 1, log)
        yield address, log
    finally:
        _stop(proc)
        shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture(scope="module")
def msr(tmp_path_factory):
    """(MSR Action3D store, a quickly trained HCN run on it, the local run's summary and
    folder)."""
    root = tmp_path_factory.mktemp("ray_cluster")
    store = write_store(read(shared("msr_action3d"), format="msr"), root / "store")
    data = read(store)
    run = root / "hcn"
    run_training(data, "hcn", "action", run, model_cfg={"width": 0.25}, frames=32, epochs=3,
                 progress=False, log=lambda _: None)
    job = AttackJob.from_flags(run, "ela", root / "local", iters=ITERS, samples=SAMPLES, seed=0,
                               batch_size=BATCH, device="cpu")
    return store, run, run_attack(job, data, progress=False), root / "local"


def _attack(store: Path, run: Path, out: Path, address: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "ela.cli", "attack", str(run), "--data", str(store),
         "--method", "ela", "--iters", str(ITERS), "--samples", str(SAMPLES), "--batch-size",
         str(BATCH), "--shard-size", str(BATCH), "--device", "cpu", "--backend", "ray",
         "--address", address, "--workers", "2", "--out", str(out)],
        env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _check(out: Path, log: str, local: dict, local_dir: Path) -> None:
    summary = json.loads((out / "summary.json").read_text())
    shards = local["shards"]
    assert summary["backend"] == "ray" and shards == -(-local["n"] // BATCH)
    assert sorted(p.name for p in (out / "shards").glob("shard_*.npz")) == \
        [shard_path(out, k).name for k in range(shards)]
    done = re.findall(r"(?:shard|batch) (\d+)/\d+ done", log)  # one batch per shard
    assert sorted(int(k) for k in done) == list(range(1, shards + 1)), log[-3000:]
    for key in NUMERIC:
        if local[key] is None:
            assert summary[key] is None, key
        else:
            assert summary[key] == pytest.approx(local[key], abs=1e-6), key
    with np.load(out / "adversarial.npz") as a, np.load(local_dir / "adversarial.npz") as b:
        assert np.allclose(a["adversarial"], b["adversarial"], rtol=0, atol=1e-6)


@pytest.mark.slow
def test_two_node_cluster_gives_the_local_summary(head, msr, tmp_path):
    store, run, local, local_dir = msr
    address, log = head
    node = _node(log, "--address", address)
    try:
        _wait_nodes(address, 2, log)
        proc = _attack(store, run, tmp_path / "ray", address)
        _, log = proc.communicate(timeout=300)
        assert proc.returncode == 0, log[-3000:]
        _check(tmp_path / "ray", log, local, local_dir)
    finally:
        _stop(node)


@pytest.mark.slow
def test_run_survives_a_node_killed_mid_run(head, msr, tmp_path):
    store, run, local, local_dir = msr
    address, log = head
    node = _node(log, "--address", address)
    out = tmp_path / "killed"
    try:
        _wait_nodes(address, 2, log)
        proc = _attack(store, run, out, address)
        deadline = time.monotonic() + 300
        while not shard_path(out, 0).exists() and proc.poll() is None:
            assert time.monotonic() < deadline, "no shard finished"
            time.sleep(0.05)
        _kill_tree(node)  # the node and its worker go, mid-shard
        _, log = proc.communicate(timeout=300)
    finally:
        _stop(node)
    assert proc.returncode == 0, log[-3000:]
    assert "lost with its worker" in log, log[-3000:]
    _check(out, log, local, local_dir)
