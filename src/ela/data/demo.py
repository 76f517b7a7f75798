"""A built-in procedural dataset: actions in four emotional styles, no download.

Sequences are made by forward kinematics over a fixed `ntu25` skeleton (bone lengths of a
plausible 1.75 m adult, metres, y up, feet near y = 0, facing +z with the performer's left
on +x), so bone lengths are exactly constant over time. Each frame sets joint angles; the
angle at joint j turns the bones below j. The action fixes the movement: the default
`ACTIONS` are whole-body movements far apart from each other (walk, wave, punch, bow, jump);
`GESTURES` are five standing arm gestures that differ only in what the arms do (punch: the
fists alternate forward; clap; hammer: the right forearm strikes down; circle: the right
hand draws a circle; wipe: the right hand sweeps from side to side), close classes like the
arm gestures of MSR Action3D, on which `ela demo` runs. The emotion changes the movement
the way the emotion-from-gait literature describes:

- angry: fast, large, jerky (abrupt square-ish oscillations), leaning forward, elbows bent;
- happy: bouncy, upright (head up), faster and larger, arms a little wider;
- sad: slow, small, slumped spine, head down;
- neutral: the plain movement.

Every sample draws, from the seed, its own speed and amplitude (±10 %), phase, facing
(±15° about y) and position (±0.3 m); five virtual performers differ in body size (±5 %,
meta ``performer``). No noise is added. `variation` > 0 adds, from a random stream of its
own (so the samples of `variation=0` stay exactly as they were), what makes performances
of one class differ the way people do: an uneven tempo, a wider spread of amplitudes, each
performance's own posture of trunk, head and arms, and a slow sway on top of it.
"""

from __future__ import annotations

import numpy as np

from ela.errors import ElaError
from ela.io.base import Sample, SkeletonSet
from ela.skeleton.layouts import get_layout

ACTIONS = ("walk", "wave", "punch", "bow", "jump")
GESTURES = ("punch", "clap", "hammer", "circle", "wipe")
EMOTIONS = ("angry", "happy", "sad", "neutral")
PERFORMERS = 5

# Rest offsets (metres) of each ntu25 joint from its parent, standing, arms down.
_LEFT_OFFSETS = {
    1: (0.0, 0.24, 0.0), 20: (0.0, 0.26, 0.0), 2: (0.0, 0.08, 0.0), 3: (0.0, 0.15, 0.01),
    4: (0.17, -0.03, 0.0), 5: (0.0, -0.28, 0.0), 6: (0.0, -0.25, 0.0), 7: (0.0, -0.07, 0.0),
    21: (0.0, -0.08, 0.0), 22: (0.0, -0.03, 0.04),
    12: (0.09, -0.06, 0.0), 13: (0.0, -0.42, 0.0), 14: (0.0, -0.41, 0.0),
    15: (0.0, -0.06, 0.11),
}
_MIRROR = {8: 4, 9: 5, 10: 6, 11: 7, 23: 21, 24: 22, 16: 12, 17: 13, 18: 14, 19: 15}
HIP_HEIGHT = 0.95  # spine base above the floor when standing (sum of the leg's y offsets)
THIGH, SHIN = 0.42, 0.41

SPINE_BASE, SPINE_MID, NECK, SPINE_SHOULDER = 0, 1, 2, 20
L_SHOULDER, L_ELBOW, R_SHOULDER, R_ELBOW = 4, 5, 8, 9
L_HIP, L_KNEE, L_ANKLE, R_HIP, R_KNEE, R_ANKLE = 12, 13, 14, 16, 17, 18

# speed and amplitude factors, forward lean and head drop (rad), sharpness of the
# oscillations (tanh gain: 1 ≈ sine, 4 ≈ square), vertical bounce (m), elbow bend (rad),
# arm abduction (rad)
STYLES = {
    "angry": dict(speed=1.45, amp=1.35, lean=0.15, head=0.05, sharp=4.0, bounce=0.0,
                  elbow=0.5, spread=0.15),
    "happy": dict(speed=1.2, amp=1.2, lean=-0.08, head=-0.2, sharp=1.5, bounce=0.04,
                  elbow=0.15, spread=0.3),
    "sad": dict(speed=0.65, amp=0.55, lean=0.4, head=0.5, sharp=0.7, bounce=0.0,
                elbow=0.05, spread=0.05),
    "neutral": dict(speed=1.0, amp=1.0, lean=0.0, head=0.0, sharp=1.0, bounce=0.0,
                    elbow=0.15, spread=0.12),
}
# base cycle frequency of each action in Hz
FREQUENCY = {"walk": 0.9, "wave": 1.8, "punch": 1.1, "bow": 0.45, "jump": 0.8, "clap": 1.6,
             "hammer": 1.3, "circle": 0.8, "wipe": 1.0}
