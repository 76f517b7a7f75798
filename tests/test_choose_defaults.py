"""scripts/choose_defaults.py: the rule that picked ELA's defaults on training samples; the
setting syntax of scripts/tune_ela.py, whose files it reads."""

from __future__ import annotations

import json
import math
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


def losses(rule, ela: dict, cw: dict, smart: dict) -> list[str]:
    return list(rule.excesses(ela, cw, smart))


def write(path: Path, rows: list[dict]) -> str:
    path.write_text(json.dumps({"run": "runs/x", "samples": 16, "seed": 0, "rows": rows}))
    return str(path)


def test_a_cell_is_lost_above_the_better_baseline_and_l2_above_its_factor(rule):
    cw, smart = row(rule, "cw", 2.0), row(rule, "smart", 3.0, bone_length_change=1.0)
    ela = row(rule, "ela", 2.0, l2=2.3)  # ties C&W everywhere; ΔB/B above SMART's 1.0
    assert losses(rule, ela, cw, smart) == ["ΔB/B"]  # l2 2.3 ≤ 1.2 × 2.0
    ela["l2"] = 2.5
    assert losses(rule, ela, cw, smart) == ["ΔB/B", "l2"]
    assert losses(rule, row(rule, "ela", 1.0), cw, smart) == []
    over = rule.excesses(row(rule, "ela", 2.0, l2=4.8), cw, smart)
    assert over == pytest.approx({"ΔB/B": math.log(2.0), "l2": math.log(2.0)})


def test_a_column_a_baseline_could_not_measure_leaves_the_other_as_the_bar(rule):
    cw = row(rule, "cw", 2.0, l2=None)  # e.g. no successful sample
    smart = row(rule, "smart", None, bone_length_change=1.0)
    ela = row(rule, "ela", 1.5, l2=9.0)
    assert losses(rule, ela, cw, smart) == ["ΔB/B"]  # C&W the bar elsewhere; l2 unpriced
    assert losses(rule, ela, row(rule, "cw", None), smart) == ["ΔB/B"]


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
    assert text.rstrip().endswith(
        "Chosen by the rule: `ela:a=1` (shortfall 0.00, 0 cells lost over 2 models).")


def test_the_rule_weighs_how_far_a_cell_is_lost_before_how_many_are(rule, tmp_path):
    base = [row(rule, "cw", 1.0), row(rule, "smart", 1.0)]
    keys = [key for key, _ in rule.COLUMNS]
    few_far = {keys[0]: 3.0, keys[1]: 3.0}  # two cells, each 3× over
    many_near = dict.fromkeys(keys[:5], 1.1)  # five cells, each 10 % over
    tables = rule.read_tables([write(tmp_path / "msr_hcn_train_defaults.json", [
        row(rule, "ela:far=1", 1.0, **few_far), row(rule, "ela:near=1", 1.0, **many_near),
        *base])])
    scored = {r["setting"]: r for r in rule.score(tables)}
    assert scored["ela:far=1"]["total"] == 2 and scored["ela:near=1"]["total"] == 5
    assert scored["ela:far=1"]["shortfall"] == pytest.approx(2 * math.log(3.0))
    assert scored["ela:near=1"]["shortfall"] == pytest.approx(5 * math.log(1.1))
    assert rule.choose(list(scored.values()))["setting"] == "ela:near=1"


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


def attack_folder(path: Path, rows: list[dict]) -> None:
    """An `ela attack` folder holding only samples.csv (what the docs keep)."""
    path.mkdir(parents=True)
    keys = ["index", "success", *rows[0]]
    lines = [",".join(keys)] + [",".join(str(r.get(k, "")) for k in keys) for r in rows]
    path.joinpath("samples.csv").write_text("\n".join(lines) + "\n")


def test_the_test_check_compares_defaults_and_choice_over_the_samples_all_four_fooled(
        rule, tmp_path):
    metrics = ["bone_length_change", "bone_angle_change", "bone_angle_change_paper",
               "bone_turn", "bone_turn_max", "centre_shift", "joint_speed_change",
               "acceleration_change", "l2", "linf"]

    def sample(index: int, value: float, success: bool = True, **over) -> dict:
        return {"index": index, "success": success, **dict.fromkeys(metrics, value), **over}

    model = tmp_path / "msr_hcn" / "test"
    attack_folder(model / "cw", [sample(0, 1.0), sample(1, 1.0), sample(2, 1.0)])
    attack_folder(model / "smart", [sample(0, 1.0), sample(1, 1.0), sample(2, 1.0)])
    # sample 2: the earlier defaults fail it, so it is left out for all four (else ΔB/B 5)
    attack_folder(model / "ela_earlier", [sample(0, 2.0),
                                          sample(1, 1.0, bone_length_change=0.5),
                                          sample(2, 9.0, success=False)])
    attack_folder(model / "ela", [sample(0, 0.5, linf=3.0), sample(1, 0.5, linf=1.0),
                                  sample(2, 5.0)])
    rows = rule.check_rows(model)
    assert rows["ela_earlier"]["n"] == 2
    assert rows["ela_earlier"]["bone_length_change"] == pytest.approx(1.25)  # mean of 2, 0.5
    assert rows["ela"]["linf_median"] == pytest.approx(2.0)
    assert rows["ela"]["still_joint_speed_p99_mm"] is None  # not in samples.csv: not compared
    text = rule.check_markdown([model])
    # the earlier defaults: means 1.5 (ΔB/B 1.25), medians 1.5, l2 1.5 > 1.2 × 1: 9 + l2
    lines = text.splitlines()
    assert lines[2].startswith("| msr_hcn (2) | ΔB/B, ΔA/A, ")
    assert lines[2].endswith("| l∞ | 0.69 |")  # the choice loses l∞ alone, by 2×
    assert lines[3].startswith("| all (1 models) | 10 cells |")
