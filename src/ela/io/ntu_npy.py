"""2s-AGCN / ST-GCN array pairs: ``<part>_data[_joint].npy`` (N, C, T, V, M) + ``<part>_label.pkl``.

The `.npy` is memory-mapped and streamed sample by sample. The `.pkl` holds
``(sample_names, labels)`` and is unpickled with a restricted unpickler (plain data and numpy
arrays only); a label −1 (st-gcn's packers write it for unlabelled clips) reads as
`UNLABELLED`. Coordinates are passed through unchanged (these arrays are usually NTU
camera-space metres, y up, or Kinetics (x, y, score)). A sample's length is its last frame
holding any non-zero value, + 1; frames after it are padding.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ela.errors import DataFormatError
from ela.io._common import MAX_CLASSES, class_names, ntu_action_names, safe_load_pickle
from ela.io.base import UNLABELLED, ReadResult, Sample
from ela.io.ntu import parse_name
from ela.skeleton.layout import Layout
from ela.skeleton.layouts import get_layout

FPS = 30.0


def label_file_for(data_path: Path) -> Path:
    """The label pickle beside a data array: ``train_data_joint.npy`` -> ``train_label.pkl``."""
    stem = data_path.stem
    part = stem.split("_data")[0] if "_data" in stem else stem
    return data_path.with_name(f"{part}_label.pkl")


def load_labels(path: Path) -> tuple[list[str], list[int]]:
    """(names, labels) from a 2s-AGCN/ST-GCN label pickle, checked."""
    obj = safe_load_pickle(path)
    if not (isinstance(obj, (tuple, list)) and len(obj) == 2):
        raise DataFormatError(path, "label pickle must hold a pair (sample_names, labels)")
    names, labels = obj
    try:
        if len(names) != len(labels):
            raise DataFormatError(path, f"{len(names)} names but {len(labels)} labels")
        labels = [int(x) for x in np.asarray(labels).reshape(-1)]
    except (TypeError, ValueError, OverflowError):
        raise DataFormatError(path, "names and labels must be lists, labels integers") from None
    if labels and not UNLABELLED <= min(labels) <= max(labels) < MAX_CLASSES:
        raise DataFormatError(path, f"labels must lie in 0..{MAX_CLASSES - 1}, or be -1 "
                                    f"(unlabelled), got {min(labels)}..{max(labels)}")
    return [str(n) for n in names], labels


def valid_length(x: np.ndarray) -> int:
    """Frames up to the last non-zero one in a (C, T, V, M) array."""
    nonzero = np.flatnonzero(np.abs(x).sum(axis=(0, 2, 3)) > 0)
    return int(nonzero[-1]) + 1 if nonzero.size else 0


def _samples(path: Path, data: np.ndarray, names: list[str], labels: list[int],
             skipped: list[tuple[str, str]]):
    for i, (name, label) in enumerate(zip(names, labels, strict=True)):
        x = np.asarray(data[i], dtype=np.float32)
        where = f"{path}[{i}] ({name})"
        if not np.isfinite(x).all():
            skipped.append((where, "coordinates hold NaN or infinite values"))
            continue
        length = valid_length(x)
        if length == 0:
            skipped.append((where, "all frames are zero"))
            continue
        meta: dict[str, Any] = {"name": name, "file": str(path), "index": i}
        meta.update(parse_name(name) or {})
        yield Sample(np.array(x[:, :length], dtype=np.float32), {"action": label}, meta)


def open_ntu_npy(path: str | Path, labels: str | Path | None = None,
                 layout: str | Layout = "ntu25",
                 label_names: list[str] | None = None) -> ReadResult:
    """Stream an (N, C, T, V, M) `.npy` with its ``(names, labels)`` pickle.

    Args:
        path: the `.npy` data file.
        labels: the label pickle (default: ``<part>_label.pkl`` beside the data).
        layout: joint layout of V (default ``ntu25``).
        label_names: class names (default: NTU codes for ntu25, else ``class_k``).
    """
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(path, "no such .npy file")
    lay = get_layout(layout)
    label_path = Path(labels) if labels is not None else label_file_for(path)
    if not label_path.is_file():
        raise DataFormatError(label_path, f"label pickle for {path.name} not found "
                                          "(pass labels=...)")
    try:
        data = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError) as err:
        raise DataFormatError(path, f"not a numpy array file: {err}") from None
    if data.ndim != 5 or not np.issubdtype(data.dtype, np.number) or data.shape[0] == 0:
        raise DataFormatError(path, f"expected a numeric (N, C, T, V, M) array with N > 0, "
                                    f"got {data.dtype} {data.shape}")
    if data.shape[3] != lay.num_joints:
        raise DataFormatError(path, f"{data.shape[3]} joints but layout {lay.name} has "
                                    f"{lay.num_joints}")
    names, targets = load_labels(label_path)
    if len(names) != data.shape[0]:
        raise DataFormatError(label_path, f"{len(names)} labels for {data.shape[0]} samples "
                                          f"in {path.name}")
    count = max(targets, default=-1) + 1
    if label_names is None:
        label_names = ntu_action_names() if lay.name == "ntu25" and count <= 120 \
            else class_names(count)
    if count > len(label_names):
        raise DataFormatError(label_path, f"label {count - 1} but only {len(label_names)} "
                                          "class names")
    skipped: list[tuple[str, str]] = []
    return ReadResult(_samples(path, data, names, targets, skipped), lay,
                      {"action": list(label_names)}, skipped, FPS, str(path))
