"""Speech features (openSMILE): frame counts, F0 accuracy, prosody statistics, errors."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

pytest.importorskip("opensmile", reason="the opensmile package is absent (pip install "
                                        "'ela[audio]')")
soundfile = pytest.importorskip("soundfile", reason="soundfile is absent")

from ela.audio import (  # noqa: E402
    MFCC_DIM,
    PROSODY_DIM,
    PROSODY_NAMES,
    expected_frames,
    extract_file,
    extract_signal,
    mfcc,
    prosody_contours,
    prosody_statistics,
)
from ela.errors import DataFormatError, ElaError  # noqa: E402


def tone(freq: float, seconds: float, rate: int = 16000, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(round(seconds * rate))) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.mark.parametrize("seconds", [0.1, 0.5003, 1.0, 2.37])
def test_mfcc_frame_count_matches_duration_and_hop(seconds):
    x = tone(200, seconds)
    m = mfcc(x, 16000)
    assert m.shape == (expected_frames(x.size, 16000), MFCC_DIM)
    assert m.shape[0] == 1 + (x.size - 400) // 160  # 25 ms window, 10 ms hop at 16 kHz
    assert np.isfinite(m).all()


def test_mfcc_of_other_rates_is_computed_at_16k():
    x = tone(200, 1.5, rate=22050)
    frames = mfcc(x, 22050).shape[0]
    assert abs(frames - expected_frames(round(x.size * 16000 / 22050), 16000)) <= 1


def test_deltas_of_a_steady_tone_are_near_zero_and_c0_tracks_energy():
    quiet, loud = mfcc(tone(300, 1.0, amp=0.05), 16000), mfcc(tone(300, 1.0, amp=0.5), 16000)
    middle = slice(10, -10)
    assert np.abs(loud[middle, 13:]).mean() < 0.01 * np.abs(loud[middle, :13]).mean()
    # c0 (HTK order: column 12) = sqrt(2/26) * sum of 26 log mel energies: +20 dB adds
    # sqrt(2/26) * 26 * ln(100) = 33.2; the other coefficients stay put
    assert loud[middle, 12].mean() - quiet[middle, 12].mean() == pytest.approx(33.2, abs=1.0)
    assert np.abs(loud[middle, :12] - quiet[middle, :12]).mean() < 2.0


@pytest.mark.parametrize("freq", [110.0, 173.0, 247.0, 390.0])
def test_f0_of_a_synthetic_tone_is_within_2_percent(freq):
    contours = prosody_contours(tone(freq, 1.0), 16000)
    f0 = contours[:, 0]
    voiced = f0[f0 > 0]
    assert voiced.size > 0.8 * f0.size
    assert abs(np.median(voiced) - freq) / freq < 0.02
    stats = dict(zip(PROSODY_NAMES, prosody_statistics(contours), strict=True))
    assert abs(stats["f0_mean"] - freq) / freq < 0.02
    assert stats["voiced_fraction"] > 0.8


def test_prosody_statistics_names_silence_and_loudness():
    assert len(PROSODY_NAMES) == PROSODY_DIM == 35
    x = np.concatenate([np.zeros(8000, np.float32), tone(150, 1.0)])
    feats = extract_signal(x, 16000)
    stats = dict(zip(PROSODY_NAMES, feats.prosody, strict=True))
    assert 0.5 < stats["voiced_fraction"] < 0.8  # 1 s of tone after 0.5 s of silence
    assert stats["loudness_slope"] > 0  # silence first, then sound
    loud = extract_signal(tone(150, 1.0, amp=0.6), 16000).prosody
    soft = extract_signal(tone(150, 1.0, amp=0.06), 16000).prosody
    i = PROSODY_NAMES.index("loudness_mean")
    assert loud[i] / soft[i] == pytest.approx(100 ** 0.33, rel=0.1)  # cubic-root of power


def test_prosody_statistics_by_hand():
    f0 = np.array([0, 100, 110, 120, 0, 0], dtype=float)
    voicing = np.array([0.1, 0.9, 0.9, 0.9, 0.2, 0.1])
    loudness = np.linspace(0, 1, 6)
    stats = dict(zip(PROSODY_NAMES, prosody_statistics(np.stack([f0, voicing, loudness], 1)),
                     strict=True))
    assert stats["f0_mean"] == pytest.approx(110)
    assert stats["f0_range"] == pytest.approx(20)
    assert stats["f0_slope"] == pytest.approx(1000.0)  # 10 Hz per 10 ms frame
    assert stats["voiced_fraction"] == pytest.approx(0.5)
    assert stats["f0_mean_abs_delta"] == pytest.approx(10)
    assert stats["loudness_slope"] == pytest.approx(20.0)  # 0.2 per frame = 20 per second
    with pytest.raises(ElaError, match=r"\(T, 3\)"):
        prosody_statistics(np.zeros((5, 2)))


def test_bad_audio_is_a_clear_error(tmp_path):
    with pytest.raises(DataFormatError, match="at least"):
        extract_signal(np.zeros(100, np.float32), 16000)
    with pytest.raises(DataFormatError, match="no such audio file"):
        extract_file(tmp_path / "missing.wav")
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF not really a wave file")
    with pytest.raises(DataFormatError, match="bad.wav"):
        extract_file(bad)


def test_wav_file_round_trip(tmp_path):
    path = tmp_path / "tone.wav"
    soundfile.write(path, tone(220, 0.8), 16000, subtype="PCM_16")
    feats = extract_file(path)
    assert feats.mfcc.shape == (expected_frames(12800, 16000), 39)
    assert feats.prosody.shape == (35,)
    assert feats.seconds == pytest.approx(0.8)


@pytest.mark.skipif(shutil.which("espeak-ng") is None,
                    reason="espeak-ng is absent (apt-get install espeak-ng)")
def test_espeak_speech_pitch_setting_moves_f0(tmp_path):
    means = {}
    for pitch in (15, 85):
        path = tmp_path / f"p{pitch}.wav"
        subprocess.run(["espeak-ng", "-v", "en-us", "-p", str(pitch), "-w", str(path),
                        "the weather is quite mild today"], check=True)
        feats = extract_file(path)
        info = soundfile.info(str(path))
        assert abs(feats.mfcc.shape[0] - expected_frames(round(info.frames * 16000
                                                                / info.samplerate),
                                                          16000)) <= 1
        means[pitch] = feats.prosody[PROSODY_NAMES.index("f0_mean")]
        assert 50 < means[pitch] < 400
    assert means[85] > 1.2 * means[15]
