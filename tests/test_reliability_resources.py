"""Resource limits: attacks stream the data batch by batch and give the same results as
attacking tensors of the whole set; a batch that does not fit in memory is a clear error."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ela.runs.results as results_module
import ela.runs.select as select_module
import ela.training.run as run_module
from ela.attacks import CW
from ela.attacks.summary import summarize_arrays
from ela.cli import main
from ela.data.demo import demo_dataset
from ela.errors import ElaError
from ela.io import read, write_npz
from ela.runs.attack import run_attack
from ela.runs.job import AttackJob
from ela.runs.select import memory_guard
from ela.training.checkpoint import load, load_config
from ela.training.run import run_inputs, run_training

BATCH = 3


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo") / "demo.npz"
    write_npz(demo_dataset(n_per_class=3, frames=24, actions=("walk", "wave", "bow"), seed=4),
              path)
    return path


@pytest.fixture(scope="module")
def run(demo, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "hcn"
    run_training(read(demo), "hcn", "action", out, model_cfg={"width": 0.25, "window": 16},
                 frames=16, split="holdout:0.6,0.1,0.3", epochs=6, progress=False)
    return out


def test_streamed_attack_equals_the_in_memory_attack(run, demo, tmp_path, monkeypatch):
    data = read(demo)
    sizes: list[int] = []
    real_collate = select_module.collate

    def spy(items):
        sizes.append(len(items))
        return real_collate(items)

    def whole_set(*args, **kwargs):
        raise AssertionError("the whole set was turned into tensors")

    monkeypatch.setattr(select_module, "collate", spy)
    monkeypatch.setattr(run_module, "run_inputs", whole_set)
    summary = run_attack(AttackJob.from_flags(run, "cw", tmp_path / "cw", iters=75, samples=7,
                                              batch_size=BATCH), data, progress=False)
    assert sizes and max(sizes) <= BATCH  # never more than one batch of prepared tensors
    monkeypatch.undo()

    # the previous way: every sample prepared at once, then indexed
    x, y, lengths, candidates, _ = run_inputs(run, load_config(run), data)
    model = load(run)
    with torch.no_grad():
        correct = candidates[(model.predict_class(model(x[candidates])) == y[candidates])
                             .numpy()]
    chosen = np.sort(np.random.default_rng(0).choice(correct, size=7, replace=False)) \
        if len(correct) > 7 else correct
    with np.load(tmp_path / "cw" / "adversarial.npz") as f:
        np.testing.assert_array_equal(f["indices"], chosen)
        streamed_adv = f["adversarial"]
    attack = CW(model, data.layout, steps=75)
    parts = []
    for start in range(0, len(chosen), BATCH):
        idx = torch.as_tensor(chosen[start:start + BATCH])
        torch.manual_seed(start // BATCH)
        result = attack(x[idx], y[idx], lengths=lengths[idx])
        parts.append(results_module.batch_arrays(result, idx.numpy(), lengths[idx], None))
    merged = {k: np.concatenate([p[k] for p in parts]) for k in parts[0] if k != "seconds"}
    np.testing.assert_array_equal(merged["adversarial"], streamed_adv)
    want = summarize_arrays(merged, 0.0).to_dict()
    got = {k: summary[k] for k in want}
    want["seconds"] = got["seconds"]
    assert got == want


def test_a_batch_that_does_not_fit_is_a_clear_error(run, demo, tmp_path, monkeypatch, capsys):
    def out_of_memory(self, *args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr(CW, "__call__", out_of_memory)
    code = main(["attack", str(run), "--data", str(demo), "--method", "cw", "--batch-size",
                 "4", "--out", str(tmp_path / "oom")])
    assert code == 2
    err = capsys.readouterr().err
    assert "a batch of 4 samples does not fit in memory" in err
    assert "smaller --batch-size" in err
    assert not (tmp_path / "oom" / "summary.json").exists()


def test_memory_guard_converts_only_memory_errors():
    with pytest.raises(ElaError, match="smaller --batch-size"), memory_guard(8):
        raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to "
                           "allocate 123 bytes")
    with pytest.raises(ElaError, match="a batch of 8 samples"), memory_guard(8):
        raise MemoryError()
    # other failures stay visible as they are
    with pytest.raises(RuntimeError, match="shape mismatch"), memory_guard(8):
        raise RuntimeError("shape mismatch")
