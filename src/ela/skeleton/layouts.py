"""The built-in skeleton layouts and a registry to look them up by name.

Sides are the performer's own left and right. Sources: NTU RGB+D and Kinect v1 body models,
OpenPose/Kinetics-18, COCO-17, the 16-joint gait skeleton of Emotion-Gait/ProxEmo, the
10-joint upper body of the IEMOCAP extraction (S-STGCN), MediaPipe Pose and the Bandai BVH
hierarchy.
"""

from __future__ import annotations

from ela.errors import LayoutError
from ela.skeleton.layout import Layout


def _from_edges(v: int, child_parent: list[tuple[int, int]]) -> tuple[int, ...]:
    parents = [-1] * v
    for c, p in child_parent:
        parents[c] = p
    return tuple(parents)


def _one_based(pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    return [(a - 1, b - 1) for a, b in pairs]


NTU25 = Layout(
    name="ntu25",
    joints=(
        "spine_base", "spine_mid", "neck", "head",
        "left_shoulder", "left_elbow", "left_wrist", "left_hand",
        "right_shoulder", "right_elbow", "right_wrist", "right_hand",
        "left_hip", "left_knee", "left_ankle", "left_foot",
        "right_hip", "right_knee", "right_ankle", "right_foot",
        "spine_shoulder", "left_hand_tip", "left_thumb", "right_hand_tip", "right_thumb",
    ),
    # Hand tips and thumbs both hang from the hand joint (the 2s-AGCN bone list).
    parents=_from_edges(25, _one_based([
        (1, 2), (2, 21), (3, 21), (4, 3), (5, 21), (6, 5), (7, 6), (8, 7), (9, 21),
        (10, 9), (11, 10), (12, 11), (13, 1), (14, 13), (15, 14), (16, 15), (17, 1),
        (18, 17), (19, 18), (20, 19), (22, 8), (23, 8), (24, 12), (25, 12),
    ])),
    centre=20,
    pairs=tuple((a, b) for a, b in [(4, 8), (5, 9), (6, 10), (7, 11), (12, 16), (13, 17),
                                    (14, 18), (15, 19), (21, 23), (22, 24)]),
)

# The MSR Action3D joint order, not the Kinect SDK's (that one is JOINT_ORDERS["kinect20-sdk"]).
KINECT20 = Layout(
    name="kinect20",
    joints=(
        "left_shoulder", "right_shoulder", "shoulder_centre", "spine",
        "left_hip", "right_hip", "hip_centre", "left_elbow", "right_elbow",
        "left_wrist", "right_wrist", "left_hand", "right_hand", "left_knee", "right_knee",
        "left_ankle", "right_ankle", "left_foot", "right_foot", "head",
    ),
    parents=_from_edges(20, [(c, p) for p, c in _one_based([
        (7, 4), (4, 3), (3, 20), (3, 1), (3, 2), (1, 8), (2, 9), (8, 10), (9, 11),
        (10, 12), (11, 13), (7, 5), (7, 6), (5, 14), (6, 15), (14, 16), (15, 17),
        (16, 18), (17, 19),
    ])]),
    centre=2,
    pairs=((0, 1), (4, 5), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16), (17, 18)),
)

OPENPOSE18 = Layout(
    name="openpose18",
    joints=(
        "nose", "neck", "right_shoulder", "right_elbow", "right_wrist",
        "left_shoulder", "left_elbow", "left_wrist", "right_hip", "right_knee",
        "right_ankle", "left_hip", "left_knee", "left_ankle", "right_eye", "left_eye",
        "right_ear", "left_ear",
    ),
    parents=_from_edges(18, [
        (1, 0), (2, 1), (3, 2), (4, 3), (5, 1), (6, 5), (7, 6), (8, 2), (9, 8), (10, 9),
        (11, 5), (12, 11), (13, 12), (14, 0), (15, 0), (16, 14), (17, 15),
    ]),
    centre=1,
    pairs=((5, 2), (6, 3), (7, 4), (11, 8), (12, 9), (13, 10), (15, 14), (17, 16)),
)

COCO17 = Layout(
    name="coco17",
    joints=(
        "nose", "left_eye", "right_eye", "left_ear", "right_ear",
        "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
        "left_wrist", "right_wrist", "left_hip", "right_hip",
        "left_knee", "right_knee", "left_ankle", "right_ankle",
    ),
    parents=_from_edges(17, [
        (15, 13), (13, 11), (16, 14), (14, 12), (11, 5), (12, 6), (9, 7), (7, 5),
        (10, 8), (8, 6), (5, 0), (6, 0), (1, 0), (3, 1), (2, 0), (4, 2),
    ]),
    centre=0,
    pairs=((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16)),
)

# Joints 4-6 and 10-12 are the performer's left side (defined here; public code varies).
GAIT16 = Layout(
    name="gait16",
    joints=(
        "root", "spine", "neck", "head",
        "left_shoulder", "left_elbow", "left_hand",
        "right_shoulder", "right_elbow", "right_hand",
        "left_hip", "left_knee", "left_foot",
        "right_hip", "right_knee", "right_foot",
    ),
    parents=_from_edges(16, [(c, p) for p, c in [
        (0, 1), (0, 10), (0, 13), (1, 2), (2, 3), (2, 4), (2, 7), (4, 5), (5, 6), (7, 8),
        (8, 9), (10, 11), (11, 12), (13, 14), (14, 15),
    ]]),
    centre=1,
    pairs=((4, 7), (5, 8), (6, 9), (10, 13), (11, 14), (12, 15)),
)

