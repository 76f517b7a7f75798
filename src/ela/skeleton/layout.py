"""Skeleton layouts: joint names, the kinematic tree, bones, angle triplets, sides.

A `Layout` is immutable and hashable so that index tensors derived from it can be cached.
Joint indices are 0-based everywhere. A bone is a (child, parent) pair; its vector is
child − parent. Coordinates are metres with `up_axis` vertical (1 = y, the default).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from ela.errors import LayoutError


@dataclass(frozen=True)
class Layout:
    """A skeleton definition.

    Attributes:
        name: registry name (e.g. ``"ntu25"``).
        joints: joint names, one per joint index.
        parents: parent index of each joint, ``-1`` for the root(s).
        centre: the centre joint (graph partition centre and centring target).
        pairs: (left, right) joint pairs, for mirroring and sanity checks.
        zero_bones: child joints whose bone to the parent has zero length in this layout's
            data (e.g. coincident markers); they are excluded from `bones`.
        up_axis: coordinate index that is vertical after reading (1 = y).
    """

    name: str
    joints: tuple[str, ...]
    parents: tuple[int, ...]
    centre: int
    pairs: tuple[tuple[int, int], ...] = ()
    zero_bones: frozenset[int] = field(default_factory=frozenset)
    up_axis: int = 1

    def __post_init__(self) -> None:
        v = len(self.joints)
        if len(self.parents) != v:
            raise LayoutError(f"layout {self.name}: {v} joints but {len(self.parents)} parents")
        for j, p in enumerate(self.parents):
            if p >= v or p < -1 or p == j:
                raise LayoutError(f"layout {self.name}: joint {j} has invalid parent {p}")
        if not 0 <= self.centre < v:
            raise LayoutError(f"layout {self.name}: centre {self.centre} out of range")
        for j in range(v):  # every chain must reach a root: no cycles
            seen, k = set(), j
            while k != -1:
                if k in seen:
                    raise LayoutError(f"layout {self.name}: cycle through joint {k}")
                seen.add(k)
                k = self.parents[k]

    @property
    def num_joints(self) -> int:
        return len(self.joints)

    def index(self, name: str) -> int:
        """Index of the joint called `name`."""
        try:
            return self.joints.index(name)
        except ValueError:
            raise LayoutError(f"layout {self.name} has no joint {name!r}") from None

    @cached_property
    def bones(self) -> tuple[tuple[int, int], ...]:
        """(child, parent) pairs of every non-zero-length bone, in joint order."""
        return tuple(
            (j, p)
            for j, p in enumerate(self.parents)
            if p >= 0 and j not in self.zero_bones
        )

    @cached_property
    def edges(self) -> tuple[tuple[int, int], ...]:
        """All (child, parent) pairs of the tree, zero-length bones included (for graphs)."""
        return tuple((j, p) for j, p in enumerate(self.parents) if p >= 0)

    @cached_property
    def angles(self) -> tuple[tuple[int, int, int], ...]:
        """Joint-angle triplets (a, b, c): the angle at joint b between bones b–a and b–c.

        Every two bones that share a joint form one angle (parent/child and sibling bones).
        """
        neighbours: dict[int, list[int]] = {j: [] for j in range(self.num_joints)}
        for c, p in self.bones:
            neighbours[c].append(p)
            neighbours[p].append(c)
        out = []
        for b in range(self.num_joints):
            nb = sorted(neighbours[b])
            out.extend((a, b, c) for i, a in enumerate(nb) for c in nb[i + 1 :])
        return tuple(out)

    @cached_property
    def depth(self) -> tuple[int, ...]:
        """Number of edges from each joint to the centre joint along the tree."""
        adj: dict[int, list[int]] = {j: [] for j in range(self.num_joints)}
        for c, p in self.edges:
            adj[c].append(p)
            adj[p].append(c)
        dist = [-1] * self.num_joints
        dist[self.centre] = 0
        frontier = [self.centre]
        while frontier:
            nxt = []
            for u in frontier:
                for w in adj[u]:
                    if dist[w] < 0:
                        dist[w] = dist[u] + 1
                        nxt.append(w)
            frontier = nxt
        far = max(dist) + 1
        return tuple(d if d >= 0 else far for d in dist)

    @cached_property
    def mirror(self) -> tuple[int, ...]:
        """Permutation that swaps left and right joints."""
        perm = list(range(self.num_joints))
        for a, b in self.pairs:
            perm[a], perm[b] = b, a
        return tuple(perm)

    def __repr__(self) -> str:
        return f"Layout({self.name!r}, {self.num_joints} joints, {len(self.bones)} bones)"
