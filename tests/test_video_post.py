"""Video → skeleton post-processing (no MediaPipe needed): lost frames, filter, mapping."""

from __future__ import annotations

import numpy as np
import pytest

from ela.errors import DataFormatError, ElaError
from ela.io import read, write_npz
from ela.video import PoseTrack, bone_length_jitter, fill_lost_frames, tracks_to_set, video_files


def _track(frames: int = 60, lost=(), seed: int = 0, noise: float = 0.01) -> PoseTrack:
    """A standing figure swaying slowly, with per-frame landmark noise, 33 joints."""
    rng = np.random.default_rng(seed)
    base = rng.normal(0, 0.3, (33, 3))
    t = np.arange(frames)[:, None, None]
    world = base + 0.05 * np.sin(2 * np.pi * t / 40) + rng.normal(0, noise, (frames, 33, 3))
    found = np.ones(frames, bool)
    found[list(lost)] = False
    world[~found] = 0.0
    vis = np.where(found[:, None], 0.9, 0.0) * np.ones((frames, 33))
    return PoseTrack(world.astype(np.float32), vis.astype(np.float32), found, 30.0, (64, 48),
                     f"/videos/clip{seed}.mp4")


def test_fill_lost_frames_interpolates_inside_and_holds_at_the_ends():
    world = np.arange(6, dtype=np.float32)[:, None, None] * np.ones((6, 2, 3), np.float32)
    found = np.array([False, True, False, False, True, False])
    filled = fill_lost_frames(world * found[:, None, None], found)
    np.testing.assert_allclose(filled[:, 0, 0], [1, 1, 2, 3, 4, 4])
    with pytest.raises(ElaError, match="no frame"):
        fill_lost_frames(world, np.zeros(6, bool))


def test_lost_frames_are_listed_filled_and_nothing_is_zero_inside():
    data = tracks_to_set([_track(lost=[0, 10, 11, 59])], "mediapipe33", lowpass=False)
    sample = data.samples[0]
    assert sample.meta["lost_frames"] == [0, 10, 11, 59]
    assert sample.meta["person_found_rate"] == pytest.approx(56 / 60)
    assert (np.abs(sample.data).sum(axis=(0, 2, 3)) > 0).all()  # no padding-looking frame


def test_lowpass_reduces_bone_length_jitter_and_mapping_keeps_frames():
    tracks = [_track(seed=1), _track(frames=45, seed=2)]
    raw = tracks_to_set(tracks, "upper10", lowpass=False)
    filt = tracks_to_set(tracks, "upper10", lowpass=True)
    assert filt.layout.name == "upper10" and filt.label_names == {"video": ["clip1", "clip2"]}
    assert [s.labels["video"] for s in filt.samples] == [0, 1]
    for a, b in zip(raw.samples, filt.samples, strict=True):
        assert b.data.shape == (3, a.data.shape[1], 10, 1)
        assert bone_length_jitter(b.data, "upper10") < 0.5 * bone_length_jitter(a.data,
                                                                                 "upper10")
    assert filt.samples[0].meta["lowpass"] == {"order": 8, "cutoff": 0.1}
    assert raw.samples[0].meta["lowpass"] is None
    ntu = tracks_to_set(tracks, "ntu25")
    assert ntu.samples[0].data.shape[2] == 25


def test_bone_length_jitter_of_a_rigid_motion_is_zero():
    rng = np.random.default_rng(3)
    pose = rng.normal(0, 0.3, (3, 1, 10, 1)).astype(np.float32)
    moving = pose + np.linspace(0, 1, 20, dtype=np.float32)[None, :, None, None]
    assert bone_length_jitter(moving, "upper10") == pytest.approx(0.0, abs=1e-6)


def test_extracted_set_round_trips_through_npz(tmp_path):
    data = tracks_to_set([_track(seed=4, lost=[5])], "upper10")
    out = write_npz(data, tmp_path / "v.npz")
    back = read(out)
    assert back.layout.name == "upper10" and back.label_names["video"] == ["clip4"]
    assert back.samples[0].meta["lost_frames"] == [5]
    np.testing.assert_allclose(back.samples[0].data, data.samples[0].data)


def test_errors_name_the_problem(tmp_path):
    with pytest.raises(ElaError, match="layout must be one of"):
        tracks_to_set([_track()], "gait16")
    with pytest.raises(DataFormatError, match="no person found"):
        tracks_to_set([_track(frames=5, lost=range(5))], "upper10")
    with pytest.raises(DataFormatError, match="holds no videos"):
        video_files(tmp_path)
    with pytest.raises(DataFormatError, match="no such file"):
        video_files(tmp_path / "missing.mp4")
