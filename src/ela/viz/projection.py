"""Orthographic views of skeletons, shared by the static pictures and the HTML viewer.

Points are first turned into a canonical frame with y vertical (a proper rotation of the
layout's coordinates, so nothing is mirrored), then seen by a camera on a sphere around the
origin: `azimuth` turns about the vertical axis (0 = camera on +z looking towards −z),
`elevation` lifts the camera (positive = looking down). Screen coordinates are (u right,
v up), in the data's units (metres); the JS viewer uses the same formulas.
"""

from __future__ import annotations

import math

import numpy as np

from ela.skeleton import Layout

#: Proper rotations (det +1) taking the up axis (0 x, 1 y, 2 z) to +y, by up axis.
TO_Y_UP = {
    0: np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]),
    1: np.eye(3),
    2: np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]]),
}

#: The default camera turns this far (radians) from straight in front of the performer.
DEFAULT_TURN = math.radians(20.0)
#: The default camera looks down by this much (radians).
DEFAULT_ELEVATION = math.radians(12.0)


def present_persons(x: np.ndarray, length: int) -> np.ndarray:
    """(M,) bool: persons of the (C, T, V, M) sample not all-zero in its first `length`
    frames (the first person when nobody is)."""
    xyz = np.asarray(x)[:3, :max(int(length), 1)]
    present = np.abs(xyz).sum(axis=(0, 1, 2)) > 0
    if not present.any():
        present[0] = True
    return present


def sequence_points(x: np.ndarray, length: int, up_axis: int = 1,
                    persons: np.ndarray | None = None) -> np.ndarray:
    """(C, T, V, M) sample → (T', M', V, 3) canonical points (metres, y up).

    Keeps the first `length` frames and the persons in the (M,) mask `persons` (default:
    those present, see `present_persons`); only the first three channels are coordinates.
    Pass the original's mask for its adversarial version so both show the same persons.
    """
    if up_axis not in TO_Y_UP:
        raise ValueError(f"up_axis must be 0, 1 or 2, got {up_axis}")
    keep = present_persons(x, length) if persons is None else np.asarray(persons, dtype=bool)
    xyz = np.asarray(x, dtype=np.float64)[:3, :max(int(length), 1)]
    pts = xyz[..., keep].transpose(1, 3, 2, 0)  # (T, M', V, 3)
    return pts @ TO_Y_UP[up_axis].T


def camera_axes(azimuth: float, elevation: float) -> tuple[np.ndarray, np.ndarray]:
    """Screen right and screen up as unit (3,) vectors of the canonical frame.

    right × up points at the camera, so the view is a rotation and never a mirror image.
    """
    sa, ca = math.sin(azimuth), math.cos(azimuth)
    se, ce = math.sin(elevation), math.cos(elevation)
    right = np.array([ca, 0.0, -sa])
    up = np.array([-sa * se, ce, -ca * se])
    return right, up


def project(points: np.ndarray, azimuth: float, elevation: float) -> np.ndarray:
    """(..., 3) canonical points → (..., 2) screen coordinates (u right, v up)."""
    right, up = camera_axes(azimuth, elevation)
    return np.stack([points @ right, points @ up], axis=-1)


def facing_azimuth(points: np.ndarray, layout: Layout) -> float:
    """Azimuth (radians) of a camera straight in front of the first person.

    From the left − right shoulder vector (the first left/right pair whose name mentions a
    shoulder or upper arm, else the layout's first pair) averaged over frames: the performer
    faces (left − right) × up. 0 when the layout has no pairs or the vector is vertical.
    """
    if not layout.pairs:
        return 0.0
    words = ("shoulder", "upperarm", "upper_arm")
    left, right = next((p for p in layout.pairs
                        if any(w in layout.joints[p[0]].lower() for w in words)),
                       layout.pairs[0])
    across = (points[:, 0, left] - points[:, 0, right]).mean(axis=0)
    forward = np.cross(across, np.array([0.0, 1.0, 0.0]))
    if math.hypot(forward[0], forward[2]) < 1e-9:
        return 0.0
    return math.atan2(forward[0], forward[2])


def default_view(points: np.ndarray, layout: Layout) -> tuple[float, float]:
    """(azimuth, elevation) of the default camera: in front of the performer, a little aside."""
    return facing_azimuth(points, layout) + DEFAULT_TURN, DEFAULT_ELEVATION
