"""Speech features of the MDRE / SMERN / SERN papers, extracted with openSMILE.

The papers (001 §IV-B, 004 §5.2, after MDRE) use openSMILE for

- **MFCC**, 39 per frame: 13 cepstral coefficients in HTK order (c1 … c12, then c0; 26 mel
  bands, pre-emphasis 0.97, cepstral liftering 22), then their 13 deltas and 13
  delta-deltas (regression window 2), from 25 ms Hamming-windowed frames every 10 ms. A
  signal of n samples at rate r gives ``1 + (n − 0.025 r) // (0.010 r)`` frames.
- **35 prosodic features**: statistics of three openSMILE contours computed on 50 ms frames
  every 10 ms (as openSMILE's own ``prosodyShs.conf``): F0 by sub-harmonic summation
  (Hz, 0 when unvoiced), the voicing probability, and the loudness as eGeMAPS defines it
  (sum of the auditory spectrum: 26 mel bands, equal-loudness weighting, cubic-root
  compression; smoothed over 3 frames). The papers name the contours but not the
  statistics; here each contour gets 11 (mean, standard deviation, minimum, maximum,
  range, median, first and third quartile, inter-quartile range, linear-regression slope
  per second, skewness; F0 over voiced frames only) = 33, plus the voiced fraction of the
  frames and the mean absolute F0 change between consecutive voiced frames (Hz per
  frame) = 35. `PROSODY_NAMES` lists them in order.

Signals are mixed to mono and resampled to 16 kHz by the `opensmile` package before
extraction, so every file gives features on the same scale.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from ela.errors import DataFormatError, ElaError

SAMPLE_RATE = 16000
WINDOW_S = 0.025
HOP_S = 0.010
MFCC_DIM = 39
MIN_SECONDS = 0.1
_CONFIG = "mfcc_prosody.conf"
_STATS = ("mean", "std", "min", "max", "range", "median", "q1", "q3", "iqr", "slope",
          "skewness")
PROSODY_NAMES: tuple[str, ...] = (
    *(f"{c}_{s}" for c in ("f0", "voicing", "loudness") for s in _STATS),
    "voiced_fraction", "f0_mean_abs_delta",
)
PROSODY_DIM = len(PROSODY_NAMES)  # 35
INSTALL_HINT = "audio features need openSMILE: pip install 'ela[audio]' (the opensmile package)"


@dataclass
class AudioFeatures:
    """Features of one utterance: `mfcc` (T, 39) float32 and `prosody` (35,) float32."""

    mfcc: np.ndarray
    prosody: np.ndarray
    seconds: float


@lru_cache(maxsize=4)
def _smile(level: str):
    try:
        import opensmile
    except ImportError as err:
        raise ElaError(f"{INSTALL_HINT} ({err})") from None
    config = resources.files("ela.audio").joinpath(_CONFIG)
    with resources.as_file(config) as path:
        return opensmile.Smile(feature_set=str(path), feature_level=level,
                               sampling_rate=SAMPLE_RATE, resample=True)


def read_audio(path: str | Path) -> tuple[np.ndarray, int]:
    """(samples (n,) float32 mono in [-1, 1], sampling rate) of an audio file (WAV, FLAC, …)."""
    try:
        import soundfile
    except ImportError as err:
        raise ElaError(f"{INSTALL_HINT} ({err})") from None
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(path, "no such audio file")
    try:
        signal, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError) as err:
        raise DataFormatError(path, f"cannot be read as audio ({err})") from None
    return signal.mean(axis=1), int(rate)


def _check_signal(signal: np.ndarray, rate: int, where: str) -> np.ndarray:
    signal = np.asarray(signal, dtype=np.float32)
    if signal.ndim != 1 or rate <= 0:
        raise DataFormatError(where, f"expected a 1-D signal and a positive rate, got shape "
                                     f"{signal.shape} at {rate} Hz")
    if signal.size < MIN_SECONDS * rate:
        raise DataFormatError(where, f"audio is {signal.size / rate:.3f} s long; at least "
                                     f"{MIN_SECONDS} s is needed")
    if not np.isfinite(signal).all():
        raise DataFormatError(where, "audio holds NaN or infinite samples")
    return np.clip(signal, -1.0, 1.0)


def mfcc(signal: np.ndarray, rate: int, where: str = "signal") -> np.ndarray:
    """(T, 39) MFCC 0–12 + Δ + ΔΔ of a mono signal, 25 ms Hamming frames, 10 ms hop."""
    x = _check_signal(signal, rate, where)
    return _smile("mfcc39").process_signal(x, rate).to_numpy(dtype=np.float32)


def prosody_contours(signal: np.ndarray, rate: int, where: str = "signal") -> np.ndarray:
    """(T, 3) per-frame F0 (Hz, 0 unvoiced), voicing probability and loudness."""
    x = _check_signal(signal, rate, where)
    return _smile("prosody").process_signal(x, rate).to_numpy(dtype=np.float32)


def _stats(values: np.ndarray, times: np.ndarray) -> np.ndarray:
    """The 11 statistics of `_STATS` of a contour (zeros when it is empty)."""
    if values.size == 0:
        return np.zeros(len(_STATS))
    q1, median, q3 = np.percentile(values, [25, 50, 75])
    std = values.std()
    centred = values - values.mean()
    skew = float((centred ** 3).mean() / std ** 3) if std > 1e-8 else 0.0
    dt = times - times.mean()
    slope = float((dt * centred).sum() / (dt ** 2).sum()) if values.size > 1 else 0.0
    return np.array([values.mean(), std, values.min(), values.max(),
                     values.max() - values.min(), median, q1, q3, q3 - q1, slope, skew])


def prosody_statistics(contours: np.ndarray, hop: float = HOP_S) -> np.ndarray:
    """(35,) float32 statistics (`PROSODY_NAMES`) of (T, 3) contours F0, voicing, loudness."""
    contours = np.asarray(contours, dtype=np.float64)
    if contours.ndim != 2 or contours.shape[1] != 3:
        raise ElaError(f"prosody contours must be (T, 3), got {contours.shape}")
    f0, voicing, loudness = contours.T
    times = np.arange(len(contours)) * hop
    voiced = f0 > 0
    both = voiced[1:] & voiced[:-1]
    f0_delta = float(np.abs(np.diff(f0))[both].mean()) if both.any() else 0.0
    out = np.concatenate([_stats(f0[voiced], times[voiced]), _stats(voicing, times),
                          _stats(loudness, times),
                          [voiced.mean() if voiced.size else 0.0, f0_delta]])
    return out.astype(np.float32)


def extract_signal(signal: np.ndarray, rate: int, where: str = "signal") -> AudioFeatures:
    """MFCC and prosodic features of one mono signal sampled at `rate` Hz."""
    x = _check_signal(signal, rate, where)
    contours = prosody_contours(x, rate, where)
    return AudioFeatures(mfcc(x, rate, where), prosody_statistics(contours), x.size / rate)


def extract_file(path: str | Path) -> AudioFeatures:
    """MFCC and prosodic features of the audio file `path`."""
    signal, rate = read_audio(path)
    return extract_signal(signal, rate, str(path))


def expected_frames(samples: int, rate: int, window: float = WINDOW_S, hop: float = HOP_S) -> int:
    """Frames a signal of `samples` at `rate` Hz gives with fixed frames of `window`, `hop` s."""
    w, h = round(window * rate), round(hop * rate)
    return 0 if samples < w else 1 + (samples - w) // h
