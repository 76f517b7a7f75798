"""Print the real-data tables of docs/results.md from the run folders of scripts/real_data.sh.

Usage: .venv/bin/python scripts/results_tables.py RUNS_DIR

Recognizers (single split, and 5-fold runs with mean ± std, the per-clip vote when the run
used windows, and the summed training time), the attack folders ``attack_*``, and per
(dataset, model) the attacks re-averaged over the samples all of them fooled.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ela.runs.compare import common_success
from ela.runs.experiment import COMMON_COLUMNS, markdown_table


def cv_rows(runs: Path) -> list[str]:
    rows = ["| run | model | UAR | WAR | WAP | clip-vote UAR | clip-vote WAR | "
            "training (5 folds) |", "|---|---|---|---|---|---|---|---|"]
    for folder in sorted(runs.iterdir()):
        metrics_path, config_path = folder / "metrics.json", folder / "config.json"
        if not metrics_path.is_file() or not config_path.is_file():
            continue
        m, c = json.loads(metrics_path.read_text()), json.loads(config_path.read_text())
        if "mean" not in m:
            continue
        mean, std = m["mean"], m["std"]

        def pm(a: dict, b: dict, key: str) -> str:
            return f"{100 * a[key]:.1f} ± {100 * b[key]:.1f} %"

        clip = ([pm(mean["clip"], std["clip"], k) for k in ("uar", "war")]
                if "clip" in mean else ["–", "–"])
        seconds = sum(f["training"]["seconds"] for f in m["folds"])
        rows.append(f"| {folder.name} | `{c['model']['name']}` | "
                    + " | ".join(pm(mean, std, k) for k in ("uar", "war", "wap")) + " | "
                    + " | ".join(clip) + f" | {seconds / 60:.1f} min |")
    return rows


def training_rows(runs: Path) -> list[str]:
    rows = ["| run | model | split | test samples | accuracy (WAR) | UAR | WAP |",
            "|---|---|---|---|---|---|---|"]
    for folder in sorted(runs.iterdir()):
        metrics_path, config_path = folder / "metrics.json", folder / "config.json"
        if not metrics_path.is_file() or not config_path.is_file():
            continue
        m, c = json.loads(metrics_path.read_text()), json.loads(config_path.read_text())
        if "mean" in m:
            continue  # cv_rows
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


METHODS = ("ela", "ela_noemo", "cw", "smart")


def common_tables(runs: Path) -> str:
    """Per attacked run (``attack_<ds>_<model>_<method>`` folders): ELA, ELA without the
    emotion loss, C&W and SMART over the samples all four fooled."""
    prefixes = sorted({f.name.removesuffix("_ela") for f in runs.glob("attack_*_ela")})
    text = []
    for prefix in prefixes:
        folders = [runs / f"{prefix}_{m}" for m in METHODS]
        if not all((f / "samples.csv").is_file() for f in folders):
            continue
        _, summaries = common_success(folders)
        rows = [(f"{prefix.removeprefix('attack_')}_{m}", s) for m, s in zip(METHODS, summaries,
                                                                            strict=True)]
        text.append(markdown_table(rows, first="attack", columns=COMMON_COLUMNS))
    return "\n\n".join(text)


if __name__ == "__main__":
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "runs")
    print("\n".join(training_rows(root)))
    print()
    print("\n".join(cv_rows(root)))
    print()
    print(attack_table(root))
    print()
    print(common_tables(root))
