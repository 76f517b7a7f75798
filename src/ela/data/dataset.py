"""Torch datasets over a `SkeletonSet`: every item fixed to T frames, with its valid length.

An item is ``(x, y, length)``: x a float32 tensor (C, T, V, M) (M = the most persons of any
sample in the set, absent ones zero), y the integer label (−1 when no label is asked for),
length the valid frames of x. Long clips (Bandai: hundreds of frames) can be cut into
windows first (`window_set`); every window keeps its clip id in ``meta["clip"]`` so that
grouped splits never put windows of one clip on both sides.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from ela.data.transforms import Transform, pad_or_crop, random_crop, resample, valid_length
from ela.errors import ElaError
from ela.io.base import Sample, SkeletonSet

SAMPLINGS = ("resample", "crop", "pad")


def fix_frames(data: np.ndarray, frames: int, sampling: str = "resample",
               rng: np.random.Generator | None = None) -> tuple[np.ndarray, int]:
    """(C, frames, V, M) array and its valid length, by `sampling`.

    ``"resample"`` interpolates the valid span to exactly `frames` (length = frames);
    ``"crop"`` takes a window of `frames` valid frames (random with `rng`, centred without)
    and ``"pad"`` the first `frames`, both zero-padding shorter samples
    (length = min(valid frames, frames)). An empty sample has length 0.
    """
    length = valid_length(data)
    if sampling == "resample":
        return resample(data, frames), frames if length else 0
    if sampling == "crop":
        return random_crop(data, frames, rng), min(length, frames)
    if sampling == "pad":
        return pad_or_crop(data[:, :length], frames), min(length, frames)
    raise ElaError(f"sampling must be one of {SAMPLINGS}, got {sampling!r}")


class SkeletonDataset(Dataset):
    """Items ``(x (C, T, V, M) float32 tensor, y int, length int)`` of a `SkeletonSet`.

    Args:
        skeleton_set: the samples.
        label: label name for y (e.g. ``"action"``, ``"emotion"``); None gives y = −1.
        frames: T, the frame count of every item.
        transform: deterministic preprocessing of the whole clip before sampling (e.g.
            ``build_transform(["lowpass", "centre", "align"], layout)``); called with
            ``rng=None`` and its results cached when `cache` is set.
        train_transform: augmentation after sampling, called with the item's generator;
            applied only when training.
        indices: the sample indices (of `skeleton_set`) this dataset serves; all by default.
        sampling: ``"resample"``, ``"crop"`` or ``"pad"`` (see `fix_frames`).
        train: random crops and `train_transform`; by default True exactly when a
            `train_transform` is given.
        seed: item generators are ``default_rng([seed, epoch, index])``: call
            `set_epoch` every epoch for fresh augmentation, reproducibly.
        cache: keep the preprocessed clips in memory; by default only for a set held in
            memory (a store, `ela.io.store.StoreSet`, is read item by item and nothing is
            kept, so memory stays flat in N; DataLoader workers each open the store).
    """

    def __init__(self, skeleton_set: SkeletonSet, label: str | None, frames: int,
                 transform: Transform | None = None, train_transform: Transform | None = None,
                 indices: Sequence[int] | np.ndarray | None = None, sampling: str = "resample",
                 train: bool | None = None, seed: int = 0, cache: bool | None = None):
        if sampling not in SAMPLINGS:
            raise ElaError(f"sampling must be one of {SAMPLINGS}, got {sampling!r}")
        if int(frames) < 1:
            raise ElaError(f"frames must be a positive integer, got {frames!r}")
        if train is False and train_transform is not None:
            raise ElaError("train_transform given to a dataset with train=False")
        n = len(skeleton_set)
        self.indices = (np.arange(n) if indices is None
                        else np.asarray(indices, dtype=np.int64).reshape(-1))
        if self.indices.size and (self.indices.min() < 0 or self.indices.max() >= n):
            raise ElaError(f"indices out of range for a set of {n} samples")
        self.set = skeleton_set
        self.label = label
        self.labels = (skeleton_set.labels(label)[self.indices] if label is not None
                       else np.full(self.indices.size, -1, dtype=np.int64))
        self.frames = int(frames)
        self.transform = transform
        self.train_transform = train_transform
        self.sampling = sampling
        self.train = train_transform is not None if train is None else bool(train)
        self.seed = int(seed)
        self.epoch = 0
        self.persons = skeleton_set.persons()
        keep = skeleton_set.in_memory if cache is None else cache
        self._cache: dict[int, np.ndarray] | None = {} if keep else None

    def __len__(self) -> int:
        return int(self.indices.size)

    def __repr__(self) -> str:
        """One line: item count, label and its classes, item shape, sampling, source."""
        names = self.set.label_names.get(self.label) if self.label is not None else None
        classes = (None if self.label is None
                   else len(names) if names else len(np.unique(self.labels)))
        return (f"SkeletonDataset(n={len(self)}, label={self.label!r}, classes={classes}, "
                f"frames={self.frames}, joints={self.set.layout.num_joints}, "
                f"persons={self.persons}, sampling={self.sampling!r}, train={self.train}, "
                f"source={self.set.source!r})")

    def set_epoch(self, epoch: int) -> None:
        """Choose the augmentation draw (crops, rotations) of the coming epoch."""
        self.epoch = int(epoch)

    def _clip(self, i: int) -> np.ndarray:
        if self._cache is not None and i in self._cache:
            return self._cache[i]
        data = self.set.samples[i].data
        if self.transform is not None:
            data = self.transform(data, None)
        if self._cache is not None:
            self._cache[i] = data
        return data

    def __getitem__(self, item: int) -> tuple[torch.Tensor, int, int]:
        i = int(self.indices[item])
        rng = np.random.default_rng([self.seed, self.epoch, i]) if self.train else None
        x, length = fix_frames(self._clip(i), self.frames, self.sampling, rng)
        if self.train and self.train_transform is not None:
            x = self.train_transform(x, rng)
        if x.shape[3] < self.persons:
            x = np.concatenate(
                [x, np.zeros((*x.shape[:3], self.persons - x.shape[3]), dtype=x.dtype)], axis=3)
        return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)), \
            int(self.labels[item]), int(length)


def collate(batch: Sequence[tuple[torch.Tensor, int, int]]
            ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Stack items into ``(x (N, C, T, V, M), y (N,) int64, lengths (N,) int64)``."""
    xs, ys, lengths = zip(*batch, strict=True)
    return (torch.stack(xs), torch.tensor(ys, dtype=torch.int64),
            torch.tensor(lengths, dtype=torch.int64))


