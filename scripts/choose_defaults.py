"""The rule that picks ELA's next defaults from `tune_ela.py --out` files of TRAINING samples.

The bar ELA is held to: at its defaults, no larger than the better of C&W and SMART on every
column of the distance table. This script applies that test to each ELA setting of one file
per model (each file also holding a ``cw`` and a ``smart`` row, made on the same samples) and
chooses, by a rule fixed before the files were made:

1. Guards, on every file: success ≥ 99 %, median model evaluations ≤ 500, emotion kept
   ≥ 97 %. A setting that fails one is not chosen.
2. Fewest lost cells over all files. A cell is lost where ELA's value is above the smaller
   of C&W's and SMART's (whatever their success: the stricter reading) on one of `COLUMNS`,
   or where its l2 is above 1.2× C&W's.
3. Ties: the smallest geometric mean over files of ELA's ΔB/B ÷ the better baseline's.

Prints a Markdown table (one row per setting: the columns lost in each file, the total, the
ΔB/B ratio, whether the guards hold) and the chosen setting. Example:

    .venv/bin/python scripts/choose_defaults.py docs/results/tuning/*_train_defaults.json
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

# (key in a tune_ela row, short name): lower is better on each
COLUMNS = (("bone_length_change", "ΔB/B"), ("bone_angle_change", "ΔA/A"),
           ("bone_angle_change_paper", "ΔA/A paper"), ("bone_turn", "turn"),
           ("bone_turn_max_median", "largest turn"), ("centre_shift", "shift"),
           ("joint_speed_change", "ΔS/S"), ("acceleration_change", "Δacc"),
           ("still_joint_speed_p99_mm", "still p99"), ("linf_median", "l∞"))
L2_FACTOR = 1.2
MIN_SUCCESS, MAX_EVALUATIONS, MIN_EMOTION = 0.99, 500, 0.97
B = COLUMNS[0][0]
"""The column of the tie-break ratio (ΔB/B)."""


def bar(cw: dict, smart: dict, key: str) -> float | None:
    """The better (smaller) of the two baselines' `key`; a row without it (None: no
    successful sample to measure) leaves the other, and with neither there is no bar."""
    values = [b[key] for b in (cw, smart) if b[key] is not None]
    return min(values) if values else None


def losses(ela: dict, cw: dict, smart: dict) -> list[str]:
    """The columns on which the ELA row `ela` is above the better of the two baselines
    (`bar`); a column ELA itself lacks is not compared."""
    lost = [name for key, name in COLUMNS
            if None not in (ela[key], b := bar(cw, smart, key)) and ela[key] > b]
    if None not in (ela["l2"], cw["l2"]) and ela["l2"] > L2_FACTOR * cw["l2"]:
        lost.append("l2")
    return lost


def guards_hold(ela: dict) -> bool:
    emotion = ela.get("emotion_consistency")
    return (ela["success_rate"] >= MIN_SUCCESS
            and ela["model_evaluations_median"] <= MAX_EVALUATIONS
            and (emotion is None or emotion >= MIN_EMOTION))


def read_tables(paths: list[str]) -> dict[str, dict[str, dict]]:
    """{model: {setting: row}} of each file in sorted order, the model named by the file
    (``msr_hcn`` of ``msr_hcn_train_defaults.json``); every file needs a ``cw`` and a
    ``smart`` row."""
    tables = {}
    for path in sorted(paths):
        rows = {r["setting"]: r for r in json.loads(Path(path).read_text())["rows"]}
        missing = {"cw", "smart"} - set(rows)
        if missing:
            raise SystemExit(f"choose_defaults: {path} has no row {sorted(missing)}")
        tables[Path(path).name.split("_train")[0]] = rows
    return tables


def score(tables: dict[str, dict[str, dict]]) -> list[dict]:
    """One entry per ELA setting: {"setting", "lost" {model: [columns]}, "total", "ratio"
    (geometric mean of ΔB/B ÷ the better baseline's), "guards" (bool)}."""
    settings = [s for s in next(iter(tables.values())) if s.split(":")[0] == "ela"]
    scored = []
    for s in settings:
        if any(s not in rows for rows in tables.values()):
            raise SystemExit(f"choose_defaults: setting {s} is not in every file")
        lost = {name: losses(rows[s], rows["cw"], rows["smart"]) for name, rows in tables.items()}
        logs = [math.log(rows[s][B] / b) for rows in tables.values()
                if None not in (rows[s][B], b := bar(rows["cw"], rows["smart"], B))]
        ratio = math.exp(sum(logs) / len(logs)) if logs else math.inf
        scored.append({"setting": s, "lost": lost, "total": sum(map(len, lost.values())),
                       "ratio": ratio,
                       "guards": all(guards_hold(rows[s]) for rows in tables.values())})
    return scored


def choose(scored: list[dict]) -> dict | None:
    """The rule: among settings whose guards hold, the fewest lost cells, then the smallest
    ΔB/B ratio; None when no setting holds the guards."""
    eligible = [row for row in scored if row["guards"]]
    return min(eligible, key=lambda row: (row["total"], row["ratio"])) if eligible else None


def markdown(tables: dict[str, dict[str, dict]]) -> str:
    """The table of `score` and the rule's choice, as Markdown."""
    scored = score(tables)
    names = list(tables)
    lines = ["| setting | " + " | ".join(names) + " | cells lost | ΔB/B ÷ better baseline "
             "(geometric mean) | guards |", "|---" * (len(names) + 4) + "|"]
    for row in scored:
        cells = [", ".join(row["lost"][n]) or "none" for n in names]
        lines.append(f"| {row['setting']} | " + " | ".join(cells) + f" | {row['total']} | "
                     f"{row['ratio']:.2f} | {'hold' if row['guards'] else 'fail'} |")
    chosen = choose(scored)
    lines.append("")
    lines.append("No setting holds the guards on every file." if chosen is None else
                 f"Chosen by the rule: `{chosen['setting']}` ({chosen['total']} cells lost "
                 f"over {len(names)} models).")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("files", nargs="+", help="JSON files written by scripts/tune_ela.py --out")
    print(markdown(read_tables(p.parse_args().files)), end="")


if __name__ == "__main__":
    main()
