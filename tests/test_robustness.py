"""Robustness curves (`ela robustness`) from attack folders with known changes, and from a
real C&W attack on a run trained here in seconds."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from PIL import Image

from ela.cli import main
from ela.data.demo import demo_dataset
from ela.io import write_npz
from ela.runs.robustness import nice_grid, robust_accuracy, robustness_curves
from ela.viz.robustness import curve_points

T = 16
HAND = 7  # ntu25 left hand: moving it changes one bone (wrist–hand) and l2, l∞ exactly
SHIFTS = np.array([0.012, 0.031, 0.025, 0.047])  # metres, along x, every valid frame


def _clean() -> np.ndarray:
    data = demo_dataset(n_per_class=1, frames=T, actions=("walk", "wave"), seed=1)
    return np.stack([s.data for s in data.samples[:4]]).astype(np.float32)  # (4, 3, T, 25, 1)


def write_attack(folder, success, shifts=SHIFTS, target=None, n=4, layout="ntu25",
                 correct=None):
    """An attack folder whose sample i moves the left hand by shifts[i] metres; `correct`:
    (correctly classified, candidates) as summaries record them (None: an older folder)."""
    folder.mkdir(parents=True)
    clean = _clean()[:n]
    adv = clean.copy()
    adv[:, 0, :, HAND, 0] += shifts[:n, None].astype(np.float32)
    np.savez(folder / "adversarial.npz", clean=clean, adversarial=adv, lengths=np.full(n, T),
             labels=np.zeros(n, int), clean_pred=np.zeros(n, int),
             adv_pred=np.asarray(success[:n], int), success=np.asarray(success[:n], bool),
             indices=np.arange(n), layout=np.array(layout), classes=np.array(["a", "b"]))
    (folder / "summary.json").write_text(json.dumps(
        {"method": "ela", "model": "hcn", "run": "runs/hcn", "n": n, "target": target,
         **({} if correct is None else {"correct": correct[0], "candidates": correct[1]})}))
    return folder


@pytest.fixture
def folders(tmp_path):
    return (write_attack(tmp_path / "plain", [True, True, False, True], correct=(4, 8)),
            write_attack(tmp_path / "robust", [False, False, True, False]))


def test_curves_medians_and_table_follow_the_definitions(folders):
    result = robustness_curves([str(f) for f in folders])
    plain, robust = result["curves"]
    assert plain["label"] == "plain" and plain["n"] == {"bone_length_change": 4, "l2": 4,
                                                        "linf": 4}
    fooled = np.array([0.012, 0.031, 0.047])
    np.testing.assert_allclose(plain["changes"]["linf"], fooled, rtol=1e-5)
    np.testing.assert_allclose(plain["changes"]["l2"], fooled / math.sqrt(T), rtol=1e-5)
    assert plain["median"]["linf"] == pytest.approx(0.039, rel=1e-5)  # of 12, 31, 47, ∞ mm
    assert plain["fooled"] == 0.75
    assert robust["median"] == {"bone_length_change": None, "l2": None, "linf": None}  # ∞
    bones = plain["changes"]["bone_length_change"]
    assert bones == sorted(bones) and bones[0] > 0
    linf = result["table"]["linf"]
    assert linf["eps"] == pytest.approx([0, 0.01, 0.02, 0.03, 0.04, 0.05])
    assert linf["robust_accuracy"][0] == pytest.approx([1, 1, 0.75, 0.75, 0.5, 0.25])
    assert linf["robust_accuracy"][1] == pytest.approx([1, 1, 1, 0.75, 0.75, 0.75])
    assert plain["clean_accuracy"] == 0.5 and robust["clean_accuracy"] is None
    assert linf["robust_accuracy_of_all"][0] == pytest.approx([0.5, 0.5, 0.375, 0.375, 0.25,
                                                               0.125])
    assert linf["robust_accuracy_of_all"][1] == [None] * 6
    assert "upper bound" in result["note"] and "classified correctly" in result["denominator"]


def test_command_prints_tables_and_writes_json_markdown_and_plot(folders, tmp_path, capsys):
    out = tmp_path / "rob"
    assert main(["robustness", *map(str, folders), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "upper bound on the true minimal perturbation" in printed
    assert "| plain (ela on hcn) | 50.0 % | 75.0 % | " in printed  # clean accuracy, fooled
    assert "| robust (ela on hcn) | – | 25.0 % | " in printed
    assert "| 100.0 % (50.0 %) | 75.0 % (37.5 %) |" in printed  # plain at l∞ 20, 30 mm
    assert "∞" in printed
    assert json.loads((out / "robustness.json").read_text())["curves"][1]["median"]["l2"] is None
    with Image.open(out / "robustness.png") as image:
        assert image.size[0] > 600 and image.size[1] > 200
    html = tmp_path / "report.html"
    assert main(["report", str(out), "--out", str(html), "--no-animation"]) == 0
    text = html.read_text()
    assert "<h2>Robustness</h2>" in text and 'src="data:image/png;base64,' in text
    assert "upper bound" in text


def test_bad_inputs_are_one_line_errors(folders, tmp_path, capsys):
    def fails(path, *needles):
        assert main(["robustness", str(path)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("ela: error: ") and err.count("\n") == 1 and str(path) in err
        for needle in needles:
            assert needle in err, err

    empty = tmp_path / "empty"
    empty.mkdir()
    fails(empty, "not an attack folder")
    half = tmp_path / "half"
    half.mkdir()
    (half / "summary.json").write_text("{}")
    fails(half, "no adversarial.npz")
    fails(write_attack(tmp_path / "targeted", [True] * 4, target="b"), "targeted", "untargeted")
    fails(write_attack(tmp_path / "none", [], n=0), "no attacked sample")
    broken = write_attack(tmp_path / "broken", [True] * 4)
    with np.load(broken / "adversarial.npz") as f:
        arrays = {k: f[k] for k in f.files if k != "success"}
    np.savez(broken / "adversarial.npz", **arrays)
    fails(broken, "missing arrays success")
    fails(tmp_path / "nowhere", "no such attack folder")


def test_grid_helpers():
    assert nice_grid(0.05) == pytest.approx([0, 0.01, 0.02, 0.03, 0.04, 0.05])
    assert nice_grid(0.0) == [0.0] and nice_grid(math.inf) == [0.0]
    assert nice_grid(0.7, count=3) == pytest.approx([0, 0.5, 1.0])
    changes = np.array([0.1, math.inf, math.nan, 0.3])  # NaN: not measurable, left out
    assert robust_accuracy(changes, [0, 0.2, 0.5]) == pytest.approx([1, 2 / 3, 1 / 3])
    assert np.isnan(robust_accuracy(np.array([math.nan]), [0])).all()
    eps, acc = curve_points([0.1, 0.3], 4, right=0.5)
    assert eps.tolist() == [0, 0.1, 0.3, 0.5] and acc.tolist() == [1, 0.75, 0.5, 0.5]


def test_real_cw_attack_gives_a_curve(tmp_path, capsys):
    data = tmp_path / "demo.npz"
    write_npz(demo_dataset(n_per_class=3, frames=32, actions=("walk", "wave", "bow"), seed=1),
              data)
    run, attack, out = tmp_path / "hcn", tmp_path / "cw_hcn", tmp_path / "rob"
    assert main(["train", "--model", "hcn", "--data", str(data), "--label", "action", "--out",
                 str(run), "--frames", "16", "--epochs", "12", "--split",
                 "holdout:0.6,0.1,0.3", "--cfg", "width=0.25", "window=16"]) == 0
    assert main(["attack", str(run), "--data", str(data), "--method", "cw", "--iters", "40",
                 "--samples", "6", "--out", str(attack)]) == 0
    assert main(["robustness", str(attack), "--out", str(out)]) == 0
    (curve,) = json.loads((out / "robustness.json").read_text())["curves"]
    summary = json.loads((attack / "summary.json").read_text())
    assert curve["fooled"] == pytest.approx(summary["success_rate"])
    fooled_linf = curve["changes"]["linf"]
    assert len(fooled_linf) == round(summary["success_rate"] * summary["n"])
    if fooled_linf:  # the l∞ of the fooled samples, as samples.csv states it
        assert np.mean(fooled_linf) == pytest.approx(summary["linf"], rel=1e-4)
    assert (out / "robustness.png").is_file()
