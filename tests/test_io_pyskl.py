"""pyskl annotation pickles written here (2D and 3D)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from ela.errors import DataFormatError
from ela.io import read


def _ann(name, label, m=2, t=10, v=17, c=2, shift=0.0):
    rng = np.random.default_rng(label)
    kp = (rng.uniform(10, 90, size=(m, t, v, c)) + shift).astype(np.float32)
    ann = {"frame_dir": name, "total_frames": t, "img_shape": (100, 200), "label": label,
           "keypoint": kp}
    if c == 2:
        score = np.full((m, t, v), 0.9, dtype=np.float32)
        score[0] = 0.2  # the first person scores lower: it must come second
        ann["keypoint_score"] = score
    return ann


def _write(tmp_path, anns, split=None):
    p = tmp_path / "data.pkl"
    with open(p, "wb") as f:
        pickle.dump({"split": split or {}, "annotations": anns}, f, protocol=4)
    return p


def test_2d_pickle(tmp_path):
    anns = [_ann("a", 0), _ann("b", 3), _ann("c", 1)]
    p = _write(tmp_path, anns, {"xsub_train": ["a", "c"], "xsub_val": ["b"], "all": ["a", "b"]})
    s = read(p)
    assert s.layout.name == "coco17" and len(s) == 3
    x = s.samples[0]
    assert x.data.shape == (3, 10, 17, 2)
    kp = anns[0]["keypoint"]
    np.testing.assert_allclose(x.data[0, :, :, 0], kp[1, :, :, 0] / 200, rtol=1e-6)
    np.testing.assert_allclose(x.data[1, :, :, 0], 1 - kp[1, :, :, 1] / 100, rtol=1e-6)
    np.testing.assert_allclose(x.data[2, :, :, 1], 0.2)
    assert s.meta("split") == [["all", "xsub_train"], ["all", "xsub_val"], ["xsub_train"]]
    assert s.labels("action").tolist() == [0, 3, 1]
    val = read(p, "pyskl", split="xsub_val")
    assert [x.meta["name"] for x in val.samples] == ["b"]


def test_3d_pickle_and_bad_annotation(tmp_path):
    anns = [_ann("S001C001P001R001A001", 0, m=1, v=25, c=3), _ann("bad", 1, v=25, c=3)]
    anns[1]["total_frames"] = 99
    anns.append(_ann("nan", 2, m=1, v=25, c=3))
    anns[2]["keypoint"][0, 2, 3, 1] = np.nan
    s = read(_write(tmp_path, anns))
    assert s.layout.name == "ntu25" and len(s) == 1
    np.testing.assert_allclose(s.samples[0].data[..., 0], anns[0]["keypoint"][0].transpose(2, 0, 1))
    assert not s.samples[0].data[..., 1].any()
    assert [f for f, _ in s.skipped] == [f"{tmp_path / 'data.pkl'}[bad]",
                                         f"{tmp_path / 'data.pkl'}[nan]"]
    assert "total_frames 99" in s.skipped[0][1] and "NaN" in s.skipped[1][1]


def test_not_a_pyskl_pickle(tmp_path):
    p = tmp_path / "x.pkl"
    p.write_bytes(pickle.dumps([1, 2, 3]))
    with pytest.raises(DataFormatError, match="no 'annotations' list"):
        read(p)
    p.write_bytes(b"not a pickle at all")
    with pytest.raises(DataFormatError) as err:
        read(p, "pyskl")
    assert err.value.path == str(p)


def test_annotations_whose_keypoints_live_elsewhere_say_so(tmp_path, capsys):
    """mmaction2's tests/data/annotations/sample.pkl shape: Kinetics entries with frame_dir,
    label, img_shape, total_frames — and no 'keypoint'. The error says what the file is and
    what is missing, through `ela data info` too, never a traceback."""
    from ela.cli import main

    anns = [{"frame_dir": f"video_{k}", "label": k % 400, "img_shape": (256, 340),
             "original_shape": (256, 340), "total_frames": 100 + k} for k in range(100)]
    p = _write(tmp_path, anns)
    with pytest.raises(DataFormatError, match="no 'keypoint': their keypoints are stored "
                                              "elsewhere"):
        read(p, "pyskl")
    assert main(["data", "info", str(p), "--format", "pyskl"]) == 2
    err = capsys.readouterr().err
    assert "100 entries have no 'keypoint'" in err and "Traceback" not in err


def test_data_info_maps_to_a_layout_like_the_other_commands(tmp_path, capsys):
    from ela.cli import main

    p = _write(tmp_path, [_ann("a", 0, v=25, c=3), _ann("b", 1, v=25, c=3)])
    assert main(["data", "info", str(p), "--format", "pyskl", "--layout", "gait16"]) == 0
    assert "layout gait16 (16 joints" in capsys.readouterr().out
