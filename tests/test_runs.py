"""End to end through the command line: data info/convert, train, eval, attack, experiment."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from ela.cli import main
from ela.data.demo import demo_dataset
from ela.errors import ElaError
from ela.io import read, write_npz

SUMMARY_KEYS = {"method", "model", "n", "success_rate", "bone_length_change",
                "bone_angle_change", "joint_speed_change", "l2", "acceleration_change",
                "emotion_consistency", "model_evaluations_per_sample", "seconds"}


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo") / "demo.npz"
    write_npz(demo_dataset(n_per_class=3, frames=32, actions=("walk", "wave", "bow"), seed=1),
              path)
    return path


@pytest.fixture(scope="module")
def action_run(demo_file, tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "hcn"
    assert main(["train", "--model", "hcn", "--data", str(demo_file), "--label", "action",
                 "--out", str(run), "--frames", "16", "--epochs", "12", "--split",
                 "holdout:0.6,0.1,0.3", "--cfg", "width=0.25", "window=16"]) == 0
    return run


@pytest.fixture(scope="module")
def emotion_run(demo_file, tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "emo"
    assert main(["train", "--model", "sstgcn", "--data", str(demo_file), "--layout", "gait16",
                 "--label", "emotion", "--out", str(run), "--frames", "16", "--epochs", "2",
                 "--cfg", "channels=[8,8]", "temporal_kernel=3"]) == 0
    return run


def test_data_info_json_on_ntu_samples(shared_data, capsys):
    assert main(["data", "info", str(shared_data("ntu_samples")), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["samples"] == 5 and info["layout"] == "ntu25" and info["joints"] == 25
    assert info["frames"]["min"] == 70 and info["frames"]["max"] == 124
    assert info["persons"] == {"1": 4, "2": 1} or info["persons"] == {1: 4, 2: 1}


def test_data_convert_selects_maps_and_resamples(demo_file, tmp_path, capsys):
    out = tmp_path / "gait.npz"
    assert main(["data", "convert", str(demo_file), "--out", str(out), "--layout", "gait16",
                 "--frames", "20", "--lowpass", "--only", "emotion=sad,angry"]) == 0
    data = read(out)
    assert data.layout.name == "gait16"
    assert data.label_names["emotion"] == ["sad", "angry"]
    assert {s.frames for s in data.samples} == {20}
    assert len(data) == 2 * 3 * 3


def test_bad_input_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "broken.npz"
    bad.write_bytes(b"not a zip file")
    assert main(["data", "info", str(bad)]) == 2
    assert "broken.npz" in capsys.readouterr().err


def test_train_writes_metrics_and_a_loadable_checkpoint(action_run):
    metrics = json.loads((action_run / "metrics.json").read_text())
    assert {"accuracy", "uar", "war", "wap", "confusion", "classes"} <= set(metrics)
    assert metrics["classes"] == ["walk", "wave", "bow"]
    assert metrics["accuracy"] > 1 / 3  # three classes
    assert (action_run / "model.safetensors").is_file()


def test_eval_scores_the_run_on_data(action_run, demo_file, tmp_path):
    out = tmp_path / "eval"
    assert main(["eval", str(action_run), "--data", str(demo_file), "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["num_samples"] == 36  # 3 actions x 4 emotions x 3


def test_attack_writes_summary_table_and_arrays_and_resumes(action_run, emotion_run,
                                                            demo_file, tmp_path):
    out = tmp_path / "ela"
    args = ["attack", str(action_run), "--data", str(demo_file), "--method", "ela",
            "--emotion", str(emotion_run), "--iters", "200", "--out", str(out)]
    assert main(args) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary) >= SUMMARY_KEYS
    assert summary["method"] == "ela" and summary["model"] == "hcn" and summary["n"] > 0
    assert 0 <= summary["success_rate"] <= 1
    assert summary["emotion_consistency"] is None or 0 <= summary["emotion_consistency"] <= 1
    with open(out / "samples.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == summary["n"]
    with np.load(out / "adversarial.npz") as f:
        assert f["clean"].shape == f["adversarial"].shape
        assert f["clean"].shape[0] == summary["n"]
        changed = np.abs(f["clean"] - f["adversarial"]).reshape(summary["n"], -1).max(1) > 0
        assert changed[f["success"]].all()
    batch = next((out / "shards").glob("shard_*.npz"))
    stamp = batch.stat().st_mtime_ns
    assert main(args) == 0  # same settings: the finished batch is reused, not redone
    assert batch.stat().st_mtime_ns == stamp
    assert json.loads((out / "summary.json").read_text())["success_rate"] == \
        summary["success_rate"]


@pytest.mark.parametrize("sharding", [[], ["--batch-size", "4", "--shard-size", "4"]],
                         ids=["local", "sharded"])
def test_targeted_attack_skips_samples_of_the_target_class(action_run, demo_file, tmp_path,
                                                          sharding):
    def attacked(out, *extra):
        assert main(["attack", str(action_run), "--data", str(demo_file), "--method", "pgd",
                     "--iters", "20", "--out", str(out), *extra, *sharding]) == 0
        with open(out / "samples.csv") as fh:
            return list(csv.DictReader(fh))

    # aim at the class the untargeted run attacks most, so that the skip has work to do
    labels = [r["label"] for r in attacked(tmp_path / "untargeted")]
    goal = max(set(labels), key=labels.count)
    rows = attacked(tmp_path / "targeted", "--target", goal)
    assert len(rows) == len(labels) - labels.count(goal)
    assert all(r["label"] != goal and r["target"] == goal for r in rows)
    assert json.loads((tmp_path / "targeted" / "summary.json").read_text())["target"] == goal


def test_attack_refuses_data_of_another_layout(action_run, demo_file, tmp_path, capsys):
    code = main(["attack", str(action_run), "--data", str(demo_file), "--layout", "gait16",
                 "--out", str(tmp_path / "x")])
    assert code == 2
    assert "layout" in capsys.readouterr().err


def test_experiment_writes_markdown_tables(action_run, demo_file, tmp_path):
    out = tmp_path / "grid"
    assert main(["experiment", "paper", "--runs", str(action_run), "--data", str(demo_file),
                 "--gammas", "1", "--iters", "50", "--samples", "3", "--out", str(out)]) == 0
    text = (out / "tables.md").read_text()
    for title in ("Table 1", "Table 2", "Table 3", "Table 4", "Table 5", "n fooled by all"):
        assert title in text
    assert "C&W" in text and "SMART" in text and "hcn, γ = 1" in text


def test_attack_inputs_are_what_ela_attack_attacks(action_run, demo_file, tmp_path):
    """One call gives the API user the CLI's inputs: the run's preprocessing, its test
    part, only correctly classified samples, the same seeded choice."""
    import torch

    from ela.runs.attack import run_attack
    from ela.runs.job import AttackJob
    from ela.runs.select import attack_inputs
    from ela.training.checkpoint import load

    data = read(demo_file)
    run_attack(AttackJob(action_run, "pgd", tmp_path / "pgd", samples=3, seed=0), data,
               progress=False)
    x, y, lengths, indices = attack_inputs(action_run, data, samples=3, seed=0)
    with np.load(tmp_path / "pgd" / "adversarial.npz") as f:
        np.testing.assert_array_equal(indices, f["indices"])
        np.testing.assert_allclose(x.numpy(), f["clean"], atol=1e-6)
    model = load(action_run)
    with torch.no_grad():
        assert torch.equal(model(x).argmax(1), y)
    assert x.shape[0] == y.shape[0] == lengths.shape[0] == 3


def test_attack_part_val_attacks_only_the_validation_samples(action_run, demo_file, tmp_path):
    """`--part val` chooses attack settings without touching the test samples."""
    split = json.loads((action_run / "split.json").read_text())
    out = tmp_path / "val"
    assert main(["attack", str(action_run), "--data", str(demo_file), "--method", "pgd",
                 "--iters", "5", "--part", "val", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["candidates"] == len(split["val"]) > 0
    with np.load(out / "adversarial.npz") as f:
        assert set(f["indices"].tolist()) <= set(split["val"])


def test_an_adaptive_attack_passes_the_guard_and_a_card_says_so(action_run, demo_file,
                                                                 tmp_path):
    """`ela detect` writes each detector's threshold; `ela attack --guard` then attacks the
    model and the detector together: every success is misclassified and not flagged; `ela
    card` sums the attacks up and `ela report` shows the card."""
    from ela.runs.detect import attacked_scores, guard_threshold
    from ela.training.checkpoint import load

    common = [str(action_run), "--data", str(demo_file), "--method", "pgd", "--cfg",
              "eps=0.05", "steps=10"]
    for part in ("train", "test"):
        assert main(["attack", *common, "--part", part, "--out", str(tmp_path / part)]) == 0
    assert main(["detect", "--train", str(tmp_path / "train"), "--test", str(tmp_path / "test"),
                 "--out", str(tmp_path / "detect"), "--epochs", "3", "--bootstrap", "20",
                 "--restarts", "2",
                 "--device", "cpu"]) == 0
    report = json.loads((tmp_path / "detect" / "detect.json").read_text())["methods"]["pgd"]
    guard = Path(report["detector"])  # one method: its detector is the pooled one
    assert guard.name == "pooled"
    tries = json.loads((guard / "restarts.json").read_text())
    assert [t["seed"] for t in tries] == [0, 1]  # two trainings, the one kept is the best
    kept = json.loads((guard / "history.json").read_text())
    assert min(r["val_loss"] for r in kept) == pytest.approx(min(t["loss"] for t in tries))
    threshold = guard_threshold(guard)
    assert report["threshold"] == pytest.approx(threshold)
    assert 0 <= report["caught_at_threshold"] <= 1
    out = tmp_path / "adaptive"
    assert main(["attack", *common, "--guard", str(guard), "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["guard"] == str(guard) and summary["guard_threshold"] == threshold
    with np.load(out / "adversarial.npz") as f:
        ok, adv, labels = f["success"], f["adversarial"], f["labels"]
        assert (f["adv_pred"][ok] != labels[ok]).all() and (f["adv_pred"][ok] >= 0).all()
    scores = attacked_scores(load(guard), adv.astype(np.float32))
    assert (scores[ok] <= threshold + 1e-5).all()
    with pytest.raises(ElaError, match="no threshold.json"):
        guard_threshold(tmp_path)

    # the model card of these attacks (and a minimal-change one), shown by `ela report`
    assert main(["attack", str(action_run), "--data", str(demo_file), "--method", "cw",
                 "--iters", "60", "--out", str(tmp_path / "cw")]) == 0
    assert main(["card", str(action_run), "--attacks", str(tmp_path / "test"), str(out),
                 str(tmp_path / "cw"), "--detect", str(tmp_path / "detect" / "detect.json"),
                 "--out", str(tmp_path / "card")]) == 0
    card = json.loads((tmp_path / "card" / "card.json").read_text())
    plain, adaptive, cw = card["attacks"]
    assert (plain["knows"], adaptive["knows"]) == ("white-box", "white-box + guard")
    part = json.loads((out / "summary.json").read_text())
    share = part["correct"] / part["candidates"]
    with np.load(out / "adversarial.npz") as f:
        robust = (f["clean_pred"] == f["labels"]) & ~f["success"]
    assert adaptive["robust_accuracy"]["linf"]["0.05"] == pytest.approx(share * robust.mean())
    by_budget = list(cw["robust_accuracy"]["linf"].values())
    assert all(0 <= a <= 1 for a in by_budget) and by_budget == sorted(by_budget, reverse=True)
    pooled = json.loads((tmp_path / "detect" / "detect.json").read_text())["pooled"]["pgd"]
    assert card["detection"]["pgd"]["caught_at_threshold"] == pooled["caught_at_threshold"]
    assert card["detector"] == "pooled detector"  # a trained one; --squeeze names its own
    assert "Detection (pooled detector at its threshold" in \
        (tmp_path / "card" / "card.md").read_text()
    assert "worst_case" not in card  # the guarded attack refuses what the others classify
    assert main(["report", str(tmp_path / "card"), "--no-animation"]) == 0
    assert "Model card" in (tmp_path / "card" / "report.html").read_text()

    # the worst case over the unguarded attacks: per sample, fooled by either within ε
    assert main(["card", str(action_run), "--attacks", str(tmp_path / "test"),
                 str(tmp_path / "cw"), "--out", str(tmp_path / "card2")]) == 0
    card = json.loads((tmp_path / "card2" / "card.json").read_text())
    pgd, cw = card["attacks"]
    worst = card["worst_case"]["linf"]
    assert sorted(worst, key=float) == ["0.02", "0.05", "0.1"]
    assert worst["0.05"] <= min(pgd["robust_accuracy"]["linf"]["0.05"],
                                cw["robust_accuracy"]["linf"]["0.05"])
    assert all(worst[e] <= cw["robust_accuracy"]["linf"][e] for e in worst)
    with np.load(tmp_path / "test" / "adversarial.npz") as f, \
            np.load(tmp_path / "cw" / "adversarial.npz") as g:
        right = f["clean_pred"] == f["labels"]
        cw_linf = np.abs(g["adversarial"] - g["clean"]).reshape(len(right), -1).max(axis=1)
        fooled = f["success"] | (g["success"] & (cw_linf <= 0.05 + 1e-6))
    assert worst["0.05"] == pytest.approx(share * (right & ~fooled).mean())
    assert "Worst case over the 2 attacks" in (tmp_path / "card2" / "card.md").read_text()
