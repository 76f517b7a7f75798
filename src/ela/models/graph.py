"""Graphs built from a `Layout` for the graph-convolution models (ST-GCN family).

`spatial_partition` gives the K = 3 subsets of the ST-GCN spatial-configuration partition
(self, closer to the centre, farther from it), each column-normalised; `adjacency` the plain
symmetric adjacency with self loops.
"""

from __future__ import annotations

import numpy as np

from ela.skeleton.layout import Layout


def adjacency(layout: Layout, self_loops: bool = True) -> np.ndarray:
    """(V, V) 0/1 symmetric adjacency of the layout's tree edges."""
    v = layout.num_joints
    a = np.zeros((v, v), dtype=np.float32)
    for c, p in layout.edges:
        a[c, p] = a[p, c] = 1.0
    if self_loops:
        a += np.eye(v, dtype=np.float32)
    return a


def normalize_digraph(a: np.ndarray) -> np.ndarray:
    """A · D⁻¹ with D the column degrees (the ST-GCN normalisation)."""
    deg = a.sum(axis=0)
    inv = np.where(deg > 0, 1.0 / np.maximum(deg, 1e-12), 0.0)
    return (a * inv[None, :]).astype(np.float32)


def spatial_partition(layout: Layout) -> np.ndarray:
    """(3, V, V) spatial-configuration partition: root, centripetal, centrifugal subsets.

    Entry [k, j, i] weights the message from joint j into joint i, so a feature map
    (N, C, T, V) is aggregated as ``einsum("nctv,kvw->nkctw", x, A)``. Distances to the centre
    are hop counts along the layout's tree (`Layout.depth`).
    """
    a = normalize_digraph(adjacency(layout))
    depth = np.asarray(layout.depth)
    v = layout.num_joints
    out = np.zeros((3, v, v), dtype=np.float32)
    for i in range(v):
        for j in range(v):
            if a[j, i] == 0:
                continue
            if depth[j] == depth[i]:
                out[0, j, i] = a[j, i]
            elif depth[j] < depth[i]:
                out[1, j, i] = a[j, i]
            else:
                out[2, j, i] = a[j, i]
    return out
