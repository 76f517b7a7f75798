"""Training loop, checkpoints and cross-validation on a tiny model and synthetic data."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import Dataset, TensorDataset

from ela.errors import CheckpointError, ElaError
from ela.io.base import Sample, SkeletonSet
from ela.models import registry
from ela.models.base import SkeletonModel
from ela.models.registry import create_model, register_model
from ela.skeleton import get_layout
from ela.training.checkpoint import check_compatible, load, load_config, save_checkpoint
from ela.training.crossval import train_splits
from ela.training.loop import LAST_FILE, TrainConfig, balanced_class_weights, evaluate, train

LAYOUT = get_layout("kinect20")
TINY = "tiny_training_test"


class Tiny(SkeletonModel):
    """Mean over frames and persons, then a small MLP: (N, C, T, V, M) -> (N, classes)."""

    def __init__(self, layout, num_classes, in_channels=3, hidden=16, dropout=0.0):
        super().__init__(layout, num_classes, in_channels)
        self.body = nn.Sequential(nn.Linear(in_channels * layout.num_joints, hidden),
                                  nn.BatchNorm1d(hidden), nn.ReLU(), nn.Dropout(dropout))
        self.head = nn.Linear(hidden, num_classes)

    def forward_features(self, x):
        f = self.body(x.mean(dim=(2, 4)).flatten(1))
        return self.head(f), f


@pytest.fixture(scope="module", autouse=True)
def tiny_registered():
    register_model(TINY)(Tiny)
    yield
    registry.unregister_model(TINY)


def tiny(num_classes=3, **cfg):
    return create_model(TINY, "kinect20", num_classes, **cfg)


def synthetic(n_per_class=20, classes=3, frames=6, noise=0.3, seed=0):
    """Class c: a fixed random pose pattern + noise. Returns x (N,3,T,20,1), y (N,)."""
    g = torch.Generator().manual_seed(seed)
    patterns = torch.randn(classes, 3, 1, LAYOUT.num_joints, 1, generator=g)
    y = torch.arange(classes).repeat_interleave(n_per_class)
    x = patterns[y] + noise * torch.randn(len(y), 3, frames, LAYOUT.num_joints, 1, generator=g)
    return x.float(), y


def triples(x, y):
    return TensorDataset(x, y, torch.full((len(y),), x.shape[2]))


def quick(**kw):
    base = {"epochs": 8, "batch_size": 16, "lr": 1e-2, "device": "cpu", "seed": 0}
    return TrainConfig(**{**base, **kw})


def test_tiny_model_learns_separable_data():
    x, y = synthetic(seed=1)
    xt, yt = synthetic(n_per_class=10, seed=1)  # same patterns (same seed), fresh noise
    xt = xt + 0.05 * torch.randn_like(xt)
    torch.manual_seed(0)
    model = tiny()
    before, _, _ = evaluate(model, triples(xt, yt))
    result = train(model, triples(x, y), None, quick(), progress=False)
    after, y_true, y_pred = evaluate(model, triples(xt, yt))
    assert after["accuracy"] >= 0.9 > before["accuracy"]
    assert len(result.history) == 8 and result.best_epoch == 8 and result.best_score is None
    assert result.history[-1]["loss"] < result.history[0]["loss"]
    assert y_true.tolist() == yt.tolist() and y_pred.shape == (30,)
    assert not model.training  # left in eval mode


def test_config_validation_and_round_trip():
    cfg = TrainConfig(epochs=3, schedule="cosine", monitor="uar")
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    for bad in ({"optimizer": "adamw"}, {"schedule": "poly"}, {"monitor": "f1"},
                {"batch_size": 0}, {"lr": 0}):
        with pytest.raises(ElaError, match=next(iter(bad))):
            TrainConfig(**bad)
    with pytest.raises(ElaError, match="unknown options"):
        TrainConfig.from_dict({"epochs": 1, "lr_decay": 2})


class FlippingVal(Dataset):
    """Validation set whose labels are right for the first `good` epochs, then all wrong."""

    def __init__(self, x, y, classes, good=2):
        self.x, self.y, self.classes, self.good, self.epoch = x, y, classes, good, 0

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        y = self.y[i] if self.epoch < self.good else (self.y[i] + 1) % self.classes
        return self.x[i], y, self.x.shape[2]


def test_early_stopping_restores_best_validation_weights():
    x, y = synthetic(seed=2)
    val = FlippingVal(*synthetic(n_per_class=5, seed=2), classes=3)
    snapshots = {}
    torch.manual_seed(0)
    model = tiny()

    def log(line):  # called once per epoch, after validation
        if line.startswith("epoch"):
            snapshots[len(snapshots) + 1] = {k: v.clone() for k, v in model.state_dict().items()}
            val.epoch += 1

    result = train(model, triples(x, y), val, quick(epochs=20, patience=3), log=log)
    assert result.stopped_early
    assert len(result.history) == result.best_epoch + 3 < 20
    val_acc = [h["val_accuracy"] for h in result.history]
    assert result.best_epoch <= 2 and val_acc[result.best_epoch - 1] == max(val_acc)
    final = model.state_dict()
    last = snapshots[len(snapshots)]
    best = snapshots[result.best_epoch]
    assert all(torch.equal(final[k], best[k]) for k in final)
    assert not all(torch.equal(final[k], last[k]) for k in final)
    assert all(torch.equal(final[k], result.best_state[k]) for k in final)


def test_resume_matches_uninterrupted_run(tmp_path):
    x, y = synthetic(seed=3)
    vx, vy = synthetic(n_per_class=4, seed=3)
    cfg4 = quick(epochs=4, schedule="cosine", optimizer="adam")

    def fresh():
        torch.manual_seed(0)
        return tiny(dropout=0.2)

    full = fresh()
    full_res = train(full, triples(x, y), triples(vx, vy), cfg4, progress=False)

    part = fresh()
    # an interrupted run: same schedule, stopped after 2 of 4 epochs
    with pytest.raises(_InterruptError):
        train(part, triples(x, y), triples(vx, vy), cfg4, checkpoint_dir=tmp_path,
              resume=True, log=_stop_after(2))
    state = json.loads((tmp_path / "state.json").read_text())
    assert state["epoch"] == 2 and (tmp_path / LAST_FILE).exists()

    resumed = fresh()  # weights are replaced by the saved ones
    lines = []
    res = train(resumed, triples(x, y), triples(vx, vy), cfg4, checkpoint_dir=tmp_path,
                resume=True, log=lines.append)
    assert lines[0].startswith("resumed") and len(res.history) == 4
    assert res.best_epoch == full_res.best_epoch
    for k, v in full.state_dict().items():
        assert torch.allclose(v, resumed.state_dict()[k], atol=1e-6), k

    with pytest.raises(CheckpointError, match="lr"):
        train(fresh(), triples(x, y), None, quick(epochs=4, schedule="cosine", lr=0.5),
              progress=False, checkpoint_dir=tmp_path, resume=True)


class _InterruptError(Exception):
    pass


def _stop_after(n):
    count = [0]

    def log(line):
        if line.startswith("epoch"):
            count[0] += 1
            if count[0] == n:
                raise _InterruptError

    return log


def test_save_load_round_trip(tmp_path):
    torch.manual_seed(0)
    model = tiny(num_classes=4, hidden=8).eval()
    save_checkpoint(model, tmp_path / "ck", {"classes": list("abcd"), "label": "action",
                                            "frames": 6})
    loaded = load(tmp_path / "ck")
    x = torch.randn(5, 3, 6, 20, 1)
    assert torch.equal(model(x), loaded(x))
    assert loaded.config == model.config and loaded.kind == model.kind
    cfg = load_config(tmp_path / "ck" / "config.json")
    assert cfg["model"]["hidden"] == 8 and cfg["classes"] == list("abcd")
    assert cfg["num_joints"] == 20 and cfg["frames"] == 6
    assert not any(p.suffix == ".tmp" for p in (tmp_path / "ck").iterdir())


def test_load_reports_bad_checkpoints(tmp_path):
    model = tiny(hidden=8)
    ck = save_checkpoint(model, tmp_path / "ck")
    with pytest.raises(CheckpointError, match="nowhere"):
        load(tmp_path / "nowhere")

    (ck / "model.safetensors").write_bytes(b"\x00\x01garbage")
    with pytest.raises(CheckpointError, match="model.safetensors"):
        load(ck)
    (ck / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match="model.safetensors.*missing"):
        load(ck)

    save_checkpoint(tiny(hidden=4), ck)  # weights of another size
    cfg = json.loads((ck / "config.json").read_text())
    cfg["model"]["hidden"] = 8
    (ck / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="wrong shape"):
        load(ck)

    (ck / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="config.json.*not valid JSON"):
        load(ck)
    (ck / "config.json").unlink()
    with pytest.raises(CheckpointError, match="config.json.*missing"):
        load(ck)


def test_check_compatible():
    model = tiny(num_classes=3)
    cfg = {"model": model.config, "num_joints": 20, "classes": ["a", "b", "c"]}
    check_compatible(cfg, "kinect20", 20, ["a", "b", "c"])
    with pytest.raises(CheckpointError, match="layout 'kinect20'.*'ntu25'"):
        check_compatible(cfg, "ntu25", 25)
    with pytest.raises(CheckpointError, match="20 joints.*19"):
        check_compatible(cfg, "kinect20", 19)
    with pytest.raises(CheckpointError, match="classes"):
        check_compatible(cfg, "kinect20", 20, ["a", "c", "b"])


def _tiny_set(n_per_class=12, classes=3):
    x, y = synthetic(n_per_class=n_per_class, classes=classes, seed=4)
    samples = [Sample(data=x[i].numpy(), labels={"action": int(y[i])}, meta={"subject": i % 4})
               for i in range(len(y))]
    return SkeletonSet(samples, LAYOUT, {"action": ["a", "b", "c"][:classes]}, source="mem")


class _Split:
    def __init__(self, train, val, test):
        self.train, self.val, self.test = (np.asarray(a) for a in (train, val, test))


def _folds(n, k=3):
    order = np.random.default_rng(0).permutation(n)
    parts = np.array_split(order, k)
    splits = []
    for i in range(k):
        rest = np.concatenate([parts[j] for j in range(k) if j != i])
        splits.append(_Split(rest[3:], rest[:3], parts[i]))
    return splits


def _dataset_factory(sset):
    x = torch.from_numpy(np.stack([s.data for s in sset.samples]))
    y = torch.from_numpy(sset.labels("action"))
    return lambda idx, training: triples(x[idx], y[idx])


def test_cross_validation_and_fold_resume(tmp_path):
    sset = _tiny_set()
    splits = _folds(len(sset))
    calls = []

    def factory(split):
        calls.append(1)
        return tiny(hidden=8)

    cfg = quick(epochs=5, patience=3)
    names = ["a", "b", "c"]
    out = train_splits(factory, _dataset_factory(sset), splits, cfg, tmp_path,
                       class_names=names, progress=False)
    assert len(out["folds"]) == 3 and len(calls) == 3 and [f["fold"] for f in out["folds"]] \
        == [1, 2, 3]
    accs = [f["accuracy"] for f in out["folds"]]
    assert out["mean"]["accuracy"] == pytest.approx(np.mean(accs))
    assert out["std"]["accuracy"] == pytest.approx(np.std(accs))
    assert out["accuracy"] == out["mean"]["accuracy"] and out["classes"] == ["a", "b", "c"]
    assert np.sum(out["confusion"]) == len(sset)  # every sample tested once
    assert out["mean"]["accuracy"] > 0.6
    for k in (1, 2, 3):
        assert (tmp_path / f"fold_{k}" / "metrics.json").exists()
        assert load_config(tmp_path / f"fold_{k}")["classes"] == ["a", "b", "c"]
        assert not (tmp_path / f"fold_{k}" / "train_state").exists()

    (tmp_path / "fold_2" / "metrics.json").unlink()
    lines = []
    again = train_splits(factory, _dataset_factory(sset), splits, cfg, tmp_path,
                         class_names=names, log=lines.append)
    reused = [line for line in lines if "not trained again" in line]
    assert len(reused) == 2 and "fold_2" not in " ".join(reused)  # only fold 2 trained again
    assert any(line.startswith("epoch") for line in lines)
    assert again["folds"][0] == out["folds"][0]
    assert again["folds"][1]["accuracy"] == pytest.approx(out["folds"][1]["accuracy"])

    with pytest.raises(ElaError, match="other model or training options"):
        train_splits(factory, _dataset_factory(sset), splits, quick(epochs=6, patience=3),
                     tmp_path, class_names=names, progress=False)
    with pytest.raises(ElaError, match="different split"):
        train_splits(factory, _dataset_factory(sset), _folds(len(sset))[::-1], cfg, tmp_path,
                     class_names=names, progress=False)


def test_balanced_class_weights():
    ds = TensorDataset(torch.zeros(6, 1), torch.tensor([0, 0, 0, 0, 2, 2]))
    w = balanced_class_weights(ds, num_classes=3)
    # N / (C_present * n_c): 6 / (2 * 4), class 1 absent -> 1, 6 / (2 * 2)
    assert w.tolist() == pytest.approx([0.75, 1.0, 1.5])
    with pytest.raises(ElaError, match="class_weight"):
        TrainConfig(class_weight="inverse")


def test_balanced_weights_reach_the_loss():
    data = _tiny_set(n_per_class=12, classes=3)
    keep = [i for i, s in enumerate(data.samples) if s.labels["action"] != 2 or i % 4 == 0]
    skewed = SkeletonSet([data.samples[i] for i in keep], data.layout, data.label_names)
    from ela.training.run import skeleton_datasets
    ds = skeleton_datasets(skewed, "action", 8)(np.arange(len(skewed)), True)
    losses = []
    for weight in (None, "balanced"):
        torch.manual_seed(0)
        model = create_model(TINY, LAYOUT, 3)
        result = train(model, ds, None, TrainConfig(epochs=1, batch_size=8, device="cpu",
                                                    class_weight=weight), progress=False)
        losses.append(result.history[0]["loss"])
    assert np.isfinite(losses).all() and losses[0] != pytest.approx(losses[1])
