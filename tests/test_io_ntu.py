"""NTU `.skeleton` reader: real sample files and small files written here."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

from ela.errors import DataFormatError
from ela.io import open_reader, read


@lru_cache
def _read(path: str):
    return read(path, "ntu")


def skeleton_text(frames: list[list[np.ndarray]], body_ids: list[list[int]] | None = None,
                  joints: int = 25, declared: int | None = None) -> str:
    """NTU text for frames given as lists of (joints, 3) body coordinates."""
    lines = [str(len(frames) if declared is None else declared)]
    for t, bodies in enumerate(frames):
        lines.append(str(len(bodies)))
        for b, xyz in enumerate(bodies):
            bid = body_ids[t][b] if body_ids else 1000 + b
            lines.append(f"{bid} 0 1 1 1 1 0 -0.1 0.1 2")
            lines.append(str(joints))
            lines += [" ".join(f"{v:.6f}" for v in (*p, 270.0, 190.0, 1000.0, 500.0,
                                                   0.1, 0.2, 0.9, 0.1)) + " 2" for p in xyz]
    return "\n".join(lines) + "\n"


def _body(rng: np.random.Generator, t: int, motion: float) -> list[np.ndarray]:
    base = rng.normal(size=(25, 3)) * 0.3
    return [base + motion * np.sin(0.3 * k) for k in range(t)]


def _write(tmp: Path, name: str, text: str) -> Path:
    p = tmp / name
    p.write_text(text)
    return p


def test_real_files(shared_data):
    s = _read(str(shared_data("ntu_samples")))
    assert len(s) == 5 and not s.skipped
    by_name = {x.meta["name"]: x for x in s.samples}
    frames = {n[-4:]: x.frames for n, x in by_name.items()}
    assert frames == {"A011": 82, "A058": 70, "A003": 100, "A034": 71, "A017": 124}
    persons = {n[-4:]: x.meta["persons"] for n, x in by_name.items()}
    assert persons == {"A011": 1, "A058": 2, "A003": 1, "A034": 1, "A017": 1}
    for x in s.samples:
        assert x.data.shape == (3, x.frames, 25, 2) and x.data.dtype == np.float32
        assert x.labels["action"] == x.meta["action_code"] - 1
        head, base = x.data[1, :, 3, 0], x.data[1, :, 0, 0]
        assert (head > base).mean() > 0.95  # y is up
        assert 1.0 < np.median(x.data[2, :, 0, 0]) < 6.0  # metres of depth
    two = by_name["S001C003P008R002A058"]
    assert np.abs(two.data[..., 1]).sum() > 0
    assert two.meta["setup"] == 1 and two.meta["camera"] == 3 and two.meta["performer"] == 8
    assert two.meta["replication"] == 2 and two.labels["action"] == 57
    single = by_name["S001C001P001R001A011"]
    assert not single.data[..., 1].any()
    assert s.summary()["persons"] == {1: 4, 2: 1}


def test_two_most_active_bodies_kept(tmp_path):
    rng = np.random.default_rng(0)
    t = 12
    still, lively, medium = _body(rng, t, 0.0), _body(rng, t, 0.5), _body(rng, t, 0.2)
    still = [np.zeros((25, 3)) + 0.01 * rng.normal(size=(25, 3)) for _ in range(t)]
    frames = [[still[k], lively[k], medium[k]] for k in range(t)]
    ids = [[7, 8, 9]] * t
    p = _write(tmp_path, "S001C002P003R001A050.skeleton", skeleton_text(frames, ids))
    x = read(p).samples[0]
    assert x.data.shape == (3, t, 25, 2)
    np.testing.assert_allclose(x.data[:, :, :, 0].transpose(1, 2, 0), np.stack(lively),
                               atol=1e-5)
    np.testing.assert_allclose(x.data[:, :, :, 1].transpose(1, 2, 0), np.stack(medium),
                               atol=1e-5)
    assert x.labels["action"] == 49 and x.meta["camera"] == 2


def test_body_identity_and_empty_frames(tmp_path):
    rng = np.random.default_rng(1)
    a, b = _body(rng, 4, 0.3), _body(rng, 4, 0.1)
    frames = [[a[0]], [], [b[2], a[2]], [a[3]]]
    ids = [[1], [], [2, 1], [1]]
    x = read(_write(tmp_path, "S001C001P001R001A001.skeleton",
                    skeleton_text(frames, ids))).samples[0]
    assert x.meta["lost_frames"] == [1]
    assert not x.data[:, 1].any()
    np.testing.assert_allclose(x.data[:, 2, :, 0].T, a[2], atol=1e-5)  # body 1 stays in slot 0
    np.testing.assert_allclose(x.data[:, 2, :, 1].T, b[2], atol=1e-5)


@pytest.mark.parametrize("problem, edit, line", [
    ("truncated", lambda L: L[:40], 41),
    ("joint count 24", lambda L: L[:3] + ["24"] + L[4:], 4),
    ("non-numeric", lambda L: L[:10] + ["0.1 abc " + " ".join(L[10].split()[2:])] + L[11:], 11),
    ("NaN", lambda L: L[:6] + ["nan " + " ".join(L[6].split()[1:])] + L[7:], 7),
    ("frame count", lambda L: ["5"] + L[1:], None),
])
def test_bad_file_raises_naming_file_and_line(tmp_path, problem, edit, line):
    rng = np.random.default_rng(2)
    body = _body(rng, 3, 0.2)
    good = skeleton_text([[body[k]] for k in range(3)]).splitlines()
    p = _write(tmp_path, "S001C001P001R001A002.skeleton", "\n".join(edit(good)) + "\n")
    with pytest.raises(DataFormatError) as err:
        read(p, "ntu")
    assert err.value.path == str(p)
    if line is not None:
        assert err.value.line == line, problem


def test_folder_skips_bad_file(tmp_path):
    rng = np.random.default_rng(3)
    body = _body(rng, 5, 0.2)
    for k in (1, 2):
        _write(tmp_path, f"S001C001P001R001A00{k}.skeleton",
               skeleton_text([[body[i]] for i in range(5)]))
    bad = _write(tmp_path, "S001C001P001R001A003.skeleton",
                 skeleton_text([[body[i]] for i in range(5)], joints=20))
    result = open_reader(tmp_path, "ntu")
    samples = list(result.samples)
    assert [s.meta["name"][-4:] for s in samples] == ["A001", "A002"]
    assert result.skipped == [(str(bad), "line 4: joint count 20, expected 25")]
