"""Runs never report someone else's results: train, attack and experiment folders record
the data they were computed on and refuse other data unless told to overwrite; unlabelled
data trains nowhere and is attacked with the model's prediction as its label."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ela.cli import main
from ela.data.demo import demo_dataset
from ela.data.fingerprint import data_fingerprint
from ela.io import UNLABELLED, read, write_npz

ACTIONS = ("walk", "wave", "bow")


def _demo(path, seed):
    write_npz(demo_dataset(n_per_class=3, frames=24, actions=ACTIONS, seed=seed), path)
    return path


@pytest.fixture(scope="module")
def two(tmp_path_factory):
    root = tmp_path_factory.mktemp("fp")
    return _demo(root / "a.npz", 1), _demo(root / "b.npz", 2)


def _train(data, out, *extra):
    return main(["train", "--model", "hcn", "--data", str(data), "--label", "action",
                 "--out", str(out), "--frames", "16", "--epochs", "2", "--split",
                 "holdout:0.6,0.1,0.3", "--cfg", "width=0.25", *extra])


@pytest.fixture(scope="module")
def run_a(two, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "hcn"
    assert _train(two[0], out) == 0
    return out


def test_fingerprint_follows_content_not_location(two, tmp_path):
    a = read(two[0])
    moved = tmp_path / "moved.npz"
    moved.write_bytes(two[0].read_bytes())
    assert data_fingerprint(read(moved))["digest"] == data_fingerprint(a)["digest"]
    assert data_fingerprint(read(two[1]))["digest"] != data_fingerprint(a)["digest"]
    first = a.samples[0]
    first.data = first.data.copy()
    first.data[0, 0, 0, 0] += 1e-3
    assert data_fingerprint(a)["digest"] != data_fingerprint(read(two[0]))["digest"]


def test_train_into_a_run_of_other_data_names_both_and_overwrite_retrains(two, run_a,
                                                                         tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    for name in ("data.json", "metrics.json", "split.json", "config.json",
                 "model.safetensors"):
        (out / name).write_bytes((run_a / name).read_bytes())
    before = (out / "metrics.json").read_bytes()
    capsys.readouterr()
    assert _train(two[1], out) == 2
    err = capsys.readouterr().err
    assert str(two[0]) in err and str(two[1]) in err and "--overwrite" in err
    assert "Traceback" not in err and err.count("ela: error") == 1
    assert (out / "metrics.json").read_bytes() == before  # nothing rewritten
    assert _train(two[1], out, "--overwrite") == 0
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["data_fingerprint"]["source"] == str(two[1])
    assert json.loads((out / "config.json").read_text())["data_fingerprint"] == \
        saved["data_fingerprint"]
    assert _train(two[1], out) == 0  # same data: reused
    assert "not trained again" in capsys.readouterr().err


def test_attack_and_experiment_folders_refuse_other_data(two, run_a, tmp_path, capsys):
    out = tmp_path / "att"
    args = ["attack", str(run_a), "--method", "pgd", "--iters", "5", "--samples", "2",
            "--out", str(out)]
    assert main([*args, "--data", str(two[0])]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["data_fingerprint"]["source"] == str(two[0])
    capsys.readouterr()
    # b has the same classes and size, so its test part exists: only the fingerprint differs
    assert main([*args, "--data", str(two[1])]) == 2
    err = capsys.readouterr().err
    assert str(two[0]) in err and str(two[1]) in err and "--overwrite" in err
    assert json.loads((out / "summary.json").read_text()) == summary
    assert main([*args, "--data", str(two[1]), "--overwrite"]) == 0
    assert json.loads((out / "summary.json").read_text())["data_fingerprint"]["source"] \
        == str(two[1])

    grid = tmp_path / "grid"
    cell = grid / run_a.name / "ela_g1"  # the first cell of the grid
    cell.mkdir(parents=True)
    (cell / "summary.json").write_text(json.dumps(summary))  # a cell of data a
    code = main(["experiment", "paper", "--runs", str(run_a), "--data", str(two[1]),
                 "--gammas", "1", "--iters", "20", "--samples", "2", "--out", str(grid)])
    assert code == 2
    assert "--overwrite" in capsys.readouterr().err


def _unlabelled(path, source):
    data = read(source)
    for s in data.samples:
        s.labels["action"] = UNLABELLED
    write_npz(data, path)
    return path


def test_unlabelled_data_is_refused_by_train_and_eval_and_attacked_by_prediction(
        two, run_a, tmp_path, capsys):
    blank = _unlabelled(tmp_path / "blank.npz", two[0])
    capsys.readouterr()
    assert _train(blank, tmp_path / "never") == 2
    assert "training needs labelled data" in capsys.readouterr().err
    assert not (tmp_path / "never").exists()
    assert main(["eval", str(run_a), "--data", str(blank)]) == 2
    assert "evaluation needs labelled data" in capsys.readouterr().err
    out = tmp_path / "att"
    assert main(["attack", str(run_a), "--data", str(blank), "--method",
                 "pgd", "--iters", "5", "--samples", "3", "--out", str(out)]) == 0
    with np.load(out / "adversarial.npz") as f:
        assert np.array_equal(f["labels"], f["clean_pred"])  # the prediction is the label
