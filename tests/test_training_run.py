"""`run_training` / `evaluate_run` (what `ela train` / `ela eval` do) on the demo data."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from torch import nn

from ela.errors import CheckpointError, ElaError
from ela.io.base import Sample, SkeletonSet
from ela.models import registry
from ela.models.base import SkeletonModel
from ela.models.registry import register_model
from ela.skeleton import get_layout
from ela.training.checkpoint import load, load_config
from ela.training.loop import TrainConfig
from ela.training.run import evaluate_run, resolve_splits, run_inputs, run_training

TINY = "tiny_run_test"


class Tiny(SkeletonModel):
    """Mean over frames and persons, then an MLP: (N, C, T, V, M) -> (N, classes)."""

    def __init__(self, layout, num_classes, in_channels=3, hidden=32):
        super().__init__(layout, num_classes, in_channels)
        self.body = nn.Sequential(nn.Linear(2 * in_channels * layout.num_joints, hidden),
                                  nn.ReLU())
        self.head = nn.Linear(hidden, num_classes)

    def forward_features(self, x):
        stats = torch.cat([x.mean(dim=(2, 4)), x.std(dim=(2, 4))], dim=1).flatten(1)
        f = self.body(stats)
        return self.head(f), f


@pytest.fixture(scope="module", autouse=True)
def tiny_registered():
    register_model(TINY)(Tiny)
    yield
    registry.unregister_model(TINY)


@pytest.fixture(scope="module")
def demo():
    try:
        from ela.data.demo import demo_dataset
    except ImportError:
        pytest.skip("ela.data.demo is not there yet")
    return demo_dataset(n_per_class=3, frames=20, actions=("walk", "wave", "bow"))


def quick(**kw):
    base = {"epochs": 6, "batch_size": 8, "lr": 1e-2, "device": "cpu", "seed": 0}
    return TrainConfig(**{**base, **kw})


def test_run_training_holdout_then_evaluate_run(tmp_path, demo):
    out = tmp_path / "run"
    metrics = run_training(demo, TINY, "action", out, frames=16, split="holdout:0.6,0.1,0.3",
                           train_config=quick(epochs=1), epochs=6, transform="centre",
                           progress=False)
    for key in ("accuracy", "uar", "war", "wap", "confusion", "classes", "best_epoch"):
        assert key in metrics
    on_disk = json.loads((out / "metrics.json").read_text())
    assert on_disk["accuracy"] == metrics["accuracy"]
    assert on_disk["classes"] == ["walk", "wave", "bow"]
    split = json.loads((out / "split.json").read_text())
    assert split["format"] == "ela-split" and len(split["test"]) == sum(metrics["support"])
    assert not set(split["test"]) & set(split["train"])
    cfg = load_config(out)
    assert cfg["label"] == "action" and cfg["frames"] == 16 and cfg["transform"] == ["centre"]
    assert isinstance(load(out), Tiny) and not (out / "train_state").exists()

    again = evaluate_run(out, demo, out=tmp_path / "eval", part="test")
    assert again["accuracy"] == pytest.approx(metrics["accuracy"])
    assert again["confusion"] == metrics["confusion"]
    rows = list(csv.DictReader((tmp_path / "eval" / "predictions.csv").open()))
    assert [int(r["index"]) for r in rows] == split["test"]
    assert np.mean([int(r["correct"]) for r in rows]) == pytest.approx(metrics["accuracy"])

    lines = []  # a second call finds the finished run and does not train again
    rerun = run_training(demo, TINY, "action", out, frames=16, split="holdout:0.6,0.1,0.3",
                         train_config=quick(), transform="centre", log=lines.append)
    assert len(rerun["training"]["history"]) == 6
    assert rerun["accuracy"] == metrics["accuracy"]
    assert any("not trained again" in line for line in lines)
    assert not any(line.startswith("epoch") for line in lines)


def test_run_training_folds(tmp_path, demo):
    out = tmp_path / "cv"
    metrics = run_training(demo, TINY, "emotion", out, frames=16, folds=3,
                           train_config=quick(epochs=3), progress=False)
    assert len(metrics["folds"]) == 3 and metrics["num_folds"] == 3
    assert metrics["accuracy"] == pytest.approx(np.mean([f["accuracy"]
                                                         for f in metrics["folds"]]))
    assert set(metrics["std"]) >= {"accuracy", "uar", "wap"}
    assert np.sum(metrics["confusion"]) == len(demo)
    assert json.loads((out / "split.json").read_text())["format"] == "ela-folds"
    k = metrics["checkpoint_fold"]
    assert (out / "model.safetensors").read_bytes() == \
        (out / f"fold_{k}" / "model.safetensors").read_bytes()
    assert load_config(out)["fold"] == k
    # the run folder's model, on the test part of its own fold, scores what that fold scored
    again = evaluate_run(out, demo, part="test")
    assert again["accuracy"] == pytest.approx(metrics["folds"][k - 1]["accuracy"])
    assert again["num_samples"] == metrics["folds"][k - 1]["sizes"]["test"]


def test_windowed_folds_average_clip_votes(tmp_path, demo):
    metrics = run_training(demo, TINY, "emotion", tmp_path / "cvw", frames=8, window=8,
                           folds=3, train_config=quick(epochs=1, class_weight="balanced",
                                                       monitor="uar"), progress=False)
    assert metrics["clip"]["uar"] == pytest.approx(
        np.mean([f["clip"]["uar"] for f in metrics["folds"]]))
    assert np.sum(metrics["clip_confusion"]) == len(demo)  # every clip tested once
    assert "clip" in metrics["std"]


def test_windows_and_run_inputs(tmp_path, demo):
    out = tmp_path / "win"
    metrics = run_training(demo, TINY, "action", out, frames=8, window=8,
                           train_config=quick(epochs=2), progress=False)
    split = json.loads((out / "split.json").read_text())
    n_windows = split["num_samples"]
    assert n_windows > len(demo)  # 20-frame clips cut into 8-frame windows, stride 4
    assert load_config(out)["window"] == 8
    x, y, lengths, candidates, classes = run_inputs(out, load_config(out), demo)
    assert x.shape == (n_windows, 3, 8, 25, 1) and y.shape == lengths.shape == (n_windows,)
    assert candidates.tolist() == split["test"] and classes == ["walk", "wave", "bow"]
    assert int(lengths.min()) == 8
    clips = np.array([i // 4 for i in range(n_windows)])  # 4 windows per 20-frame clip
    assert not set(clips[split["test"]]) & set(clips[split["train"]])
    again = evaluate_run(out, demo, part="test")
    assert again["accuracy"] == pytest.approx(metrics["accuracy"])
    # one vote per test clip (4 windows each), the same in training and in evaluate_run
    assert metrics["clip"]["num_samples"] == len(set(clips[split["test"]]))
    assert np.sum(metrics["clip_confusion"]) == metrics["clip"]["num_samples"]
    assert again["clip"] == pytest.approx(metrics["clip"])
    _, _, _, everything, _ = run_inputs(out, load_config(out), demo, part="all")
    assert len(everything) == n_windows


def test_resolve_splits(tmp_path, demo):
    labels = demo.labels("action")
    (holdout,) = resolve_splits("holdout", demo, "action", seed=1)
    assert len(holdout.train) + len(holdout.val) + len(holdout.test) == len(demo)
    folds = resolve_splits("kfold:3", demo, "action")
    tests = np.concatenate([f.test for f in folds])
    assert sorted(tests.tolist()) == list(range(len(demo)))
    assert all(len(f.val) > 0 for f in folds)
    assert len(resolve_splits("emotion5", demo, "emotion")) == 5
    (xsub,) = resolve_splits("cross-subject", demo, "action")
    performers = np.array(demo.meta("performer"))
    assert set(performers[xsub.test].tolist()) <= {3}
    assert len(np.unique(labels)) == 3
    from ela.data.splits import save_split
    save_split(holdout, tmp_path / "s.json")
    (again,) = resolve_splits(f"file:{tmp_path / 's.json'}", demo, "action")
    assert np.array_equal(again.test, holdout.test)
    for bad in ("holdout:0.5", "kfold:x", "nonsense-protocol"):
        with pytest.raises(ElaError):
            resolve_splits(bad, demo, "action")


def test_evaluate_run_rejects_other_layout_or_classes(tmp_path, demo):
    out = tmp_path / "run"
    run_training(demo, TINY, "action", out, frames=16, train_config=quick(epochs=1),
                 progress=False)
    other = SkeletonSet([Sample(np.ones((3, 10, 20, 1), np.float32), {"action": 0})],
                        get_layout("kinect20"), {"action": ["walk", "wave", "bow"]})
    with pytest.raises(CheckpointError, match="layout 'ntu25'.*'kinect20'"):
        evaluate_run(out, other)
    renamed = SkeletonSet(demo.samples, demo.layout, {"action": ["bow", "walk", "wave"]})
    with pytest.raises(CheckpointError, match="classes"):
        evaluate_run(out, renamed)


def test_hcn_learns_demo_actions(tmp_path):
    try:
        from ela.data.demo import demo_dataset
        from ela.models import create_model

        create_model("hcn", "ntu25", 3)
    except (ImportError, ElaError) as err:
        pytest.skip(f"HCN or the demo data is missing: {err}")
    data = demo_dataset(n_per_class=6, frames=32, actions=("walk", "wave", "bow"))
    metrics = run_training(data, "hcn", "action", tmp_path, frames=32,
                           model_cfg={"width": 0.5, "dropout": 0.2},
                           split="holdout:0.6,0.15,0.25",
                           train_config=quick(epochs=10, lr=3e-3, batch_size=8),
                           transform="centre", progress=False)
    assert metrics["accuracy"] > 0.6  # chance is 1/3
    model = load(tmp_path)
    assert model.config["name"] == "hcn" and model.config["width"] == 0.5
    x = torch.zeros(2, 3, 32, 25, 1)
    assert model(x).shape == (2, 3)
