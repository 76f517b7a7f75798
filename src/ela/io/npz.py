"""The project's canonical dataset file: one `.npz` holding arrays and JSON, no pickles.

Keys: ``data`` (N, C, T, V, M) float32 zero-padded, ``lengths`` (N,) int64, ``layout`` (its
name) and ``layout_json`` (joints, parents, centre, pairs, zero_bones, up_axis: so a layout
that is not registered still loads), for each label key ``label_<key>`` (N,) int64 and
``label_names_<key>`` (K,) str, ``meta`` (JSON list of N dicts), ``skipped`` (JSON list of
[file, reason]), ``fps`` (float, NaN when unknown) and ``source`` (str). A label value of −1
marks an unlabelled sample (`ela.io.base.UNLABELLED`).

Joint order: V follows the layout's joint order (``kinect20`` is the MSR Action3D order).
Files written by other tools may instead name a joint order of `JOINT_ORDERS` as their
``layout`` (``kinect20-sdk``: the Kinect SDK order) or carry ``joint_names`` (V,) str, the
name of each joint of ``data`` in its order; either way the joints are reordered by name
into the layout's order on reading.
"""

from __future__ import annotations

import json
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ela.errors import DataFormatError, LayoutError
from ela.files import atomic_write_npz
from ela.io.base import UNLABELLED, ReadResult, Sample, SkeletonSet
from ela.skeleton.layout import Layout
from ela.skeleton.layouts import JOINT_ORDERS, LAYOUTS
from ela.skeleton.mapping import order_by_name

REQUIRED = ("data", "lengths", "layout", "meta")


def jsonable(value: Any) -> Any:
    """`json.dumps`'s `default` for metadata: numpy scalars and arrays, paths and sets."""
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (Path, set, frozenset)):
        return str(value) if isinstance(value, Path) else sorted(value)
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def layout_to_json(layout: Layout) -> str:
    """The layout as JSON, so that a file of an unregistered layout still loads."""
    return json.dumps({"name": layout.name, "joints": list(layout.joints),
                       "parents": list(layout.parents), "centre": layout.centre,
                       "pairs": [list(p) for p in layout.pairs],
                       "zero_bones": sorted(layout.zero_bones), "up_axis": layout.up_axis})


def write_npz(skeleton_set: SkeletonSet, path: str | Path, frames: int | None = None) -> Path:
    """Write `skeleton_set` to `path` atomically (temporary file, then ``os.replace``).

    `frames` cuts or pads every sample to that many frames (default: the longest).
    """
    path = Path(path)
    data, lengths = skeleton_set.to_array(frames)
    keys = sorted(set(skeleton_set.label_names) | {k for s in skeleton_set.samples
                                                   for k in s.labels})
    arrays: dict[str, np.ndarray] = {
        "data": data, "lengths": lengths, "layout": np.array(skeleton_set.layout.name),
        "layout_json": np.array(layout_to_json(skeleton_set.layout)),
        "fps": np.array(np.nan if skeleton_set.fps is None else skeleton_set.fps),
        "source": np.array(skeleton_set.source),
    }
    try:
        arrays["meta"] = np.array(json.dumps([s.meta for s in skeleton_set.samples],
                                             default=jsonable))
    except TypeError as err:
        raise DataFormatError(path, f"sample metadata cannot be written: {err}") from None
    arrays["skipped"] = np.array(json.dumps([list(s) for s in skeleton_set.skipped]))
    for key in keys:
        arrays[f"label_{key}"] = skeleton_set.labels(key)
        names = skeleton_set.label_names.get(key) or [str(i) for i in
                                                      range(int(arrays[f"label_{key}"].max()) + 1)]
        arrays[f"label_names_{key}"] = np.array(names, dtype=str)
    return atomic_write_npz(path, arrays)


def _joint_order(path: Path, z: Any, layout: Layout, order: tuple[str, ...] | None
                 ) -> np.ndarray | None:
    """Indices that put the file's joints in `layout`'s order (None: already in order)."""
    if "joint_names" in z.files:
        names = z["joint_names"]
        if names.ndim != 1 or names.dtype.kind not in "US":
            raise DataFormatError(path, f"joint_names must be a (V,) array of strings, got "
                                        f"{names.dtype} {names.shape}")
        order = tuple(str(n) for n in names)
    if order is None or order == layout.joints:
        return None
    try:
        return order_by_name(order, layout)
    except LayoutError as err:
        raise DataFormatError(path, str(err)) from None


