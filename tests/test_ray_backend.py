"""The Ray backend on a local Ray with 2 CPUs: same per-sample results as the local backend,
and a run killed midway (SIGKILL of the driver) resumes without redoing finished shards."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ela.cli import main
from ela.io import read
from ela.runs.attack import Backend, make_backend, run_attack
from ela.runs.job import AttackJob

ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'ela[ray]')")

import test_shards as helpers  # noqa: E402

tiny = helpers.tiny  # the same small HCN run fixture


@pytest.fixture(scope="module")
def cluster():
    """A local Ray with 2 CPUs for this module; its GCS address for other processes."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


def test_ray_and_local_backends_give_identical_results(tiny, cluster, tmp_path):
    data_file, run = tiny
    data = read(data_file)
    job = AttackJob.from_flags(run, "ela", tmp_path / "local", iters=30, samples=6, seed=2,
                               batch_size=2, device="cpu")
    local = run_attack(job, data, Backend(shard_size=2), progress=False)
    remote = run_attack(job.moved(tmp_path / "ray"), data,
                        make_backend("ray", shard_size=2, workers=2), progress=False)
    a, b = helpers.arrays(tmp_path / "local"), helpers.arrays(tmp_path / "ray")
    for key in (*helpers.SAME, "table"):
        assert np.array_equal(a[key], b[key]), key
    assert remote["backend"] == "ray" and remote["shards"] == 3
    for key in ("success_rate", "bone_length_change", "l2", "model_evaluations_per_sample"):
        assert remote[key] == local[key], key


def test_killed_ray_run_resumes_without_redoing_finished_shards(tiny, cluster, tmp_path):
    data_file, run = tiny
    out = tmp_path / "killed"
    cmd = helpers.attack_cmd(data_file, run, out, "--shard-size", "2", "--backend", "ray",
                      "--address", cluster, "--workers", "1")
    helpers.kill_midway_and_resume(cmd, out, lambda: (main(cmd) == 0 and
                                              json.loads((out / "summary.json").read_text())))
    assert json.loads((out / "summary.json").read_text())["backend"] == "ray"


def test_local_and_ray_agree_on_real_data_whatever_the_thread_count(shared_data, cluster,
                                                                     tmp_path):
    """MSR Action3D, a quickly trained HCN, ELA: `run_attack` in this process with 2 torch
    threads and the Ray backend (workers that reserve 1 CPU) give the same summary to 1e-6,
    because workers run the attack with the caller's thread count."""
    import torch

    from ela.training.run import run_training

    data = read(shared_data("msr_action3d"), format="msr")
    run = tmp_path / "msr_hcn"
    run_training(data, "hcn", "action", run, model_cfg={"width": 0.25}, frames=32, epochs=3,
                 progress=False, log=lambda _: None)
    job = AttackJob.from_flags(run, "ela", tmp_path / "local", iters=100, samples=4, seed=0,
                               batch_size=2, device="cpu")
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        local = run_attack(job, data, progress=False)
        remote = run_attack(job.moved(tmp_path / "ray"), data,
                            make_backend("ray", shard_size=2, workers=2), progress=False)
    finally:
        torch.set_num_threads(threads)
    for key in ("success_rate", "bone_length_change", "bone_angle_change",
                "joint_speed_change", "l2", "model_evaluations_per_sample"):
        assert remote[key] == pytest.approx(local[key], abs=1e-6), key