def to_tensor_batch(skeleton_set: SkeletonSet, frames: int, label: str | None = None,
                    transform: Transform | None = None, sampling: str = "resample",
                    indices: Sequence[int] | np.ndarray | None = None
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The whole set (or `indices`) as one batch, without augmentation.

    Returns:
        x (N, C, frames, V, M) float32, labels (N,) int64 (−1 when `label` is None),
        lengths (N,) int64 — the order of `collate` and `ela.training.run.run_inputs`.
    """
    ds = SkeletonDataset(skeleton_set, label, frames, transform=transform, indices=indices,
                         sampling=sampling, cache=False)
    if len(ds) == 0:
        raise ElaError("to_tensor_batch: no samples")
    return collate([ds[k] for k in range(len(ds))])


def clip_id(sample: Sample, index: int) -> str:
    """The clip a sample comes from, for grouped splits.

    ``meta["name"]`` (every reader's unique file stem, kept by windows), else
    ``meta["clip"]``, else the sample's `index`. The name comes first because it is unique
    per file, while a reader's ``clip`` field need not be.
    """
    for key in ("name", "clip"):
        if sample.meta.get(key) is not None:
            return str(sample.meta[key])
    return str(index)


def windows(sample: Sample, frames: int, stride: int, index: int = 0) -> list[Sample]:
    """Cut one clip's valid frames into windows of `frames` frames every `stride` frames.

    A last window ending at the clip's end is added when the stride leaves a tail
    uncovered; a clip shorter than `frames` gives one (shorter) window and an empty clip
    none. Windows are views
    of the clip's array and carry its labels and meta, plus ``meta["clip"]`` (see
    `clip_id`; `index` is the fallback id) and ``meta["window"]`` = (start, stop) frames.
    """
    if int(frames) < 1 or int(stride) < 1:
        raise ElaError(f"windows: frames and stride must be positive, got {frames}, {stride}")
    length = valid_length(sample.data)
    if length == 0:
        return []
    starts = list(range(0, max(length - frames, 0) + 1, stride))
    if length > frames and starts[-1] + frames < length:
        starts.append(length - frames)
    clip = clip_id(sample, index)
    return [
        Sample(sample.data[:, s:min(s + frames, length)], dict(sample.labels),
               {**sample.meta, "clip": clip, "window": (s, min(s + frames, length))})
        for s in starts
    ]


def window_set(skeleton_set: SkeletonSet, frames: int, stride: int) -> SkeletonSet:
    """A new set of the windows of every clip (see `windows`); same layout and labels."""
    samples = [w for i, s in enumerate(skeleton_set.samples)
               for w in windows(s, frames, stride, index=i)]
    return SkeletonSet(samples, skeleton_set.layout, skeleton_set.label_names,
                       list(skeleton_set.skipped), skeleton_set.fps, skeleton_set.source)
