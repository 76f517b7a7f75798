"""Transforms of one skeleton sequence: filter, pad, resample, crop, centre, rotate, bones.

Every function takes one sample `data` of shape (C, T, V, M) — channels (the first 3 are
x, y, z in metres, y up), frames, joints, persons — and returns a new float32 array; the
input is never modified. A person is *present* in a frame when any of its values is
non-zero; absent persons and padding frames are all-zero and stay all-zero. The *valid
length* of a sample is one past its last frame with anyone present (trailing all-zero
frames are padding).

Random transforms take a `numpy.random.Generator`; with ``rng=None`` they act in
evaluation mode (a centred crop, no rotation), so one pipeline serves training and test.
`build_transform` turns short strings such as ``"lowpass"``, ``"centre"``, ``"align"``,
``"resample:32"`` or ``"rotate:15"`` into a `Compose` (used by the command line). The
low-pass filter and the presence mask live in `ela.skeleton.filters` (the video extraction
uses them too).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import torch

from ela.errors import ElaError, LayoutError
from ela.skeleton.features import bone_stream
from ela.skeleton.filters import butter_lowpass, present
from ela.skeleton.layout import Layout

_ROOT_WORDS = ("hip", "pelvis", "root", "base")
_SHOULDER_WORDS = ("shoulder", "upperarm")


def _check(data: np.ndarray) -> np.ndarray:
    data = np.asarray(data)
    if data.ndim != 4:
        raise ElaError(f"a sample must have shape (C, T, V, M), got {data.shape}")
    return data.astype(np.float32, copy=False)


def valid_length(data: np.ndarray) -> int:
    """Frames up to and including the last frame in which anyone is present (0 if none)."""
    frames = np.flatnonzero(present(data).any(axis=1))
    return int(frames[-1]) + 1 if frames.size else 0


def pad_or_crop(data: np.ndarray, frames: int) -> np.ndarray:
    """(C, frames, V, M): the first `frames` frames, zero-padded at the end if shorter."""
    data = _check(data)
    frames = _positive(frames, "frames")
    out = np.zeros((data.shape[0], frames, *data.shape[2:]), dtype=np.float32)
    k = min(frames, data.shape[1])
    out[:, :k] = data[:, :k]
    return out


def resample(data: np.ndarray, frames: int) -> np.ndarray:
    """(C, frames, V, M): the valid span stretched or squeezed to exactly `frames` frames.

    Uniform linear interpolation in time: output frame i samples input time
    i·(L − 1)/(frames − 1), L = valid length. Where one of the two neighbouring input frames
    has the person absent, the nearer input frame is copied instead (so a half-present
    skeleton is never made). An empty sample gives zeros.
    """
    data = _check(data)
    frames = _positive(frames, "frames")
    length = valid_length(data)
    if length == 0:
        return np.zeros((data.shape[0], frames, *data.shape[2:]), dtype=np.float32)
    src = np.linspace(0.0, length - 1, frames) if frames > 1 else np.zeros(1)
    i0 = np.floor(src).astype(np.int64)
    i1 = np.minimum(i0 + 1, length - 1)
    w = (src - i0).astype(np.float32)
    pres = present(data[:, :length])
    both = pres[i0] & pres[i1]  # (frames, M)
    lerp = data[:, i0] * (1 - w)[None, :, None, None] + data[:, i1] * w[None, :, None, None]
    nearest = data[:, np.where(w < 0.5, i0, i1)]
    return np.where(both[None, :, None, :], lerp, nearest).astype(np.float32)


def random_crop(data: np.ndarray, frames: int,
                rng: np.random.Generator | None = None) -> np.ndarray:
    """(C, frames, V, M): a window of `frames` consecutive valid frames.

    The start is drawn uniformly from `rng`; with ``rng=None`` the window is centred.
    A sample with fewer valid frames than `frames` is zero-padded instead.
    """
    data = _check(data)
    frames = _positive(frames, "frames")
    length = valid_length(data)
    if length <= frames:
        return pad_or_crop(data[:, :length], frames)
    spare = length - frames
    start = int(rng.integers(0, spare + 1)) if rng is not None else spare // 2
    return data[:, start:start + frames].copy()


def centre(data: np.ndarray, layout: Layout, per_frame: bool = False,
           coords: int = 3) -> np.ndarray:
    """Subtract the position of the layout's centre joint; absent persons stay zero.

    By default one offset for the whole sample: the centre joint of the first person (the
    first present one if person 0 never appears) in its first present frame, subtracted
    from every person, so that relative positions of two people are kept. With
    ``per_frame=True`` each frame subtracts its own reference (the centre joint of the first
    person present in that frame). Only the first `coords` channels (coordinates) move;
    further channels (e.g. confidence) are left as they are.
    """
    data = _check(data)
    pres = present(data)
    out = data.copy()
    if not pres.any():
        return out
    k = min(coords, data.shape[0])
    c = layout.centre
    if per_frame:
        ref_m = pres.argmax(axis=1)
        ref = data[:k, np.arange(data.shape[1]), c, ref_m]  # (k, T)
        shift = ref[:, :, None, None]
    else:
        m0 = 0 if pres[:, 0].any() else int(pres.any(axis=0).argmax())
        t0 = int(pres[:, m0].argmax())
        shift = data[:k, t0, c, m0][:, None, None, None]
    out[:k] = (data[:k] - shift) * pres[None, :, None, :]
    return out


def rotation_matrix(axis: int, angle: float) -> np.ndarray:
    """(3, 3) right-handed rotation by `angle` radians about coordinate `axis` (0, 1, 2)."""
    c, s = np.cos(angle), np.sin(angle)
    a, b = [(1, 2), (2, 0), (0, 1)][axis]
    r = np.eye(3)
    r[a, a], r[a, b], r[b, a], r[b, b] = c, -s, s, c
    return r


def rotate(data: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply a (3, 3) rotation to the x, y, z channels about the origin; others unchanged."""
    data = _check(data)
    if data.shape[0] < 3:
        raise ElaError(f"rotation needs x, y, z channels; the sample has C = {data.shape[0]}")
    out = data.copy()
    out[:3] = np.einsum("ij,jtvm->itvm", np.asarray(matrix, dtype=np.float32), data[:3])
    return out


