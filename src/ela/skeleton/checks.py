"""Plausibility checks of skeleton data: joints never tracked, a wrong joint order or axis.

Each check takes one (C, T, V, M) sample (the first channels x, y, z in metres, or x, y,
score for the 2D image layouts openpose18 and coco17; ``layout.up_axis`` up) and its
`Layout`; `data_warnings` runs them over a dataset and says, in words, what looks wrong.
A joint or person is *present* in a frame when any of its values is non-zero.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ela.skeleton.layout import Layout

# Kinect v2 (ntu25) joints that Kinect v1 (kinect20) lacks: all zero when v1 data is padded.
KINECT_V2_ONLY = ("spine_shoulder", "left_hand_tip", "left_thumb", "right_hand_tip",
                  "right_thumb")
IMAGE_LAYOUTS = frozenset({"openpose18", "coco17"})  # (x, y, score): no bone lengths
HEAD_JOINTS = ("head", "Head", "nose")
HIP_JOINTS = ("hip_centre", "spine_base", "pelvis", "root", "Hips")
ASYMMETRY_RATIO = 1.5  # a left bone this many times longer or shorter than its right twin
SHARE = 0.5  # a dataset warning needs this share of the samples to show the problem


def zero_joints(data: np.ndarray) -> np.ndarray:
    """(V,) bool: the joint is zero in every frame and person of (C, T, V, M) `data`."""
    return ~np.asarray(data).any(axis=(0, 1, 3))


def _head_and_hips(data: np.ndarray, layout: Layout) -> tuple[np.ndarray, np.ndarray] | None:
    """(C, T, M) head and hip centre positions, or None when the layout names neither."""
    head = next((layout.index(n) for n in HEAD_JOINTS if n in layout.joints), None)
    hip = next((layout.index(n) for n in HIP_JOINTS if n in layout.joints), None)
    if head is None:
        return None
    if hip is not None:
        return data[:, :, head], data[:, :, hip]
    if {"left_hip", "right_hip"} <= set(layout.joints):
        sides = data[:, :, [layout.index("left_hip"), layout.index("right_hip")]]
        both = sides.any(axis=0).all(axis=1)  # (T, M): both hips present
        return data[:, :, head], np.where(both, sides.mean(axis=2), 0.0)
    return None


def head_below_hips(data: np.ndarray, layout: Layout) -> float | None:
    """Share of (frame, person) pairs of a (C, T, V, M) sample whose head is below the hips.

    Vertical is ``layout.up_axis``. None when the layout has no head or hip joints or they
    are never present together.
    """
    parts = _head_and_hips(np.asarray(data), layout)
    if parts is None or data.shape[0] <= layout.up_axis:
        return None
    head, hips = parts
    both = head.any(axis=0) & hips.any(axis=0)  # (T, M)
    if not both.any():
        return None
    below = head[layout.up_axis] < hips[layout.up_axis]
    return float(below[both].mean())


def side_asymmetry(data: np.ndarray, layout: Layout) -> float | None:
    """Largest ratio (≥ 1) between the median lengths of a long left bone and its right twin.

    A left/right joint pair of ``layout.pairs`` whose joints both have a parent gives one
    bone pair; lengths are taken on x, y, z (metres) over the frames where all four joints
    are present. Only *long* pairs count, whose longer bone is at least half the longest
    bone of any pair (the limbs): short bones (hands, feet, hips) are too noisy in sensor
    data. None for the 2D image layouts and when no bone pair is ever present.
    """
    if layout.name in IMAGE_LAYOUTS:
        return None
    xyz = np.asarray(data, dtype=np.float64)[:3]
    medians = []
    for left, right in layout.pairs:
        pl, pr = layout.parents[left], layout.parents[right]
        if pl < 0 or pr < 0:
            continue
        joints = xyz[:, :, [left, pl, right, pr]]  # (3, T, 4, M)
        seen = joints.any(axis=0).all(axis=1)  # (T, M)
        if not seen.any():
            continue
        lengths = np.linalg.norm(joints[:, :, [0, 2]] - joints[:, :, [1, 3]], axis=0)
        a, b = np.median(lengths[:, 0][seen]), np.median(lengths[:, 1][seen])
        if min(a, b) > 0:
            medians.append((max(a, b), min(a, b)))
    if not medians:
        return None
    longest = max(long for long, _ in medians)
    return max(float(long / short) for long, short in medians if long >= 0.5 * longest)


def sample_checks(x: np.ndarray, layout: Layout) -> tuple[np.ndarray, bool, bool]:
    """The checks of `data_warnings` on one (C, T, V, M) sample: (joints zero in every frame
    (V,) bool, head below the hips in most frames, a left bone over 1.5 × or under 1/1.5 ×
    its right twin)."""
    share = head_below_hips(x, layout)
    ratio = side_asymmetry(x, layout)
    return (zero_joints(x), bool(share is not None and share > 0.5),
            bool(ratio is not None and ratio > ASYMMETRY_RATIO))


def data_warnings(samples: Iterable[np.ndarray], layout: Layout
                  ) -> tuple[dict[str, Any], list[str]]:
    """Checks of a dataset of (C, T, V, M) samples: (counts, warnings in words).

    counts: ``zero_joints`` {joint: samples where it is zero in every frame},
    ``head_below_hips`` (samples with the head below the hips in most frames) and
    ``asymmetric`` (samples with a left bone over 1.5 × or under 1/1.5 × its right twin).
    A warning is given when at least half of the samples show the problem. `samples` is
    gone through once (a generator streams a set larger than memory).
    """
    return checks_warnings((sample_checks(x, layout) for x in samples), layout)


def checks_warnings(checks: Iterable[tuple[np.ndarray, bool, bool]], layout: Layout
                    ) -> tuple[dict[str, Any], list[str]]:
    """`data_warnings` of the `sample_checks` of every sample (computed elsewhere, e.g. in
    the worker processes of a conversion)."""
    n = 0
    zero = np.zeros(layout.num_joints, dtype=np.int64)
    below = asymmetric = 0
    for dead_joints, head_low, lopsided in checks:
        n += 1
        zero += dead_joints
        below += head_low
        asymmetric += lopsided
    counts = {"zero_joints": {layout.joints[j]: int(zero[j]) for j in np.flatnonzero(zero)},
              "head_below_hips": int(below), "asymmetric": int(asymmetric)}
    warnings = []
    dead = [layout.joints[j] for j in np.flatnonzero(zero >= max(1, SHARE * n))]
    if dead:
        text = (f"joints {', '.join(dead)} are zero in every frame of most samples "
                f"({int(zero.max())} of {n})")
        if layout.name == "ntu25" and set(KINECT_V2_ONLY) <= set(dead):
            text += ("; these look like Kinect v1 (20-joint) skeletons padded to 25 joints: "
                     "read them as kinect20 (--layout kinect20)")
        warnings.append(text)
    if n and below >= SHARE * n:
        warnings.append(f"the head is below the hips in most frames of {below} of {n} "
                        f"samples: is the joint order (layout {layout.name}) or the up axis "
                        "wrong?")
    if n and asymmetric >= SHARE * n:
        warnings.append(f"left and right bones differ in length by over "
                        f"{ASYMMETRY_RATIO:g}× in {asymmetric} of {n} samples: is the joint "
                        f"order (layout {layout.name}) wrong?")
    return counts, warnings
