"""NTU RGB+D `.skeleton` text files (Kinect v2, 25 joints).

File layout: the frame count; per frame a body count; per body a 10-value info line (body id
first), the joint count (25) and 25 lines of 12 values (x y z, depth x y, colour x y,
orientation w x y z, tracking state). Output per file: (3, T, 25, 2) float32 camera-space
metres — x as Kinect gives it, y up, z depth away from the camera. Bodies are tracked by
their body id; the two most active ones are kept (activity as in 2s-AGCN: the sum over x, y,
z of the standard deviation of the joints over the frames the body appears in), most active
first; the second slot is all-zero when only one person is present. Frames with no body are
all-zero and listed in ``meta["lost_frames"]``.

Labels: ``"action"`` = A − 1 from the name ``SsssCcccPpppRrrrAaaa`` (names are the codes
``A001`` … ``A120``). Meta: name, file, setup, camera, performer (= subject), replication.

Kinect v1 skeletons converted to this format keep their 20 joints in the first 20 slots and
leave the other 5 (spine_shoulder, the ntu25 centre, hand tips and thumbs) zero in every
frame; ``layout="kinect20"`` reads such files as (3, T, 20, 2) kinect20 (the mapping
``ntu25 -> kinect20`` of `ela.skeleton.mapping`), and `ela data info` warns about them.
"""

from __future__ import annotations

import re
from operator import itemgetter
from pathlib import Path
from typing import Any

import numpy as np

from ela.errors import DataFormatError
from ela.io._common import (
    checked_data,
    ntu_action_names,
    read_text,
    single_or_stream,
    to_int,
)
from ela.io.base import ReadResult, Sample, iter_files
from ela.skeleton.layouts import get_layout
from ela.skeleton.mapping import map_array

NAME_RE = re.compile(r"S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})")
NUM_JOINTS = 25
MAX_BODIES = 2
FPS = 30.0
LAYOUTS = ("ntu25", "kinect20")


def parse_name(name: str) -> dict[str, int] | None:
    """Setup, camera, performer/subject, replication and action (1-based) from an NTU name."""
    m = NAME_RE.search(name)
    if m is None:
        return None
    s, c, p, r, a = (int(g) for g in m.groups())
    return {"setup": s, "camera": c, "performer": p, "subject": p, "replication": r,
            "action_code": a}


def _block(path: Path, lines: list[str], start: int, rows: int, cols: int) -> np.ndarray:
    """Parse `rows` lines of `cols` numbers starting at 0-based line `start`."""
    chunk = lines[start:start + rows]
    if len(chunk) < rows:
        raise DataFormatError(path, "file ends inside a body's joint block (truncated?)",
                              len(lines) + 1)
    for k, text in enumerate(chunk):
        if len(text.split()) != cols:
            raise DataFormatError(
                path, f"expected {cols} values per joint line, got {len(text.split())}",
                start + k + 1)
    try:
        values = np.array(" ".join(chunk).split(), dtype=np.float64).reshape(rows, cols)
    except ValueError:
        for k, text in enumerate(chunk):
            for token in text.split():
                try:
                    float(token)
                except ValueError:
                    raise DataFormatError(path, f"non-numeric value {token!r}",
                                          start + k + 1) from None
        raise
    finite = np.isfinite(values[:, :3]).all(axis=1)
    if not finite.all():
        raise DataFormatError(path, "joint coordinate is NaN or infinite",
                              start + int(np.argmin(finite)) + 1)
    return values


def _line(path: Path, lines: list[str], i: int, what: str) -> list[str]:
    if i >= len(lines) or not lines[i].strip():
        raise DataFormatError(path, f"file ends where {what} was expected (truncated?)", i + 1)
    return lines[i].split()


BODY_VALUES = 10 + 1 + NUM_JOINTS * 12
"""Numbers per body of a frame: the info line, the joint count and 25 joint lines."""
XYZ_TOKENS = (np.arange(NUM_JOINTS)[:, None] * 12 + np.arange(3)).ravel()
"""Positions of the x, y, z values among a body's 25 × 12 joint values."""


def parse_skeleton_file(path: str | Path) -> tuple[np.ndarray, list[int]]:
    """Read one `.skeleton` file.

    Returns (data, lost): data (3, T, 25, 2) float32 metres as described in the module
    docstring, lost the frames with no body. The fast path (`parse_text_fast`) splits the
    text once and converts only the coordinates; a file that does not follow the format is
    parsed again line by line (`parse_text_lines`) for an error naming the line.
    """
    path = Path(path)
    text = read_text(path)
    parsed = parse_text_fast(text)
    return parsed if parsed is not None else parse_text_lines(path, text)


def parse_text_fast(text: str) -> tuple[np.ndarray, list[int]] | None:
    """(data (3, T, 25, 2) float32 metres, lost frames) of a `.skeleton` file's text, or None
    when it breaks the format anywhere (`parse_text_lines` then says where).

    The text is split once; the structure is walked over the count tokens (frame count,
    body counts, joint counts), the body ids are kept as strings (they overflow float64) and
    only the x, y, z tokens of the joints are converted to numbers, in one call. The total
    number of values must be what the counts declare and every kept coordinate finite.
    """
    tokens = text.split()
    lost: list[int] = []
    starts: list[int] = []  # token position of each body's first joint value
    body_frames: list[int] = []
    ids: list[str] = []
    try:
        frames = int(tokens[0])
        pos = 1
        for t in range(frames):
            count = int(tokens[pos])
            if count < 0:
                return None
            pos += 1
            if count == 0:
                lost.append(t)
            for _ in range(count):
                if int(tokens[pos + 10]) != NUM_JOINTS:
                    return None
                ids.append(tokens[pos])
                starts.append(pos + 11)
                body_frames.append(t)
                pos += BODY_VALUES
        if frames <= 0 or pos != len(tokens):
            return None
        take = (np.asarray(starts, dtype=np.int64)[:, None] + XYZ_TOKENS).ravel().tolist()
        xyz = np.array(itemgetter(*take)(tokens) if take else (), dtype=np.float64)
    except (IndexError, ValueError):
        return None
    xyz = xyz.reshape(len(starts), NUM_JOINTS, 3)
    if not np.isfinite(xyz).all():
        return None
    order: dict[str, list[int]] = {}
    for k, body in enumerate(ids):
        order.setdefault(body, []).append(k)
    frames_of = np.asarray(body_frames, dtype=np.int64)
    tracks = [(frames_of[rows], xyz[rows]) for rows in (np.asarray(r) for r in order.values())]
    return _pack(frames, tracks), lost


