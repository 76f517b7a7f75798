"""Interrupted work: `ela train` and `ela attack` killed with SIGKILL and run again.

A real subprocess runs the command; as soon as its first resumable file appears (the
training state after epoch 1, or the first finished attack batch) it is killed with
SIGKILL. Running the same command again must finish with exactly the results of an
uninterrupted run, reuse what the killed run finished, and never trust a half-written
file. Tiny models on the built-in demo data keep this to seconds.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from safetensors import safe_open

from ela import cli
from ela.cli import main
from ela.data.demo import demo_dataset
from ela.io import write_npz
from ela.training.loop import LAST_FILE, STATE_KEY

EPOCHS = 8
TRAIN = ["train", "--model", "hcn", "--label", "action", "--frames", "16", "--epochs",
         str(EPOCHS), "--split", "holdout:0.6,0.1,0.3", "--cfg", "width=0.25", "window=16"]
ATTACK = ["--method", "ela", "--iters", "80", "--samples", "8", "--batch-size", "2"]
VOLATILE = {"seconds", "written"}  # wall-clock values, not results


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "demo.npz"
    write_npz(demo_dataset(n_per_class=3, frames=32, actions=("walk", "wave", "bow"), seed=1),
              path)
    return path


@pytest.fixture(scope="module")
def trained(demo, tmp_path_factory) -> Path:
    """An uninterrupted training run (the reference)."""
    run = tmp_path_factory.mktemp("runs") / "reference"
    assert main([*TRAIN, "--data", str(demo), "--out", str(run)]) == 0
    return run


def _default_sigint() -> None:
    """Ctrl-C as a terminal delivers it: a test run started in the background of a shell
    without job control inherits SIGINT ignored, and Python then keeps ignoring it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def kill_when(args: list[str], ready: Path, timeout: float = 600.0,
              sig: int = signal.SIGKILL) -> tuple[int, str]:
    """Start `ela args` in a subprocess and send it `sig` (SIGKILL by default) as soon as
    `ready` exists; (return code, stderr) of the process."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "ela.cli", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            preexec_fn=_default_sigint)
    deadline = time.monotonic() + timeout
    try:
        while not ready.exists():
            if proc.poll() is not None:
                pytest.fail(f"ela exited ({proc.returncode}) before {ready.name} appeared: "
                            f"{proc.stderr.read().decode()[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"{ready} did not appear within {timeout} s")
            time.sleep(0.005)
        os.kill(proc.pid, sig)
        code = proc.wait(timeout=60)
        if sig == signal.SIGKILL:
            assert code == -signal.SIGKILL
        return code, proc.stderr.read().decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()


INTERRUPTED = "ela: interrupted; run the same command again to resume"


def test_ctrl_c_on_train_is_one_line_and_the_rerun_says_where_it_resumes(demo, tmp_path,
                                                                          capsys):
    run = tmp_path / "ctrl_c"
    args = [*TRAIN, "--data", str(demo), "--out", str(run)]
    code, err = kill_when(args, run / "train_state" / LAST_FILE, sig=signal.SIGINT)
    assert code == 130 and "Traceback" not in err
    assert err.strip().splitlines()[-1] == INTERRUPTED
    assert main(args) == 0
    assert "after epoch" in capsys.readouterr().err  # "resumed from ... after epoch N"


def test_ctrl_c_on_attack_is_one_line_and_the_rerun_says_where_it_resumes(demo, trained,
                                                                           tmp_path, capsys):
    out = tmp_path / "ctrl_c"
    args = ["attack", str(trained), "--data", str(demo), *ATTACK, "--out", str(out)]
    code, err = kill_when(args, out / "shards" / "shard_00000.npz", sig=signal.SIGINT)
    assert code == 130 and "Traceback" not in err
    assert err.strip().splitlines()[-1] == INTERRUPTED
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "of 4 batches done, resuming at batch" in err


def test_an_error_raised_while_ctrl_c_is_handled_is_still_an_interrupt(monkeypatch, capsys):
    """A library whose cleanup fails under Ctrl-C (tqdm, when the interrupt lands while it
    creates its lock) raises another error with the KeyboardInterrupt as its context."""
    def broken_cleanup(args):
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise AttributeError("type object 'tqdm_asyncio' has no attribute '_lock'")  # noqa: B904 (implicit context, as tqdm's)

    def plain_bug(args):
        raise AttributeError("a real bug")

    monkeypatch.setattr(cli.catalog, "cmd_models", broken_cleanup)
    assert main(["models"]) == 130
    assert capsys.readouterr().err.strip() == INTERRUPTED
    monkeypatch.setattr(cli.catalog, "cmd_models", plain_bug)
    with pytest.raises(AttributeError, match="a real bug"):
        main(["models"])


def _results(metrics: dict) -> dict:
    """Metrics without wall-clock times."""
    out = {k: v for k, v in metrics.items() if k != "training"}
    out["history"] = [{k: v for k, v in row.items() if k != "seconds"}
                      for row in metrics["training"]["history"]]
    out["best_epoch"] = metrics["training"]["best_epoch"]
    return out


def test_train_killed_after_an_epoch_resumes_to_the_same_metrics(demo, trained, tmp_path,
                                                                  capsys):
    run = tmp_path / "killed"
    args = [*TRAIN, "--data", str(demo), "--out", str(run)]
    kill_when(args, run / "train_state" / LAST_FILE)
    # the state resume uses lives in the weights file's metadata (state.json is a copy
    # written after it, which a kill may pre-empt)
    with safe_open(str(run / "train_state" / LAST_FILE), framework="pt") as fh:
        state = json.loads(fh.metadata()[STATE_KEY])
    assert 1 <= state["epoch"] < EPOCHS, "killed too late to test a resume"
    assert not (run / "metrics.json").exists() and not (run / "model.safetensors").exists()

    assert main(args) == 0
    assert f"resumed from {run / 'train_state' / LAST_FILE} after epoch" in capsys.readouterr().err
    got = json.loads((run / "metrics.json").read_text())
    want = json.loads((trained / "metrics.json").read_text())
    assert _results(got) == _results(want)
    assert not (run / "train_state").exists()  # removed once the run is complete
    assert (run / "model.safetensors").read_bytes() == \
        (trained / "model.safetensors").read_bytes()


def _read_attack(out: Path) -> tuple[dict, list[dict], dict[str, np.ndarray]]:
    summary = {k: v for k, v in json.loads((out / "summary.json").read_text()).items()
               if k not in VOLATILE}
    with open(out / "samples.csv") as fh:
        rows = list(csv.DictReader(fh))
    with np.load(out / "adversarial.npz") as f:
        arrays = {k: f[k] for k in f.files}
    return summary, rows, arrays


def test_attack_killed_midway_resumes_to_the_same_results(demo, trained, tmp_path):
    reference = tmp_path / "reference"
    args = ["attack", str(trained), "--data", str(demo), *ATTACK]
    assert main([*args, "--out", str(reference)]) == 0

    out = tmp_path / "killed"
    batches = out / "shards"
    kill_when([*args, "--out", str(out)], batches / "shard_00000.npz")
    assert not (out / "summary.json").exists()
    finished = sorted(batches.glob("shard_*.npz"))
    assert 1 <= len(finished) < 4, "killed too late to test a resume"
    stamps = {p: p.stat().st_mtime_ns for p in finished}
    # what a crash inside a non-atomic writer would leave: a torn batch and a stray temp file
    torn = batches / "shard_00003.npz"
    torn.write_bytes((reference / "shards" / "shard_00003.npz").read_bytes()[:200])
    (batches / ".shard_00002.npz.abc123.tmp").write_bytes(b"PK\x03\x04 half a file")

    assert main([*args, "--out", str(out)]) == 0
    for path, stamp in stamps.items():
        assert path.stat().st_mtime_ns == stamp, f"{path.name} was redone, not reused"
    with np.load(torn) as f:  # the torn file was redone, not trusted
        assert len(f["indices"]) == 2
    got_summary, got_rows, got_arrays = _read_attack(out)
    want_summary, want_rows, want_arrays = _read_attack(reference)
    assert got_summary == want_summary and got_summary["n"] == 8
    assert got_rows == want_rows
    assert got_arrays.keys() == want_arrays.keys()
    for key, value in want_arrays.items():
        np.testing.assert_array_equal(got_arrays[key], value, err_msg=key)


def test_attack_that_meets_nan_stops_and_says_so(demo, trained, tmp_path, capsys):
    """An absurd step size drives the loss to inf/NaN: every sample stops with a note."""
    out = tmp_path / "nan"
    assert main(["attack", str(trained), "--data", str(demo), "--method", "ela", "--iters",
                 "30", "--samples", "4", "--batch-size", "2", "--cfg", "lr=1e38",
                 "--out", str(out)]) == 0
    err = capsys.readouterr().err
    summary = json.loads((out / "summary.json").read_text())
    with np.load(out / "adversarial.npz") as f:
        indices, adversarial = f["indices"], f["adversarial"]
    notes = summary["notes"]
    assert len(notes) == 4
    for i in indices.tolist():  # notes name dataset indices, not batch positions
        assert any(n.startswith(f"sample {i}: non-finite loss; stopped") for n in notes)
        assert f"note: sample {i}: non-finite loss" in err
    assert np.isfinite(adversarial).all()  # the non-finite iterate never reaches the output
    assert summary["success_rate"] == 0.0
