"""Skeleton layouts, mappings between them and differentiable skeleton features."""

from ela.skeleton.features import (
    acceleration_mask,
    bone_angles,
    bone_lengths,
    bone_vectors,
    frame_mask,
    joint_accelerations,
    joint_speeds,
    layout_indices,
    speed_mask,
    valid_mask,
)
from ela.skeleton.layout import Layout
from ela.skeleton.layouts import LAYOUTS, get_layout, register_layout
from ela.skeleton.mapping import available_mappings, map_layout, mapping_matrix

__all__ = [
    "LAYOUTS", "Layout", "acceleration_mask", "available_mappings", "bone_angles",
    "bone_lengths", "bone_vectors", "frame_mask", "get_layout", "joint_accelerations",
    "joint_speeds", "layout_indices", "map_layout", "mapping_matrix", "register_layout",
    "speed_mask", "valid_mask",
]
