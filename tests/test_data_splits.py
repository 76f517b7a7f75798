"""Splits: protocols from metadata, grouped stratified folds, holdout, JSON files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ela.data import (
    NTU_XSUB_TRAIN,
    Split,
    emotion_cv,
    group_kfold,
    load_folds,
    load_split,
    protocol_split,
    save_folds,
    save_split,
    stratified_kfold,
    train_val_test,
)
from ela.errors import DataFormatError, ElaError
from ela.io.base import Sample, SkeletonSet
from ela.skeleton import get_layout


def clips(n_groups: int = 40, per_group: int = 3, classes: int = 4, seed: int = 0):
    """Labels and group ids: `per_group` windows of each clip share its label."""
    rng = np.random.default_rng(seed)
    group_label = rng.integers(0, classes, n_groups)
    groups = np.repeat([f"clip{g}" for g in range(n_groups)], per_group)
    return np.repeat(group_label, per_group), groups


def assert_grouped(split: Split, groups: np.ndarray) -> None:
    parts = [set(groups[p]) for p in (split.train, split.val, split.test)]
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])


def test_stratified_kfold_covers_every_sample_once_and_balances_classes():
    labels = np.repeat(np.arange(3), [10, 7, 5])
    folds = stratified_kfold(labels, 5, seed=1)
    tests = np.concatenate([f.test for f in folds])
    np.testing.assert_array_equal(np.sort(tests), np.arange(labels.size))
    for f in folds:
        f.check(labels.size)
        np.testing.assert_array_equal(np.sort(np.concatenate([f.train, f.test])),
                                      np.arange(labels.size))
        counts = np.bincount(labels[f.test], minlength=3)
        assert np.all(np.abs(counts - np.array([10, 7, 5]) / 5) <= 1)
    again = stratified_kfold(labels, 5, seed=1)
    assert all(np.array_equal(a.test, b.test) for a, b in zip(folds, again, strict=True))
    other = stratified_kfold(labels, 5, seed=2)
    assert any(not np.array_equal(a.test, b.test) for a, b in zip(folds, other, strict=True))


def test_group_kfold_keeps_groups_whole_and_stratifies():
    labels, groups = clips()
    folds = group_kfold(labels, groups, 5, seed=0)
    np.testing.assert_array_equal(np.sort(np.concatenate([f.test for f in folds])),
                                  np.arange(labels.size))
    share = np.bincount(labels) / labels.size
    for f in folds:
        assert_grouped(f, groups)
        fold_share = np.bincount(labels[f.test], minlength=share.size) / f.test.size
        assert np.abs(fold_share - share).max() < 0.12
        assert abs(f.test.size - labels.size / 5) <= 6  # within two clips
    with pytest.raises(ElaError, match="groups"):
        group_kfold(labels[:6], groups[:6], 5)


@pytest.mark.parametrize("case", range(25))
def test_group_kfold_invariants(case):
    rng = np.random.default_rng(case)
    n_groups, k = int(rng.integers(6, 40)), int(rng.integers(2, 6))
    sizes = rng.integers(1, 5, n_groups)
    labels = np.repeat(rng.integers(0, 4, n_groups), sizes)
    groups = np.repeat(np.arange(n_groups), sizes)
    folds = group_kfold(labels, groups, k, seed=case)
    tests = np.concatenate([f.test for f in folds])
    np.testing.assert_array_equal(np.sort(tests), np.arange(labels.size))
    for f in folds:
        assert_grouped(f, groups)
        assert f.test.size > 0


def test_emotion_cv_protocol():
    labels, groups = clips(n_groups=60, per_group=2)
    folds = emotion_cv(labels, groups, k=5, seed=3)
    assert len(folds) == 5
    np.testing.assert_array_equal(np.sort(np.concatenate([f.test for f in folds])),
                                  np.arange(labels.size))
    for f in folds:
        f.check(labels.size)
        assert_grouped(f, groups)
        assert f.train.size + f.val.size + f.test.size == labels.size
        assert abs(f.val.size / (f.train.size + f.val.size) - 0.5 / 8.5) < 0.03
        assert f.val.size > 0
    again = emotion_cv(labels, groups, k=5, seed=3)
    assert all(np.array_equal(a.val, b.val) for a, b in zip(folds, again, strict=True))


def test_train_val_test_holdout():
    labels, groups = clips(n_groups=100, per_group=2)
    split = train_val_test(labels, groups, (0.7, 0.15, 0.15), seed=0)
    split.check(labels.size)
    assert_grouped(split, groups)
    sizes = np.array([split.train.size, split.val.size, split.test.size]) / labels.size
    np.testing.assert_allclose(sizes, [0.7, 0.15, 0.15], atol=0.03)
    assert np.array_equal(split.test, train_val_test(labels, groups, (0.7, 0.15, 0.15),
                                                     seed=0).test)
    ungrouped = train_val_test(labels, ratios=(0.8, 0.1, 0.1), seed=0)
    assert ungrouped.train.size + ungrouped.val.size + ungrouped.test.size == labels.size


def meta_set(metas: list[dict]) -> SkeletonSet:
    samples = [Sample(np.ones((3, 4, 25, 1), np.float32), {"action": i % 3},
                      {"name": f"s{i}", **m}) for i, m in enumerate(metas)]
    return SkeletonSet(samples, get_layout("ntu25"), {"action": ["a", "b", "c"]},
                       source="fake")


def test_ntu_protocols_from_metadata():
    metas = [{"performer": p, "camera": c} for p in range(1, 41) for c in (1, 2, 3)]
    data = meta_set(metas)
    xsub = protocol_split(data, "cross-subject")
    assert xsub.name == "ntu-cross-subject"
    performers = np.array([m["performer"] for m in metas])
    assert set(performers[xsub.train]) == NTU_XSUB_TRAIN
    assert not set(performers[xsub.test]) & NTU_XSUB_TRAIN
    xview = protocol_split(data, "cross-view", label="action", val_fraction=0.1, seed=0)
    cameras = np.array([m["camera"] for m in metas])
    assert set(cameras[xview.train]) | set(cameras[xview.val]) == {2, 3}
    assert set(cameras[xview.test]) == {1}
    assert 0 < xview.val.size < xview.train.size
    with pytest.raises(DataFormatError, match="'camera'"):
        protocol_split(meta_set([{"performer": 1}]), "ntu-cross-view")
    with pytest.raises(ElaError, match="unknown split .cross-planet.; known: msr-cross"):
        protocol_split(data, "cross-planet")


def test_msr_cross_subject_on_real_files(shared_data):
    io = pytest.importorskip("ela.io")
    if not hasattr(io, "read"):
        pytest.skip("ela.io.read is not available yet")
    root = shared_data("msr_action3d")
    data = io.read(root, "msr")
    data = data.collect() if hasattr(data, "collect") else data
    split = protocol_split(data, "cross-subject")
    assert split.name == "msr-cross-subject"
    subjects = np.array(data.meta("subject"))
    assert set(subjects[split.train]) == {1, 3, 5, 7, 9}
    assert set(subjects[split.test]) == {2, 4, 6, 8, 10}
    assert split.train.size + split.test.size == len(data)


def test_save_and_load_round_trip(tmp_path):
    labels, groups = clips()
    split = train_val_test(labels, groups, seed=4)
    path = save_split(split, tmp_path / "sub" / "split.json")
    back = load_split(path)
    assert back.name == split.name and back.num_samples == labels.size
    for a, b in zip(split.parts().values(), back.parts().values(), strict=True):
        np.testing.assert_array_equal(a, b)
    folds = emotion_cv(labels, groups, k=4)
    fold_path = save_folds(folds, tmp_path / "folds.json")
    assert [f.test.tolist() for f in load_folds(fold_path)] == [f.test.tolist() for f in folds]
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["folds.json", "split.json", "sub"]


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(DataFormatError, match="no such split file"):
        load_split(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(DataFormatError, match="bad.json"):
        load_split(bad)
    overlap = tmp_path / "overlap.json"
    overlap.write_text(json.dumps({"format": "ela-split", "name": "x", "train": [0, 1],
                                   "val": [], "test": [1]}))
    with pytest.raises(ElaError, match="two parts"):
        load_split(overlap)
    with pytest.raises(ElaError, match="made for 5 samples"):
        Split("y", [0], [], [1], num_samples=5).check(7)
