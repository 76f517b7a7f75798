"""Video → 3D skeleton dataset, as in the SMACN / S-STGCN papers (001 §III-A, 004 §3).

Steps: per-frame 3D pose (MediaPipe world landmarks, metres, `ela.video.pose`), frames where
no person was found filled, the papers' low-pass filter (Butterworth order 8, normalised
cut-off 0.1, zero-phase: `ela.skeleton.filters.butter_lowpass`) on every joint coordinate,
then a mapping from mediapipe33 to the requested layout (upper10 in the emotion papers) with
`ela.skeleton.mapping_matrix`.

Frames with no person: the papers say nothing about lost detections; their zero padding
(001 §III-A) only brings clips to a common length, which ela does at batching time (padding
frames are all-zero and `lengths` says where a clip ends). A lost frame inside a clip is
therefore *interpolated* linearly between the nearest frames with a person (before the first
or after the last such frame the nearest one is held), as ela's MSR reader does for lost
Kinect frames, and its index is listed in ``meta["lost_frames"]``. Zeros inside a clip would
read as padding and make the filter ring.

Each video becomes one sample with the label ``video`` (its index among the videos read, in
name order), so an extracted folder trains and evaluates like any other labelled dataset.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from ela.errors import DataFormatError, ElaError
from ela.io.base import Sample, SkeletonSet
from ela.io.mapping import map_set
from ela.skeleton import get_layout
from ela.skeleton.features import bone_lengths
from ela.skeleton.filters import butter_lowpass
from ela.video.pose import PoseTrack, detect_pose, mediapipe_version

VIDEO_SUFFIXES = (".avi", ".m4v", ".mkv", ".mov", ".mp4", ".mpeg", ".mpg", ".webm")
LAYOUTS = ("upper10", "ntu25", "mediapipe33")


def fill_lost_frames(world: np.ndarray, found: np.ndarray) -> np.ndarray:
    """(T, V, 3) positions with the frames where `found` (T,) is False filled.

    Inside the span of found frames: linear interpolation between the nearest found frames;
    before the first / after the last found frame: that frame held. Raises ElaError when no
    frame was found.
    """
    found = np.asarray(found, dtype=bool)
    idx = np.flatnonzero(found)
    if idx.size == 0:
        raise ElaError("no frame with a person to fill from")
    t = np.arange(found.size)
    prev = np.maximum.accumulate(np.where(found, t, idx[0]))
    nxt = np.minimum.accumulate(np.where(found, t, idx[-1])[::-1])[::-1]
    w = np.where(nxt > prev, (t - prev) / np.maximum(nxt - prev, 1), 0.0)[:, None, None]
    return (world[prev] * (1 - w) + world[nxt] * w).astype(np.float32)


def track_sample(track: PoseTrack, lowpass: bool = True, order: int = 8,
                 cutoff: float = 0.1) -> Sample:
    """A mediapipe33 `Sample` (3, T, 33, 1) of a pose track: lost frames filled, filtered."""
    if not track.found.any():
        raise DataFormatError(track.source, "no person found in any frame")
    world = fill_lost_frames(track.world, track.found)
    data = np.ascontiguousarray(world.transpose(2, 0, 1)[..., None])
    if lowpass:
        data = butter_lowpass(data, order=order, cutoff=cutoff)
    meta = {
        "video": Path(track.source).name, "clip": Path(track.source).stem,
        "frames": int(track.found.size),
        "lost_frames": np.flatnonzero(~track.found).tolist(),
        "person_found_rate": round(track.found_rate, 6),
        "fps": None if np.isnan(track.fps) else track.fps,
        "width": track.size[0], "height": track.size[1],
        "mean_visibility": round(float(track.visibility[track.found].mean()), 6),
        "lowpass": {"order": order, "cutoff": cutoff} if lowpass else None,
    }
    return Sample(data.astype(np.float32), {}, meta)


def tracks_to_set(tracks: list[PoseTrack], layout: str = "upper10", lowpass: bool = True,
                  skipped: list[tuple[str, str]] | None = None, source: str = "") -> SkeletonSet:
    """One SkeletonSet of pose tracks mapped to `layout`; label ``video`` = track index."""
    if layout not in LAYOUTS:
        raise ElaError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    if not tracks:
        raise ElaError(f"{source or 'video'}: no video gave a skeleton")
    samples = []
    extractor = f"mediapipe {_version()} pose_landmark_full world landmarks"
    for i, track in enumerate(tracks):
        sample = track_sample(track, lowpass)
        sample.labels["video"] = i
        sample.meta["extractor"] = extractor
        samples.append(sample)
    fps = tracks[0].fps
    data = SkeletonSet(samples, get_layout("mediapipe33"),
                       {"video": [Path(t.source).stem for t in tracks]}, list(skipped or []),
                       None if np.isnan(fps) else fps, source or tracks[0].source)
    return map_set(data, layout)


def _version() -> str:
    try:
        return mediapipe_version()
    except ElaError:
        return "(not installed)"


def video_files(path: str | Path) -> list[Path]:
    """The video itself, or the videos in a folder (by suffix, sorted, recursively)."""
    p = Path(path)
    if not p.exists():
        raise DataFormatError(p, "no such file or folder")
    if p.is_file():
        return [p]
    files = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in VIDEO_SUFFIXES)
    if not files:
        raise DataFormatError(p, f"folder holds no videos ({', '.join(VIDEO_SUFFIXES)})")
    return files


def extract(path: str | Path, layout: str = "upper10", lowpass: bool = True,
            log: Callable[[str], None] | None = None, progress: bool = False,
            **detect_options) -> SkeletonSet:
    """Skeletons of the video `path`, or of every video in the folder `path`.

    layout: "upper10" (the emotion papers), "ntu25" or "mediapipe33". lowpass: Butterworth
    order 8, cut-off 0.1. detect_options go to `ela.video.pose.detect_pose`. In a folder, a
    video that cannot be decoded or shows nobody is listed in ``skipped``; a single such
    video raises DataFormatError. progress: a tqdm bar over the videos (rate, ETA) when
    stderr is a terminal; `log` lines are then printed above the bar.
    """
    if layout not in LAYOUTS:
        raise ElaError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    files = video_files(path)
    single = Path(path).is_file()
    tracks, skipped = [], []
    bar = tqdm(files, desc="videos", unit="video", file=sys.stderr, dynamic_ncols=True,
               disable=not (progress and sys.stderr.isatty()))
    if log is not None and not bar.disable:
        log = tqdm.write
    for f in bar:
        try:
            track = detect_pose(f, **detect_options)
            if not track.found.any():
                raise DataFormatError(f, "no person found in any frame")
        except DataFormatError as err:
            if single:
                raise
            skipped.append((str(f), err.problem))
            continue
        if log is not None:
            log(f"{f.name}: {track.found.size} frames, person found in "
                f"{100 * track.found_rate:.1f} %")
        tracks.append(track)
    return tracks_to_set(tracks, layout, lowpass, skipped, str(path))


def bone_length_jitter(data: np.ndarray, layout: str) -> float:
    """Mean frame-to-frame change of bone length (metres per frame) of a (C, T, V, M) sample.

    Averaged over the layout's bones, consecutive frame pairs and persons present in both
    frames; a rigid skeleton gives 0.
    """
    x = torch.as_tensor(np.asarray(data, dtype=np.float32))[None]
    lengths = bone_lengths(x, get_layout(layout))[0]  # (T, B, M)
    present = torch.as_tensor(np.abs(data).sum(axis=(0, 2)) > 0)  # (T, M)
    both = (present[1:] & present[:-1])[:, None, :].expand(-1, lengths.shape[1], -1)
    change = (lengths[1:] - lengths[:-1]).abs()
    if not bool(both.any()):
        return 0.0
    return float(change[both].mean())
