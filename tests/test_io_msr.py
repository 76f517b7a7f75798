"""MSR Action3D reader: all real sequences, and small files written here."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest

from ela.errors import DataFormatError
from ela.io import read
from ela.io.msr import fill_lost


@lru_cache
def _read(path: str, **opts):
    return read(path, "msr", **opts)


def test_real_dataset(shared_data):
    folder = shared_data("msr_action3d")
    s = _read(str(folder))
    # 567 files: one (a13_s09_e02) has no valid frame at all and is skipped with its reason.
    assert len(s) + len(s.skipped) == 567 and len(s) == 566
    assert s.skipped[0][0].endswith("a13_s09_e02_skeleton3D.txt")
    assert "all 38 frames are zero" in s.skipped[0][1]
    assert len(set(s.labels("action"))) == 20 and len(s.label_names["action"]) == 20
    assert len(set(s.meta("subject"))) == 10 and s.layout.num_joints == 20
    assert all(x.data.shape[2:] == (20, 1) for x in s.samples)
    head = s.layout.index("head")
    hip = s.layout.index("hip_centre")
    up = np.concatenate([x.data[1, :, head, 0] > x.data[1, :, hip, 0] for x in s.samples])
    assert up.mean() >= 0.95
    filled = sum(x.meta["filled"] for x in s.samples)
    assert filled == sum(len(x.meta["lost_frames"]) for x in s.samples)
    assert 900 < filled + 38 < 1300  # ~1100 lost frames of 23 478 (38 in the skipped file)
    assert all(np.abs(x.data).sum(axis=(0, 2, 3)).min() > 0 for x in s.samples)
    heights = [np.median(x.data[1, :, head, 0] - x.data[1, :, 16:19, 0].min(axis=1))
               for x in s.samples]
    assert 1.3 < np.median(heights) < 1.9  # metres


def test_protocol_list(shared_data):
    folder = shared_data("msr_action3d")
    listed = folder / "files_used_in_cvpr12_paper.txt"
    s = _read(str(folder), protocol_list=str(listed))
    names = {line.strip() for line in listed.read_text().splitlines() if line.strip()}
    assert {x.meta["name"] for x in s.samples} == names


def _frames(t, rng):
    base = rng.normal(size=(20, 3)) * 0.3 + np.array([0.0, 0.0, 2.5])
    return np.stack([base + 0.01 * k for k in range(t)])


def _write(path, xyz):
    rows = np.concatenate([xyz.reshape(-1, 3), np.ones((xyz.size // 3, 1))], axis=1)
    path.write_text("\n".join(" ".join(f"{v:.6f}" for v in r) for r in rows) + "\n")


def test_lost_frames_filled(tmp_path):
    rng = np.random.default_rng(0)
    xyz = _frames(8, rng)
    lost = [0, 3, 4, 7]
    xyz[lost] = 0.0
    p = tmp_path / "a02_s03_e01_skeleton3D.txt"
    _write(p, xyz)
    x = read(p).samples[0]
    assert x.meta["lost_frames"] == lost and x.meta["filled"] == 4
    assert x.labels["action"] == 1 and x.meta["subject"] == 3 and x.meta["episode"] == 1
    d = x.data[..., 0].transpose(1, 2, 0)
    np.testing.assert_allclose(d[0], xyz[1], atol=1e-5)  # leading run copies frame 1
    np.testing.assert_allclose(d[3], xyz[2] + (xyz[5] - xyz[2]) / 3, atol=1e-5)
    np.testing.assert_allclose(d[4], xyz[2] + 2 * (xyz[5] - xyz[2]) / 3, atol=1e-5)
    np.testing.assert_allclose(d[7], xyz[6], atol=1e-5)


def test_fill_lost_matches_numpy_interp():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(30, 4))
    lost = rng.random(30) < 0.4
    lost[[0, 29]] = [True, False]
    out = fill_lost(x, lost)
    t = np.arange(30)
    for c in range(4):
        np.testing.assert_allclose(out[:, c], np.interp(t, t[~lost], x[~lost, c]))


@pytest.mark.parametrize("edit, problem, line", [
    (lambda L: L[:-3], "not a multiple of 20", None),
    (lambda L: L[:5] + ["0.1 0.2 0.3"] + L[6:], "expected 4 values, got 3", 6),
    (lambda L: L[:7] + ["0.1 zz 0.3 1"] + L[8:], "non-numeric value 'zz'", 8),
    (lambda L: L[:9] + ["0.1 nan 0.3 1"] + L[10:], "not finite", 10),
])
def test_bad_files(tmp_path, edit, problem, line):
    rng = np.random.default_rng(2)
    p = tmp_path / "a01_s01_e01_skeleton3D.txt"
    _write(p, _frames(3, rng))
    p.write_text("\n".join(edit(p.read_text().splitlines())) + "\n")
    with pytest.raises(DataFormatError, match=problem) as err:
        read(p, "msr")
    assert err.value.path == str(p) and err.value.line == line


def test_folder_with_bad_and_empty_files(tmp_path):
    rng = np.random.default_rng(3)
    _write(tmp_path / "a01_s01_e01_skeleton3D.txt", _frames(4, rng))
    _write(tmp_path / "a01_s01_e02_skeleton3D.txt", np.zeros((4, 20, 3)))
    (tmp_path / "a01_s01_e03_skeleton3D.txt").write_text("1 2 3 4\n")
    s = read(tmp_path)
    assert len(s) == 1 and [f.split("/")[-1][:11] for f, _ in s.skipped] == \
        ["a01_s01_e02", "a01_s01_e03"]
