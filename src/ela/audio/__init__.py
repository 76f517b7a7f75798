"""Speech features for multimodal emotion recognition: 39 MFCC and 35 prosodic statistics.

Extracted with openSMILE through the `opensmile` package (``pip install 'ela[audio]'``),
whose wheel carries the openSMILE library, so it runs offline; see `ela.audio.features`.
"""

from ela.audio.features import (
    HOP_S,
    MFCC_DIM,
    PROSODY_DIM,
    PROSODY_NAMES,
    SAMPLE_RATE,
    WINDOW_S,
    AudioFeatures,
    expected_frames,
    extract_file,
    extract_signal,
    mfcc,
    prosody_contours,
    prosody_statistics,
    read_audio,
)

__all__ = [
    "HOP_S",
    "MFCC_DIM",
    "PROSODY_DIM",
    "PROSODY_NAMES",
    "SAMPLE_RATE",
    "WINDOW_S",
    "AudioFeatures",
    "expected_frames",
    "extract_file",
    "extract_signal",
    "mfcc",
    "prosody_contours",
    "prosody_statistics",
    "read_audio",
]
