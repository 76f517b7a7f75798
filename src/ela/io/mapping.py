"""A whole `SkeletonSet` mapped to another layout (used by the data preparation and video)."""

from __future__ import annotations

from ela.io.base import Sample, SkeletonSet
from ela.skeleton.layouts import get_layout
from ela.skeleton.mapping import map_array


def map_set(data: SkeletonSet, layout: str) -> SkeletonSet:
    """Every (C, T, V, M) sample mapped to `layout` with `ela.skeleton.mapping_matrix`.

    Samples become float32 (C, T, V_layout, M), metres unchanged; ``meta["mapped_from"]``
    names the layout they came from. The set itself is returned when it is in `layout`.
    """
    target = get_layout(layout)
    if target.name == data.layout.name:
        return data
    samples = [Sample(map_array(s.data, data.layout, target), s.labels,
                      {**s.meta, "mapped_from": data.layout.name}) for s in data.samples]
    return data.replaced(samples=samples, layout=target)
