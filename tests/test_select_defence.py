"""scripts/select_defence.py: the rule that chooses a defence on the training part."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import script


@pytest.fixture()
def rule():
    return script("select_defence")


def make_run(path: Path, val: float, eps: float | None) -> None:
    path.mkdir(parents=True)
    (path / "metrics.json").write_text(json.dumps({"best_val_score": val}))
    config = {"adversarial": "pgd" if eps else None, "adv_eps": eps or 0.01}
    (path / "config.json").write_text(json.dumps({"train_config": config}))


def fake_judges(rule, monkeypatch, numbers: dict[str, tuple[float | None, int]],
                seen: list[list[Path]] | None = None) -> None:
    """The judge folders ROOT/judge/<name>/{ela,pgd} (or ROOT/kfold_judge/<name>/fold<i>/
    {ela,pgd}, pooled) read as numbers[name] = (median ΔB/B, samples of 96 PGD did not
    fool); `seen` collects the folder lists the rule passed."""
    def name(folders: list[Path]) -> str:
        (seen if seen is not None else []).append(folders)
        parent = folders[0].parent
        return parent.name if parent.name in numbers else parent.parent.name

    def median_change(folders: list[Path]):
        return {"median": numbers[name(folders)][0], "low": None, "high": None, "n": 96}

    def robust_share(folders: list[Path]):
        k = numbers[name(folders)][1]
        return {"n": 96, "not_fooled": k, "robust": (k + 1) / 97}

    monkeypatch.setattr(rule, "median_change", median_change)
    monkeypatch.setattr(rule, "robust_share", robust_share)


def test_rule_takes_the_candidate_closest_to_both_targets(rule, monkeypatch, tmp_path: Path):
    make_run(tmp_path / "plain_run", 1.0, None)
    make_run(tmp_path / "hcn_a", 1.0, 0.02)    # r_ela 1.5, r_pgd 2: score 0.67
    make_run(tmp_path / "hcn_b", 1.0, 0.04)    # r_ela 1.0, r_pgd 2.4: score 0.5
    make_run(tmp_path / "hcn_c", 0.9, 0.06)    # best numbers, 10 points below plain
    make_run(tmp_path / "sgn_x", 1.0, 0.02)    # another architecture: not a candidate
    fake_judges(rule, monkeypatch, {"plain": (0.02, 39), "hcn_a": (0.03, 79),
                                    "hcn_b": (0.02, 95), "hcn_c": (None, 96)})
    result = rule.select(tmp_path, tmp_path / "plain_run")
    assert set(result["candidates"]) == {"plain", "hcn_a", "hcn_b", "hcn_c"}
    assert result["chosen"] == "hcn_a"
    assert result["chosen_config"]["adv_eps"] == 0.02
    c = result["candidates"]
    assert c["hcn_a"]["r_ela"] == pytest.approx(1.5)
    assert c["hcn_a"]["r_pgd"] == pytest.approx(80 / 40)
    assert not c["hcn_c"]["eligible"] and c["hcn_c"]["r_ela"] == float("inf")
    assert "← chosen" in rule.markdown(result).split("| hcn_a |")[1].splitlines()[0]


def test_another_architecture_reads_its_own_plain_judge(rule, monkeypatch, tmp_path: Path):
    make_run(tmp_path / "plain_run", 1.0, None)
    make_run(tmp_path / "sgn_recommended", 1.0, 0.02)
    make_run(tmp_path / "sgn_pgd_e4", 1.0, 0.04)
    fake_judges(rule, monkeypatch, {"sgn_plain": (0.01, 10), "sgn_recommended": (0.012, 60),
                                    "sgn_pgd_e4": (0.011, 80)})
    result = rule.select(tmp_path, tmp_path / "plain_run", arch="sgn")
    assert set(result["candidates"]) == {"plain", "sgn_recommended", "sgn_pgd_e4"}
    assert result["candidates"]["plain"]["ela"]["median"] == 0.01
    assert result["chosen"] == "sgn_recommended"   # min(1.2/2, 5.5/3) beats min(1.1/2, 7.4/3)


def test_the_kfold_judge_pools_each_candidates_folds(rule, monkeypatch, tmp_path: Path):
    """--kfold: a candidate is its fold runs ROOT/kfold/<name>/fold<i>, judged on the folds
    they were not trained on (pooled), its validation accuracy their mean."""
    for name, vals, eps in (("plain", (0.8, 0.9, 1.0), None), ("hcn_a", (0.9, 0.9, 0.9), 0.02),
                            ("hcn_b", (0.7, 0.8, 0.8), 0.06)):
        for i, val in enumerate(vals):
            make_run(tmp_path / "kfold" / name / f"fold{i}", val, eps)
    make_run(tmp_path / "kfold" / "sgn_x" / "fold0", 1.0, 0.02)  # another architecture
    seen: list[list[Path]] = []
    fake_judges(rule, monkeypatch, {"plain": (0.02, 39), "hcn_a": (0.022, 50),
                                    "hcn_b": (0.06, 96)}, seen)
    result = rule.select_kfold(tmp_path)
    c = result["candidates"]
    assert list(c) == ["plain", "hcn_a", "hcn_b"]
    assert c["plain"]["val_accuracy"] == pytest.approx(0.9)
    assert not c["hcn_b"]["eligible"]  # 0.767: more than 5 points below plain's 0.9
    assert result["chosen"] == "hcn_a" and "3 subject folds" in result["rule"]
    assert all([f.parent.name for f in folders] == ["fold0", "fold1", "fold2"]
               for folders in seen)
    assert c["hcn_a"]["run"] == [str(tmp_path / "kfold" / "hcn_a" / f"fold{i}")
                                 for i in range(3)]


def test_fold_splits_keep_subjects_whole_and_the_test_part_out(shared_data, tmp_path):
    """scripts/fold_splits.py on MSR: the folds' test parts cut the training part by
    subject, each fold trains on the other subjects only (validation clips included), and
    the run's test part is in no fold."""
    from ela.data.prepare import read_dataset
    from ela.data.splits import group_ids, protocol_split, save_split

    module = script("fold_splits")
    data_dir = shared_data("msr_action3d")
    data = read_dataset(data_dir, "msr")
    split = protocol_split(data, "msr-cross-subject", val_fraction=0.1)
    save_split(split, tmp_path / "split.json")
    folds = module.fold_splits(tmp_path, str(data_dir), "msr", 3)
    subject = group_ids(data, "subject")
    assert sorted(np.concatenate([f.test for f in folds]).tolist()) == split.train.tolist()
    for f in folds:
        held = set(subject[f.test])
        assert held == set(f.meta["held_out"])
        assert not held & set(subject[f.train]) and not held & set(subject[f.val])
        assert set(f.val) <= set(split.val) and set(f.train) <= set(split.train)
        assert not set(split.test) & (set(f.train) | set(f.val) | set(f.test))
