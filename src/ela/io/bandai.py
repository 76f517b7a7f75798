"""Bandai-Namco-Research-Motiondataset 1 and 2: BVH clips with content and style labels.

Folder: ``data/dataset-N_{content}_{style}_{id}.bvh`` with a JSON ``{"content": i,
"style": j}`` beside each, and ``cfg/content_label.txt`` / ``cfg/style_label.txt`` listing
the label names (``dataset-N_walk``; the prefix is stripped). Labels ``"content"`` and
``"style"`` index those lists; the JSON must agree with the file name. The BVH root
``joint_Root`` is dropped, leaving layout bandai21 (checked against the hierarchy). Output
per clip: (3, T, 21, 1) float32 metres (the files are centimetres), Y up, 30 fps. A JSON
without its BVH is listed in `skipped`. Meta: ``name`` (file stem, unique), ``file``,
``dataset`` (1 or 2), ``take`` (the file's ``_001`` number, repeated across files),
``content`` and ``style`` names.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from ela.errors import DataFormatError
from ela.io._common import checked_data, read_text, single_or_stream
from ela.io.base import ReadResult, Sample
from ela.io.bvh import read_bvh
from ela.skeleton.layouts import get_layout

NAME_RE = re.compile(r"^dataset-(\d+)_([^_]+)_([^_]+)_(\d+)$")
ROOT = "joint_Root"
SCALE = 0.01  # centimetres -> metres
FPS = 30.0


def find_cfg(path: Path) -> Path:
    """The ``cfg`` folder of a Bandai dataset given its root, its data folder or a clip."""
    for base in (path, path.parent, path.parent.parent):
        if (base / "cfg" / "content_label.txt").is_file():
            return base / "cfg"
    raise DataFormatError(path, "no cfg/content_label.txt found (not a Bandai dataset folder)")


def load_names(path: Path) -> list[str]:
    """Label names of a cfg file, the ``dataset-N_`` prefix stripped."""
    names = [re.sub(r"^dataset-\d+_", "", line.strip())
             for line in read_text(path).splitlines() if line.strip()]
    if not names or len(set(names)) != len(names):
        raise DataFormatError(path, "label list is empty or has duplicates")
    return names


def _labels(bvh: Path, content: list[str], style: list[str]) -> tuple[dict[str, int], dict]:
    m = NAME_RE.match(bvh.stem)
    if m is None:
        raise DataFormatError(bvh, "name does not follow dataset-N_{content}_{style}_{id}")
    dataset, c_name, s_name, take = m.groups()
    if c_name not in content or s_name not in style:
        raise DataFormatError(bvh, f"content {c_name!r} or style {s_name!r} is not in cfg/")
    labels = {"content": content.index(c_name), "style": style.index(s_name)}
    side = bvh.with_suffix(".json")
    if side.is_file():
        try:
            given = json.loads(read_text(side))
            given = {k: int(given[k]) for k in ("content", "style")}
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            raise DataFormatError(bvh, f'{side.name}: expected {{"content": int, "style": int}}'
                                  ) from None
        if given != labels:
            raise DataFormatError(bvh, f"{side.name} labels {given} disagree with the name "
                                        f"({c_name}={labels['content']}, "
                                        f"{s_name}={labels['style']})")
    meta = {"name": bvh.stem, "file": str(bvh), "dataset": int(dataset), "take": take,
            "content": c_name, "style": s_name}
    return labels, meta


def read_clip(path: Path) -> np.ndarray:
    """(3, T, 21, 1) float32 metres of one Bandai BVH, its hierarchy checked against bandai21."""
    motion = read_bvh(path, scale=SCALE)
    layout = get_layout("bandai21")
    if motion.names[0] != ROOT or motion.parents[0] != -1:
        raise DataFormatError(path, f"hierarchy root is {motion.names[0]!r}, expected {ROOT!r}")
    names = motion.names[1:]
    parents = [p - 1 for p in motion.parents[1:]]
    if tuple(names) != layout.joints or tuple(parents) != layout.parents:
        raise DataFormatError(path, f"hierarchy {list(zip(names, parents, strict=False))} "
                                    "does not match layout bandai21")
    return checked_data(path, motion.positions[:, 1:].transpose(2, 0, 1)[..., None])


def open_bandai(path: str | Path) -> ReadResult:
    """Stream a Bandai dataset folder (or one clip): (3, T, 21, 1) metres, content and style."""
    path = Path(path)
    if not path.exists():
        raise DataFormatError(path, "no such file or folder")
    cfg = find_cfg(path)
    content = load_names(cfg / "content_label.txt")
    style = load_names(cfg / "style_label.txt")
    skipped: list[tuple[str, str]] = []
    files: list[Path] = []
    if path.is_dir():
        data = path / "data" if (path / "data").is_dir() else path
        files = sorted(data.glob("*.bvh"))
        skipped += [(str(j), "label file without its BVH motion")
                    for j in sorted(data.glob("*.json")) if not j.with_suffix(".bvh").is_file()]
        if not files:
            raise DataFormatError(data, "folder holds no .bvh clips")

    def parse(f: Path) -> Sample:
        labels, meta = _labels(f, content, style)
        return Sample(read_clip(f), labels, meta)

    return ReadResult(single_or_stream(path, files, parse, skipped), get_layout("bandai21"),
                      {"content": content, "style": style}, skipped, FPS, str(path))
