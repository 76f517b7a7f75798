"""The canonical `.npz`: round trip, atomic write, validation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ela.errors import DataFormatError
from ela.io import SkeletonSet, read, write_npz
from ela.io.base import Sample
from ela.io.npz import open_npz
from ela.skeleton import get_layout
from ela.skeleton.layout import Layout


def _set(layout="kinect20", v=20):
    rng = np.random.default_rng(0)
    samples = [Sample(rng.normal(size=(3, t, v, 1)).astype(np.float32),
                      {"action": a, "subject_id": a % 2},
                      {"name": f"s{t}", "lost_frames": [1, 2], "subject": np.int64(3)})
               for t, a in ((7, 2), (12, 0), (4, 1))]
    return SkeletonSet(samples, get_layout(layout) if isinstance(layout, str) else layout,
                       {"action": ["a", "b", "c"]}, [("bad.txt", "broken")], 15.0, "src")


def test_round_trip(tmp_path):
    s = _set()
    p = write_npz(s, tmp_path / "out" / "set.npz")
    assert sorted(f.name for f in p.parent.iterdir()) == ["set.npz"]  # no temp file left
    r = read(p)
    assert r.layout == s.layout and r.fps == 15.0 and r.skipped == [("bad.txt", "broken")]
    assert r.label_names["action"] == ["a", "b", "c"]
    assert r.label_names["subject_id"] == ["0", "1"]
    for a, b in zip(s.samples, r.samples, strict=True):
        np.testing.assert_array_equal(a.data, b.data)
        assert a.labels == b.labels
    assert r.samples[0].meta == {"name": "s7", "lost_frames": [1, 2], "subject": 3}
    cut = read(write_npz(s, tmp_path / "cut.npz", frames=5))
    assert [x.frames for x in cut.samples] == [5, 5, 4]


def test_unregistered_layout_survives(tmp_path):
    lay = Layout(name="my3", joints=("a", "b", "c"), parents=(-1, 0, 1), centre=0)
    r = read(write_npz(_set(lay, 3), tmp_path / "x.npz"))
    assert r.layout == lay


def _rewrite(p, **changes):
    z = dict(np.load(p, allow_pickle=False))
    z.update(changes)
    np.savez(p, **z)


@pytest.mark.parametrize("change, problem", [
    ({"data": np.zeros((3, 3, 12, 25, 1), np.float32)}, "25 joints, layout kinect20 has 20"),
    ({"lengths": np.array([7, 13, 4])}, "lengths must be"),
    ({"label_action": np.array([2, 0, 3])}, "outside 0..2"),
    ({"meta": np.array(json.dumps([{}]))}, "JSON list of 3"),
    ({"layout": np.array("nope"), "layout_json": np.array("{")}, "bad layout_json"),
    ({"data": np.full((3, 3, 12, 20, 1), np.nan, np.float32)}, "NaN"),
])
def test_validation(tmp_path, change, problem):
    p = write_npz(_set(), tmp_path / "x.npz")
    _rewrite(p, **change)
    with pytest.raises(DataFormatError, match=problem) as err:
        read(p)
    assert err.value.path == str(p)


def test_refuses_object_arrays(tmp_path):
    p = tmp_path / "x.npz"
    np.savez(p, data=np.array([{"a": 1}], dtype=object), lengths=np.zeros(1),
             layout=np.array("ntu25"), meta=np.array("[]"))
    with pytest.raises(DataFormatError):
        read(p)


def test_a_missing_file_in_a_folder_named_pickle_is_not_called_pickled(tmp_path):
    folder = tmp_path / "pickle_jar"
    folder.mkdir()
    with pytest.raises(DataFormatError) as err:
        open_npz(folder / "absent.npz")
    assert "absent.npz" in str(err.value) and "pickled data" not in str(err.value)
    pickled = folder / "payload.npz"
    np.save(pickled, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    pickled.write_bytes((folder / "payload.npz.npy").read_bytes())
    with pytest.raises(DataFormatError, match="pickled data is never loaded"):
        open_npz(pickled)
