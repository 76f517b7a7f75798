"""Skeleton layouts, mappings between them and differentiable skeleton features.

NumPy-level helpers of one (C, T, V, M) sample live beside them: the low-pass filter in
`ela.skeleton.filters`, plausibility checks (untracked joints, joint order) in
`ela.skeleton.checks`.
"""

from ela.skeleton.features import (
    acceleration_mask,
    bone_angles,
    bone_lengths,
    bone_turns,
    bone_vectors,
    frame_mask,
    joint_accelerations,
    joint_speeds,
    layout_indices,
    speed_mask,
    valid_mask,
    vector_angles,
)
from ela.skeleton.layout import Layout
from ela.skeleton.layouts import JOINT_ORDERS, LAYOUTS, get_layout, register_layout
from ela.skeleton.mapping import (
    available_mappings,
    map_array,
    map_layout,
    mapping_matrix,
    order_by_name,
)

__all__ = [
    "JOINT_ORDERS", "LAYOUTS", "Layout", "acceleration_mask", "available_mappings",
    "bone_angles", "bone_lengths", "bone_turns", "bone_vectors", "frame_mask", "get_layout",
    "joint_accelerations", "joint_speeds", "layout_indices", "map_array", "map_layout",
    "mapping_matrix", "order_by_name", "register_layout", "speed_mask", "valid_mask",
    "vector_angles",
]
