"""Video → 3D skeleton with MediaPipe on the shared videos (needs the video extra).

Runs in the separate video environment (`make test-video`: mediapipe 0.10.21 needs
numpy<2); in the main environment it skips. MediaPipe runs once per video for the session.
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from conftest import shared

pytest.importorskip("mediapipe", reason="mediapipe is absent: the video tests run in the "
                                        "video environment (make test-video)")

from ela.cli import main  # noqa: E402
from ela.io import read, write_npz  # noqa: E402
from ela.io.base import Sample  # noqa: E402
from ela.skeleton import get_layout  # noqa: E402
from ela.video import bone_length_jitter, detect_pose, tracks_to_set  # noqa: E402

VIDEOS = ("ntu_sample.avi", "ta_chi.mp4", "clean_and_jerk.mp4")


@pytest.fixture(scope="session")
def tracks():
    folder = shared("video")
    return {name: detect_pose(folder / name) for name in VIDEOS}


@pytest.mark.parametrize("name", VIDEOS)
def test_a_person_is_found_in_at_least_90_percent_of_frames(tracks, name):
    track = tracks[name]
    print(f"{name}: {track.found.size} frames, person found in {100 * track.found_rate:.1f} %")
    assert track.found.size > 0 and track.found_rate >= 0.9


@pytest.mark.parametrize("name", VIDEOS)
def test_world_landmarks_are_metric_and_upright(tracks, name):
    track = tracks[name]
    w = track.world[track.found]
    lay = get_layout("mediapipe33")
    j = {n: lay.joints.index(n) for n in ("nose", "left_shoulder", "right_shoulder",
                                          "left_hip", "right_hip")}
    width = np.linalg.norm(w[:, j["left_shoulder"]] - w[:, j["right_shoulder"]], axis=1)
    assert 0.2 < np.median(width) < 0.6  # metres
    shoulders = (w[:, j["left_shoulder"], 1] + w[:, j["right_shoulder"], 1]) / 2
    hips = (w[:, j["left_hip"], 1] + w[:, j["right_hip"], 1]) / 2
    assert (shoulders > hips).mean() > 0.9  # y is up
    assert (w[:, j["nose"], 1] > hips).mean() > 0.9


@pytest.mark.parametrize("name", VIDEOS)
@pytest.mark.parametrize("layout", ["mediapipe33", "upper10"])
def test_lowpass_makes_bone_lengths_steadier(tracks, name, layout):
    raw = tracks_to_set([tracks[name]], layout, lowpass=False).samples[0].data
    filtered = tracks_to_set([tracks[name]], layout, lowpass=True).samples[0].data
    before, after = bone_length_jitter(raw, layout), bone_length_jitter(filtered, layout)
    print(f"{name} {layout}: bone-length change {1000 * before:.2f} -> {1000 * after:.2f} "
          f"mm/frame")
    assert after < 0.75 * before


def test_cli_extracts_a_video_to_a_readable_file(tmp_path, capsys):
    out = tmp_path / "ntu.npz"
    assert main(["extract", str(shared("video") / "ntu_sample.avi"), "--layout", "upper10",
                 "--out", str(out)]) == 0
    assert "person found in" in capsys.readouterr().out
    data = read(out)
    assert data.layout.name == "upper10" and len(data) == 1
    sample = data.samples[0]
    assert sample.data.shape == (3, 72, 10, 1) and np.isfinite(sample.data).all()
    assert sample.meta["person_found_rate"] >= 0.9 and sample.meta["lowpass"]["order"] == 8
    assert data.fps == pytest.approx(30.0)


def _chunks(data, size: int):
    """Non-overlapping `size`-frame pieces of every video, each its own clip."""
    samples = []
    for s in data.samples:
        for k in range(s.frames // size):
            samples.append(Sample(s.data[:, k * size:(k + 1) * size], dict(s.labels),
                                  {**s.meta, "clip": f"{s.meta['clip']}_{k}"}))
    return replace(data, samples=samples)


def test_extracted_data_trains_and_attacks_like_any_dataset(tracks, tmp_path):
    data = _chunks(tracks_to_set([tracks[n] for n in VIDEOS], "ntu25"), 24)
    path = write_npz(data, tmp_path / "videos.npz")
    run = tmp_path / "hcn"
    assert main(["train", "--model", "hcn", "--data", str(path), "--label", "video", "--out",
                 str(run), "--frames", "16", "--epochs", "4", "--split", "holdout:0.6,0.1,0.3",
                 "--cfg", "width=0.25", "window=16"]) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["classes"] == ["ntu_sample", "ta_chi", "clean_and_jerk"]
    assert 0 <= metrics["uar"] <= 1
    attack = tmp_path / "ela"
    assert main(["attack", str(run), "--data", str(path), "--method", "ela", "--iters", "30",
                 "--samples", "4", "--out", str(attack)]) == 0
    summary = json.loads((attack / "summary.json").read_text())
    assert summary["method"] == "ela" and summary["n"] == 4
    with np.load(attack / "adversarial.npz") as f:
        assert f["adversarial"].shape[2:] == (16, 25, 1)
