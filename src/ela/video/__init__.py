"""Video → 3D skeleton: MediaPipe Pose world landmarks, the papers' low-pass filter, mapping.

MediaPipe is optional (``pip install 'ela[video]'``); importing this package works without
it, and extraction then raises ElaError saying what to install.
"""

from ela.video.extract import (
    LAYOUTS,
    VIDEO_SUFFIXES,
    bone_length_jitter,
    extract,
    fill_lost_frames,
    track_sample,
    tracks_to_set,
    video_files,
)
from ela.video.pose import PoseTrack, detect_pose, mediapipe_version

__all__ = [
    "LAYOUTS",
    "VIDEO_SUFFIXES",
    "PoseTrack",
    "bone_length_jitter",
    "detect_pose",
    "extract",
    "fill_lost_frames",
    "mediapipe_version",
    "track_sample",
    "tracks_to_set",
    "video_files",
]
