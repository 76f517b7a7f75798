"""scripts/choose_defaults.py: the rule that picks ELA's next defaults on training samples; the
setting syntax of scripts/tune_ela.py, whose files it reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import script


@pytest.fixture()
def rule():
    return script("choose_defaults")


def row(rule, setting: str, value: float, **over) -> dict:
    """A tune_ela row with every compared column at `value`, l2 at `value` too."""
    out = {key: value for key, _ in rule.COLUMNS}
    out.update(setting=setting, l2=value, success_rate=1.0, model_evaluations_median=400,
               emotion_consistency=1.0)
    out.update(over)
    return out


def write(path: Path, rows: list[dict]) -> str:
    path.write_text(json.dumps({"run": "runs/x", "samples": 16, "seed": 0, "rows": rows}))
    return str(path)


def test_a_cell_is_lost_above_the_better_baseline_and_l2_above_its_factor(rule):
    cw, smart = row(rule, "cw", 2.0), row(rule, "smart", 3.0, bone_length_change=1.0)
    ela = row(rule, "ela", 2.0, l2=2.3)  # ties C&W everywhere; ΔB/B above SMART's 1.0
    assert rule.losses(ela, cw, smart) == ["ΔB/B"]  # l2 2.3 ≤ 1.2 × 2.0
    ela["l2"] = 2.5
    assert rule.losses(ela, cw, smart) == ["ΔB/B", "l2"]
    assert rule.losses(row(rule, "ela", 1.0), cw, smart) == []


def test_a_column_a_baseline_could_not_measure_leaves_the_other_as_the_bar(rule):
    cw = row(rule, "cw", 2.0, l2=None)  # e.g. no successful sample
    smart = row(rule, "smart", None, bone_length_change=1.0)
    ela = row(rule, "ela", 1.5, l2=9.0)
    assert rule.losses(ela, cw, smart) == ["ΔB/B"]  # C&W the bar elsewhere; l2 unpriced
    assert rule.losses(ela, row(rule, "cw", None), smart) == ["ΔB/B"]


def test_the_rule_counts_cells_over_files_keeps_the_guards_and_breaks_ties_by_bone_change(
        rule, tmp_path):
    base = [row(rule, "cw", 2.0), row(rule, "smart", 2.0)]
    files = [write(tmp_path / f"{name}_train_defaults.json", [
        row(rule, "ela", 2.5),  # loses every column and l2 in both files
        row(rule, "ela:a=1", 1.9, bone_length_change=1.5),  # wins all, lower ΔB/B
        row(rule, "ela:b=1", 1.9),  # wins all
        row(rule, "ela:c=1", 1.0, model_evaluations_median=900),  # best, but too slow
        *base]) for name in ("msr_hcn", "bandai2_hcn")]
    tables = rule.read_tables(files)
    assert set(tables) == {"msr_hcn", "bandai2_hcn"}
    scored = {r["setting"]: r for r in rule.score(tables)}
    assert scored["ela"]["total"] == 2 * (len(rule.COLUMNS) + 1)
    assert scored["ela:a=1"]["total"] == scored["ela:b=1"]["total"] == 0
    assert scored["ela:a=1"]["ratio"] == pytest.approx(0.75)
    assert not scored["ela:c=1"]["guards"]
    assert rule.choose(list(scored.values()))["setting"] == "ela:a=1"
    text = rule.markdown(tables)
    assert "| bandai2_hcn | msr_hcn |" in text  # files in sorted order
    assert text.rstrip().endswith("Chosen by the rule: `ela:a=1` (0 cells lost over 2 models).")


def test_a_file_without_its_baselines_is_refused(rule, tmp_path):
    path = write(tmp_path / "msr_hcn_train_defaults.json", [row(rule, "ela", 1.0),
                                                            row(rule, "cw", 1.0)])
    with pytest.raises(SystemExit, match="smart"):
        rule.read_tables([path])


def test_tune_ela_settings_keep_the_commas_of_a_bracketed_value():
    tune = script("tune_ela")
    assert tune.parse_setting("ela:weights=(1,1,10),spread_weight=1000,mode=kl") == (
        "ela", {"weights": (1, 1, 10), "spread_weight": 1000, "mode": "kl"})
    assert tune.parse_setting("cw") == ("cw", {})
