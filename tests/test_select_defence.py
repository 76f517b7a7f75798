"""scripts/select_defence.py: the rule that chooses a defence on the training part."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def rule():
    spec = importlib.util.spec_from_file_location(
        "select_defence", ROOT / "scripts" / "select_defence.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_run(path: Path, val: float, eps: float | None) -> None:
    path.mkdir(parents=True)
    (path / "metrics.json").write_text(json.dumps({"best_val_score": val}))
    config = {"adversarial": "pgd" if eps else None, "adv_eps": eps or 0.01}
    (path / "config.json").write_text(json.dumps({"train_config": config}))


def fake_judges(rule, monkeypatch, numbers: dict[str, tuple[float | None, int]]) -> None:
    """Each judge folder ROOT/judge/<name>/{ela,pgd} reads as numbers[name] = (median ΔB/B,
    samples of 96 PGD did not fool)."""
    def median_change(folder: Path):
        return {"median": numbers[folder.parent.name][0], "low": None, "high": None, "n": 96}

    def robust_share(folder: Path):
        k = numbers[folder.parent.name][1]
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
