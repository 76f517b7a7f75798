"""Dataset-level preparation shared by the command line and the runs: read, select, map.

These act on a whole `SkeletonSet` (per-sample transforms live in `ela.data.transforms`; the
mapping of a set to another layout is `ela.io.mapping.map_set`).
"""

from __future__ import annotations

from pathlib import Path

from ela.data.transforms import resample
from ela.errors import ElaError
from ela.io import read
from ela.io.base import Sample, SkeletonSet
from ela.io.mapping import map_set
from ela.skeleton.filters import butter_lowpass


def read_dataset(path: str | Path, fmt: str | None = None, layout: str | None = None,
                 only: str | None = None) -> SkeletonSet:
    """Read `path`, keep the samples selected by `only`, map to `layout` if given.

    `only` is ``"label=name1,name2"``: keep samples whose label is one of those class names;
    the label is re-indexed to the kept names in that order.
    """
    data = read(path, format=fmt)
    if only:
        data = select_classes(data, only)
    if layout:
        data = map_set(data, layout)
    return data


def select_classes(data: SkeletonSet, spec: str) -> SkeletonSet:
    """Keep the classes named in ``"label=a,b,c"`` and renumber that label 0..k−1."""
    key, sep, names = spec.partition("=")
    if not sep or not names:
        raise ElaError(f"--only expects label=name1,name2,..., got {spec!r}")
    key = key.strip()
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    known = data.label_names.get(key)
    if known is None:
        raise ElaError(f"{data.source}: no label {key!r}; labels: {sorted(data.label_names)}")
    missing = [n for n in wanted if n not in known]
    if missing:
        raise ElaError(f"{data.source}: label {key!r} has no class {missing}; classes: {known}")
    old_to_new = {known.index(n): i for i, n in enumerate(wanted)}
    samples = [
        Sample(s.data, {**s.labels, key: old_to_new[s.labels[key]]}, s.meta)
        for s in data.samples if s.labels.get(key) in old_to_new
    ]
    return data.replaced(samples=samples, label_names={**data.label_names, key: wanted})


def apply_transform(data: SkeletonSet, lowpass: bool = False,
                    frames: int | None = None) -> SkeletonSet:
    """Optionally low-pass filter (order 8, cut-off 0.1) and resample every sample to T."""
    samples = []
    for s in data.samples:
        x = butter_lowpass(s.data) if lowpass else s.data
        x = resample(x, frames) if frames else x
        samples.append(Sample(x, s.labels, s.meta))
    return data.replaced(samples=samples)