@lru_cache(maxsize=32)
def view_joints(layout: Layout) -> tuple[int, int, int]:
    """(root, left shoulder, right shoulder) used by `align_view`.

    The root is the first midline joint (in no left/right pair) other than the centre
    whose name contains hip, pelvis, root or base (spine_base, hip_centre, Hips); the
    shoulders are the first (left, right) pair of `layout.pairs` whose names contain
    "shoulder" or "UpperArm". Raises LayoutError when the layout has neither.
    """
    paired = {j for pair in layout.pairs for j in pair}
    root = next((j for j, name in enumerate(layout.joints)
                 if j not in paired and j != layout.centre
                 and any(w in name.lower() for w in _ROOT_WORDS)), None)
    if root is None:
        raise LayoutError(f"align_view: layout {layout.name} has no midline hip, pelvis, root "
                          f"or spine-base joint to define the spine")
    for left, right in layout.pairs:
        if all(any(w in layout.joints[j].lower() for w in _SHOULDER_WORDS)
               for j in (left, right)):
            return root, left, right
    raise LayoutError(f"align_view: layout {layout.name} has no left/right shoulder pair")


def view_rotation(up: np.ndarray, across: np.ndarray) -> np.ndarray | None:
    """(3, 3) rotation taking `up` to +y and the horizontal part of `across` to +x.

    None when either vector is (nearly) zero or they are parallel.
    """
    y = np.asarray(up, dtype=np.float64)
    ny = np.linalg.norm(y)
    if ny < 1e-8:
        return None
    y = y / ny
    x = np.asarray(across, dtype=np.float64)
    x = x - (x @ y) * y
    nx = np.linalg.norm(x)
    if nx < 1e-8:
        return None
    x = x / nx
    return np.stack([x, y, np.cross(x, y)])


