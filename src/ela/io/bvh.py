"""BVH motion capture: HIERARCHY parser and forward kinematics.

Every joint's CHANNELS are honoured in their declared order: rotation channels compose as
intrinsic rotations in that order (``Zrotation Xrotation Yrotation`` gives R = Rz·Rx·Ry,
degrees); position channels, where present, replace the matching OFFSET components as the
joint's translation in its parent's frame. A joint's world position is
``p_parent + R_parent_world · t_joint`` and its world rotation ``R_parent_world · R_joint``.
End Sites are not joints. Units are the file's times `scale` (BVH is y-up by convention;
the axes are kept as they are).

The "bvh" reader gives (3, T, J, 1) float32 samples without labels; its layout is the
file's hierarchy (all files of a folder must share it).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ela.errors import DataFormatError
from ela.io._common import checked_data, parse_table, read_text, reason, stream
from ela.io.base import ReadResult, Sample, iter_files
from ela.skeleton.layout import Layout

CHANNELS = ("Xposition", "Yposition", "Zposition", "Xrotation", "Yrotation", "Zrotation")


@dataclass
class BvhMotion:
    """A parsed BVH file.

    Attributes:
        names: joint names (End Sites excluded), parents before children.
        parents: parent index per joint, -1 for a root.
        offsets: (J, 3) OFFSETs times `scale`.
        channels: declared channel names per joint.
        positions: (T, J, 3) world joint positions, file units times `scale`.
        frame_time: seconds per frame.
    """

    names: list[str]
    parents: list[int]
    offsets: np.ndarray
    channels: list[list[str]]
    positions: np.ndarray
    frame_time: float

    @property
    def fps(self) -> float:
        return 1.0 / self.frame_time


def _tokens(lines: list[str]) -> list[tuple[str, int, list[str]]]:
    """(token, 1-based line, rest of that line) for every token."""
    out = []
    for k, line in enumerate(lines):
        words = line.split()
        out.extend((w, k + 1, words[i + 1:]) for i, w in enumerate(words))
    return out


def _numbers(path: Path, items: list[tuple[str, int, list[str]]], line: int) -> list[float]:
    try:
        return [float(w) for w, _, _ in items]
    except ValueError:
        raise DataFormatError(path, "OFFSET needs 3 numbers", line) from None


def parse_hierarchy(path: Path, lines: list[str]) -> tuple[list[str], list[int], np.ndarray,
                                                            list[list[str]], int]:
    """Joints of the HIERARCHY section: names, parents, offsets, channels, MOTION line index."""
    end = next((k for k, line in enumerate(lines) if line.split()[:1] == ["MOTION"]), len(lines))
    tokens = _tokens(lines[:end + 1])
    if not tokens or tokens[0][0] != "HIERARCHY":
        raise DataFormatError(path, "file does not start with HIERARCHY", 1)
    names: list[str] = []
    parents: list[int] = []
    offsets: list[list[float]] = []
    channels: list[list[str]] = []
    stack: list[int] = []  # open blocks: joint index, or -1 for an End Site
    pending: int | None = None
    i = 1
    while i < len(tokens):
        tok, line, rest = tokens[i]
        if tok in ("ROOT", "JOINT"):
            if (tok == "JOINT") != bool(stack) or (stack and stack[-1] == -1) or not rest:
                raise DataFormatError(path, f"misplaced {tok}", line)
            names.append(" ".join(rest))
            parents.append(stack[-1] if stack else -1)
            offsets.append([0.0, 0.0, 0.0])
            channels.append([])
            pending = len(names) - 1
            i += 1 + len(rest)
        elif tok == "End":
            if not stack or stack[-1] == -1 or rest[:1] != ["Site"]:
                raise DataFormatError(path, "misplaced End Site", line)
            pending = -1
            i += 2
        elif tok == "{":
            if pending is None:
                raise DataFormatError(path, "'{' without ROOT, JOINT or End Site", line)
            stack.append(pending)
            pending = None
            i += 1
        elif tok == "}":
            if not stack:
                raise DataFormatError(path, "unbalanced '}'", line)
            stack.pop()
            i += 1
        elif tok == "OFFSET":
            values = _numbers(path, tokens[i + 1:i + 4], line)
            if not stack or len(values) != 3:
                raise DataFormatError(path, "misplaced or short OFFSET", line)
            if stack[-1] >= 0:
                offsets[stack[-1]] = values
            i += 4
        elif tok == "CHANNELS":
            if not stack or stack[-1] < 0 or not rest or not rest[0].isdigit():
                raise DataFormatError(path, "misplaced CHANNELS or missing count", line)
            count = int(rest[0])
            declared = [w for w, _, _ in tokens[i + 2:i + 2 + count]]
            for name in declared:
                if name not in CHANNELS:
                    raise DataFormatError(path, f"unknown channel {name!r}; known: "
                                                f"{', '.join(CHANNELS)}", line)
            if len(declared) != count or len(set(declared)) != count:
                raise DataFormatError(path, f"CHANNELS {count} lists {declared}", line)
            channels[stack[-1]] = declared
            i += 2 + count
        elif tok == "MOTION":
            if stack or not names:
                raise DataFormatError(path, "MOTION before the hierarchy is complete", line)
            return names, parents, np.array(offsets), channels, line - 1
        else:
            raise DataFormatError(path, f"unexpected {tok!r} in HIERARCHY", line)
    raise DataFormatError(path, "no MOTION section (truncated?)", len(lines))


def _axis_rotations(axis: str, degrees: np.ndarray) -> np.ndarray:
    """(T, 3, 3) rotations by `degrees` (T,) about axis "X", "Y" or "Z"."""
    a = np.radians(degrees)
    c, s = np.cos(a), np.sin(a)
    i, j = {"X": (1, 2), "Y": (2, 0), "Z": (0, 1)}[axis]
    k = 3 - i - j
    r = np.zeros((len(a), 3, 3))
    r[:, k, k] = 1.0
    r[:, i, i] = c
    r[:, j, j] = c
    r[:, i, j] = -s
    r[:, j, i] = s
    return r


def forward_kinematics(parents: list[int], offsets: np.ndarray, channels: list[list[str]],
                       motion: np.ndarray) -> np.ndarray:
    """World positions (T, J, 3) from (T, sum of channel counts) motion values."""
    t = len(motion)
    world_rot = np.empty((len(parents), t, 3, 3))
    world_pos = np.empty((len(parents), t, 3))
    column = 0
    for j, (parent, chans) in enumerate(zip(parents, channels, strict=True)):
        local_rot = np.broadcast_to(np.eye(3), (t, 3, 3))
        local_pos = np.broadcast_to(offsets[j], (t, 3)).copy()
        for k, name in enumerate(chans):
            values = motion[:, column + k]
            if name.endswith("rotation"):
                local_rot = local_rot @ _axis_rotations(name[0], values)
            else:
                local_pos[:, "XYZ".index(name[0])] = values
        column += len(chans)
        if parent < 0:
            world_rot[j] = local_rot
            world_pos[j] = local_pos
        else:
            world_rot[j] = world_rot[parent] @ local_rot
            world_pos[j] = world_pos[parent] + np.einsum("tab,tb->ta", world_rot[parent],
                                                         local_pos)
    return world_pos.transpose(1, 0, 2)


def read_bvh(path: str | Path, scale: float = 1.0) -> BvhMotion:
    """Parse a BVH file and run forward kinematics (positions in file units × `scale`)."""
    path = Path(path)
    lines = read_text(path).splitlines()
    names, parents, offsets, channels, m = parse_hierarchy(path, lines)
    header = [(k, lines[k].split(":", 1)) for k in range(m + 1, min(m + 3, len(lines)))]
    if len(header) != 2 or [h[1][0].strip() for h in header] != ["Frames", "Frame Time"]:
        raise DataFormatError(path, "MOTION must be followed by 'Frames:' and 'Frame Time:'",
                              m + 2)
    try:
        frames = int(header[0][1][1])
        frame_time = float(header[1][1][1])
    except (ValueError, IndexError):
        raise DataFormatError(path, "bad 'Frames:' or 'Frame Time:' value", m + 2) from None
    if frames <= 0 or not 0 < frame_time < np.inf:
        raise DataFormatError(path, f"Frames {frames} and Frame Time {frame_time} must be > 0",
                              m + 2)
    width = sum(len(c) for c in channels)
    motion = parse_table(path, lines[m + 3:], width, first_line=m + 4)
    if len(motion) != frames:
        raise DataFormatError(path, f"header declares {frames} frames but {len(motion)} follow"
                                    " (truncated?)", len(lines))
    positions = forward_kinematics(parents, offsets, channels, motion) * scale
    checked_data(path, positions)
    return BvhMotion(names, parents, offsets * scale, channels, positions, frame_time)


def bvh_layout(motion: BvhMotion, name: str = "bvh") -> Layout:
    """A layout with the file's joints and tree (centre: the first root)."""
    return Layout(name=name, joints=tuple(motion.names), parents=tuple(motion.parents),
                  centre=0)


