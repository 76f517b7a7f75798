"""Transfer tests (`ela transfer`, `ela eval --adversarial`) on runs trained here in seconds."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from ela.cli import main
from ela.data.demo import demo_dataset
from ela.io import write_npz
from ela.training.checkpoint import load

SPLIT = ["--split", "holdout:0.6,0.1,0.3", "--frames", "16"]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Two action runs (hcn, sgn) prepared alike, an emotion run, and one attack on each
    action run."""
    root = tmp_path_factory.mktemp("transfer")
    data = root / "demo.npz"
    write_npz(demo_dataset(n_per_class=3, frames=32, actions=("walk", "wave", "bow"), seed=1),
              data)
    hcn, sgn, emo = root / "hcn", root / "sgn", root / "emo"
    assert main(["train", "--model", "hcn", "--data", str(data), "--label", "action", "--out",
                 str(hcn), "--epochs", "12", *SPLIT, "--cfg", "width=0.25", "window=16"]) == 0
    assert main(["train", "--model", "sgn", "--data", str(data), "--label", "action", "--out",
                 str(sgn), "--epochs", "20", *SPLIT, "--cfg", "frames=16", "embed_dim=16"]) == 0
    assert main(["train", "--model", "sstgcn", "--data", str(data), "--label", "emotion",
                 "--out", str(emo), "--epochs", "1", *SPLIT, "--cfg", "channels=[8,8]",
                 "temporal_kernel=3"]) == 0
    att_hcn, att_sgn = root / "mifgsm_hcn", root / "pgd_sgn"
    assert main(["attack", str(hcn), "--data", str(data), "--method", "mifgsm", "--iters", "10",
                 "--cfg", "eps=0.1", "--samples", "8", "--out", str(att_hcn)]) == 0
    assert main(["attack", str(sgn), "--data", str(data), "--method", "pgd", "--iters", "10",
                 "--cfg", "eps=0.1", "--samples", "8", "--out", str(att_sgn)]) == 0
    return {"root": root, "hcn": hcn, "sgn": sgn, "emo": emo, "att_hcn": att_hcn,
            "att_sgn": att_sgn}


def _expected(run, attack):
    """The cell computed here from the files: (clean correct, fooled among them)."""
    model = load(run)
    with np.load(attack / "adversarial.npz") as f, torch.no_grad():
        clean = model(torch.from_numpy(f["clean"])).argmax(1).numpy() == f["labels"]
        adv = model(torch.from_numpy(f["adversarial"])).argmax(1).numpy() == f["labels"]
    return int(clean.sum()), int((clean & ~adv).sum()), float(adv.mean())