def align_view(data: np.ndarray, layout: Layout) -> np.ndarray:
    """Rotate the sample so the performer stands upright facing +z (2s-AGCN preprocessing).

    From the first person's first present frame: the spine (root joint → centre joint,
    e.g. spine base → spine shoulder in ntu25, hip centre → shoulder centre in kinect20,
    Hips → Chest in bandai21) becomes parallel to +y, and the right → left shoulder vector,
    made orthogonal to the spine, parallel to +x. One rotation about the origin for all
    frames and persons: centre first. Empty or degenerate samples come back unchanged;
    layouts without hip root or shoulders raise LayoutError (see `view_joints`).
    """
    data = _check(data)
    root, left, right = view_joints(layout)
    pres = present(data)
    if not pres.any():
        return data.copy()
    m0 = 0 if pres[:, 0].any() else int(pres.any(axis=0).argmax())
    xyz = data[:3, int(pres[:, m0].argmax()), :, m0]
    matrix = view_rotation(xyz[:, layout.centre] - xyz[:, root], xyz[:, left] - xyz[:, right])
    return data.copy() if matrix is None else rotate(data, matrix)


def to_bone(data: np.ndarray, layout: Layout) -> np.ndarray:
    """Bone stream (C, T, V, M): joint j − its parent joint, zero at the root(s).

    Same shape as the joint stream, all channels differenced, as 2s-AGCN and 2s-S-STGCN
    do (`ela.skeleton.features.bone_stream`, which those models apply inside). Absent
    persons stay zero.
    """
    data = _check(data)
    if data.shape[2] != layout.num_joints:
        raise LayoutError(f"to_bone: sample has {data.shape[2]} joints, layout "
                          f"{layout.name} has {layout.num_joints}")
    return bone_stream(torch.tensor(data), layout).numpy()


_AXES = {"up": 1, "x": 0, "y": 1, "z": 2}


def random_rotation(data: np.ndarray, max_degrees: float,
                    rng: np.random.Generator | None, axis: str = "up",
                    tilt_degrees: float = 0.0) -> np.ndarray:
    """Rotate about `axis` by an angle uniform in ±`max_degrees` (augmentation).

    `axis` is ``"up"`` (the vertical y axis) or ``"x"``, ``"y"``, ``"z"``. With
    `tilt_degrees` > 0 a further rotation uniform in ±`tilt_degrees` about each of the two
    other axes tilts the body a little. ``rng=None`` returns the sample unchanged.
    """
    data = _check(data)
    if axis not in _AXES:
        raise ElaError(f"random_rotation: axis must be one of {sorted(_AXES)}, got {axis!r}")
    if rng is None:
        return data.copy()
    a = _AXES[axis]
    matrix = rotation_matrix(a, np.deg2rad(rng.uniform(-max_degrees, max_degrees)))
    if tilt_degrees > 0:
        for b in (b for b in range(3) if b != a):
            tilt = np.deg2rad(rng.uniform(-tilt_degrees, tilt_degrees))
            matrix = rotation_matrix(b, tilt) @ matrix
    return rotate(data, matrix)


def _positive(value: Any, name: str) -> int:
    if int(value) != value or int(value) < 1:
        raise ElaError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


Transform = Callable[[np.ndarray, "np.random.Generator | None"], np.ndarray]


