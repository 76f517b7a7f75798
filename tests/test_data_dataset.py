"""SkeletonDataset, collate, to_tensor_batch and windows of long clips."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from ela.data import (
    SkeletonDataset,
    build_transform,
    collate,
    demo_dataset,
    group_ids,
    group_kfold,
    to_tensor_batch,
    window_set,
    windows,
)
from ela.data.manifest import MultimodalData, MultimodalDataset
from ela.data.transforms import valid_length
from ela.errors import ElaError
from ela.io.base import Sample, SkeletonSet
from ela.skeleton import get_layout

NTU = get_layout("ntu25")


def ragged_set() -> SkeletonSet:
    """Three ntu25 samples of 20, 50 and 8 frames; the second has two persons."""
    rng = np.random.default_rng(0)
    shapes = [(3, 20, 25, 1), (3, 50, 25, 2), (3, 8, 25, 1)]
    samples = [Sample((rng.normal(size=s) + 1).astype(np.float32), {"action": i % 2},
                      {"name": f"clip{i}"}) for i, s in enumerate(shapes)]
    samples[1].data[:, 30:, :, 1] = 0.0  # the second person leaves
    return SkeletonSet(samples, NTU, {"action": ["a", "b"]}, source="test")


@pytest.mark.parametrize("sampling", ["resample", "crop", "pad"])
def test_items_have_fixed_frames_and_valid_lengths(sampling):
    ds = SkeletonDataset(ragged_set(), "action", 32, sampling=sampling)
    assert len(ds) == 3
    for k, raw in enumerate([20, 50, 8]):
        x, y, length = ds[k]
        assert x.dtype == torch.float32 and x.shape == (3, 32, 25, 2)
        assert y == k % 2
        assert length == (32 if sampling == "resample" else min(raw, 32))
        assert valid_length(x.numpy()) == length
        if k != 1:
            assert torch.all(x[..., 1] == 0)  # absent second person


def test_crop_sampling_is_random_only_when_training_and_seeded():
    data = ragged_set()
    ev = SkeletonDataset(data, "action", 16, sampling="crop")
    assert not ev.train
    torch.testing.assert_close(ev[1][0], ev[1][0])
    tr = SkeletonDataset(data, "action", 16, sampling="crop", train=True, seed=3)
    first = tr[1][0]
    torch.testing.assert_close(first, SkeletonDataset(data, "action", 16, sampling="crop",
                                                      train=True, seed=3)[1][0])
    draws = []
    for epoch in range(6):
        tr.set_epoch(epoch)
        draws.append(tr[1][0])
    assert any(not torch.equal(draws[0], d) for d in draws[1:])


def test_train_transform_runs_only_in_training():
    data = demo_dataset(1, 24, seed=0, actions=("wave",), emotions=("sad",))
    rot = build_transform(["rotate:45"], data.layout)
    plain = SkeletonDataset(data, "emotion", 24)
    aug = SkeletonDataset(data, "emotion", 24, train_transform=rot)
    assert aug.train and not plain.train
    a, b = aug[0][0], plain[0][0]
    assert not torch.allclose(a, b)
    torch.testing.assert_close(a[1], b[1])  # a rotation about the vertical axis
    with pytest.raises(ElaError, match="train=False"):
        SkeletonDataset(data, "emotion", 24, train_transform=rot, train=False)


def test_transform_is_applied_once_per_clip_and_cached():
    calls = []

    def count(d, rng):
        calls.append(1)
        return d * 2

    ds = SkeletonDataset(ragged_set(), "action", 10, transform=count, sampling="pad")
    x0 = ds[0][0]
    ds[0]
    assert len(calls) == 1
    expected = ragged_set().samples[0].data[:, :10, :, 0] * 2
    torch.testing.assert_close(x0[..., 0], torch.from_numpy(expected))


def test_dataloader_collate_and_to_tensor_batch():
    data = demo_dataset(2, 20, seed=1)
    ds = SkeletonDataset(data, "action", 16, indices=np.arange(0, 40, 2))
    x, y, lengths = next(iter(DataLoader(ds, batch_size=8, collate_fn=collate)))
    assert x.shape == (8, 3, 16, 25, 1) and y.dtype == torch.int64
    assert torch.all(lengths == 16)
    np.testing.assert_array_equal(y.numpy(), data.labels("action")[0:16:2])
    xb, yb, lb = to_tensor_batch(data, 16, label="emotion")
    assert xb.shape == (40, 3, 16, 25, 1) and lb.shape == (40,)
    np.testing.assert_array_equal(yb.numpy(), data.labels("emotion"))
    _, none, _ = to_tensor_batch(data, 16)
    assert torch.all(none == -1)


def test_dataset_argument_errors():
    with pytest.raises(ElaError, match="sampling"):
        SkeletonDataset(ragged_set(), "action", 8, sampling="stretch")
    with pytest.raises(ElaError, match="out of range"):
        SkeletonDataset(ragged_set(), "action", 8, indices=[0, 7])
    with pytest.raises(ElaError, match="no label 'emotion'"):
        SkeletonDataset(ragged_set(), "emotion", 8)


def test_windows_cover_the_clip_and_keep_its_id():
    sample = ragged_set().samples[1]  # 50 frames
    wins = windows(sample, 16, 10)
    assert [w.meta["window"] for w in wins] == [(0, 16), (10, 26), (20, 36), (30, 46),
                                               (34, 50)]
    assert all(w.meta["clip"] == "clip1" and w.labels == sample.labels for w in wins)
    np.testing.assert_array_equal(wins[-1].data, sample.data[:, 34:50])
    short = windows(ragged_set().samples[2], 16, 10)
    assert len(short) == 1 and short[0].frames == 8
    assert windows(Sample(np.zeros((3, 9, 25, 1), np.float32)), 4, 2) == []


def test_windows_of_one_clip_stay_on_one_side_of_a_split():
    data = demo_dataset(2, 40, seed=4, actions=("walk", "bow"), emotions=("sad", "happy"))
    win = window_set(data, 16, 8)
    assert len(win) == len(data) * 4
    groups = group_ids(win)
    for split in group_kfold(win.labels("emotion"), groups, 4, seed=0):
        assert not set(groups[split.train]) & set(groups[split.test])


def test_windows_of_a_real_bandai_clip(shared_data):
    io = pytest.importorskip("ela.io")
    if not hasattr(io, "read"):
        pytest.skip("ela.io.read is not available yet")
    clip = sorted((shared_data("bandai2") / "data").glob("dataset-2_walk_normal_*.bvh"))[0]
    data = io.read(clip, "bandai")
    data = data.collect() if hasattr(data, "collect") else data
    frames = data.samples[0].frames
    win = window_set(data, 64, 32)
    assert frames > 64 and len(win) == (frames - 64) // 32 + 1 + ((frames - 64) % 32 > 0)
    assert len(set(group_ids(win))) == 1
    x, _, lengths = to_tensor_batch(win, 64, label="style", sampling="pad")
    assert x.shape[1:] == (3, 64, 21, 1) and torch.all(lengths == 64)


def test_reprs_are_one_short_line():
    data = demo_dataset(n_per_class=3, frames=20, seed=0)
    text = repr(data)
    assert text.startswith("SkeletonSet(n=") and "\n" not in text and len(text) < 300
    assert f"n={len(data)}" in text and "joints=25" in text
    dataset = SkeletonDataset(data, "action", 16)
    text = repr(dataset)
    assert text.startswith("SkeletonDataset(n=") and "frames=16" in text and len(text) < 300
    assert "\n" not in repr(data.samples[0]) and len(repr(data.samples[0])) < 200
    mfcc = [np.zeros((400, 39), np.float32) for _ in range(50)]
    multimodal = MultimodalData(labels=np.zeros(50, np.int64), classes=["a", "b"],
                                groups=np.arange(50), modalities=("audio",), mfcc=mfcc,
                                prosody=np.zeros((50, 35), np.float32), source="m.csv")
    assert repr(multimodal) == ("MultimodalData(n=50, classes=2, modalities=('audio',), "
                                "source='m.csv')")
    assert repr(MultimodalDataset(multimodal)) == (
        "MultimodalDataset(n=50, modalities=('audio',), items={mfcc: (400, 39), "
        "mfcc_length: (), prosody: (35,)}, source='m.csv')")
