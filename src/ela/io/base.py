"""What every reader returns: samples of (C, T, V, M) arrays with labels and metadata.

Readers are generators of `Sample`s (streaming over large folders) plus a list of skipped
files with reasons; `SkeletonSet` collects them. Arrays are float32, metres, y up unless the
reader's docstring says otherwise; absent persons and lost frames are all-zero and the
sample's metadata says which frames were lost or filled. A label value of `UNLABELLED` (−1)
means the file did not say (e.g. Kinetics clips packed with ``label_index: -1``): such sets
read, convert and can be attacked with the model's prediction as the label, but
`require_labels` refuses them for training.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from ela.errors import DataFormatError, ElaError
from ela.skeleton.checks import data_warnings
from ela.skeleton.layout import Layout

UNLABELLED = -1  # the label value of a sample whose file gives no label
WHERE_KEYS = ("file", "path")
"""Sample metadata that says where a file lies, not what it holds (left out of digests)."""


@dataclass
class Sample:
    """One sequence: `data` (C, T, V, M) float32, integer `labels` by label name, `meta`."""

    data: np.ndarray
    labels: dict[str, int] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def frames(self) -> int:
        return int(self.data.shape[1])

    def __repr__(self) -> str:
        name = self.meta.get("name") or self.meta.get("file")
        return (f"Sample(shape={tuple(self.data.shape)}, labels={self.labels}"
                + (f", name={name!r})" if name else ")"))


class LazySample(Sample):
    """A `Sample` whose `data` (C, T, V, M) is read only when asked for (a store's sample):
    labels, meta and the frame count are at hand without reading the joint coordinates."""

    def __init__(self, read: Callable[[], np.ndarray], labels: dict[str, int],
                 meta: dict[str, Any], frames: int):
        self._read = read
        self.labels = labels
        self.meta = meta
        self._frames = int(frames)

    @property
    def data(self) -> np.ndarray:  # type: ignore[override]
        return self._read()

    @property
    def frames(self) -> int:
        return self._frames


def digest_start(layout_name: str, label_names: dict[str, list[str]]) -> Any:
    """The BLAKE2b (16 bytes) of a set's content, started with its layout and label names;
    feed every sample with `digest_sample` (the digest of `data_fingerprint`)."""
    h = hashlib.blake2b(digest_size=16)
    h.update(json.dumps([layout_name, label_names], sort_keys=True, default=str).encode())
    return h


def digest_sample(h: Any, labels: dict[str, int], meta: dict[str, Any],
                  data: np.ndarray) -> None:
    """Add one sample (labels, meta less `WHERE_KEYS`, shape, dtype, coordinates) to `h`."""
    kept = {k: v for k, v in meta.items() if k not in WHERE_KEYS}
    h.update(json.dumps([labels, kept, data.shape, str(data.dtype)], sort_keys=True,
                        default=str).encode())
    h.update(np.ascontiguousarray(data).data)


@dataclass
class SkeletonSet:
    """A dataset: samples, their layout, label names and skipped files.

    `samples` is a list held in memory, or a lazy sequence (`ela.io.store.StoreSet`: each
    sample's coordinates read when asked for, `in_memory` False).
    """

    samples: Sequence[Sample]
    layout: Layout
    label_names: dict[str, list[str]] = field(default_factory=dict)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    fps: float | None = None
    source: str = ""

    in_memory = True
    """False for a set read lazily from disk: datasets then keep no cache of its samples."""

    def __len__(self) -> int:
        return len(self.samples)

    def __repr__(self) -> str:
        """One line: sample count, classes per label, longest sample (frames), joints,
        most persons, layout and source — never the arrays."""
        classes = ", ".join(f"{key}: {len(names)}" for key, names in self.label_names.items())
        frames = max((s.frames for s in self.samples), default=0)
        # a lazy set's persons would need every sample's coordinates read
        persons = f"persons≤{self.persons()}, " if self.in_memory else ""
        return (f"SkeletonSet(n={len(self.samples)}, classes={{{classes}}}, frames≤{frames}, "
                f"joints={self.layout.num_joints}, {persons}"
                f"layout={self.layout.name}, source={self.source!r})")

    def persons(self) -> int:
        """M, the most persons of any sample (1 for an empty set)."""
        return max((s.data.shape[3] for s in self.samples), default=1)

    def content_digest(self) -> str:
        """Hex digest of every sample's labels, metadata and coordinates, the label names
        and the layout (`digest_start`, `digest_sample`)."""
        h = digest_start(self.layout.name, self.label_names)
        for sample in self.samples:
            digest_sample(h, sample.labels, sample.meta, sample.data)
        return h.hexdigest()

    def labels(self, key: str) -> np.ndarray:
        """(N,) int64 labels called `key` (e.g. ``"action"``, ``"content"``, ``"style"``).

        Unlabelled samples hold `UNLABELLED` (−1), never a class index: check with
        `require_labels` before using the labels as classes.
        """
        try:
            return np.array([s.labels[key] for s in self.samples], dtype=np.int64)
        except KeyError:
            have = sorted(self.label_names) or sorted({k for s in self.samples for k in s.labels})
            raise DataFormatError(self.source, f"no label {key!r}; labels here: {have}") from None

    def meta(self, key: str) -> list[Any]:
        """Per-sample metadata values for `key` (None where a sample lacks it)."""
        return [s.meta.get(key) for s in self.samples]

    def replaced(self, **changes: Any) -> SkeletonSet:
        """A `SkeletonSet` with these fields (samples, layout, label_names, …) changed;
        a store's subclass gives a plain set too (`dataclasses.replace` would not)."""
        values = {f.name: getattr(self, f.name) for f in fields(SkeletonSet)}
        return SkeletonSet(**{**values, **changes})

    def subset(self, indices) -> SkeletonSet:
        """A new set holding the samples at `indices` (same layout and label names)."""
        return SkeletonSet(
            samples=[self.samples[int(i)] for i in indices], layout=self.layout,
            label_names=self.label_names, skipped=list(self.skipped), fps=self.fps,
            source=self.source,
        )

    def to_array(self, frames: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Zero-padded (N, C, T, V, M) float32 array and (N,) lengths.

        T is `frames` (longer samples are cut) or the longest sample.
        """
        if not self.samples:
            raise DataFormatError(self.source, "no samples to stack")
        c = self.samples[0].data.shape[0]
        v = self.layout.num_joints
        m = max(s.data.shape[3] for s in self.samples)
        t = frames or max(s.frames for s in self.samples)
        out = np.zeros((len(self.samples), c, t, v, m), dtype=np.float32)
        lengths = np.zeros(len(self.samples), dtype=np.int64)
        for i, s in enumerate(self.samples):
            k = min(t, s.frames)
            out[i, :, :k, :, : s.data.shape[3]] = s.data[:, :k]
            lengths[i] = k
        return out, lengths

    def summary(self) -> dict[str, Any]:
        """Counts for `ela data info`: samples, joints, frames, persons, labels, skipped.

        Also ``checks`` (counts of `ela.skeleton.checks.data_warnings`: joints zero in every
        frame, head below the hips, left/right bones of different length) and ``warnings``
        (those problems in words). Unlabelled samples count as ``"(unlabelled)"``.
        """
        frames = np.array([s.frames for s in self.samples]) if self.samples else np.zeros(1)
        label_counts = {}
        for key, names in self.label_names.items():
            counts = Counter(s.labels.get(key) for s in self.samples)
            label_counts[key] = {
                _class_name(k, names): n
                for k, n in sorted(counts.items(), key=lambda kv: (kv[0] is None, kv[0]))
            }
        checks, warnings = data_warnings([s.data for s in self.samples], self.layout)
        return {
            "source": self.source,
            "samples": len(self.samples),
            "layout": self.layout.name,
            "joints": self.layout.num_joints,
            "channels": int(self.samples[0].data.shape[0]) if self.samples else 0,
            "frames": {"min": int(frames.min()), "median": float(np.median(frames)),
                       "max": int(frames.max())},
            "persons": dict(Counter(int((np.abs(s.data).sum(axis=(0, 1, 2)) > 0).sum())
                                    for s in self.samples)),
            "fps": self.fps,
            "labels": label_counts,
            "skipped": [{"file": f, "reason": r} for f, r in self.skipped],
            "checks": checks,
            "warnings": warnings,
        }


def _class_name(k: int | None, names: list[str]) -> str:
    if k == UNLABELLED:
        return "(unlabelled)"
    return names[k] if k is not None and 0 <= k < len(names) else str(k)


def require_labels(skeleton_set: SkeletonSet, label: str, purpose: str = "training") -> None:
    """Raise ElaError when samples of `skeleton_set` have no `label` (or it is `UNLABELLED`).

    The message names the set's source, `purpose`, how many samples are unlabelled and the
    first of their files. A missing label key raises DataFormatError (via `labels`).
    """
    values = skeleton_set.labels(label)
    missing = np.flatnonzero(values == UNLABELLED)
    if missing.size:
        first = skeleton_set.samples[int(missing[0])].meta
        where = first.get("file") or first.get("name") or f"sample {int(missing[0])}"
        raise ElaError(f"{skeleton_set.source}: {missing.size} of {len(values)} samples have no "
                       f"{label!r} label (unlabelled, e.g. {where}); {purpose} needs labelled "
                       "data")


Reader = Callable[..., "ReadResult"]


@dataclass
class ReadResult:
    """A streaming read: iterate `samples`; `skipped` fills up as bad files are met."""

    samples: Iterator[Sample]
    layout: Layout
    label_names: dict[str, list[str]] = field(default_factory=dict)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    fps: float | None = None
    source: str = ""

    def collect(self) -> SkeletonSet:
        samples = list(self.samples)
        return SkeletonSet(samples, self.layout, self.label_names, self.skipped, self.fps,
                           self.source)


def iter_files(path: str | Path, pattern: str) -> list[Path]:
    """Sorted files under `path` matching `pattern` (or `path` itself if it is a file)."""
    p = Path(path)
    if not p.exists():
        raise DataFormatError(p, "no such file or folder")
    if p.is_file():
        return [p]
    files = sorted(f for f in p.rglob(pattern) if f.is_file())
    if not files:
        raise DataFormatError(p, f"folder holds no {pattern} files")
    return files


def check_finite(path: str | Path, data: np.ndarray) -> np.ndarray:
    """Raise DataFormatError if `data` holds NaN or inf; return it as float32."""
    if not np.isfinite(data).all():
        bad = int((~np.isfinite(data)).sum())
        raise DataFormatError(path, f"{bad} coordinate values are NaN or infinite")
    return data.astype(np.float32, copy=False)
