"""Mappings between layouts as (V_out, V_in) selection / averaging matrices.

`map_layout(x, W)` applies one to an (N, C, T, V_in, M) tensor with gradients flowing, so an
emotion model on one layout can read an action model's input on another; `map_array` maps one
(C, T, V_in, M) NumPy sample. `order_by_name` reorders data stored in another tool's joint
order (e.g. the Kinect SDK's, ``JOINT_ORDERS["kinect20-sdk"]``) into a layout's order.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import torch

from ela.errors import LayoutError
from ela.skeleton.layout import Layout
from ela.skeleton.layouts import get_layout

# target layout joint name -> source joints averaged to produce it
_SPECS: dict[tuple[str, str], dict[str, tuple[str, ...]]] = {
    ("ntu25", "gait16"): {
        "root": ("spine_base",), "spine": ("spine_mid",), "neck": ("spine_shoulder",),
        "head": ("head",), "left_shoulder": ("left_shoulder",), "left_elbow": ("left_elbow",),
        "left_hand": ("left_wrist",), "right_shoulder": ("right_shoulder",),
        "right_elbow": ("right_elbow",), "right_hand": ("right_wrist",),
        "left_hip": ("left_hip",), "left_knee": ("left_knee",), "left_foot": ("left_ankle",),
        "right_hip": ("right_hip",), "right_knee": ("right_knee",),
        "right_foot": ("right_ankle",),
    },
    ("ntu25", "upper10"): {
        "pelvis": ("spine_base",), "spine": ("spine_mid",), "thorax": ("spine_shoulder",),
        "head": ("head",), "left_shoulder": ("left_shoulder",), "left_elbow": ("left_elbow",),
        "left_wrist": ("left_wrist",), "right_shoulder": ("right_shoulder",),
        "right_elbow": ("right_elbow",), "right_wrist": ("right_wrist",),
    },
    # Kinect v1's 20 joints are Kinect v2's first 20, slot for slot: v1's shoulder centre
    # sits in v2's slot 3 ("neck"), where v1 skeletons padded to 25 joints keep it (their
    # spine_shoulder is zero); in genuine v2 data the neck is a few cm above it.
    ("ntu25", "kinect20"): {
        "hip_centre": ("spine_base",), "spine": ("spine_mid",), "shoulder_centre": ("neck",),
        "head": ("head",), "left_shoulder": ("left_shoulder",), "left_elbow": ("left_elbow",),
        "left_wrist": ("left_wrist",), "left_hand": ("left_hand",),
        "right_shoulder": ("right_shoulder",), "right_elbow": ("right_elbow",),
        "right_wrist": ("right_wrist",), "right_hand": ("right_hand",),
        "left_hip": ("left_hip",), "left_knee": ("left_knee",), "left_ankle": ("left_ankle",),
        "left_foot": ("left_foot",), "right_hip": ("right_hip",),
        "right_knee": ("right_knee",), "right_ankle": ("right_ankle",),
        "right_foot": ("right_foot",),
    },
    ("kinect20", "gait16"): {
        "root": ("hip_centre",), "spine": ("spine",), "neck": ("shoulder_centre",),
        "head": ("head",), "left_shoulder": ("left_shoulder",), "left_elbow": ("left_elbow",),
        "left_hand": ("left_wrist",), "right_shoulder": ("right_shoulder",),
        "right_elbow": ("right_elbow",), "right_hand": ("right_wrist",),
        "left_hip": ("left_hip",), "left_knee": ("left_knee",), "left_foot": ("left_ankle",),
        "right_hip": ("right_hip",), "right_knee": ("right_knee",),
        "right_foot": ("right_ankle",),
    },
    ("kinect20", "upper10"): {
        "pelvis": ("hip_centre",), "spine": ("spine",), "thorax": ("shoulder_centre",),
        "head": ("head",), "left_shoulder": ("left_shoulder",), "left_elbow": ("left_elbow",),
        "left_wrist": ("left_wrist",), "right_shoulder": ("right_shoulder",),
        "right_elbow": ("right_elbow",), "right_wrist": ("right_wrist",),
    },
    # BVH joint positions are joint origins: UpperArm is the shoulder, LowerArm the elbow,
    # Hand the wrist, UpperLeg the hip, LowerLeg the knee, Foot the ankle.
    ("bandai21", "gait16"): {
        "root": ("Hips",), "spine": ("Spine", "Chest"), "neck": ("Neck",), "head": ("Head",),
        "left_shoulder": ("UpperArm_L",), "left_elbow": ("LowerArm_L",),
        "left_hand": ("Hand_L",), "right_shoulder": ("UpperArm_R",),
        "right_elbow": ("LowerArm_R",), "right_hand": ("Hand_R",),
        "left_hip": ("UpperLeg_L",), "left_knee": ("LowerLeg_L",), "left_foot": ("Foot_L",),
        "right_hip": ("UpperLeg_R",), "right_knee": ("LowerLeg_R",),
        "right_foot": ("Foot_R",),
    },
    ("bandai21", "upper10"): {
        "pelvis": ("Hips",), "spine": ("Spine",), "thorax": ("Neck",), "head": ("Head",),
        "left_shoulder": ("UpperArm_L",), "left_elbow": ("LowerArm_L",),
        "left_wrist": ("Hand_L",), "right_shoulder": ("UpperArm_R",),
        "right_elbow": ("LowerArm_R",), "right_wrist": ("Hand_R",),
    },
    ("mediapipe33", "upper10"): {
        "pelvis": ("left_hip", "right_hip"),
        "spine": ("left_hip", "right_hip", "left_shoulder", "right_shoulder"),
        "thorax": ("left_shoulder", "right_shoulder"), "head": ("left_ear", "right_ear"),
        "left_shoulder": ("left_shoulder",), "left_elbow": ("left_elbow",),
        "left_wrist": ("left_wrist",), "right_shoulder": ("right_shoulder",),
        "right_elbow": ("right_elbow",), "right_wrist": ("right_wrist",),
    },
    # MediaPipe has no spine, neck or hand-centre joints: those are averages of neighbours.
    ("mediapipe33", "ntu25"): {
        "spine_base": ("left_hip", "right_hip"),
        "spine_mid": ("left_hip", "right_hip", "left_shoulder", "right_shoulder"),
        "neck": ("left_shoulder", "right_shoulder", "left_ear", "right_ear"),
        "head": ("left_ear", "right_ear"),
        "left_shoulder": ("left_shoulder",), "left_elbow": ("left_elbow",),
        "left_wrist": ("left_wrist",), "left_hand": ("left_pinky", "left_index"),
        "right_shoulder": ("right_shoulder",), "right_elbow": ("right_elbow",),
        "right_wrist": ("right_wrist",), "right_hand": ("right_pinky", "right_index"),
        "left_hip": ("left_hip",), "left_knee": ("left_knee",), "left_ankle": ("left_ankle",),
        "left_foot": ("left_foot_index",), "right_hip": ("right_hip",),
        "right_knee": ("right_knee",), "right_ankle": ("right_ankle",),
        "right_foot": ("right_foot_index",),
        "spine_shoulder": ("left_shoulder", "right_shoulder"),
        "left_hand_tip": ("left_index",), "left_thumb": ("left_thumb",),
        "right_hand_tip": ("right_index",), "right_thumb": ("right_thumb",),
    },
    ("mediapipe33", "gait16"): {
        "root": ("left_hip", "right_hip"),
        "spine": ("left_hip", "right_hip", "left_shoulder", "right_shoulder"),
        "neck": ("left_shoulder", "right_shoulder"), "head": ("left_ear", "right_ear"),
        "left_shoulder": ("left_shoulder",), "left_elbow": ("left_elbow",),
        "left_hand": ("left_wrist",), "right_shoulder": ("right_shoulder",),
        "right_elbow": ("right_elbow",), "right_hand": ("right_wrist",),
        "left_hip": ("left_hip",), "left_knee": ("left_knee",), "left_foot": ("left_ankle",),
        "right_hip": ("right_hip",), "right_knee": ("right_knee",),
        "right_foot": ("right_ankle",),
    },
}


def mapping_matrix(source: str | Layout, target: str | Layout) -> torch.Tensor:
    """(V_target, V_source) float32 matrix whose rows average the corresponding source joints.

    The identity when both layouts are the same.
    """
    src, dst = get_layout(source), get_layout(target)
    if src.name == dst.name:
        return torch.eye(src.num_joints)
    spec = _SPECS.get((src.name, dst.name))
    if spec is None:
        known = ", ".join(f"{a}->{b}" for a, b in sorted(_SPECS))
        raise LayoutError(f"no mapping from {src.name} to {dst.name}; known: {known}")
    w = torch.zeros(dst.num_joints, src.num_joints)
    for name, sources in spec.items():
        row = dst.index(name)
        for s in sources:
            w[row, src.index(s)] = 1.0 / len(sources)
    return w


@lru_cache(maxsize=64)
def _numpy_matrix(source: Layout, target: Layout) -> np.ndarray:
    w = mapping_matrix(source, target).numpy()
    w.flags.writeable = False
    return w


def map_array(data: np.ndarray, source: str | Layout, target: str | Layout) -> np.ndarray:
    """(C, T, V_target, M) float32: a (C, T, V_source, M) sample mapped by `mapping_matrix`."""
    w = _numpy_matrix(get_layout(source), get_layout(target))
    return np.einsum("ctvm,uv->ctum", np.asarray(data), w).astype(np.float32)


def order_by_name(names: Sequence[str], layout: str | Layout) -> np.ndarray:
    """(V,) indices into `names` that put data whose joints are `names` in `layout`'s order.

    ``data[:, :, order_by_name(names, layout)]`` is in the layout's joint order. Raises
    LayoutError naming the joints that are missing, unknown or repeated.
    """
    lay = get_layout(layout)
    names = [str(n) for n in names]
    repeated = sorted({n for n in names if names.count(n) > 1})
    missing = [n for n in lay.joints if n not in names]
    unknown = [n for n in names if n not in lay.joints]
    if repeated or missing or unknown or len(names) != lay.num_joints:
        raise LayoutError(f"joint names do not match layout {lay.name}: missing {missing}, "
                          f"unknown {unknown}, repeated {repeated}")
    return np.array([names.index(n) for n in lay.joints], dtype=np.int64)


def available_mappings() -> list[tuple[str, str]]:
    """(source, target) layout names that `mapping_matrix` knows."""
    return sorted(_SPECS)


def map_layout(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Apply a (V_out, V_in) mapping to x of shape (N, C, T, V_in, M) → (N, C, T, V_out, M)."""
    return torch.einsum("nctvm,uv->nctum", x, w.to(dtype=x.dtype, device=x.device))
