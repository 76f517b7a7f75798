"""Format detection and the `open_reader` / `read` entry points."""

from __future__ import annotations

import numpy as np
import pytest

from ela.errors import DataFormatError
from ela.io import FORMATS, detect_format, open_reader, read


def test_formats_table():
    assert set(FORMATS) == {"ntu", "ntu-npy", "kinetics", "pyskl", "msr", "bvh", "bandai", "npz",
                            "store"}


def test_detect_real_folders(shared_data):
    msr = shared_data("msr_action3d")
    assert detect_format(msr) == "msr"
    assert detect_format(msr / "a01_s01_e01_skeleton3D.txt") == "msr"
    ntu = shared_data("ntu_samples")
    assert detect_format(ntu) == "ntu"
    assert detect_format(next(ntu.glob("*.skeleton"))) == "ntu"
    bandai = shared_data("bandai1")
    assert detect_format(bandai) == "bandai" and detect_format(bandai / "data") == "bandai"
    assert detect_format(bandai / "data" / "dataset-1_bow_active_001.bvh") == "bandai"


def test_detect_written_files(tmp_path):
    for name, fmt in (("x.npz", "npz"), ("x.npy", "ntu-npy"), ("x.pkl", "pyskl"),
                      ("c.json", "kinetics"), ("m.bvh", "bvh")):
        (tmp_path / name).write_bytes(b"")
        assert detect_format(tmp_path / name) == fmt
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DataFormatError, match="cannot tell the format"):
        read(tmp_path / "notes.txt")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataFormatError, match="cannot tell the format"):
        read(empty)
    with pytest.raises(DataFormatError, match="no such file"):
        read(tmp_path / "missing")


def test_open_reader_arguments(tmp_path):
    p = tmp_path / "a01_s01_e01_skeleton3D.txt"
    rows = np.concatenate([np.ones((40, 3)), np.ones((40, 1))], axis=1)
    p.write_text("\n".join(" ".join(map(str, r)) for r in rows))
    result = open_reader(p, "msr")
    assert next(result.samples).frames == 2
    with pytest.raises(DataFormatError, match="unknown format 'vicon'"):
        open_reader(p, "vicon")
    with pytest.raises(DataFormatError, match="bad option for format 'msr'"):
        open_reader(p, "msr", scale=2)
