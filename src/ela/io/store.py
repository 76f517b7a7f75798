"""The dataset store: one HDF5 file holding a dataset larger than memory, ragged, read lazily.

Why HDF5 (h5py): one self-describing file that every scientific stack reads, chunked
datasets that grow while samples are appended (no padding, no second pass), and reads of any
frame range without touching the rest. Arrow needs fixed-size list nesting for (V, C, M) and
Zarr a folder of thousands of chunk files; the npz (`ela.io.npz`) stays for small sets.

Layout of the file (``attrs["format"] == "ela-store"``, ``attrs["version"] == 1``):

============== ========================================================================
``frames``     (total frames, V, C, M) float32, chunked: every sample's frames one after
               the other (frame-major, so a sample is one contiguous slice), metres
``offsets``    (N + 1,) int64: sample i is ``frames[offsets[i]:offsets[i + 1]]``
``labels/K``   (N,) int64 per label key K (−1: unlabelled); its class names in
               ``attrs["label_names"]`` (JSON) of the file
``names``      (N,) str: each sample's ``meta["name"]`` (its file stem)
``meta``       (N,) str: each sample's metadata as JSON
attrs          ``layout`` (name), ``layout_json``, ``fps`` (NaN: unknown), ``source``,
               ``skipped`` (JSON [[file, reason], …]), ``persons`` (M), ``channels`` (C),
               ``digest`` (`ela.io.base.digest_start` over the samples as read back)
============== ========================================================================

`StoreWriter` appends samples as they arrive (buffered, a few MB at a time) into a temporary
file renamed onto the target when closed, so a store under its final name is always
complete. `StoreSet` is a `SkeletonSet` whose samples are read when asked for: memory stays
flat in N (labels, offsets and names are held, each sample's frames are not). An h5py
handle is never shared between processes: each process (a DataLoader worker) opens its own.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ela.errors import DataFormatError, LayoutError
from ela.io.base import (
    UNLABELLED,
    LazySample,
    ReadResult,
    Sample,
    SkeletonSet,
    digest_sample,
    digest_start,
)
from ela.io.npz import jsonable, layout_to_json
from ela.skeleton.checks import data_warnings
from ela.skeleton.layout import Layout
from ela.skeleton.layouts import LAYOUTS

FORMAT = "ela-store"
VERSION = 1
CHUNK_FRAMES = 1024
"""Frames per HDF5 chunk of ``frames`` (about 600 KB for 25 joints × 3 × 2 persons)."""
FLUSH_FRAMES = 16384
"""Frames buffered by `StoreWriter` before they are written."""
BLOCK_FRAMES = 65536
"""Frames read at once by the sequential passes (`StoreSet.summary`, iteration)."""
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


STORE_NAMES = ("store", "store.h5")
"""File names under which a folder given as data holds its store."""


def is_store(path: str | Path) -> bool:
    """True when `path` is a file that starts with the HDF5 signature."""
    p = Path(path)
    if not p.is_file():
        return False
    with open(p, "rb") as fh:
        return fh.read(8) == HDF5_MAGIC


def store_file(path: str | Path) -> Path | None:
    """The store `path` names: the file itself, or a folder's `STORE_NAMES` file; None when
    it names none."""
    p = Path(path)
    if p.is_dir():
        return next((p / n for n in STORE_NAMES if is_store(p / n)), None)
    return p if is_store(p) else None


def layout_from_json(path: Path, name: str, text: str) -> Layout:
    """The registered layout `name`, else the one `text` (`layout_to_json`) describes."""
    if name in LAYOUTS:
        return LAYOUTS[name]
    try:
        spec = json.loads(text)
        return Layout(name=spec["name"], joints=tuple(spec["joints"]),
                      parents=tuple(spec["parents"]), centre=spec["centre"],
                      pairs=tuple(tuple(p) for p in spec["pairs"]),
                      zero_bones=frozenset(spec["zero_bones"]), up_axis=spec["up_axis"])
    except (json.JSONDecodeError, KeyError, TypeError, LayoutError) as err:
        raise DataFormatError(path, f"bad layout_json: {err}") from None


class StoreWriter:
    """Append samples to a new store at `path` (a context manager; `close` publishes it).

    Args:
        path: the store file (replaced atomically when closed; nothing is left under this
            name when writing fails).
        layout: the samples' layout; every sample is (C, T, V, M) with V its joints.
        label_names: class names per label key; a sample lacking a key gets −1.
        fps: frame rate (None: unknown). source: where the data came from.
        persons: M of the store (default: the first sample's); a sample with fewer persons
            is zero-padded, one with more is an error.
    """

    def __init__(self, path: str | Path, layout: Layout,
                 label_names: dict[str, list[str]] | None = None, fps: float | None = None,
                 source: str = "", persons: int | None = None):
        self.path = Path(path)
        self.layout = layout
        self.label_names = {k: list(v) for k, v in (label_names or {}).items()}
        self.fps, self.source, self.persons = fps, source, persons
        self.channels: int | None = None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp",
                                   dir=self.path.parent)
        os.close(fd)
        self._tmp = Path(tmp)
        self._h5 = h5py.File(self._tmp, "w")
        self._digest = digest_start(layout.name, self.label_names)
        self._buffer: list[np.ndarray] = []
        self._buffered = 0
        self._total = 0
        self._offsets = [0]
        self._labels: dict[str, list[int]] = {k: [] for k in self.label_names}
        self._names: list[str] = []
        self._meta: list[str] = []
        self.count = 0

    def __enter__(self) -> StoreWriter:
        return self

    def __exit__(self, kind, value, traceback) -> None:
        if kind is None and self._h5.id.valid:
            self.close()
        elif kind is not None:
            self.abort()

    def _create(self, c: int, m: int) -> None:
        v = self.layout.num_joints
        self.channels, self.persons = c, m
        self._frames = self._h5.create_dataset(
            "frames", shape=(0, v, c, m), maxshape=(None, v, c, m), dtype=np.float32,
            chunks=(CHUNK_FRAMES, v, c, m))

    def append(self, sample: Sample) -> None:
        """Add one sample: data (C, T, V, M) float32 metres, labels, meta (JSON-able)."""
        data = np.asarray(sample.data, dtype=np.float32)
        if data.ndim != 4 or data.shape[2] != self.layout.num_joints or data.shape[1] < 1:
            raise DataFormatError(self.path, f"sample {self.count}: data must be (C, T, "
                                             f"{self.layout.num_joints}, M), got {data.shape}")
        c, t, _, m = data.shape
        if self.channels is None:
            self._create(c, self.persons or m)
        if c != self.channels or m > self.persons:
            raise DataFormatError(self.path, f"sample {self.count} is {data.shape}; the store "
                                             f"holds C = {self.channels}, M ≤ {self.persons}")
        if m < self.persons:
            data = np.concatenate([data, np.zeros((c, t, data.shape[2], self.persons - m),
                                                  np.float32)], axis=3)
        try:
            meta_text = json.dumps(sample.meta, default=jsonable)
        except TypeError as err:
            raise DataFormatError(self.path, f"sample metadata cannot be written: {err}") \
                from None
        meta = json.loads(meta_text)
        labels = {k: int(sample.labels.get(k, UNLABELLED)) for k in self.label_names}
        digest_sample(self._digest, labels, meta, data)
        for k, value in labels.items():
            self._labels[k].append(value)
        self._names.append(str(sample.meta.get("name", self.count)))
        self._meta.append(meta_text)
        self._buffer.append(data.transpose(1, 2, 0, 3))  # (T, V, C, M)
        self._buffered += t
        self._total += t
        self._offsets.append(self._total)
        self.count += 1
        if self._buffered >= FLUSH_FRAMES:
            self._flush()

    def _flush(self) -> None:
        if not self._buffer:
            return
        block = np.concatenate(self._buffer)
        start = self._frames.shape[0]
        self._frames.resize(start + len(block), axis=0)
        self._frames[start:] = block
        self._buffer, self._buffered = [], 0

    def close(self, skipped: Sequence[tuple[str, str]] = ()) -> Path:
        """Write the index and attributes, publish the store under `path`; returns it."""
        if self.count == 0:
            self.abort()
            raise DataFormatError(self.path, "no samples to write")
        self._flush()
        h = self._h5
        h.create_dataset("offsets", data=np.asarray(self._offsets, dtype=np.int64))
        group = h.create_group("labels")
        for k, values in self._labels.items():
            group.create_dataset(k, data=np.asarray(values, dtype=np.int64))
        text = h5py.string_dtype()
        h.create_dataset("names", data=np.array(self._names, dtype=object), dtype=text)
        h.create_dataset("meta", data=np.array(self._meta, dtype=object), dtype=text)
        attrs = h.attrs
        attrs.update({"format": FORMAT, "version": VERSION, "layout": self.layout.name,
                      "layout_json": layout_to_json(self.layout),
                      "label_names": json.dumps(self.label_names),
                      "fps": float("nan") if self.fps is None else float(self.fps),
                      "source": self.source, "persons": int(self.persons),
                      "channels": int(self.channels),
                      "skipped": json.dumps([list(s) for s in skipped]),
                      "digest": self._digest.hexdigest()})
        h.close()
        os.chmod(self._tmp, 0o644)
        os.replace(self._tmp, self.path)
        return self.path

    def abort(self) -> None:
        """Drop what was written (the target path is left as it was)."""
        if self._h5.id.valid:
            self._h5.close()
        self._tmp.unlink(missing_ok=True)


def write_store(skeleton_set: SkeletonSet, path: str | Path) -> Path:
    """Write a whole set as a store (see `StoreWriter` to write while reading)."""
    with StoreWriter(path, skeleton_set.layout, skeleton_set.label_names, skeleton_set.fps,
                     skeleton_set.source) as writer:
        for sample in skeleton_set.samples:
            writer.append(sample)
        return writer.close(skeleton_set.skipped)


class StoreSamples(Sequence):
    """The samples of a `StoreSet` as a lazy sequence of `LazySample`s."""

    def __init__(self, store: StoreSet):
        self.store = store

    def __len__(self) -> int:
        return len(self.store.index)

    def __getitem__(self, item):
        if isinstance(item, slice):
            return [self[k] for k in range(*item.indices(len(self)))]
        store = self.store
        k = int(store.index[item])
        return LazySample(lambda: store.read_row(k), store.row_labels(k),
                          store.row_meta(k), store.row_frames(k))

    def __iter__(self) -> Iterator[Sample]:
        """The samples in order, their metadata read 8192 rows at a time, their
        coordinates not read until asked for (`loaded` reads them block-wise)."""
        store = self.store
        rows = store.index.tolist()
        for lo in range(0, len(rows), 8192):
            part = rows[lo:lo + 8192]
            for k, meta in zip(part, store.rows_meta(part), strict=True):
                yield LazySample(lambda k=k: store.read_row(k), store.row_labels(k), meta,
                                 store.row_frames(k))

    def loaded(self) -> Iterator[Sample]:
        """The samples in order with their coordinates, read a block of rows at a time."""
        store = self.store
        for rows, arrays in store.blocks():
            for k, meta, data in zip(rows, store.rows_meta(rows), arrays, strict=True):
                yield Sample(data, store.row_labels(k), meta)


class StoreSet(SkeletonSet):
    """A store (see the module docstring) opened as a lazy `SkeletonSet`.

    Holds the offsets (N + 1,), the labels (N,) per key and the names; each sample's
    (C, T, V, M) float32 coordinates (metres) are read when asked for. `index` maps the
    set's samples to the store's rows (a `subset` is a view). Raises DataFormatError on a
    file that is not a store of this version or whose index is inconsistent.
    """

    in_memory = False

    def __init__(self, path: str | Path, index: np.ndarray | None = None):
        self.path = store_file(path) or Path(path)
        self._h5: h5py.File | None = None
        self._pid = os.getpid()
        try:
            h = self._file()
            attrs = dict(h.attrs)
            if attrs.get("format") != FORMAT:
                raise DataFormatError(self.path, f"not an ela store (format "
                                                 f"{attrs.get('format')!r})")
            if int(attrs.get("version", 0)) != VERSION:
                raise DataFormatError(self.path, f"store version {attrs.get('version')}, this "
                                                 f"ela reads version {VERSION}")
            self.offsets = np.asarray(h["offsets"][()], dtype=np.int64)
            self._labels = {k: np.asarray(v[()], dtype=np.int64)
                            for k, v in h["labels"].items()}
            self.names = np.asarray(h["names"].asstr()[()], dtype=object)
            frames_shape = h["frames"].shape
            layout = layout_from_json(self.path, str(attrs["layout"]),
                                      str(attrs.get("layout_json", "")))
            label_names = json.loads(attrs["label_names"])
            skipped = [(str(f), str(r)) for f, r in json.loads(attrs.get("skipped", "[]"))]
            fps = float(attrs.get("fps", float("nan")))
            self.digest = str(attrs.get("digest", ""))
            self.total_persons = int(attrs["persons"])
        except (OSError, KeyError, ValueError, TypeError) as err:
            raise DataFormatError(self.path, f"cannot read as an ela store: {err}") from None
        n = len(self.offsets) - 1
        if n < 1 or self.offsets[0] != 0 or self.offsets[-1] != frames_shape[0] \
                or (np.diff(self.offsets) < 1).any():
            raise DataFormatError(self.path, f"offsets must rise from 0 to the {frames_shape[0]} "
                                             "frames, every sample at least one frame")
        for k, y in self._labels.items():
            if y.shape != (n,) or k not in label_names:
                raise DataFormatError(self.path, f"labels/{k} must be ({n},) with names")
            if y.min() < UNLABELLED or y.max() >= len(label_names[k]):
                raise DataFormatError(self.path, f"labels/{k} has values outside 0.."
                                                 f"{len(label_names[k]) - 1} and -1")
        if frames_shape[1] != layout.num_joints:
            raise DataFormatError(self.path, f"frames have {frames_shape[1]} joints, layout "
                                             f"{layout.name} has {layout.num_joints}")
        self.index = np.arange(n) if index is None else np.asarray(index, dtype=np.int64)
        self._meta_rows: dict[int, dict[str, Any]] = {}
        super().__init__(StoreSamples(self), layout, label_names, skipped,
                         None if math.isnan(fps) else fps, str(self.path))

    def _file(self) -> h5py.File:
        """This process's handle (reopened in a new process: handles do not survive fork)."""
        if self._h5 is None or self._pid != os.getpid():
            self._h5 = h5py.File(self.path, "r", rdcc_nbytes=8 << 20)
            self._pid = os.getpid()
        return self._h5

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_h5"] = None
        state["_meta_rows"] = {}
        return state

    def close(self) -> None:
        """Close this process's handle (it reopens when a sample is read again)."""
        if self._h5 is not None and self._pid == os.getpid():
            self._h5.close()
        self._h5 = None

    def row_frames(self, row: int) -> int:
        return int(self.offsets[row + 1] - self.offsets[row])

    def row_labels(self, row: int) -> dict[str, int]:
        return {k: int(y[row]) for k, y in self._labels.items()}

    def row_meta(self, row: int) -> dict[str, Any]:
        return json.loads(self._file()["meta"][row])

    def rows_meta(self, rows: list[int]) -> list[dict[str, Any]]:
        """The metadata of `rows` (increasing), read as one range."""
        if not rows:
            return []
        raw = self._file()["meta"][rows[0]:rows[-1] + 1]
        return [json.loads(raw[r - rows[0]]) for r in rows]

    def read_row(self, row: int) -> np.ndarray:
        """Row `row`'s (C, T, V, M) float32 coordinates."""
        block = self._file()["frames"][self.offsets[row]:self.offsets[row + 1]]
        return np.ascontiguousarray(block.transpose(2, 0, 1, 3))

    def blocks(self, frames: int = BLOCK_FRAMES) -> Iterator[tuple[list[int], list[np.ndarray]]]:
        """(rows, their (C, T, V, M) arrays) of the set in order, reading runs of
        consecutive rows up to `frames` frames at once."""
        run: list[int] = []

        def read(rows: list[int]) -> tuple[list[int], list[np.ndarray]]:
            lo, hi = self.offsets[rows[0]], self.offsets[rows[-1] + 1]
            block = self._file()["frames"][lo:hi]
            return rows, [np.ascontiguousarray(
                block[self.offsets[r] - lo:self.offsets[r + 1] - lo].transpose(2, 0, 1, 3))
                for r in rows]

        for row in self.index.tolist():
            if run and (row != run[-1] + 1
                        or self.offsets[row + 1] - self.offsets[run[0]] > frames):
                yield read(run)
                run = []
            run.append(row)
        if run:
            yield read(run)

    def __len__(self) -> int:
        return len(self.index)

    def persons(self) -> int:
        return self.total_persons

    def content_digest(self) -> str:
        whole = len(self.index) == len(self.offsets) - 1 and \
            bool((self.index == np.arange(len(self.index))).all())
        if whole and self.digest:
            return self.digest
        h = digest_start(self.layout.name, self.label_names)
        for sample in self.samples.loaded():
            digest_sample(h, sample.labels, sample.meta, sample.data)
        return h.hexdigest()

    def labels(self, key: str) -> np.ndarray:
        if key not in self._labels:
            raise DataFormatError(self.source, f"no label {key!r}; labels here: "
                                               f"{sorted(self._labels)}")
        return self._labels[key][self.index]

    def meta(self, key: str) -> list[Any]:
        raw = self._file()["meta"].asstr()
        out: list[Any] = []
        step = 8192
        for lo in range(0, len(self.offsets) - 1, step):
            out.extend(json.loads(m).get(key) for m in raw[lo:lo + step])
        return [out[r] for r in self.index.tolist()]

    def subset(self, indices) -> StoreSet:
        view = StoreSet.__new__(StoreSet)
        view.__dict__.update(self.__getstate__())
        view.index = self.index[np.asarray(indices, dtype=np.int64)]
        view.samples = StoreSamples(view)
        return view

    def summary(self) -> dict[str, Any]:
        """`SkeletonSet.summary` computed in one pass over blocks of rows: no array the size
        of the set is made. Raises DataFormatError naming the first sample with a NaN or
        infinite value, or one that is all zero."""
        frames = np.diff(self.offsets)[self.index]
        persons: Counter[int] = Counter()

        def checked() -> Iterator[np.ndarray]:
            for rows, arrays in self.blocks():
                for r, x in zip(rows, arrays, strict=True):
                    if not np.isfinite(x).all():
                        raise DataFormatError(self.path, f"sample {r} ({self.names[r]}) holds "
                                                         "NaN or infinite values")
                    moving = np.abs(x).max(axis=(0, 1, 2)) > 0
                    if not moving.any():
                        raise DataFormatError(self.path, f"sample {r} ({self.names[r]}) is "
                                                         "all zero")
                    persons[int(moving.sum())] += 1
                    yield x

        checks, warnings = data_warnings(checked(), self.layout)
        label_counts = {}
        for key, names in self.label_names.items():
            counts = Counter(self.labels(key).tolist())
            label_counts[key] = {("(unlabelled)" if k == UNLABELLED else names[k]
                                  if 0 <= k < len(names) else str(k)): n
                                 for k, n in sorted(counts.items())}
        return {
            "source": self.source, "samples": len(self.index), "layout": self.layout.name,
            "joints": self.layout.num_joints, "channels": int(self._file()["frames"].shape[2]),
            "frames": {"min": int(frames.min()), "median": float(np.median(frames)),
                       "max": int(frames.max())},
            "persons": dict(persons), "fps": self.fps, "labels": label_counts,
            "skipped": [{"file": f, "reason": r} for f, r in self.skipped],
            "checks": checks, "warnings": warnings,
        }


def open_store(path: str | Path) -> ReadResult:
    """Stream the samples of a store in order (validated index; see `StoreSet`)."""
    store = StoreSet(path)
    return ReadResult(store.samples.loaded(), store.layout, store.label_names, store.skipped,
                      store.fps, store.source)
