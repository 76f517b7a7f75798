"""`ela demo --quick`: the whole pipeline on the built-in data, ending in the attack table."""

from __future__ import annotations

import csv
import json
import re

import pytest

from ela.cli import main


def test_quick_demo_trains_attacks_and_compares_at_equal_success(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--quick", "--out", str(out)]) == 0
    table = (out / "attack_table.md").read_text(encoding="utf-8")
    assert "ELA (defaults, emotion term)" in table and "C&W-L2" in table
    both = re.search(r"over the (\d+) samples both fooled", table)
    assert both is not None and int(both.group(1)) >= 1
    for method in ("ela", "cw"):  # the table's rows are the two attack runs' summaries
        summary = json.loads((out / f"attack_{method}" / "summary.json").read_text())
        assert f"{100 * summary['success_rate']:.2f} %" in table
    assert (out / "report.html").is_file()
    text = capsys.readouterr().out
    assert "both fooled" in text
    # the strip shows a typical success: the median of ELA's successes by ΔB/B
    strip = re.search(r"strip: sample (\S+), .*ΔB/B, ([\d.]+) %, is the median", text)
    assert strip is not None
    with (out / "attack_ela" / "samples.csv").open() as fh:
        won = sorted(float(r["bone_length_change"]) for r in csv.DictReader(fh)
                     if r["success"] == "True")
    assert float(strip.group(2)) == pytest.approx(100 * won[(len(won) - 1) // 2], abs=0.006)
    assert any(p.name.startswith("attack_ela_sample") for p in (out / "attack_ela" /
                                                                "figures").iterdir())
