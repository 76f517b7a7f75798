"""Atomic writes: whole files only, shareable permissions, nothing left behind on failure."""

from __future__ import annotations

import os
import pickle
import stat

import numpy as np
import pytest

from ela.errors import DataFormatError, ElaError
from ela.files import atomic_write_bytes, atomic_write_json, atomic_write_npz, read_npz_arrays


def test_atomic_write_replaces_whole_file_with_umask_permissions(tmp_path):
    path = tmp_path / "sub" / "result.json"
    atomic_write_json(path, {"a": 1})
    atomic_write_json(path, {"a": 2})
    assert path.read_text().strip().replace(" ", "").replace("\n", "") == '{"a":2}'
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask
    assert [p.name for p in path.parent.iterdir()] == ["result.json"]


def test_failed_write_leaves_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "summary.json"
    atomic_write_bytes(path, b"old")
    with pytest.raises(ElaError, match="not plain JSON"):
        atomic_write_json(path, {"x": float("nan")})
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]


def test_npz_round_trip_is_atomic_and_checks_names(tmp_path):
    path = atomic_write_npz(tmp_path / "shard.npz", {"a": np.arange(3), "b": np.array("x")})
    arrays = read_npz_arrays(path, ["a", "b"])
    np.testing.assert_array_equal(arrays["a"], np.arange(3))
    assert [p.name for p in tmp_path.iterdir()] == ["shard.npz"]
    with pytest.raises(DataFormatError, match=r"shard.npz: missing arrays c"):
        read_npz_arrays(path, ["a", "c"])


@pytest.mark.parametrize("content, problem", [
    ("pickle", "not an .npz archive.*pickled data is never loaded"),
    ("object", "object array.*pickled data is never loaded"), ("npy", "single .npy"),
    ("bytes", "not a readable .npz"), ("missing", "not a readable .npz")])
def test_npz_reader_refuses_pickles_and_names_the_file(tmp_path, content, problem):
    path = tmp_path / "adversarial.npz"
    if content == "pickle":
        path.write_bytes(pickle.dumps({"a": 1}))
    elif content == "object":
        np.savez(path, a=np.array([{"x": 1}], dtype=object))
    elif content == "npy":
        with open(path, "wb") as fh:
            np.save(fh, np.zeros(3))
    elif content == "bytes":
        path.write_bytes(b"PK\x03\x04" + bytes(range(256)))
    with pytest.raises(DataFormatError, match=problem) as err:
        read_npz_arrays(path)
    assert str(path) in str(err.value) and "allow_pickle" not in str(err.value)