def _layout(path: Path, z: Any) -> tuple[Layout, np.ndarray | None]:
    """The file's layout and the joint indices that reorder its data (None: in order)."""
    name = str(z["layout"])
    if name in JOINT_ORDERS:
        base, order = JOINT_ORDERS[name]
        return LAYOUTS[base], _joint_order(path, z, LAYOUTS[base], order)
    if name in LAYOUTS:
        return LAYOUTS[name], _joint_order(path, z, LAYOUTS[name], None)
    if "layout_json" not in z:
        raise DataFormatError(path, f"unknown layout {name!r} and no layout_json")
    try:
        spec = json.loads(str(z["layout_json"]))
        layout = Layout(name=spec["name"], joints=tuple(spec["joints"]),
                        parents=tuple(spec["parents"]), centre=spec["centre"],
                        pairs=tuple(tuple(p) for p in spec["pairs"]),
                        zero_bones=frozenset(spec["zero_bones"]), up_axis=spec["up_axis"])
    except (json.JSONDecodeError, KeyError, TypeError, LayoutError) as err:
        raise DataFormatError(path, f"bad layout_json: {err}") from None
    return layout, _joint_order(path, z, layout, None)


def _check(path: Path, z: Any, layout: Layout) -> tuple[np.ndarray, dict, dict, list]:
    """Validated (lengths, labels, label_names, meta) of an open npz."""
    data = z["data"]
    if data.ndim != 5 or data.dtype != np.float32:
        raise DataFormatError(path, f"data must be float32 (N, C, T, V, M), got "
                                    f"{data.dtype} {data.shape}")
    n, _, t, v, _ = data.shape
    if v != layout.num_joints:
        raise DataFormatError(path, f"data has {v} joints, layout {layout.name} has "
                                    f"{layout.num_joints}")
    lengths = z["lengths"]
    if lengths.shape != (n,) or not np.issubdtype(lengths.dtype, np.integer) \
            or (lengths < 1).any() or (lengths > t).any():
        raise DataFormatError(path, f"lengths must be (N,) = ({n},) integers in 1..{t}")
    if not np.isfinite(data).all():
        raise DataFormatError(path, "data holds NaN or infinite values")
    valid = np.arange(t)[None, :] < lengths[:, None]  # (N, T)
    moving = (np.abs(data).max(axis=(1, 3, 4)) > 0) & valid
    if not moving.any(axis=1).all():
        raise DataFormatError(path, f"samples {np.flatnonzero(~moving.any(axis=1)).tolist()} "
                                    "are all zero within their length")
    labels, names = {}, {}
    for key in (k[len("label_"):] for k in z.files if k.startswith("label_")
                and not k.startswith("label_names_")):
        y = z[f"label_{key}"]
        if f"label_names_{key}" not in z.files:
            raise DataFormatError(path, f"label_{key} without label_names_{key}")
        names[key] = [str(s) for s in z[f"label_names_{key}"]]
        if y.shape != (n,) or not np.issubdtype(y.dtype, np.integer):
            raise DataFormatError(path, f"label_{key} must be (N,) = ({n},) integers")
        if n and (y.min() < UNLABELLED or y.max() >= len(names[key])):
            raise DataFormatError(path, f"label_{key} has values outside 0.."
                                        f"{len(names[key]) - 1} (label_names_{key}) and -1 "
                                        "(unlabelled)")
        labels[key] = y
    try:
        meta = json.loads(str(z["meta"]))
    except json.JSONDecodeError as err:
        raise DataFormatError(path, f"meta is not JSON: {err.msg}") from None
    if not isinstance(meta, list) or len(meta) != n or not all(isinstance(m, dict) for m in meta):
        raise DataFormatError(path, f"meta must be a JSON list of {n} records")
    return lengths, labels, names, meta


def open_npz(path: str | Path) -> ReadResult:
    """Stream the samples of an `.npz` written by `write_npz` (validated on opening)."""
    path = Path(path)
    try:
        z = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        # numpy's advice (allow_pickle=True) would be unsafe; match its ValueError only, not
        # any message that happens to hold the word (a path with "pickle" in it)
        if isinstance(err, ValueError) and "allow_pickle" in str(err):
            raise DataFormatError(path, "not an .npz archive: the file is neither a zip "
                                        "archive nor an .npy array (pickled data is never "
                                        "loaded)") from None
        raise DataFormatError(path, f"cannot open as .npz: {err}") from None
    if not isinstance(z, np.lib.npyio.NpzFile):
        raise DataFormatError(path, "a single .npy array, not an .npz archive")
    with z:
        missing = [k for k in REQUIRED if k not in z.files]
        if missing:
            raise DataFormatError(path, f"missing arrays {missing}")
        try:
            layout, order = _layout(path, z)
            lengths, labels, names, meta = _check(path, z, layout)
            data = z["data"] if order is None else z["data"][:, :, :, order]
            fps = float(z["fps"]) if "fps" in z.files else float("nan")
            skipped = [(str(f), str(r)) for f, r in json.loads(str(z["skipped"]))] \
                if "skipped" in z.files else []
        # object arrays, malformed skipped JSON; damaged members fail only when read
        except (ValueError, TypeError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as err:
            raise DataFormatError(path, f"malformed array: {err}") from None

    def samples() -> Iterator[Sample]:
        for i in range(len(data)):
            yield Sample(np.ascontiguousarray(data[i, :, : lengths[i]]),
                         {k: int(y[i]) for k, y in labels.items()}, dict(meta[i]))

    return ReadResult(samples(), layout, names, skipped, None if np.isnan(fps) else fps,
                      str(path))
