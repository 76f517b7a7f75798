"""Mappings between layouts as (V_out, V_in) selection / averaging matrices.

`map_layout(x, W)` applies one to an (N, C, T, V_in, M) tensor with gradients flowing, so an
emotion model on one layout can read an action model's input on another.
"""

from __future__ import annotations

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


def available_mappings() -> list[tuple[str, str]]:
    """(source, target) layout names that `mapping_matrix` knows."""
    return sorted(_SPECS)


def map_layout(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Apply a (V_out, V_in) mapping to x of shape (N, C, T, V_in, M) → (N, C, T, V_out, M)."""
    return torch.einsum("nctvm,uv->nctum", x, w.to(dtype=x.dtype, device=x.device))
