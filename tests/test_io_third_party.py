"""Files in other tools' shapes (issue 15): Kinect v1 skeletons padded into NTU files,
Kinetics clips packed with ``label_index: -1``, an npz in the Kinect SDK joint order."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ela.attacks import ATTACKS
from ela.cli import main
from ela.data import to_tensor_batch
from ela.errors import DataFormatError, ElaError, LayoutError
from ela.io import UNLABELLED, SkeletonSet, map_set, read, require_labels, write_npz
from ela.io.base import Sample
from ela.models.registry import create_model
from ela.skeleton import JOINT_ORDERS, get_layout
from ela.skeleton.checks import KINECT_V2_ONLY
from test_io_ntu import skeleton_text

KINECT20 = get_layout("kinect20")
SDK_NAMES = JOINT_ORDERS["kinect20-sdk"][1]
STANDING = {  # a person standing 3 m from the camera (metres, y up), by kinect20 joint name
    "hip_centre": (0.0, 1.0, 3.0), "spine": (0.0, 1.2, 3.0), "shoulder_centre": (0.0, 1.45, 3.0),
    "head": (0.0, 1.65, 3.0), "left_shoulder": (0.18, 1.42, 3.0), "left_elbow": (0.2, 1.14, 3.0),
    "left_wrist": (0.22, 0.9, 3.0), "left_hand": (0.22, 0.82, 3.0), "left_hip": (0.1, 0.95, 3.0),
    "left_knee": (0.1, 0.52, 3.0), "left_ankle": (0.1, 0.09, 3.0),
    "left_foot": (0.1, 0.03, 2.9),
}
STANDING.update({k.replace("left", "right"): (-x, y, z) for k, (x, y, z) in STANDING.items()
                 if k.startswith("left")})


def standing(frames: int, names: tuple[str, ...]) -> np.ndarray:
    """(T, V, 3) positions of `names`, swaying a little from frame to frame."""
    base = np.array([STANDING[n] for n in names])
    sway = 0.03 * np.sin(np.arange(frames) / 3.0)[:, None, None] * np.array([1.0, 0.2, 0.5])
    return base[None] + sway


# ---- NTU files holding Kinect v1 skeletons padded with zero joints ---------------------------

def _padded_ntu(folder, frames: int = 12):
    """An NTU file whose slots 1-20 hold a Kinect v1 skeleton and slots 21-25 are zero."""
    v1 = standing(frames, SDK_NAMES)  # Kinect v1 order = ntu25's first 20 slots
    bodies = [[np.concatenate([v1[t], np.zeros((5, 3))])] for t in range(frames)]
    folder.mkdir()
    path = folder / "S001C001P001R001A007.skeleton"
    path.write_text(skeleton_text(bodies))
    return path, v1


def test_ntu_with_zero_padded_kinect_v1_joints_warns_and_reads_as_kinect20(tmp_path, capsys):
    folder = tmp_path / "ntu_v1"
    _, v1 = _padded_ntu(folder)
    summary = read(folder).summary()
    assert summary["checks"]["zero_joints"] == {name: 1 for name in KINECT_V2_ONLY}
    assert len(summary["warnings"]) == 1 and "--layout kinect20" in summary["warnings"][0]
    assert main(["data", "info", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "warning: joints spine_shoulder, left_hand_tip" in out and "Kinect v1" in out

    as_v1 = read(folder, format="ntu", layout="kinect20")
    x = as_v1.samples[0].data
    assert as_v1.layout.name == "kinect20" and x.shape == (3, 12, 20, 2)
    for j, name in enumerate(SDK_NAMES):  # every joint by name, the second person empty
        np.testing.assert_allclose(x[:, :, KINECT20.index(name), 0].T, v1[:, j], atol=1e-6)
    assert not x[..., 1].any()
    assert as_v1.summary()["warnings"] == []
    mapped = map_set(read(folder), "kinect20")
    np.testing.assert_array_equal(mapped.samples[0].data, x)
    assert main(["data", "info", str(folder), "--layout", "kinect20"]) == 0
    out = capsys.readouterr().out
    assert "layout kinect20 (20 joints" in out and "warning" not in out


def test_ntu_reader_refuses_a_layout_it_cannot_read(tmp_path):
    path, _ = _padded_ntu(tmp_path / "ntu_v1")
    with pytest.raises(DataFormatError, match="reads layouts ntu25, kinect20, not gait16"):
        read(path, format="ntu", layout="gait16")


def test_real_data_gives_no_warning(shared_data):
    for name in ("msr_action3d", "ntu_samples"):
        assert read(shared_data(name)).summary()["warnings"] == []


# ---- Kinetics-skeleton clips with label_index -1 ---------------------------------------------

def _clip(label_index: int, frames: int = 6, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    data = [{"frame_index": t, "skeleton": [{"pose": rng.uniform(0.2, 0.8, 36).round(3).tolist(),
                                             "score": [0.8] * 18}]} for t in range(frames)]
    return {"data": data, "label": "unknown" if label_index < 0 else f"action {label_index}",
            "label_index": label_index}


def _kinetics(folder, labels: list[int]):
    folder.mkdir()
    for k, label in enumerate(labels):
        (folder / f"clip{k}.json").write_text(json.dumps(_clip(label, seed=k)))
    return folder


def test_unlabelled_kinetics_clips_read_convert_and_refuse_training(tmp_path, capsys):
    folder = _kinetics(tmp_path / "kinetics_test", [-1, -1, -1])
    s = read(folder)
    assert len(s) == 3 and not s.skipped
    assert s.labels("action").tolist() == [UNLABELLED] * 3 and s.label_names["action"] == []
    assert s.summary()["labels"] == {"action": {"(unlabelled)": 3}}
    with pytest.raises(ElaError, match=r"3 of 3 samples have no 'action' label .*clip0\.json"
                                       r".*training needs labelled data") as err:
        require_labels(s, "action", "training")
    assert str(folder) in str(err.value)

    assert main(["data", "info", str(folder)]) == 0
    assert "label action (0 classes): (unlabelled) 3" in capsys.readouterr().out
    out = tmp_path / "unlabelled.npz"
    assert main(["data", "convert", str(folder), "--out", str(out), "--label", "action"]) == 0
    back = read(out)
    assert back.labels("action").tolist() == [UNLABELLED] * 3


def test_mixed_kinetics_folder_keeps_classes_and_counts_the_unlabelled(tmp_path):
    s = read(_kinetics(tmp_path / "mixed", [1, -1, 0]))
    assert s.labels("action").tolist() == [1, UNLABELLED, 0]
    assert s.label_names["action"] == ["action 0", "action 1"]
    require_labels(s.subset([0, 2]), "action")  # labelled samples pass
    with pytest.raises(ElaError, match="1 of 3 samples"):
        require_labels(s, "action")


def test_kinetics_label_index_below_minus_one_is_refused(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(_clip(-2)))
    with pytest.raises(DataFormatError, match="or -1 for an unlabelled clip; got -2") as err:
        read(path)
    assert err.value.path == str(path)


def test_unlabelled_clips_can_be_attacked_with_the_prediction_as_label(tmp_path):
    s = read(_kinetics(tmp_path / "kin", [-1, -1]))
    x, y, lengths = to_tensor_batch(s, frames=8)
    assert y.tolist() == [-1, -1]
    torch.manual_seed(0)
    model = create_model("hcn", s.layout, 3).eval()
    result = ATTACKS["pgd"].build(model, s.layout, steps=2)(x, None, lengths=lengths)
    assert torch.equal(result.labels, result.clean_predictions)


# ---- an npz in the Kinect SDK joint order ----------------------------------------------------

def _sdk_npz(tmp_path, **arrays) -> tuple:
    """A kinect20 set (MSR order) written as npz, its data then stored in the SDK order."""
    msr = standing(10, KINECT20.joints).transpose(2, 0, 1)[..., None].astype(np.float32)
    good = SkeletonSet([Sample(msr, {"action": 0}, {"name": f"s{k}"}) for k in range(3)],
                       KINECT20, {"action": ["stand"]}, source="sdk")
    path = write_npz(good, tmp_path / "sdk.npz")
    z = dict(np.load(path, allow_pickle=False))
    z["data"] = z["data"][:, :, :, [KINECT20.index(n) for n in SDK_NAMES]]
    z.update(arrays)
    np.savez(path, **z)
    return path, msr


def test_sdk_ordered_npz_read_as_msr_order_warns_in_data_info(tmp_path, capsys):
    path, _ = _sdk_npz(tmp_path)
    warnings = read(path).summary()["warnings"]
    assert any("head is below the hips in most frames of 3 of 3" in w for w in warnings)
    assert any("left and right bones differ" in w for w in warnings)
    assert main(["data", "info", str(path)]) == 0
    assert "warning: the head is below the hips" in capsys.readouterr().out


@pytest.mark.parametrize("arrays", [{"layout": np.array("kinect20-sdk")},
                                    {"joint_names": np.array(SDK_NAMES)}])
def test_sdk_order_named_in_the_npz_is_reordered_by_joint_name(tmp_path, arrays):
    path, msr = _sdk_npz(tmp_path, **arrays)
    s = read(path)
    assert s.layout.name == "kinect20" and s.summary()["warnings"] == []
    np.testing.assert_array_equal(s.samples[0].data, msr)


def test_joint_names_that_do_not_fit_the_layout_are_refused(tmp_path):
    names = np.array(["head" if n == "left_hand" else n for n in SDK_NAMES])
    path, _ = _sdk_npz(tmp_path, joint_names=names)
    with pytest.raises(DataFormatError, match=r"missing \['left_hand'\].*repeated \['head'\]"):
        read(path)
    with pytest.raises(LayoutError, match="joint order of layout kinect20"):
        get_layout("kinect20-sdk")
