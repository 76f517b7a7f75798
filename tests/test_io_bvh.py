"""BVH parser and forward kinematics on files written here (channel orders, positions)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from ela.errors import DataFormatError
from ela.io import read, read_bvh

ROT = {"X": "Xrotation", "Y": "Yrotation", "Z": "Zrotation"}


def _bvh(order_root: str, order_child: str, motion: np.ndarray, child_pos: bool) -> str:
    """Root with 3 positions + rotations in `order_root`, a child, a grandchild, an End Site."""
    child_ch = (["Xposition", "Yposition", "Zposition"] if child_pos else []) + \
        [ROT[a] for a in order_child]
    root_ch = ["Xposition", "Yposition", "Zposition"] + [ROT[a] for a in order_root]
    text = [
        "HIERARCHY", "ROOT hips", "{", "  OFFSET 0 0 0",
        f"  CHANNELS {len(root_ch)} {' '.join(root_ch)}",
        "  JOINT upper", "  {", "    OFFSET 0 10 0",
        f"    CHANNELS {len(child_ch)} {' '.join(child_ch)}",
        "    JOINT hand", "    {", "      OFFSET 5 0 0", "      CHANNELS 1 Zrotation",
        "      End Site", "      {", "        OFFSET 1 0 0", "      }", "    }", "  }", "}",
        "MOTION", f"Frames: {len(motion)}", "Frame Time: 0.04",
    ]
    text += [" ".join(f"{v:.6f}" for v in row) for row in motion]
    return "\n".join(text) + "\n"


@pytest.mark.parametrize("order_root, order_child, child_pos", [
    ("ZXY", "ZXY", False), ("XYZ", "YZX", True), ("YXZ", "ZYX", False),
])
def test_fk_matches_scipy(tmp_path, order_root, order_child, child_pos):
    rng = np.random.default_rng(0)
    t = 6
    root_pos = rng.normal(size=(t, 3))
    root_rot = rng.uniform(-90, 90, size=(t, 3))
    child_t = rng.normal(size=(t, 3)) if child_pos else np.tile([0.0, 10.0, 0.0], (t, 1))
    child_rot = rng.uniform(-90, 90, size=(t, 3))
    hand_rot = rng.uniform(-90, 90, size=(t, 1))
    cols = [root_pos, root_rot] + ([child_t] if child_pos else []) + [child_rot, hand_rot]
    p = tmp_path / "m.bvh"
    p.write_text(_bvh(order_root, order_child, np.concatenate(cols, axis=1), child_pos))
    m = read_bvh(p, scale=0.5)
    assert m.names == ["hips", "upper", "hand"] and m.parents == [-1, 0, 1]
    assert m.positions.shape == (t, 3, 3) and m.fps == pytest.approx(25.0)
    r_root = Rotation.from_euler(order_root, root_rot, degrees=True)  # upper case = intrinsic
    r_child = Rotation.from_euler(order_child, child_rot, degrees=True)
    upper = root_pos + r_root.apply(child_t)
    hand = upper + (r_root * r_child).apply(np.array([5.0, 0, 0]))
    np.testing.assert_allclose(m.positions[:, 0], 0.5 * root_pos, atol=1e-5)
    np.testing.assert_allclose(m.positions[:, 1], 0.5 * upper, atol=1e-5)
    np.testing.assert_allclose(m.positions[:, 2], 0.5 * hand, atol=1e-5)


def test_declared_order_matters(tmp_path):
    motion = np.array([[0, 0, 0, 90, 90, 0, 0, 0, 0, 0]], dtype=float)
    a = tmp_path / "a.bvh"
    b = tmp_path / "b.bvh"
    a.write_text(_bvh("ZXY", "ZXY", motion, False))
    b.write_text(_bvh("XZY", "ZXY", motion[:, [0, 1, 2, 4, 3, 5, 6, 7, 8, 9]], False))
    pa, pb = read_bvh(a).positions, read_bvh(b).positions
    assert not np.allclose(pa[:, 2], pb[:, 2])  # Rz·Rx differs from Rx·Rz


def test_generic_reader_folder(tmp_path):
    motion = np.zeros((4, 10))
    for k in range(3):
        (tmp_path / f"c{k}.bvh").write_text(_bvh("ZXY", "ZXY", motion, False))
    bad = tmp_path / "c1.bvh"
    bad.write_text(bad.read_text().replace("Zrotation Xrotation Yrotation",
                                           "Zrotation Xrotation Wrotation", 1))
    s = read(tmp_path)
    assert len(s) == 2 and s.layout.joints == ("hips", "upper", "hand")
    assert s.skipped == [(str(bad), "line 5: unknown channel 'Wrotation'; known: Xposition, "
                                    "Yposition, Zposition, Xrotation, Yrotation, Zrotation")]
    assert s.samples[0].data.shape == (3, 4, 3, 1) and s.fps == pytest.approx(25.0)


@pytest.mark.parametrize("edit, problem", [
    (lambda L: L[:-2], "declares 4 frames but 2 follow"),
    (lambda L: L[:-1] + ["0 0 0 1 2 3 x 0 0 0"], "non-numeric value 'x'"),
    (lambda L: L[:-1] + ["0 0 0 1 2 3 nan 0 0 0"], "not finite"),
    (lambda L: L[:-1] + ["0 0 0 1 2 3"], "expected 10 values, got 6"),
    (lambda L: L[:10], "no MOTION section"),
    (lambda L: L[:4] + ["  CHANNELS 7 Xposition"] + L[5:], "unknown channel .JOINT."),
])
def test_bad_bvh(tmp_path, edit, problem):
    p = tmp_path / "m.bvh"
    p.write_text(_bvh("ZXY", "ZXY", np.zeros((4, 10)), False))
    p.write_text("\n".join(edit(p.read_text().splitlines())) + "\n")
    with pytest.raises(DataFormatError, match=problem) as err:
        read(p, "bvh")
    assert err.value.path == str(p)