def motion_sample(motion: BvhMotion, path: Path) -> Sample:
    """(3, T, J, 1) float32 sample of a parsed motion."""
    data = motion.positions.transpose(2, 0, 1)[..., None].astype(np.float32)
    return Sample(data, {}, {"name": path.stem, "file": str(path),
                             "frame_time": motion.frame_time})


def open_bvh(path: str | Path, scale: float = 1.0) -> ReadResult:
    """Stream BVH files from a folder (or one file) as (3, T, J, 1) positions, no labels.

    The first readable file defines the layout; later files with another hierarchy are
    skipped with a reason.
    """
    path = Path(path)
    files = iter_files(path, "*.bvh")
    skipped: list[tuple[str, str]] = []
    first, first_file = None, path
    for f in files:
        try:
            first, first_file = read_bvh(f, scale), f
            break
        except DataFormatError as err:
            if path.is_file():
                raise
            skipped.append((str(f), reason(err)))
    if first is None:
        raise DataFormatError(path, "no readable BVH file")
    layout = bvh_layout(first)

    def parse(f: Path) -> Sample:
        motion = read_bvh(f, scale)
        if motion.names != first.names or motion.parents != first.parents:
            raise DataFormatError(f, f"hierarchy differs from {first_file.name}")
        return motion_sample(motion, f)

    rest = files[files.index(first_file) + 1:]
    samples = itertools.chain([motion_sample(first, first_file)], stream(rest, parse, skipped))
    return ReadResult(samples, layout, {}, skipped, first.fps, str(path))