@dataclass(frozen=True)
class Step:
    """One named, picklable pipeline step: `fn(data, **kwargs)` (plus `rng` if random)."""

    name: str
    fn: Callable[..., np.ndarray]
    kwargs: dict[str, Any] = field(default_factory=dict)
    random: bool = False

    def __call__(self, data: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        if self.random:
            return self.fn(data, rng=rng, **self.kwargs)
        return self.fn(data, **self.kwargs)

    def __repr__(self) -> str:
        args = ",".join(f"{k}={v}" for k, v in self.kwargs.items() if k != "layout")
        return f"{self.name}:{args}" if args else self.name


class Compose:
    """Apply steps in order: ``Compose([a, b])(data, rng)`` is ``b(a(data, rng), rng)``."""

    def __init__(self, steps: Sequence[Transform]):
        self.steps = list(steps)

    def __call__(self, data: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        for step in self.steps:
            data = step(data, rng)
        return data

    def __len__(self) -> int:
        return len(self.steps)

    def __repr__(self) -> str:
        return f"Compose({[repr(s) for s in self.steps]})"


# name -> (function, positional parameter names, needs layout, random)
_REGISTRY: dict[str, tuple[Callable[..., np.ndarray], tuple[str, ...], bool, bool]] = {
    "lowpass": (butter_lowpass, ("order", "cutoff"), False, False),
    "pad": (pad_or_crop, ("frames",), False, False),
    "resample": (resample, ("frames",), False, False),
    "crop": (random_crop, ("frames",), False, True),
    "centre": (centre, ("per_frame",), True, False),
    "align": (align_view, (), True, False),
    "bone": (to_bone, (), True, False),
    "rotate": (random_rotation, ("max_degrees", "tilt_degrees"), False, True),
}
_ALIASES = {"center": "centre", "butter": "lowpass", "align_view": "align", "bones": "bone",
            "rotation": "rotate", "pad_or_crop": "pad", "random_crop": "crop"}
_DEFAULTS = {"rotate": {"max_degrees": 15.0}}


def _value(text: str) -> Any:
    low = text.strip().lower()
    if low in ("true", "yes", "per_frame"):
        return True
    if low in ("false", "no"):
        return False
    try:
        number = float(low)
    except ValueError:
        return text.strip()
    return int(number) if number.is_integer() and "." not in low else number


def parse_step(spec: str, layout: Layout | None = None) -> Step:
    """One step from ``"name"`` or ``"name:a,b"`` or ``"name:key=value,..."``.

    Names: lowpass[:order,cutoff], pad:T, resample:T, crop:T, centre[:per_frame], align,
    bone, rotate[:max_degrees,tilt_degrees] (15° by default). centre, align and bone need
    the layout.
    """
    name, _, args = spec.strip().partition(":")
    key = _ALIASES.get(name.strip().lower(), name.strip().lower())
    if key not in _REGISTRY:
        raise ElaError(f"unknown transform {name!r} in {spec!r}; known: "
                       f"{', '.join(sorted(_REGISTRY))}")
    fn, positional, needs_layout, random = _REGISTRY[key]
    kwargs: dict[str, Any] = dict(_DEFAULTS.get(key, {}))
    parts = [p for p in args.split(",") if p.strip()] if args else []
    for i, part in enumerate(parts):
        if "=" in part:
            k, v = part.split("=", 1)
            k = k.strip()
            if k not in positional:
                raise ElaError(f"transform {key!r} has no parameter {k!r} "
                               f"(parameters: {', '.join(positional) or 'none'})")
            kwargs[k] = _value(v)
        elif i < len(positional):
            kwargs[positional[i]] = _value(part)
        else:
            raise ElaError(f"transform {key!r} takes at most {len(positional)} arguments, "
                           f"got {spec!r}")
    if "frames" in positional and "frames" not in kwargs:
        raise ElaError(f"transform {key!r} needs a frame count, e.g. {key}:32")
    if needs_layout:
        if layout is None:
            raise ElaError(f"transform {key!r} needs the skeleton layout")
        kwargs["layout"] = layout
    return Step(key, fn, kwargs, random)


def build_transform(specs: Sequence[str] | str | None, layout: Layout | None = None) -> Compose:
    """A `Compose` from step strings, e.g. ``["lowpass", "centre", "resample:32"]``.

    A single string may hold several steps separated by ``+`` or spaces
    (``"lowpass+centre+rotate:10"``). None or empty gives the identity.
    """
    if specs is None:
        specs = []
    elif isinstance(specs, str):
        specs = [s for s in specs.replace("+", " ").split() if s]
    return Compose([parse_step(s, layout) for s in specs])