UPPER10 = Layout(
    name="upper10",
    joints=(
        "pelvis", "spine", "thorax", "head",
        "left_shoulder", "left_elbow", "left_wrist",
        "right_shoulder", "right_elbow", "right_wrist",
    ),
    parents=(-1, 0, 1, 2, 2, 4, 5, 2, 7, 8),
    centre=2,
    pairs=((4, 7), (5, 8), (6, 9)),
)

_MP_NAMES = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist",
    "right_wrist", "left_pinky", "right_pinky", "left_index", "right_index", "left_thumb",
    "right_thumb", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
    "right_ankle", "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)
MEDIAPIPE33 = Layout(
    name="mediapipe33",
    joints=_MP_NAMES,
    # MediaPipe has no torso joints: the tree hangs the shoulders from the nose and the hips
    # from the shoulders.
    parents=_from_edges(33, [
        (1, 0), (2, 1), (3, 2), (4, 0), (5, 4), (6, 5), (7, 3), (8, 6), (9, 0), (10, 0),
        (11, 0), (12, 0), (13, 11), (14, 12), (15, 13), (16, 14), (17, 15), (18, 16),
        (19, 15), (20, 16), (21, 15), (22, 16), (23, 11), (24, 12), (25, 23), (26, 24),
        (27, 25), (28, 26), (29, 27), (30, 28), (31, 27), (32, 28),
    ]),
    centre=0,
    # Eyes pair by position (inner, centre, outer); then ears, mouth and the limbs.
    pairs=((1, 4), (2, 5), (3, 6), (7, 8), (9, 10))
    + tuple((a, a + 1) for a in range(11, 33, 2)),
)

BANDAI21 = Layout(
    name="bandai21",
    joints=(
        "Hips", "Spine", "Chest", "Neck", "Head",
        "Shoulder_L", "UpperArm_L", "LowerArm_L", "Hand_L",
        "Shoulder_R", "UpperArm_R", "LowerArm_R", "Hand_R",
        "UpperLeg_L", "LowerLeg_L", "Foot_L", "Toes_L",
        "UpperLeg_R", "LowerLeg_R", "Foot_R", "Toes_R",
    ),
    parents=(-1, 0, 1, 2, 3, 2, 5, 6, 7, 2, 9, 10, 11, 0, 13, 14, 15, 0, 17, 18, 19),
    centre=2,
    pairs=((5, 9), (6, 10), (7, 11), (8, 12), (13, 17), (14, 18), (15, 19), (16, 20)),
)

LAYOUTS: dict[str, Layout] = {
    lay.name: lay
    for lay in (NTU25, KINECT20, OPENPOSE18, COCO17, GAIT16, UPPER10, MEDIAPIPE33, BANDAI21)
}
ALIASES = {"ntu": "ntu25", "kinect": "kinect20", "msr": "kinect20", "kinetics": "openpose18",
           "openpose": "openpose18", "coco": "coco17", "gait": "gait16", "upper": "upper10",
           "mediapipe": "mediapipe33", "bandai": "bandai21"}


# Other tools' joint orders of a built-in layout: order name -> (layout, joint names in the
# order of the data). kinect20 itself is the MSR Action3D order; the Kinect v1 SDK
# (NUI_SKELETON_POSITION_INDEX) counts from the hip centre up the spine, then the left arm,
# the right arm, the left leg and the right leg.
JOINT_ORDERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "kinect20-sdk": ("kinect20", (
        "hip_centre", "spine", "shoulder_centre", "head",
        "left_shoulder", "left_elbow", "left_wrist", "left_hand",
        "right_shoulder", "right_elbow", "right_wrist", "right_hand",
        "left_hip", "left_knee", "left_ankle", "left_foot",
        "right_hip", "right_knee", "right_ankle", "right_foot",
    )),
}


def get_layout(name: str | Layout) -> Layout:
    """Look a layout up by name or alias (a `Layout` is returned unchanged)."""
    if isinstance(name, Layout):
        return name
    key = ALIASES.get(name.lower(), name.lower())
    if key in JOINT_ORDERS:
        raise LayoutError(f"{name!r} is a joint order of layout {JOINT_ORDERS[key][0]}, not a "
                          f"layout: data stored in that order are read as "
                          f"{JOINT_ORDERS[key][0]} (e.g. an .npz whose layout is {key!r})")
    if key not in LAYOUTS:
        raise LayoutError(f"unknown layout {name!r}; known: {', '.join(sorted(LAYOUTS))}")
    return LAYOUTS[key]


def register_layout(layout: Layout) -> Layout:
    """Add a user-defined layout to the registry (its name must be new)."""
    if layout.name in LAYOUTS:
        raise LayoutError(f"a layout called {layout.name!r} exists already")
    LAYOUTS[layout.name] = layout
    return layout
