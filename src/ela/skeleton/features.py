"""Differentiable skeleton features on (N, C, T, V, M) tensors.

C holds the coordinates (the first 3 are x, y, z in metres), T frames, V joints, M persons.
Index tensors come from the `Layout` once per (layout, device) and are cached. Masks mark
valid elements: a frame beyond a sample's `lengths`, or a person slot that is all zeros in a
frame (absent person / lost tracking), is invalid, and so is every feature touching it.
"""

from __future__ import annotations

from functools import lru_cache

import torch

from ela.skeleton.layout import Layout


@lru_cache(maxsize=64)
def _indices(layout: Layout, device: str) -> dict[str, torch.Tensor]:
    bones = layout.bones
    angles = layout.angles
    dev = torch.device(device)
    parents = layout.parents
    return {
        "parent": torch.tensor([p if p >= 0 else j for j, p in enumerate(parents)],
                               dtype=torch.long, device=dev),
        "roots": torch.tensor([j for j, p in enumerate(parents) if p < 0], dtype=torch.long,
                              device=dev),
        "has_bone": torch.tensor([p >= 0 and j not in layout.zero_bones
                                  for j, p in enumerate(parents)], device=dev),
        "bone_child": torch.tensor([c for c, _ in bones], dtype=torch.long, device=dev),
        "bone_parent": torch.tensor([p for _, p in bones], dtype=torch.long, device=dev),
        "angle_a": torch.tensor([a for a, _, _ in angles], dtype=torch.long, device=dev),
        "angle_b": torch.tensor([b for _, b, _ in angles], dtype=torch.long, device=dev),
        "angle_c": torch.tensor([c for _, _, c in angles], dtype=torch.long, device=dev),
    }


def layout_indices(layout: Layout, device: torch.device | str = "cpu") -> dict[str, torch.Tensor]:
    """Cached index tensors of `layout` on `device`: bones, angle triplets, each joint's
    parent (itself for a root), the roots, and whether a joint has a non-zero bone to its
    parent."""
    return _indices(layout, str(torch.device(device)))


def frame_mask(lengths: torch.Tensor | None, n: int, t: int, device=None) -> torch.Tensor:
    """(N, T) bool: True on the first lengths[i] frames of sample i (all True if None)."""
    if lengths is None:
        return torch.ones(n, t, dtype=torch.bool, device=device)
    lengths = torch.as_tensor(lengths, device=device)
    return torch.arange(t, device=device)[None, :] < lengths[:, None]


