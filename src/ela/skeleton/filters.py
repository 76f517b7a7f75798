"""Filters of one skeleton sequence along time (NumPy and SciPy, no torch).

A sample is a (C, T, V, M) array — channels (x, y, z in metres first), frames, joints,
persons. A person is *present* in a frame when any of its values is non-zero; absent persons
and padding frames are all-zero and stay all-zero. Used by the dataset transforms
(`ela.data.transforms`) and by the video extraction (`ela.video.extract`).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.signal import butter, sosfiltfilt

from ela.errors import ElaError


def _as_sample(data: np.ndarray) -> np.ndarray:
    data = np.asarray(data)
    if data.ndim != 4:
        raise ElaError(f"a sample must have shape (C, T, V, M), got {data.shape}")
    return data.astype(np.float32, copy=False)


def present(data: np.ndarray) -> np.ndarray:
    """(T, M) bool: person m has a non-zero value somewhere in frame t of (C, T, V, M) data."""
    return np.abs(_as_sample(data)).sum(axis=(0, 2)) > 0


@lru_cache(maxsize=16)
def _butter_sos(order: int, cutoff: float) -> np.ndarray:
    return butter(order, cutoff, btype="low", output="sos")


def _fill_gaps(seg: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Linearly interpolate (C, L, V) `seg` over frames where `ok` (L,) is False.

    The first and last frames are valid (callers trim to the valid span).
    """
    t = np.arange(ok.size)
    prev = np.maximum.accumulate(np.where(ok, t, 0))
    nxt = np.minimum.accumulate(np.where(ok, t, ok.size - 1)[::-1])[::-1]
    span = np.maximum(nxt - prev, 1)
    w = ((t - prev) / span)[None, :, None]
    return seg[:, prev] * (1 - w) + seg[:, nxt] * w


def butter_lowpass(data: np.ndarray, order: int = 8, cutoff: float = 0.1) -> np.ndarray:
    """Zero-phase Butterworth low-pass filter along time, per person, joint and channel.

    Args:
        data: (C, T, V, M) sample (metres).
        order: filter order (8 in the SMACN / S-STGCN papers).
        cutoff: normalised cut-off as SciPy defines `Wn`: a fraction of the Nyquist
            frequency, so 0.1 at 30 fps is 1.5 Hz.

    The filter (SciPy ``butter(..., output="sos")`` run forwards and backwards with
    ``sosfiltfilt``) sees only each person's valid span, from the first to the last frame
    in which the person is present; frames inside the span where the person is absent are
    bridged by linear interpolation for filtering and set back to zero afterwards, and
    padding stays zero. ``sosfiltfilt`` extends the signal by ``padlen`` frames at each end
    (27 for order 8); a span of n frames with n ≤ padlen uses ``padlen = n − 1`` instead,
    and a span of one frame is returned unchanged.

    Returns:
        (C, T, V, M) float32 filtered sample (metres).
    """
    data = _as_sample(data)
    if not 0 < cutoff < 1:
        raise ElaError(f"butter_lowpass: cutoff must lie in (0, 1) (fraction of Nyquist), "
                       f"got {cutoff}")
    if int(order) < 1:
        raise ElaError(f"butter_lowpass: order must be at least 1, got {order}")
    sos = _butter_sos(int(order), float(cutoff))
    default_padlen = 3 * (2 * len(sos) + 1
                          - min(int((sos[:, 2] == 0).sum()), int((sos[:, 5] == 0).sum())))
    out = data.copy()
    pres = present(data)
    for m in range(data.shape[3]):
        idx = np.flatnonzero(pres[:, m])
        if idx.size < 2:
            continue
        lo, hi = int(idx[0]), int(idx[-1]) + 1
        ok = pres[lo:hi, m]
        seg = data[:, lo:hi, :, m].astype(np.float64)
        if not ok.all():
            seg = _fill_gaps(seg, ok)
        filtered = sosfiltfilt(sos, seg, axis=1, padlen=min(default_padlen, hi - lo - 1))
        filtered[:, ~ok] = 0.0
        out[:, lo:hi, :, m] = filtered
    return out
