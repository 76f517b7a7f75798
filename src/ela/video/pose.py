"""Per-frame 3D pose from a video with MediaPipe Pose (needs the `video` extra).

Only MediaPipe releases whose wheel carries the model files run without network;
``mediapipe==0.10.21`` ships the pose detector and the *full* landmark model
(``model_complexity=1``), so that is the one used. Frames are decoded with OpenCV, which
MediaPipe itself depends on.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ela.errors import DataFormatError, ElaError

MEDIAPIPE_JOINTS = 33
INSTALL_HINT = ("video extraction needs MediaPipe: pip install 'ela[video]' "
                "(mediapipe==0.10.21 with its model files; it requires numpy<2)")


@dataclass
class PoseTrack:
    """MediaPipe's pose of one video, frame by frame.

    world: (T, 33, 3) float32 world landmarks in metres, origin between the hips, converted
        to x right, y up, z towards the camera; all-zero where no person was found.
    visibility: (T, 33) float32 landmark visibility in [0, 1] (0 where no person).
    found: (T,) bool, a person was found in the frame.
    fps: frame rate the container declares (NaN when it declares none).
    size: (width, height) in pixels.
    """

    world: np.ndarray
    visibility: np.ndarray
    found: np.ndarray
    fps: float
    size: tuple[int, int]
    source: str

    @property
    def found_rate(self) -> float:
        """Share of frames in which a person was found."""
        return float(self.found.mean()) if self.found.size else 0.0


def _modules():
    try:
        import cv2
        import mediapipe as mp
    except ImportError as err:
        raise ElaError(f"{INSTALL_HINT} ({err})") from None
    return cv2, mp


def mediapipe_version() -> str:
    """Version string of the installed MediaPipe (raises ElaError when it is missing)."""
    return _modules()[1].__version__


def detect_pose(path: str | Path, min_detection_confidence: float = 0.5,
                min_tracking_confidence: float = 0.5,
                smooth_landmarks: bool = False) -> PoseTrack:
    """Run MediaPipe Pose (full model, tracking mode) over every frame of the video `path`.

    `smooth_landmarks` is MediaPipe's own temporal smoothing; it is off by default so that
    the papers' Butterworth filter is the only smoothing step. Raises DataFormatError when
    the file cannot be decoded or holds no frame.
    """
    cv2, mp = _modules()
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(path, "no such video file")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise DataFormatError(path, "cannot be opened as a video")
    fps = float(cap.get(cv2.CAP_PROP_FPS)) or float("nan")
    size = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    world, vis, found = [], [], []
    with mp.solutions.pose.Pose(static_image_mode=False, model_complexity=1,
                                smooth_landmarks=smooth_landmarks,
                                min_detection_confidence=min_detection_confidence,
                                min_tracking_confidence=min_tracking_confidence) as pose:
        try:
            while True:
                ok, frame = cap.read()
                if not ok:
                    break
                result = pose.process(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
                marks = result.pose_world_landmarks
                if marks is None:
                    world.append(np.zeros((MEDIAPIPE_JOINTS, 3)))
                    vis.append(np.zeros(MEDIAPIPE_JOINTS))
                    found.append(False)
                    continue
                arr = np.array([(m.x, m.y, m.z, m.visibility) for m in marks.landmark])
                world.append(arr[:, :3] * np.array([1.0, -1.0, -1.0]))  # image axes -> y up
                vis.append(arr[:, 3])
                found.append(True)
        finally:
            cap.release()
    if not found:
        raise DataFormatError(path, "no frame could be decoded")
    return PoseTrack(np.asarray(world, dtype=np.float32), np.asarray(vis, dtype=np.float32),
                     np.asarray(found, dtype=bool), fps, size, str(path))
