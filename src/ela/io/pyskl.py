"""pyskl annotation pickles: ``{"split": {name: [frame_dir, …]}, "annotations": [...]}``.

Each annotation: ``frame_dir``, ``total_frames``, ``img_shape`` (h, w), ``label``,
``keypoint`` (M, T, V, C) and, for 2D data, ``keypoint_score`` (M, T, V). The pickle is read
with a restricted unpickler (plain data and numpy arrays only).

Output per sample (C', T, V, max_persons) float32:
- 3D keypoints (C = 3, e.g. ``ntu60_3danno``): (x, y, z) passed through (NTU camera metres,
  y up).
- 2D keypoints (C = 2): (x, y, score) with x / w and 1 − y / h, i.e. normalised image units
  with y up, as the Kinetics reader; joints with score 0 at (0, 0) stay all-zero.
Persons are ranked by total keypoint score (2D) or kept in file order (3D); the first
`max_persons` are kept, missing slots are all-zero. ``meta["split"]`` lists the split names
that contain the sample.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ela.errors import DataFormatError
from ela.io._common import MAX_CLASSES, class_names, ntu_action_names, safe_load_pickle
from ela.io.base import ReadResult, Sample
from ela.skeleton.layout import Layout
from ela.skeleton.layouts import get_layout

LAYOUT_BY_JOINTS = {25: "ntu25", 17: "coco17", 18: "openpose18", 20: "kinect20"}
FPS = 30.0


def _convert(ann: dict[str, Any], max_persons: int) -> np.ndarray:
    """One annotation -> (C', T, V, max_persons) float32 (raises ValueError on bad content)."""
    kp = np.asarray(ann["keypoint"], dtype=np.float64)
    if kp.ndim != 4 or kp.shape[-1] not in (2, 3):
        raise ValueError(f"keypoint must be (M, T, V, 2|3), got {kp.shape}")
    m, t, v, c = kp.shape
    if int(ann.get("total_frames", t)) != t:
        raise ValueError(f"total_frames {ann['total_frames']} but keypoint has {t} frames")
    if c == 2:
        score = np.asarray(ann.get("keypoint_score", np.ones((m, t, v))), dtype=np.float64)
        if score.shape != (m, t, v):
            raise ValueError(f"keypoint_score {score.shape} does not match keypoint {kp.shape}")
        h, w = (float(s) for s in ann["img_shape"][:2])
        seen = (kp != 0).any(axis=-1)
        xy = np.stack([kp[..., 0] / w, np.where(seen, 1.0 - kp[..., 1] / h, 0.0)], axis=-1)
        kp = np.concatenate([xy, score[..., None]], axis=-1)
        kp = kp[np.argsort(-score.sum(axis=(1, 2)), kind="stable")]
    if not np.isfinite(kp).all():
        raise ValueError("keypoints hold NaN or infinite values")
    out = np.zeros((kp.shape[-1], t, v, max_persons), dtype=np.float32)
    keep = kp[:max_persons]
    out[..., : len(keep)] = keep.transpose(3, 1, 2, 0)
    if t == 0 or not out.any() or not np.isfinite(out).all():
        raise ValueError("no frames, all keypoints zero, or values beyond float32 range")
    return out


def _samples(path: Path, anns: list, splits: dict[str, set[str]], lay: Layout,
             max_persons: int, only: str | None, num_classes: int,
             skipped: list[tuple[str, str]]) -> Iterator[Sample]:
    for i, ann in enumerate(anns):
        name = str(ann.get("frame_dir", i)) if isinstance(ann, dict) else str(i)
        where = f"{path}[{name}]"
        member = sorted(s for s, dirs in splits.items() if name in dirs)
        if only is not None and only not in member:
            continue
        try:
            if not isinstance(ann, dict):
                raise ValueError("annotation is not a dict")
            data = _convert(ann, max_persons)
            label = int(ann["label"])
            if not 0 <= label < num_classes:
                raise ValueError(f"label {label} outside 0..{num_classes - 1}")
            img_shape = [int(s) for s in ann.get("img_shape", ())]
        except (KeyError, TypeError, ValueError, OverflowError) as err:
            skipped.append((where, f"bad annotation: {err}"))
            continue
        if data.shape[2] != lay.num_joints:
            skipped.append((where, f"{data.shape[2]} joints, layout {lay.name} has "
                                   f"{lay.num_joints}"))
            continue
        meta = {"name": name, "file": str(path), "split": member,
                "img_shape": img_shape}
        yield Sample(data, {"action": label}, meta)


def open_pyskl(path: str | Path, layout: str | Layout | None = None, split: str | None = None,
               max_persons: int = 2, label_names: list[str] | None = None) -> ReadResult:
    """Stream the annotations of a pyskl pickle.

    Args:
        path: the pickle.
        layout: joint layout (default: from V — 25 ntu25, 17 coco17, 18 openpose18, 20 kinect20).
        split: keep only samples of this split (e.g. ``"xsub_train"``).
        max_persons: persons kept per sample (M of the output).
        label_names: class names (default NTU codes for ntu25, else ``class_k``).
    """
    path = Path(path)
    obj = safe_load_pickle(path)
    if not isinstance(obj, dict) or not isinstance(obj.get("annotations"), list):
        raise DataFormatError(path, "not a pyskl pickle: no 'annotations' list")
    anns = obj["annotations"]
    if not anns:
        raise DataFormatError(path, "the pickle holds no annotations")
    try:
        splits = {str(k): {str(d) for d in v} for k, v in (obj.get("split") or {}).items()}
    except (AttributeError, TypeError):
        raise DataFormatError(path, "'split' must map split names to lists of names") from None
    if split is not None and split not in splits:
        raise DataFormatError(path, f"no split {split!r}; splits here: {sorted(splits)}")
    if not any(isinstance(a, dict) and "keypoint" in a for a in anns):
        raise DataFormatError(path, f"a pyskl/mmaction2 annotation list whose {len(anns)} "
                                    "entries have no 'keypoint': their keypoints are stored "
                                    "elsewhere (mmaction2 keeps them in per-video files); ela "
                                    "reads annotation files that hold the 'keypoint' arrays "
                                    "(M, T, V, C), such as pyskl's ntu60_3danno.pkl")
    if layout is None:
        first = anns[0].get("keypoint") if isinstance(anns[0], dict) else None
        try:
            v = np.shape(first)[2] if first is not None and np.ndim(first) == 4 else None
        except ValueError:  # a ragged nested list
            v = None
        if v not in LAYOUT_BY_JOINTS:
            raise DataFormatError(path, f"cannot tell the layout from {v} joints; pass "
                                        "layout= (one of the readers' layouts)")
        layout = LAYOUT_BY_JOINTS[v]
    lay = get_layout(layout)
    if label_names is None:
        count = 1 + max((int(a["label"]) for a in anns
                         if isinstance(a, dict) and isinstance(a.get("label"), (int, np.integer))
                         and int(a["label"]) < MAX_CLASSES), default=-1)
        label_names = ntu_action_names() if lay.name == "ntu25" and count <= 120 \
            else class_names(count)
    skipped: list[tuple[str, str]] = []
    return ReadResult(_samples(path, anns, splits, lay, max_persons, split,
                                       len(label_names), skipped), lay,
                      {"action": list(label_names)}, skipped, FPS, str(path))