def test_transfer_matrix_scores_every_run_on_every_attack(world, tmp_path, capsys):
    out = tmp_path / "transfer"
    runs, attacks = [world["hcn"], world["sgn"]], [world["att_hcn"], world["att_sgn"]]
    assert main(["transfer", "--runs", *map(str, runs), "--attacks", *map(str, attacks),
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "surrogate (rows) × target (columns)" in printed
    assert "among the attacked samples the target classifies correctly" in printed
    result = json.loads((out / "transfer.json").read_text())
    assert result["rows"] == ["mifgsm_hcn", "pgd_sgn"] and result["columns"] == ["hcn", "sgn"]
    assert (out / "transfer.md").read_text().startswith("Transfer success")
    assert len(result["cells"]) == 4
    for cell in result["cells"]:
        run, attack = runs[cell["column"]], attacks[cell["row"]]
        correct, fooled, adv_acc = _expected(run, attack)
        assert cell["clean_correct"] == correct and cell["fooled"] == fooled
        assert cell["transfer_success"] == (fooled / correct if correct else None)
        assert cell["adversarial_accuracy"] == pytest.approx(adv_acc)
        assert cell["white_box"] == (cell["row"] == cell["column"])


def test_white_box_cell_is_the_attack_success_rate(world, tmp_path):
    """The attacked samples are those the surrogate classified correctly, so on itself the
    clean accuracy is 1 and the transfer success is the attack's own success rate."""
    out = tmp_path / "self.json"
    assert main(["eval", str(world["hcn"]), "--adversarial", str(world["att_hcn"]),
                 "--out", str(out)]) == 0
    (cell,) = json.loads(out.read_text())["cells"]
    summary = json.loads((world["att_hcn"] / "summary.json").read_text())
    assert cell["white_box"] and cell["clean_accuracy"] == 1.0
    assert cell["transfer_success"] == pytest.approx(summary["success_rate"])
    assert out.with_suffix(".md").is_file()


def test_eval_adversarial_takes_a_folder_of_attack_folders(world, tmp_path, capsys):
    grid = tmp_path / "grid"
    for name in ("att_hcn", "att_sgn"):
        shutil.copytree(world[name], grid / world[name].name)
    assert main(["eval", str(world["sgn"]), "--adversarial", str(grid)]) == 0
    printed = capsys.readouterr().out
    assert "mifgsm_hcn (mifgsm on hcn)" in printed and "pgd_sgn (pgd on sgn)" in printed


def test_report_shows_the_transfer_matrix(world, tmp_path):
    out = tmp_path / "transfer"
    assert main(["transfer", "--runs", str(world["hcn"]), str(world["sgn"]), "--attacks",
                 str(world["att_hcn"]), "--out", str(out)]) == 0
    html = tmp_path / "report.html"
    assert main(["report", str(out), "--out", str(html), "--no-animation"]) == 0
    text = html.read_text()
    assert "<h2>Transfer</h2>" in text and "mifgsm on hcn" in text and "white-box" in text


def _changed_copy(src, dst, edit_config=None, edit_arrays=None, edit_summary=None):
    shutil.copytree(src, dst)
    if edit_config:
        config = json.loads((dst / "config.json").read_text())
        edit_config(config)
        (dst / "config.json").write_text(json.dumps(config))
    if edit_summary:
        summary = json.loads((dst / "summary.json").read_text())
        edit_summary(summary)
        (dst / "summary.json").write_text(json.dumps(summary))
    if edit_arrays:
        with np.load(dst / "adversarial.npz") as f:
            arrays = {k: f[k] for k in f.files}
        edit_arrays(arrays)
        np.savez(dst / "adversarial.npz", **arrays)
    return dst


def _fails(capsys, argv, *needles):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("ela: error: ") and err.count("\n") == 1, err  # one line
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, (needle, err)


def test_bad_inputs_are_one_line_errors_naming_folder_and_cause(world, tmp_path, capsys):
    hcn, att = str(world["hcn"]), world["att_hcn"]
    empty = tmp_path / "empty"
    empty.mkdir()
    _fails(capsys, ["eval", hcn, "--adversarial", str(empty)], str(empty),
           "not an attack folder")
    half = tmp_path / "half"
    half.mkdir()
    shutil.copy(att / "summary.json", half / "summary.json")
    _fails(capsys, ["transfer", "--runs", hcn, "--attacks", str(half)], str(half),
           "no adversarial.npz")
    _fails(capsys, ["eval", str(world["emo"]), "--adversarial", str(att)], str(world["emo"]),
           "emotion model", "action models")
    frames = _changed_copy(world["hcn"], tmp_path / "hcn_frames24",
                           edit_config=lambda c: c.update(frames=24))
    _fails(capsys, ["eval", str(frames), "--adversarial", str(att)], str(att),
           "frames T 16", "24")
    align = _changed_copy(world["hcn"], tmp_path / "hcn_align",
                          edit_config=lambda c: c.update(transform=["centre", "align"]))
    _fails(capsys, ["eval", str(align), "--adversarial", str(att)], "transform")
    gone = _changed_copy(att, tmp_path / "att_gone",  # an older folder: no "preparation"
                         edit_summary=lambda s: (s.update(run=str(tmp_path / "no_such_run")),
                                                 s.pop("preparation")))
    _fails(capsys, ["eval", hcn, "--adversarial", str(gone)], str(gone), "no_such_run")
    _fails(capsys, ["eval", hcn, "--adversarial", str(att), "--data", "x.npz"],
           "leave out --data")
    _fails(capsys, ["transfer", "--runs", hcn, "--attacks", str(att), "--batch-size", "0"],
           "--batch-size")


def test_attack_folder_of_another_layout_is_refused(world, tmp_path, capsys):
    """An attack made on the gait16 emotion run: its sequences have 16 joints."""
    n, t = 3, 16
    other = tmp_path / "gait_attack"
    other.mkdir()
    x = np.zeros((n, 3, t, 16, 1), np.float32)
    np.savez(other / "adversarial.npz", clean=x, adversarial=x + 0.01, lengths=np.full(n, t),
             labels=np.zeros(n, int), clean_pred=np.zeros(n, int), adv_pred=np.ones(n, int),
             success=np.ones(n, bool), indices=np.arange(n), layout=np.array("gait16"),
             classes=np.array(["walk", "wave", "bow"]))
    (other / "summary.json").write_text(json.dumps({"method": "pgd", "model": "sstgcn",
                                                    "run": str(world["emo"]), "n": n}))
    _fails(capsys, ["transfer", "--runs", str(world["hcn"]), "--attacks", str(other)],
           str(other), "layout 'gait16'", "'ntu25'")


def test_a_moved_surrogate_run_does_not_break_the_transfer_test(world, tmp_path, capsys):
    """summary.json records how the surrogate prepared its inputs, so the attack folder is
    scored without the surrogate's run folder (moved, or on another machine)."""
    moved = _changed_copy(world["att_hcn"], tmp_path / "att_moved",
                          edit_summary=lambda s: s.update(run=str(tmp_path / "moved_away")))
    assert main(["eval", str(world["sgn"]), "--adversarial", str(moved)]) == 0
    frames = _changed_copy(moved, tmp_path / "att_frames",
                           edit_summary=lambda s: s["preparation"].update(frames=24))
    _fails(capsys, ["eval", str(world["sgn"]), "--adversarial", str(frames)], "frames")


def test_a_moved_surrogate_scored_as_target_is_still_white_box(world, tmp_path):
    """White-box cells are recognised by the weights' digest, not the run folder's path;
    folders written before digests were recorded fall back to the path."""
    moved = tmp_path / "hcn_moved"
    shutil.copytree(world["hcn"], moved)
    out = tmp_path / "moved.json"
    assert main(["eval", str(moved), "--adversarial", str(world["att_hcn"]), "--out",
                 str(out)]) == 0
    (cell,) = json.loads(out.read_text())["cells"]
    assert cell["white_box"] and cell["transfer_success"] is not None
    old = _changed_copy(world["att_hcn"], tmp_path / "att_old",
                        edit_summary=lambda s: s.pop("model_digest"))
    for run, white in ((world["hcn"], True), (moved, False), (world["sgn"], False)):
        assert main(["eval", str(run), "--adversarial", str(old), "--out", str(out)]) == 0
        assert json.loads(out.read_text())["cells"][0]["white_box"] is white
