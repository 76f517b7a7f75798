"""Kinetics-skeleton JSON (OpenPose 18 joints, 2D + score), one file per clip.

File: ``{"data": [{"frame_index": t, "skeleton": [{"pose": [x0, y0, …], "score": [...]}]}],
"label": str, "label_index": int}``. Output per clip: (3, T, 18, 2) float32 with channels
(x, y, score). x and y stay in normalised image units [0, 1] but y is flipped to point up
(y_out = 1 − y_image), so that "up" agrees with the 3D readers; there is no depth. Joints
OpenPose missed (score 0 at (0, 0)) stay all-zero. In each frame the two skeletons with the
highest total score are kept, best first (the skeletons are not tracked across frames, as in
ST-GCN). Frame t of the output is ``frame_index − min(frame_index)``; frame indices absent
from the file are all-zero and listed in ``meta["lost_frames"]``.

An optional label file ``{clip_id: {"label_index", "label", "has_skeleton"}}`` (found as
``<folder>_label.json`` beside the folder, or given as ``labels=``) overrides the labels in
the clips; clips with ``has_skeleton`` false are skipped. ``label_index: -1`` (what st-gcn's
packer writes for unlabelled clips) reads as the label `UNLABELLED` (−1) and names no class.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ela.errors import DataFormatError
from ela.io._common import checked_data, read_text, single_or_stream
from ela.io.base import UNLABELLED, ReadResult, Sample, iter_files
from ela.skeleton.layouts import get_layout

NUM_JOINTS = 18
MAX_PERSONS = 2
MAX_FRAMES = 100_000  # a clip spanning more frame indices is corrupt (and would not fit)
FPS = 30.0


def _load_json(path: Path) -> Any:
    try:
        return json.loads(read_text(path))
    except json.JSONDecodeError as err:
        raise DataFormatError(path, f"invalid JSON: {err.msg}", err.lineno) from None


def _frame_people(path: Path, frame: dict, k: int) -> np.ndarray:
    """(P, 18, 3) people of one frame, best total score first."""
    people = frame.get("skeleton", [])
    if not isinstance(people, list):
        raise DataFormatError(path, f"data[{k}].skeleton must be a list")
    out = np.zeros((len(people), NUM_JOINTS, 3))
    for p, person in enumerate(people):
        try:
            pose = np.asarray(person["pose"], dtype=np.float64)
            score = np.asarray(person["score"], dtype=np.float64)
        except (KeyError, TypeError, ValueError):
            raise DataFormatError(path, f"data[{k}].skeleton[{p}] needs numeric 'pose' and "
                                        "'score' lists") from None
        if pose.shape != (2 * NUM_JOINTS,) or score.shape != (NUM_JOINTS,):
            raise DataFormatError(path, f"data[{k}].skeleton[{p}]: pose has {pose.size} values "
                                        f"and score {score.size}, expected 36 and 18")
        out[p, :, :2] = pose.reshape(NUM_JOINTS, 2)
        out[p, :, 2] = score
    if not np.isfinite(out).all():
        raise DataFormatError(path, f"data[{k}]: pose or score holds NaN or infinite values")
    return out[np.argsort(-out[:, :, 2].sum(axis=1), kind="stable")]


def parse_clip(path: str | Path) -> tuple[np.ndarray, dict[str, Any]]:
    """One clip JSON -> ((3, T, 18, 2) float32 array, the JSON without its ``data``)."""
    path = Path(path)
    clip = _load_json(path)
    frames = clip.get("data") if isinstance(clip, dict) else None
    if not isinstance(frames, list) or not frames:
        raise DataFormatError(path, "no 'data' list of frames")
    try:
        index = np.array([int(f["frame_index"]) for f in frames])
    except (KeyError, TypeError, ValueError):
        raise DataFormatError(path, "every frame needs an integer 'frame_index'") from None
    index -= index.min()
    if index.max() >= MAX_FRAMES:
        raise DataFormatError(path, f"frame_index spans {int(index.max()) + 1} frames "
                                    f"(more than {MAX_FRAMES}: corrupt)")
    data = np.zeros((3, int(index.max()) + 1, NUM_JOINTS, MAX_PERSONS))
    for k, (t, frame) in enumerate(zip(index, frames, strict=True)):
        people = _frame_people(path, frame, k)[:MAX_PERSONS]
        data[:, t, :, : len(people)] = people.transpose(2, 1, 0)
    seen = (data[:2] != 0).any(axis=0)
    data[1] = np.where(seen, 1.0 - data[1], 0.0)
    info = {k: v for k, v in clip.items() if k != "data"}
    info["lost_frames"] = sorted(set(range(data.shape[1])) - set(index.tolist()))
    return checked_data(path, data), info


def open_kinetics(path: str | Path, labels: str | Path | None = None) -> ReadResult:
    """Stream Kinetics-skeleton clip JSONs from a folder (or one file): (3, T, 18, 2) each."""
    path = Path(path)
    files = iter_files(path, "*.json")
    label_path = Path(labels) if labels is not None else path.with_name(f"{path.name}_label.json")
    table = None
    if labels is not None or (path.is_dir() and label_path.is_file()):
        table = _load_json(label_path)
        if not isinstance(table, dict):
            raise DataFormatError(label_path, "label file must map clip ids to label records")
        files = [f for f in files if f != label_path]
    names: list[str] = []
    skipped: list[tuple[str, str]] = []

    def name_label(index: int, label: Any) -> None:
        names.extend(f"class_{i}" for i in range(len(names), index + 1))
        if isinstance(label, str) and names[index].startswith("class_"):
            names[index] = label

    if table is not None:
        for record in table.values():
            index = record.get("label_index") if isinstance(record, dict) else None
            if isinstance(index, int) and not isinstance(index, bool) and index >= 0:
                name_label(index, record.get("label"))

    def parse(f: Path) -> Sample | None:
        record = table.get(f.stem) if table is not None else None
        if table is not None and record is None:
            raise DataFormatError(f, f"clip {f.stem} is not in {label_path.name}")
        if record is not None and record.get("has_skeleton") is False:
            skipped.append((str(f), f"has_skeleton is false in {label_path.name}"))
            return None
        data, info = parse_clip(f)
        source = record if record is not None else info
        index = source.get("label_index")
        if not isinstance(index, int) or isinstance(index, bool) or index < UNLABELLED:
            raise DataFormatError(f, f"'label_index' must be an integer ≥ 0, or -1 for an "
                                     f"unlabelled clip; got {index!r}")
        if index != UNLABELLED:
            name_label(index, source.get("label"))
        meta = {"name": f.stem, "file": str(f), "label": source.get("label"),
                "lost_frames": info["lost_frames"]}
        return Sample(data, {"action": index}, meta)

    return ReadResult(single_or_stream(path, files, parse, skipped), get_layout("openpose18"),
                      {"action": names}, skipped, FPS, str(path))