KNOWN_ACTIONS = tuple(FREQUENCY)


def _offsets() -> np.ndarray:
    off = np.zeros((25, 3))
    for j, v in _LEFT_OFFSETS.items():
        off[j] = v
    for j, src in _MIRROR.items():
        off[j] = off[src] * (-1.0, 1.0, 1.0)
    return off


def _rot(axis: int, angle: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotations by `angle` (...,) radians about coordinate `axis`."""
    c, s = np.cos(angle), np.sin(angle)
    a, b = [(1, 2), (2, 0), (0, 1)][axis]
    r = np.zeros((*np.shape(angle), 3, 3))
    r[..., axis, axis] = 1.0
    r[..., a, a], r[..., a, b], r[..., b, a], r[..., b, b] = c, -s, s, c
    return r


def _euler(ang: np.ndarray) -> np.ndarray:
    """(..., 3, 3) local joint rotations Rz · Rx · Ry from (..., 3) angles (x, y, z)."""
    return _rot(2, ang[..., 2]) @ _rot(0, ang[..., 0]) @ _rot(1, ang[..., 1])


def _osc(phase: np.ndarray, sharp: np.ndarray) -> np.ndarray:
    """An oscillation in [−1, 1]: sine-like for sharp ≈ 1, abrupt (square-like) for large."""
    return np.tanh(sharp * np.sin(phase)) / np.tanh(sharp)


def _aim(ang: np.ndarray, joint: int, elevation: np.ndarray, heading: np.ndarray) -> None:
    """Set the angles at `joint` so that its (hanging) bone points `elevation` radians up
    from straight down, turned `heading` radians about the vertical (0 = forward, positive
    to the performer's left, +x)."""
    elevation, heading = np.broadcast_arrays(elevation, heading)
    u = np.stack([np.sin(elevation) * np.sin(heading), -np.cos(elevation),
                  np.sin(elevation) * np.cos(heading)], axis=-1)
    # Rz(a) · Rx(b) · (0, −1, 0) = (cos b sin a, −cos b cos a, −sin b)
    ang[..., joint, 2] = np.arctan2(u[..., 0], -u[..., 1])
    ang[..., joint, 0] = -np.arcsin(np.clip(u[..., 2], -1.0, 1.0))
    ang[..., joint, 1] = 0.0


def _kinematic_tree() -> tuple[list[int], list[int]]:
    """ntu25's edges re-rooted at the spine base (the layout's tree hangs from the spine
    shoulder): kinematic parent of each joint and a parents-first joint order."""
    adj: dict[int, list[int]] = {j: [] for j in range(25)}
    for c, p in get_layout("ntu25").edges:
        adj[c].append(p)
        adj[p].append(c)
    parents, order = [-1] * 25, [SPINE_BASE]
    for j in order:  # breadth-first; `order` grows while it is walked
        for k in adj[j]:
            if k != SPINE_BASE and parents[k] < 0:
                parents[k] = j
                order.append(k)
    return parents, order


def forward_kinematics(angles: np.ndarray, root: np.ndarray, yaw: np.ndarray,
                       scale: np.ndarray) -> np.ndarray:
    """Joint positions (N, T, 25, 3) in metres of the demo ntu25 skeleton.

    Args:
        angles: (N, T, 25, 3) local Euler angles (x, y, z) in radians; the rotation at joint
            j is Rz · Rx · Ry and turns the bones of j's children. Positive x bends a bone
            pointing up forward (+z) and a bone hanging down backward.
        root: (N, T, 3) spine-base position in the body frame before `yaw`.
        yaw: (N,) facing, radians about +y.
        scale: (N,) body size factor on every bone length.
    """
    parents, order = _kinematic_tree()
    facing = _rot(1, yaw)[:, None]  # (N, 1, 3, 3)
    local = _euler(angles)
    offsets = _offsets()[None] * scale[:, None, None]  # (N, 25, 3)
    n, t = angles.shape[:2]
    glob = np.empty((n, t, 25, 3, 3))
    pos = np.empty((n, t, 25, 3))
    glob[:, :, 0] = facing @ local[:, :, 0]
    pos[:, :, 0] = np.einsum("ntij,ntj->nti", facing, root)
    for j in order[1:]:  # parents before children
        p = parents[j]
        pos[:, :, j] = pos[:, :, p] + np.einsum("ntij,nj->nti", glob[:, :, p], offsets[:, j])
        glob[:, :, j] = glob[:, :, p] @ local[:, :, j]
    return pos


def _animate(action: str, phase: np.ndarray, seconds: np.ndarray, amp: np.ndarray,
             speed: np.ndarray, style: dict[str, np.ndarray], scale: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray]:
    """(N, T, 25, 3) joint angles and (N, T, 3) root path of one action."""
    n, t = phase.shape
    ang = np.zeros((n, t, 25, 3))
    root = np.zeros((n, t, 3))
    root[..., 1] = HIP_HEIGHT * scale[:, None]
    k = style["sharp"]
    s = _osc(phase, k)
    # resting arms: a little out to the side, elbows bent
    ang[..., L_SHOULDER, 2] = style["spread"]
    ang[..., R_SHOULDER, 2] = -style["spread"]
    ang[..., L_ELBOW, 0] = ang[..., R_ELBOW, 0] = -style["elbow"]
    if action == "walk":
        swing = _osc(phase + np.pi / 2, k)
        ang[..., L_HIP, 0], ang[..., R_HIP, 0] = -0.4 * amp * s, 0.4 * amp * s
        ang[..., L_KNEE, 0] = 0.1 + 0.5 * amp * np.clip(swing, 0, None)
        ang[..., R_KNEE, 0] = 0.1 + 0.5 * amp * np.clip(-swing, 0, None)
        ang[..., L_SHOULDER, 0], ang[..., R_SHOULDER, 0] = 0.4 * amp * s, -0.4 * amp * s
        root[..., 2] = 1.2 * amp * speed * seconds
        root[..., 1] -= 0.02 * np.cos(2 * phase)
    elif action == "wave":
        ang[..., R_SHOULDER, 2] = -(1.3 + 0.75 * np.minimum(amp, 1.6))
        ang[..., R_SHOULDER, 0] = -0.2
        ang[..., R_ELBOW, 2] = -(0.5 + 0.5 * amp * s)
        ang[..., R_ELBOW, 0] = 0.0
        ang[..., SPINE_MID, 2] = 0.05 * amp * s
    elif action == "punch":
        reach = np.minimum(amp, 1.25)
        for shoulder, elbow, sign in ((L_SHOULDER, L_ELBOW, 1.0), (R_SHOULDER, R_ELBOW, -1.0)):
            ext = (1 + sign * s) / 2
            ang[..., shoulder, 0] = -(0.35 + 1.15 * ext * reach)
            ang[..., elbow, 0] = -(0.1 + 2.1 * (1 - ext))
        ang[..., SPINE_MID, 1] = 0.25 * amp * s
        ang[..., L_HIP, 0], ang[..., R_HIP, 0] = -0.15, 0.15
        ang[..., L_KNEE, 0] = ang[..., R_KNEE, 0] = 0.15
    elif action == "clap":
        # forearms forward at chest height; the upper arms turn in and out about their own
        # axis, so that the hands meet in front of the chest and part again
        turn = 0.1 + 0.45 * np.minimum(amp, 1.3) * (1 + s) / 2
        for shoulder, elbow, sign in ((L_SHOULDER, L_ELBOW, 1.0), (R_SHOULDER, R_ELBOW, -1.0)):
            ang[..., shoulder, 0] = -0.35
            ang[..., shoulder, 1] = -sign * turn
            ang[..., elbow, 0] = -1.45
    elif action == "hammer":
        # right upper arm forward, the forearm strikes down and comes back up
        ang[..., R_SHOULDER, 0] = -(0.9 + 0.15 * amp * s)
        ang[..., R_ELBOW, 0] = -(0.9 + 0.6 * np.minimum(amp, 1.5) * s)
    elif action == "circle":
        # the right hand, arm almost straight in front, draws a circle
        r = 0.3 * np.minimum(amp, 1.5)
        _aim(ang, R_SHOULDER, 1.25 + r * s, -0.2 - r * _osc(phase + np.pi / 2, k))
        ang[..., R_ELBOW, 0] = -0.2
    elif action == "wipe":
        # the right hand, in front at chest height, sweeps from side to side
        _aim(ang, R_SHOULDER, 1.15, -0.25 - 0.35 * np.minimum(amp, 1.5) * s)
        ang[..., R_ELBOW, 0] = -0.5
    elif action == "bow":
        bend = np.minimum(0.85 * amp, 1.3) * (1 + _osc(phase - np.pi / 2, k)) / 2
        ang[..., SPINE_BASE, 0] = 0.7 * bend
        ang[..., L_HIP, 0] = ang[..., R_HIP, 0] = -0.7 * bend  # legs stay vertical
        ang[..., SPINE_MID, 0] = 0.3 * bend
        ang[..., NECK, 0] = 0.3 * bend
        ang[..., L_SHOULDER, 0] = ang[..., R_SHOULDER, 0] = -0.8 * bend
    elif action == "jump":
        u = np.mod(phase / (2 * np.pi), 1.0)
        crouch = np.where(u < 0.45, np.sin(np.pi * np.minimum(u / 0.45, 1.0)), 0.0)
        flight = np.where((u >= 0.45) & (u < 0.75), np.sin(np.pi * (u - 0.45) / 0.3), 0.0)
        alpha = np.minimum(0.7 * amp, 1.1) * crouch
        ang[..., SPINE_BASE, 0] = 0.5 * alpha
        ang[..., L_HIP, 0] = ang[..., R_HIP, 0] = -1.5 * alpha
        ang[..., L_KNEE, 0] = ang[..., R_KNEE, 0] = 2.0 * alpha
        ang[..., L_ANKLE, 0] = ang[..., R_ANKLE, 0] = -alpha  # feet flat
        arms = 0.6 * crouch - 2.2 * np.minimum(amp, 1.3) * flight
        ang[..., L_SHOULDER, 0] = ang[..., R_SHOULDER, 0] = arms
        root[..., 1] += (-(THIGH + SHIN) * (1 - np.cos(alpha)) * scale[:, None]
                         + 0.3 * amp * flight)
    else:
        raise ElaError(f"unknown demo action {action!r}; known: {', '.join(KNOWN_ACTIONS)}")
    # emotional posture on top of every action
    ang[..., SPINE_MID, 0] += 0.5 * style["lean"]
    ang[..., SPINE_SHOULDER, 0] += 0.5 * style["lean"]
    ang[..., NECK, 0] += style["head"]
    root[..., 1] += style["bounce"] * np.abs(np.sin(2 * phase))
    return ang, root


# Joints and axes that `variation` gives a per-sample posture offset and a slow sway, with
# their standard deviation (rad) at variation 1: trunk and head a little, arms more; the
# hips only a posture (the width of the stance: a swaying hip would slide the foot).
_VARIED = {(SPINE_MID, 0): 0.04, (SPINE_MID, 1): 0.06, (SPINE_MID, 2): 0.03,
           (SPINE_SHOULDER, 0): 0.04, (NECK, 0): 0.1, (NECK, 1): 0.15, (NECK, 2): 0.05,
           (L_SHOULDER, 0): 0.12, (L_SHOULDER, 2): 0.08, (R_SHOULDER, 0): 0.12,
           (R_SHOULDER, 2): 0.08, (L_ELBOW, 0): 0.15, (R_ELBOW, 0): 0.15}
_STANCE = {(L_HIP, 2): 0.03, (R_HIP, 2): 0.03}


def _vary_timing(phase: np.ndarray, amp: np.ndarray, seconds: np.ndarray, variation: float,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """An uneven tempo (the phase speeds up and slows down by up to ±30 % · variation) and
    a wider spread of amplitudes (× e^(0.15 · variation · N(0, 1)))."""
    n = len(phase)
    rate = rng.uniform(0.3, 0.8, (n, 1))  # Hz of the tempo change
    depth = 0.3 * variation * rng.uniform(0, 1, (n, 1))
    start = rng.uniform(0, 2 * np.pi, (n, 1))
    freq = np.gradient(phase, axis=1)  # rad per frame
    warp = np.cumsum(freq * depth * np.sin(2 * np.pi * rate * seconds[None] + start), axis=1)
    return phase + warp, amp * np.exp(0.15 * variation * rng.standard_normal((n, 1)))


def _posture_and_sway(n: int, seconds: np.ndarray, variation: float,
                      rng: np.random.Generator) -> np.ndarray:
    """(n, T, 25, 3) angle offsets: each performance's own posture (constant) and a slow
    sway (0.15–0.6 Hz, a third of the posture's size) at the joints of `_VARIED`, and its
    own stance (`_STANCE`)."""
    out = np.zeros((n, len(seconds), 25, 3))
    for (joint, axis), sd in _STANCE.items():
        out[..., joint, axis] = sd * variation * rng.standard_normal((n, 1))
    for (joint, axis), sd in _VARIED.items():
        pose = sd * variation * rng.standard_normal((n, 1))
        sway = (sd * variation / 3 * rng.standard_normal((n, 1))
                * np.sin(2 * np.pi * rng.uniform(0.15, 0.6, (n, 1)) * seconds[None]
                         + rng.uniform(0, 2 * np.pi, (n, 1))))
        out[..., joint, axis] = pose + sway
    return out


def demo_dataset(n_per_class: int = 8, frames: int = 64, seed: int = 0,
                 actions: tuple[str, ...] = ACTIONS, emotions: tuple[str, ...] = EMOTIONS,
                 fps: float = 30.0, variation: float = 0.0) -> SkeletonSet:
    """A seeded procedural `SkeletonSet` on the ntu25 layout (M = 1, metres, y up).

    Args:
        n_per_class: samples per (action, emotion) pair; the set holds
            len(actions) · len(emotions) · n_per_class samples, ordered by action, emotion.
        frames: frames per sample (all valid).
        seed: every random choice derives from it: the same seed gives the same set.
        actions: names from `ACTIONS` and `GESTURES`; emotions: a subset of `EMOTIONS`.
        fps: frame rate, which sets the timing of the movements.
        variation: size of the within-class variation that comes on top (0: none, the
            set as before; 1: tempo ±30 %, amplitude × e^(0.15·N(0, 1)), posture of a few
            degrees at trunk and head and about 7–9° at shoulders and elbows, sway a third
            of that).

    Returns:
        A set whose samples are (3, frames, 25, 1) float32 arrays with labels ``action``
        and ``emotion`` (names in ``label_names``) and meta ``name``, ``clip``,
        ``performer`` (1..5).
    """
    if int(n_per_class) < 1 or int(frames) < 2 or not variation >= 0:
        raise ElaError(f"demo_dataset: n_per_class ≥ 1, frames ≥ 2 and variation ≥ 0 needed, "
                       f"got {n_per_class}, {frames}, {variation}")
    for given, known, what in ((actions, KNOWN_ACTIONS, "action"),
                               (emotions, EMOTIONS, "emotion")):
        unknown = [a for a in given if a not in known]
        if unknown or not given:
            raise ElaError(f"demo_dataset: unknown or no {what}s {unknown}; known: {known}")
    rng = np.random.default_rng(seed)
    extra = np.random.default_rng([int(seed), 1])  # `variation`'s draws; rng's stay as they were
    body = rng.uniform(0.95, 1.05, PERFORMERS)
    seconds = np.arange(int(frames)) / fps
    n = int(n_per_class) * len(emotions)
    samples = []
    for a, action in enumerate(actions):
        emo = np.repeat(np.arange(len(emotions)), n_per_class)
        style = {key: np.array([STYLES[emotions[e]][key] for e in emo])[:, None]
                 for key in STYLES["neutral"]}
        speed = style.pop("speed") * rng.uniform(0.9, 1.1, (n, 1))
        amp = style.pop("amp") * rng.uniform(0.9, 1.1, (n, 1))
        phase = (2 * np.pi * FREQUENCY[action] * speed * seconds[None]
                 + rng.uniform(0, 2 * np.pi, (n, 1)))
        performer = rng.integers(0, PERFORMERS, n)
        yaw = np.deg2rad(rng.uniform(-15, 15, n))
        shift = rng.uniform(-0.3, 0.3, (n, 2))
        scale = body[performer]
        if variation > 0:
            phase, amp = _vary_timing(phase, amp, seconds, variation, extra)
        ang, root = _animate(action, phase, seconds[None], amp, speed, style, scale)
        if variation > 0:
            ang = ang + _posture_and_sway(n, seconds, variation, extra)
        pos = forward_kinematics(ang, root, yaw, scale)
        pos[..., 0] += shift[:, None, None, 0]
        pos[..., 2] += shift[:, None, None, 1]
        data = pos.transpose(0, 3, 1, 2)[..., None].astype(np.float32)  # (n, 3, T, 25, 1)
        for i in range(n):
            e = int(emo[i])
            name = f"demo_{action}_{emotions[e]}_{i % n_per_class:03d}"
            samples.append(Sample(data[i], {"action": a, "emotion": e},
                                  {"name": name, "clip": name,
                                   "performer": int(performer[i]) + 1}))
    return SkeletonSet(samples, get_layout("ntu25"),
                       {"action": list(actions), "emotion": list(emotions)},
                       fps=fps, source="demo")
