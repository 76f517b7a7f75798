"""Readers for skeleton data formats, and the canonical `.npz` writer.

``read(path)`` detects the format and collects a `SkeletonSet`; ``open_reader(path, format)``
streams (`samples` is a generator; bad files go to `skipped` with a reason). A single bad
file given directly raises `DataFormatError`. Formats (see each module's docstring for
axes and units):

======== ===============================================================================
ntu      NTU RGB+D ``.skeleton`` text (folder or file), (3, T, 25, 2) metres
ntu-npy  2s-AGCN/ST-GCN ``.npy`` (N, C, T, V, M) + ``(names, labels)`` ``.pkl``
kinetics Kinetics-skeleton JSON folder (+ label JSON), (x, y, score), openpose18
pyskl    pyskl annotation pickle (2D or 3D keypoints)
msr      MSR Action3D ``*_skeleton3D.txt``, (3, T, 20, 1) metres, lost frames filled
bvh      generic BVH (forward kinematics), no labels
bandai   Bandai-Namco motion dataset 1/2 folder: content and style labels, bandai21
npz      the project's own ``.npz`` (`write_npz`)
store    the project's HDF5 store for sets larger than memory (`ela.io.store`), read lazily
======== ===============================================================================
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ela.errors import DataFormatError
from ela.io.bandai import NAME_RE as BANDAI_NAME
from ela.io.bandai import find_cfg, open_bandai
from ela.io.base import (
    UNLABELLED,
    ReadResult,
    Sample,
    SkeletonSet,
    check_finite,
    iter_files,
    require_labels,
)
from ela.io.bvh import BvhMotion, forward_kinematics, open_bvh, read_bvh
from ela.io.kinetics import open_kinetics
from ela.io.mapping import map_set
from ela.io.msr import open_msr
from ela.io.npz import open_npz, write_npz
from ela.io.ntu import open_ntu, parse_skeleton_file
from ela.io.ntu_npy import open_ntu_npy
from ela.io.pyskl import open_pyskl
from ela.io.store import StoreSet, StoreWriter, is_store, open_store, store_file, write_store

FORMATS: dict[str, Callable[..., ReadResult]] = {
    "ntu": open_ntu,
    "ntu-npy": open_ntu_npy,
    "kinetics": open_kinetics,
    "pyskl": open_pyskl,
    "msr": open_msr,
    "bvh": open_bvh,
    "bandai": open_bandai,
    "npz": open_npz,
    "store": open_store,
}


def _has(folder: Path, pattern: str) -> bool:
    return next(folder.rglob(pattern), None) is not None


def _is_bandai(path: Path) -> bool:
    try:
        find_cfg(path)
    except DataFormatError:
        return False
    return path.is_dir() or BANDAI_NAME.match(path.stem) is not None


def detect_format(path: str | Path) -> str:
    """The format name of a file or folder, from names and extensions only."""
    p = Path(path)
    if not p.exists():
        raise DataFormatError(p, "no such file or folder")
    name = p.name.lower()
    if store_file(p) is not None:
        return "store"
    if p.is_file():
        by_suffix = {".npz": "npz", ".skeleton": "ntu", ".npy": "ntu-npy", ".pkl": "pyskl",
                     ".pickle": "pyskl", ".json": "kinetics"}
        if name.endswith("_skeleton3d.txt"):
            return "msr"
        if p.suffix.lower() == ".bvh":
            return "bandai" if _is_bandai(p) else "bvh"
        if p.suffix.lower() in by_suffix:
            return by_suffix[p.suffix.lower()]
    elif _is_bandai(p):
        return "bandai"
    else:
        for pattern, fmt in (("*.skeleton", "ntu"), ("*_skeleton3D.txt", "msr"),
                             ("*.bvh", "bvh"), ("*.json", "kinetics")):
            if _has(p, pattern):
                return fmt
    raise DataFormatError(p, f"cannot tell the format; pass --format (format= in Python), "
                             f"one of {', '.join(FORMATS)}")


def open_reader(path: str | Path, format: str, **opts: Any) -> ReadResult:
    """Open `path` with the reader called `format` (a key of `FORMATS`), streaming."""
    if format not in FORMATS:
        raise DataFormatError(path, f"unknown format {format!r}; known: {', '.join(FORMATS)}")
    opener = FORMATS[format]
    try:
        inspect.signature(opener).bind(path, **opts)
    except TypeError as err:
        raise DataFormatError(path, f"bad option for format {format!r}: {err}") from None
    return opener(path, **opts)


def read(path: str | Path, format: str | None = None, **opts: Any) -> SkeletonSet:
    """Read a whole dataset (`format` detected from the path when None) into memory; a
    store is opened lazily instead (`StoreSet`: each sample read when asked for)."""
    format = format or detect_format(path)
    if format == "store" and not opts:
        return StoreSet(path)
    return open_reader(path, format, **opts).collect()


__all__ = [
    "FORMATS", "UNLABELLED", "BvhMotion", "ReadResult", "Sample", "SkeletonSet", "StoreSet",
    "StoreWriter", "check_finite", "detect_format", "forward_kinematics", "is_store",
    "iter_files", "map_set", "open_reader", "parse_skeleton_file", "read", "read_bvh",
    "require_labels", "write_npz", "write_store",
]
