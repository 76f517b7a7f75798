"""MSR Action3D skeletons: ``a{AA}_s{SS}_e{EE}_skeleton3D.txt`` (Kinect v1, 20 joints).

Each line is ``x y z confidence``; 20 lines make a frame (joint order of layout kinect20).
Units: metres already — on the 567 shared files the median head-to-lowest-foot height is
1.60 m (5th–95th percentile of per-file medians 1.44–1.80 m), so no conversion is applied.
Axes: the second column is vertical with up positive (head above hip centre in > 99 % of
frames) and the third is depth, so the output is (x, y up, z depth) unchanged, (3, T, 20, 1)
float32; the confidence column is dropped.

Frames where the sensor lost the person (all 20 joints exactly (0, 0, 0); 1 113 of the
23 478 frames) are filled by linear interpolation between the nearest valid frames (runs at
the start or end copy the nearest valid frame); ``meta["lost_frames"]`` lists them and
``meta["filled"]`` counts them. A file with no valid frame (``a13_s09_e02``) is skipped.
Recorded at 15 fps.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ela.errors import DataFormatError
from ela.io._common import checked_data, parse_table, read_text, single_or_stream
from ela.io.base import ReadResult, Sample, iter_files
from ela.skeleton.layouts import get_layout

NAME_RE = re.compile(r"a(\d+)_s(\d+)_e(\d+)_skeleton3D", re.IGNORECASE)
NUM_JOINTS = 20
FPS = 15.0
ACTIONS = [
    "high arm wave", "horizontal arm wave", "hammer", "hand catch", "forward punch",
    "high throw", "draw x", "draw tick", "draw circle", "hand clap", "two hand wave",
    "side-boxing", "bend", "forward kick", "side kick", "jogging", "tennis swing",
    "tennis serve", "golf swing", "pick up & throw",
]


def fill_lost(x: np.ndarray, lost: np.ndarray) -> np.ndarray:
    """Linearly interpolate the frames flagged in `lost` ((T,) bool) of `x` (T, ...).

    Runs at either end copy the nearest valid frame. Needs at least one valid frame.
    """
    valid = np.flatnonzero(~lost)
    t = np.arange(len(x))
    nxt = np.searchsorted(valid, t)  # first valid frame at or after t (len(valid) if none)
    t1 = valid[np.minimum(nxt, len(valid) - 1)]
    t0 = valid[np.maximum(nxt - 1, 0)]
    w = np.where(t1 > t0, (t - t0) / np.maximum(t1 - t0, 1), 0.0)
    w = w.reshape(-1, *([1] * (x.ndim - 1)))
    filled = (1 - w) * x[t0] + w * x[t1]
    return np.where(lost.reshape(w.shape), filled, x)


def parse_msr(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """One MSR file -> ((3, T, 20, 1) float32 metres with lost frames filled, (T,) lost mask)."""
    path = Path(path)
    values = parse_table(path, read_text(path).splitlines(), 4)
    if len(values) == 0:
        raise DataFormatError(path, "file is empty")
    if len(values) % NUM_JOINTS:
        raise DataFormatError(path, f"{len(values)} lines is not a multiple of {NUM_JOINTS} "
                                    "(one line per joint per frame)")
    xyz = values[:, :3].reshape(-1, NUM_JOINTS, 3)
    lost = (xyz == 0).all(axis=(1, 2))
    if lost.all():
        raise DataFormatError(path, f"all {len(lost)} frames are zero (sensor lost the person)")
    xyz = fill_lost(xyz, lost)
    return checked_data(path, xyz.transpose(2, 0, 1)[..., None]), lost


def _protocol(path: Path) -> set[str]:
    return {line.strip() for line in read_text(path).splitlines() if line.strip()}


def open_msr(path: str | Path, protocol_list: str | Path | None = None) -> ReadResult:
    """Stream MSR Action3D skeleton files from a folder (or one file): (3, T, 20, 1) each.

    Args:
        path: the folder of ``*_skeleton3D.txt`` files, or one file.
        protocol_list: ``files_used_in_cvpr12_paper.txt``; when given only the sequences it
            lists are read (default: all).
    """
    path = Path(path)
    files = iter_files(path, "*_skeleton3D.txt")
    if protocol_list is not None:
        keep = _protocol(Path(protocol_list))
        files = [f for f in files if f.name.replace("_skeleton3D.txt", "") in keep]

    def parse(f: Path) -> Sample:
        m = NAME_RE.search(f.name)
        if m is None:
            raise DataFormatError(f, "name does not follow a{AA}_s{SS}_e{EE}_skeleton3D.txt")
        action, subject, episode = (int(g) for g in m.groups())
        if not 1 <= action <= len(ACTIONS):
            raise DataFormatError(f, f"action a{action:02d} outside a01-a20")
        data, lost = parse_msr(f)
        meta = {"name": m.group(0).replace("_skeleton3D", ""), "file": str(f),
                "subject": subject, "episode": episode,
                "lost_frames": np.flatnonzero(lost).tolist(), "filled": int(lost.sum())}
        return Sample(data, {"action": action - 1}, meta)

    skipped: list[tuple[str, str]] = []
    return ReadResult(single_or_stream(path, files, parse, skipped), get_layout("kinect20"),
                      {"action": list(ACTIONS)}, skipped, FPS, str(path))
