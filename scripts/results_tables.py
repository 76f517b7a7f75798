"""Print the README's real-data tables (Markdown) from the run folders of scripts/real_data.sh.

Usage: .venv/bin/python scripts/results_tables.py RUNS_DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ela.runs.experiment import markdown_table


def training_rows(runs: Path) -> list[str]:
    rows = ["| run | model | split | test samples | accuracy (WAR) | UAR | WAP |",
            "|---|---|---|---|---|---|---|"]
    for folder in sorted(runs.iterdir()):
        metrics_path, config_path = folder / "metrics.json", folder / "config.json"
        if not metrics_path.is_file() or not config_path.is_file():
            continue
        m, c = json.loads(metrics_path.read_text()), json.loads(config_path.read_text())
        if "mean" in m:
            mean, std = m["mean"], m["std"]
            scores = [f"{100 * mean[k]:.1f} ± {100 * std[k]:.1f} %" for k in ("war", "uar", "wap")]
            n, split = "5 folds", "5-fold by clip"
        else:
            scores = [f"{100 * m[k]:.1f} %" for k in ("accuracy", "uar", "wap")]
            n, split = str(m.get("num_samples", "")), str(m.get("split", ""))
        rows.append(f"| {folder.name} | `{c['model']['name']}` | {split} | {n} | "
                    + " | ".join(scores) + " |")
    return rows


def attack_table(runs: Path) -> str:
    cells = []
    for folder in sorted(runs.glob("attack_*")):
        path = folder / "summary.json"
        if path.is_file():
            s = json.loads(path.read_text())
            cells.append((f"{folder.name.removeprefix('attack_')} (n={s['n']})", s))
    return markdown_table(cells, first="attack")


if __name__ == "__main__":
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "runs")
    print("\n".join(training_rows(root)))
    print()
    print(attack_table(root))
