"""Kinetics-skeleton JSON clips written here (the full dataset is too large to ship)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ela.errors import DataFormatError
from ela.io import open_reader, read


def _person(rng, level):
    pose = rng.uniform(0.1, 0.9, size=36).round(3)
    pose[0:2] = 0.0  # nose missed by OpenPose
    score = np.full(18, level).round(3)
    score[0] = 0.0
    return {"pose": pose.tolist(), "score": score.tolist()}


def _clip(rng, frames=(1, 2, 3, 5), people=3, label=("dancing", 4)):
    data = [{"frame_index": t, "skeleton": [_person(rng, 0.3 + 0.2 * p) for p in range(people)]}
            for t in frames]
    return {"data": data, "label": label[0], "label_index": label[1]}


def test_clip_best_two_people_y_up(tmp_path):
    rng = np.random.default_rng(0)
    clip = _clip(rng)
    (tmp_path / "abc.json").write_text(json.dumps(clip))
    s = read(tmp_path / "abc.json")
    assert s.layout.name == "openpose18"
    x = s.samples[0]
    assert x.data.shape == (3, 5, 18, 2) and x.meta["lost_frames"] == [3]
    assert not x.data[:, 3].any()
    best = clip["data"][0]["skeleton"][2]  # highest score first
    pose = np.array(best["pose"]).reshape(18, 2)
    np.testing.assert_allclose(x.data[0, 0, 1:, 0], pose[1:, 0], rtol=1e-6)
    np.testing.assert_allclose(x.data[1, 0, 1:, 0], 1 - pose[1:, 1], rtol=1e-6)
    np.testing.assert_allclose(x.data[2, 0, 1:, 1], 0.5)
    assert not x.data[:, :, 0].any()  # a missed joint stays all-zero, not flipped to y = 1
    assert x.labels["action"] == 4 and s.label_names["action"][4] == "dancing"


def test_folder_with_label_file_and_bad_clip(tmp_path):
    rng = np.random.default_rng(1)
    folder = tmp_path / "kinetics_val"
    folder.mkdir()
    for name, lab in (("c1", ("run", 1)), ("c2", ("swim", 0)), ("c3", ("run", 1))):
        (folder / f"{name}.json").write_text(json.dumps(_clip(rng, label=lab)))
    bad = _clip(rng)
    bad["data"][1]["skeleton"][0]["pose"] = bad["data"][1]["skeleton"][0]["pose"][:30]
    (folder / "c4.json").write_text(json.dumps(bad))
    labels = {"c1": {"label": "run", "label_index": 1, "has_skeleton": True},
              "c2": {"label": "swim", "label_index": 0, "has_skeleton": True},
              "c3": {"label": "run", "label_index": 1, "has_skeleton": False},
              "c4": {"label": "run", "label_index": 1, "has_skeleton": True}}
    (tmp_path / "kinetics_val_label.json").write_text(json.dumps(labels))
    result = open_reader(folder, "kinetics")
    s = result.collect()
    assert [x.meta["name"] for x in s.samples] == ["c1", "c2"]
    assert s.label_names["action"] == ["swim", "run"]
    reasons = dict(s.skipped)
    assert "has_skeleton is false" in reasons[str(folder / "c3.json")]
    assert "pose has 30 values" in reasons[str(folder / "c4.json")]


def test_bad_json_raises_with_line(tmp_path):
    p = tmp_path / "x.json"
    p.write_text('{"data": [\n{"frame_index": 1,\n "skeleton": [}\n]}')
    with pytest.raises(DataFormatError) as err:
        read(p, "kinetics")
    assert err.value.path == str(p) and err.value.line == 3
    rng = np.random.default_rng(2)
    clip = _clip(rng)
    clip["data"][0]["skeleton"][1]["score"][3] = float("nan")
    p.write_text(json.dumps(clip))
    with pytest.raises(DataFormatError, match="NaN"):
        read(p, "kinetics")
