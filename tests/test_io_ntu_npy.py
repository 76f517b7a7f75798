"""2s-AGCN/ST-GCN `.npy` + label `.pkl` pairs, and the restricted unpickler."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from ela.errors import DataFormatError
from ela.io import open_reader, read


def _pair(tmp_path, n=3, t=20, lengths=(20, 12, 7), labels=(0, 5, 59)):
    rng = np.random.default_rng(0)
    data = np.zeros((n, 3, t, 25, 2), dtype=np.float32)
    for i, k in enumerate(lengths):
        data[i, :, :k, :, 0] = rng.normal(size=(3, k, 25))
    names = [f"S001C001P00{i + 1}R001A{lab + 1:03d}.skeleton" for i, lab in enumerate(labels)]
    np.save(tmp_path / "train_data_joint.npy", data)
    with open(tmp_path / "train_label.pkl", "wb") as f:
        pickle.dump((names, [np.int64(x) for x in labels]), f)
    return data, names


def test_pair_round_trip(tmp_path):
    data, names = _pair(tmp_path)
    result = open_reader(tmp_path / "train_data_joint.npy", "ntu-npy")
    first = next(result.samples)
    np.testing.assert_array_equal(first.data, data[0])
    s = read(tmp_path / "train_data_joint.npy")
    assert [x.frames for x in s.samples] == [20, 12, 7]
    assert s.labels("action").tolist() == [0, 5, 59]
    assert s.label_names["action"][59] == "A060"
    assert s.samples[1].meta["name"] == names[1] and s.samples[1].meta["performer"] == 2
    np.testing.assert_array_equal(s.samples[2].data, data[2, :, :7])


def test_nan_sample_is_skipped_and_layout_checked(tmp_path):
    data, _ = _pair(tmp_path)
    data[1, 0, 3, 4, 0] = np.nan
    np.save(tmp_path / "train_data_joint.npy", data)
    s = read(tmp_path / "train_data_joint.npy", "ntu-npy")
    assert len(s) == 2 and len(s.skipped) == 1 and "[1]" in s.skipped[0][0]
    with pytest.raises(DataFormatError, match="25 joints but layout coco17 has 17"):
        read(tmp_path / "train_data_joint.npy", "ntu-npy", layout="coco17")


def test_label_count_mismatch(tmp_path):
    _pair(tmp_path)
    with open(tmp_path / "train_label.pkl", "wb") as f:
        pickle.dump((["a", "b"], [0, 1]), f)
    with pytest.raises(DataFormatError, match="2 labels for 3 samples"):
        read(tmp_path / "train_data_joint.npy", "ntu-npy")


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > evil_ran.txt",))


def test_pickle_that_runs_code_is_refused(tmp_path, monkeypatch):
    _pair(tmp_path)
    monkeypatch.chdir(tmp_path)
    with open(tmp_path / "train_label.pkl", "wb") as f:
        pickle.dump((["a", "b", "c"], [0, 1, _Evil()]), f)
    with pytest.raises(DataFormatError, match="refusing to load"):
        read(tmp_path / "train_data_joint.npy", "ntu-npy")
    assert not (tmp_path / "evil_ran.txt").exists()