def valid_mask(x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
    """(N, T, M) bool: frame within the sample's length and person present (non-zero)."""
    n, _, t, _, _ = x.shape
    present = x[:, :3].detach().abs().sum(dim=(1, 3)) > 0  # (N, T, M)
    return present & frame_mask(lengths, n, t, x.device)[:, :, None]


def bone_vectors(x: torch.Tensor, layout: Layout) -> torch.Tensor:
    """(N, 3, T, B, M) bone vectors child − parent for the layout's non-zero bones."""
    idx = layout_indices(layout, x.device)
    xyz = x[:, :3]
    return xyz[:, :, :, idx["bone_child"]] - xyz[:, :, :, idx["bone_parent"]]


def bone_stream(x: torch.Tensor, layout: Layout) -> torch.Tensor:
    """Bone stream of joints x (..., V, M): joint j − its parent joint, zero at the root(s).

    Same shape as x, every channel differenced, zero-length bones included: the bone input
    of 2s-AGCN and 2s-S-STGCN. Models apply it to (N, C, T, V, M) batches inside their
    forward pass, `ela.data.transforms.to_bone` to one (C, T, V, M) sample.
    """
    idx = layout_indices(layout, x.device)
    return (x - x[..., idx["parent"], :]).index_fill(-2, idx["roots"], 0.0)


_GUARD = 1e-12  # added under square roots of norms, to keep their gradients finite at 0


def _safe_norm(v: torch.Tensor, dim: int, eps: float = _GUARD) -> torch.Tensor:
    """Euclidean norm whose gradient stays finite at v = 0."""
    return torch.sqrt((v * v).sum(dim=dim) + eps)


def bone_lengths(x: torch.Tensor, layout: Layout) -> torch.Tensor:
    """(N, T, B, M) bone lengths in the units of x."""
    return _safe_norm(bone_vectors(x, layout), dim=1)


@lru_cache(maxsize=64)
def parents_first(layout: Layout) -> tuple[int, ...]:
    """The joints of `layout` ordered so that every parent comes before its children."""
    def ancestors(j: int) -> int:
        n = 0
        while layout.parents[j] >= 0:
            j, n = layout.parents[j], n + 1
        return n

    return tuple(sorted(range(layout.num_joints), key=ancestors))


def parent_distances(x: torch.Tensor, layout: Layout) -> torch.Tensor:
    """(N, T, V, M) each joint's distance to its parent (about 1e-6 at a root), every
    joint of the tree, zero-length bones included."""
    xyz = x[:, :3]
    return _safe_norm(xyz - xyz[:, :, :, layout_indices(layout, x.device)["parent"]], dim=1)


def with_bone_lengths(x: torch.Tensor, layout: Layout, lengths: torch.Tensor) -> torch.Tensor:
    """x (N, C, T, V, M) rebuilt from its root(s) outwards with each joint's bone to its
    parent rescaled to `lengths` (N, T, V, M, the units of x) and its direction kept: joint
    j = rebuilt parent + (x_j − x_parent)·lengths_j / |x_j − x_parent|. Roots, the layout's
    zero-length bones, bones shorter than 1 µm, absent persons and padding keep their bone
    vector (so a padded frame stays 0); channels beyond x, y, z are left alone.
    Differentiable in x and `lengths`."""
    xyz = x[:, :3]
    idx = layout_indices(layout, x.device)
    vec = xyz - xyz[:, :, :, idx["parent"]]  # a root's: 0
    length = _safe_norm(vec, dim=1)
    present = valid_mask(x)[:, :, None, :]  # (N, T, 1, M)
    use = present & idx["has_bone"][None, None, :, None] & (length.detach() > 1e-6)
    ratio = torch.where(use, lengths / torch.where(use, length, 1.0), 1.0)
    vec = vec * ratio[:, None]
    joints: list[torch.Tensor] = [xyz[:, :, :, 0]] * layout.num_joints
    for j in parents_first(layout):
        p = layout.parents[j]
        joints[j] = xyz[:, :, :, j] if p < 0 else joints[p] + vec[:, :, :, j]
    return torch.cat([torch.stack(joints, dim=3), x[:, 3:]], dim=1)


def vector_angles(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Angles in radians between vectors u and v along dim 1 (shapes (N, 3, ...) → (N, ...)).

    atan2(|û × v̂|, û · v̂) with û, v̂ their directions: well conditioned near 0 and π, unlike
    arccos of a normalised dot product. The vectors are normalised first so that the small
    guard under the cross product's norm (which keeps its gradient finite at parallel
    vectors) is an angle of about 1e-6 rad at any length; on raw vectors it would read as an
    angle of 1e-6 / (|u|·|v|) rad, which for 1 cm bones is 0.01 rad.
    """
    u = u / _safe_norm(u, dim=1).unsqueeze(1)
    v = v / _safe_norm(v, dim=1).unsqueeze(1)
    return torch.atan2(_safe_norm(torch.linalg.cross(u, v, dim=1), dim=1), (u * v).sum(dim=1))


def bone_angles(x: torch.Tensor, layout: Layout) -> torch.Tensor:
    """(N, T, A, M) inner angles in radians at the layout's joint-angle triplets (a, b, c):
    the `vector_angles` of u = a − b and v = c − b."""
    idx = layout_indices(layout, x.device)
    xyz = x[:, :3]
    b = xyz[:, :, :, idx["angle_b"]]
    return vector_angles(xyz[:, :, :, idx["angle_a"]] - b, xyz[:, :, :, idx["angle_c"]] - b)


def bone_turns(x_adv: torch.Tensor, clean_bones: torch.Tensor, layout: Layout) -> torch.Tensor:
    """(N, T, B, M) angle in radians by which each bone of x_adv (N, C, T, V, M) points away
    from the same bone of the clean sequence (`clean_bones` = `bone_vectors` of it).

    Inner angles (`bone_angles`) cannot see a limb swung on a cone about its parent bone,
    nor a whole body turned; this sees every change of a bone's direction. For a small turn
    θ of a bone of length B its far end moves by about θ·B, so θ is the joint displacement
    relative to the bone, a fraction like the relative length change. Computed as
    2·atan2(|û − v̂|, |û + v̂|) on the unit vectors (well conditioned at 0 and π); the guard
    under the first norm is taken off again, so an unturned bone reads exactly 0 (and its
    gradient there is 0, not undefined).
    """
    u = bone_vectors(x_adv, layout)
    u = u / _safe_norm(u, dim=1).unsqueeze(1)
    v = clean_bones / _safe_norm(clean_bones, dim=1).unsqueeze(1)
    floor = torch.sqrt(torch.full((), _GUARD, dtype=u.dtype, device=u.device))
    apart = (_safe_norm(u - v, dim=1) - floor).clamp(min=0.0)
    return 2 * torch.atan2(apart, _safe_norm(u + v, dim=1))


def joint_speeds(x: torch.Tensor) -> torch.Tensor:
    """(N, T−1, V, M) per-frame joint displacement ‖x[t+1] − x[t]‖ (units per frame)."""
    xyz = x[:, :3]
    return _safe_norm(xyz[:, :, 1:] - xyz[:, :, :-1], dim=1)


def joint_accelerations(x: torch.Tensor) -> torch.Tensor:
    """(N, T−2, V, M) norm of the second temporal difference (units per frame²)."""
    xyz = x[:, :3]
    return _safe_norm(xyz[:, :, 2:] - 2 * xyz[:, :, 1:-1] + xyz[:, :, :-2], dim=1)


def speed_mask(mask: torch.Tensor) -> torch.Tensor:
    """(N, T−1, M) from an (N, T, M) frame mask: both frames of the difference valid."""
    return mask[:, 1:] & mask[:, :-1]


def acceleration_mask(mask: torch.Tensor) -> torch.Tensor:
    """(N, T−2, M) from an (N, T, M) frame mask: all three frames valid."""
    return mask[:, 2:] & mask[:, 1:-1] & mask[:, :-2]