def parse_text_lines(path: Path, text: str) -> tuple[np.ndarray, list[int]]:
    """`parse_skeleton_file` of `text` (read from `path`) line by line: slower, and a
    DataFormatError names the line of any problem."""
    lines = text.splitlines()
    head = _line(path, lines, 0, "the frame count")
    frames = to_int(path, head[0], 1, "frame count")
    if len(head) != 1 or frames <= 0:
        raise DataFormatError(path, f"first line must be a positive frame count, got "
                                    f"{lines[0].strip()!r}", 1)
    bodies: dict[str, tuple[list[int], list[np.ndarray]]] = {}
    lost: list[int] = []
    i = 1
    for t in range(frames):
        tokens = _line(path, lines, i, f"the body count of frame {t + 1} of {frames}")
        count = to_int(path, tokens[0], i + 1, "body count")
        if len(tokens) != 1 or count < 0:
            raise DataFormatError(path, f"bad body count {lines[i].strip()!r}", i + 1)
        i += 1
        if count == 0:
            lost.append(t)
        for _ in range(count):
            info = _line(path, lines, i, "a body info line")
            if len(info) != 10:
                raise DataFormatError(path, f"body info line needs 10 values, got {len(info)}",
                                      i + 1)
            joints = to_int(path, _line(path, lines, i + 1, "the joint count")[0], i + 2,
                            "joint count")
            if joints != NUM_JOINTS:
                raise DataFormatError(path, f"joint count {joints}, expected {NUM_JOINTS}",
                                      i + 2)
            xyz = _block(path, lines, i + 2, NUM_JOINTS, 12)[:, :3]
            frames_of, coords = bodies.setdefault(info[0], ([], []))
            frames_of.append(t)
            coords.append(xyz)
            i += 2 + NUM_JOINTS
    rest = [k for k in range(i, len(lines)) if lines[k].strip()]
    if rest:
        raise DataFormatError(path, f"extra data after the {frames} frames the header declares",
                              rest[0] + 1)
    return _pack(frames, [(np.array(f), np.stack(c)) for f, c in bodies.values()]), lost


def _pack(frames: int, tracks: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """(3, frames, 25, 2) float32 of the two most active tracks (frames (n,), xyz (n, 25, 3))."""
    data = np.zeros((3, frames, NUM_JOINTS, MAX_BODIES), dtype=np.float32)
    activity = [float(c.reshape(-1, 3).std(axis=0).sum()) for _, c in tracks]
    for slot, k in enumerate(np.argsort(activity)[::-1][:MAX_BODIES]):
        frames_of, coords = tracks[k]
        data[..., slot][:, frames_of] = coords.transpose(2, 0, 1)
    return data


def parse_sample(path: str | Path, layout: str = "ntu25") -> Sample:
    """One `.skeleton` file as a `Sample`: (3, T, 25, 2) float32 metres (ntu25) or
    (3, T, 20, 2) (kinect20), its action label and meta; raises DataFormatError."""
    path = Path(path)
    data, lost = parse_skeleton_file(path)
    data = checked_data(path, data if layout == "ntu25" else map_array(data, "ntu25", layout))
    info = parse_name(path.name)
    if info is None:
        raise DataFormatError(path, "name does not follow SsssCcccPpppRrrrAaaa (no action label)")
    if not 1 <= info["action_code"] <= 120:
        raise DataFormatError(path, f"action A{info['action_code']:03d} outside A001-A120")
    meta: dict[str, Any] = {"name": path.stem, "file": str(path), **info,
                            "persons": int((np.abs(data).sum(axis=(0, 1, 2)) > 0).sum()),
                            "lost_frames": lost}
    return Sample(data, {"action": info["action_code"] - 1}, meta)


def open_ntu(path: str | Path, layout: str = "ntu25") -> ReadResult:
    """Stream NTU `.skeleton` files from a folder (or one file): samples (3, T, 25, 2).

    layout: ``"ntu25"``, or ``"kinect20"`` for Kinect v1 skeletons padded to 25 joints
    (samples (3, T, 20, 2), see the module docstring).
    """
    path = Path(path)
    lay = get_layout(layout)
    if lay.name not in LAYOUTS:
        raise DataFormatError(path, f"the NTU reader reads layouts {', '.join(LAYOUTS)}, "
                                    f"not {lay.name}; map afterwards (--layout) for others")
    files = iter_files(path, "*.skeleton")
    skipped: list[tuple[str, str]] = []

    def parse(f: Path) -> Sample:
        return parse_sample(f, lay.name)

    return ReadResult(single_or_stream(path, files, parse, skipped), lay,
                      {"action": ntu_action_names()}, skipped, FPS, str(path))
