"""Choose an MSR model's defence on its TRAINING part only, by a rule fixed before any result.

Reads a `scripts/real_data.sh defence-msr` folder: the candidate runs ``ROOT/<arch>_*/`` of
one architecture (``--arch``, hcn by default) and, per run and for the plain run (judged
under ``ROOT/judge/plain`` for hcn, ``ROOT/judge/<arch>_plain`` otherwise), two attacks of
the same ``SAMPLES`` training-part samples (``--part train --samples 96 --seed 0``; 96 =
three times the 32 validation samples that could not tell settings apart in the last round):

- ``ROOT/judge/<run>/ela``: ELA with its defaults (no E): the change ELA needs to fool;
- ``ROOT/judge/<run>/pgd``: PGD at l∞ 2 cm (20 steps): the samples it cannot fool.

The rule, written here before the candidates were trained:

1. eligible: a candidate whose best validation accuracy (``best_val_score``: the run's
   held-out training clips) is at most 5 points below the plain run's;
2. per candidate, r_ela = its median ΔB/B to fool / the plain run's (never-fooled samples
   count as ∞) and r_pgd = its robust accuracy at 2 cm / the plain run's, robust accuracy
   = (k + 1) / (n + 1) for k of n attacked samples not fooled (finite when the plain run
   has none);
3. chosen: the largest min(r_ela / 2, r_pgd / 3) - the candidate that comes closest to both
   targets of the issue (2× and 3×) at once; ties: the higher validation accuracy.

Each median comes with a 95 % percentile-bootstrap interval (1 000 resamples of the
attacked samples). The test part is not read here. Writes ``ROOT/select.json`` (the choice,
every candidate's numbers, the rule; ``select_<arch>.json`` for another architecture) and
``ROOT/select.md`` (``select_<arch>.md``), and prints the table.

    .venv/bin/python scripts/select_defence.py runs/defence_msr --plain runs/msr_hcn
    .venv/bin/python scripts/select_defence.py runs/defence_msr --plain runs/msr_sgn --arch sgn
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from ela.files import atomic_write_bytes, atomic_write_json
from ela.runs.robustness import sample_changes
from ela.training.metrics import bootstrap_interval
from ela.viz.load import load_attack

MARGIN = 0.05
TARGETS = {"ela": 2.0, "pgd": 3.0}
RULE = ("eligible: validation accuracy >= plain's - 5 points; chosen: the largest "
        "min(r_ela / 2, r_pgd / 3), r_ela = median ΔB/B ELA needs to fool / plain's, r_pgd = "
        "robust accuracy at PGD l∞ 2 cm / plain's with (k + 1) / (n + 1); ties: higher "
        "validation accuracy; all on the training part (96 samples, seed 0)")
RULE_KFOLD = RULE.replace("all on the training part (96 samples, seed 0)",
                          "all on the training part's 3 subject folds, each candidate "
                          "trained without the fold it is judged on (32 samples a fold, "
                          "seed 0)")


def read(path: Path) -> Any:
    return json.loads(path.read_text())


def median_change(folders: list[Path]) -> dict[str, float | None]:
    """Median ΔB/B to fool (∞ for never fooled) over the samples of ELA folders with its
    bootstrap interval; None stands for ∞."""
    changes = np.concatenate([sample_changes(load_attack(f))["bone_length_change"]
                              for f in folders])
    changes = changes[~np.isnan(changes)]

    def med(rows: np.ndarray) -> float:
        return float(np.median(changes[rows]))

    low, high = bootstrap_interval(med, np.arange(len(changes)), 1000, seed=0)
    return {key: (v if math.isfinite(v) else None)
            for key, v in (("median", med(np.arange(len(changes)))), ("low", low),
                           ("high", high))} | {"n": len(changes)}


def robust_share(folders: list[Path]) -> dict[str, float]:
    """k of n attacked samples (of PGD folders) not fooled, and (k + 1) / (n + 1)."""
    success = np.concatenate([load_attack(f).success for f in folders])
    n, k = len(success), int((~success).sum())
    return {"n": n, "not_fooled": k, "robust": (k + 1) / (n + 1)}


def ratio(value: float | None, plain: float | None) -> float:
    if value is None:
        return math.inf
    return value / plain if plain else math.inf


def select(root: Path, plain: Path, arch: str = "hcn") -> dict[str, Any]:
    """Every candidate ``ROOT/<arch>_*`` run's numbers and the choice (see the module doc)."""
    runs = {"plain": plain} | {r.name: r for r in sorted(root.glob(f"{arch}_*"))
                               if (r / "metrics.json").is_file()}
    judge = {name: root / "judge" / (f"{arch}_plain" if name == "plain" and arch != "hcn"
                                     else name) for name in runs}
    return choose({name: ([run], [judge[name]]) for name, run in runs.items()}, RULE)


def select_kfold(root: Path, arch: str = "hcn") -> dict[str, Any]:
    """The same rule on the grouped k-fold judge: per candidate ``ROOT/kfold/<name>/fold<i>``
    runs (``scripts/fold_splits.py``; ``plain`` and ``<arch>_*``), each attacked on its
    held-out fold under ``ROOT/kfold_judge/<name>/fold<i>/{ela,pgd}``, the folds pooled;
    the validation accuracy is the folds' mean."""
    entries = {}
    for cand in sorted((root / "kfold").glob("*")):
        if cand.name != "plain" and not cand.name.startswith(f"{arch}_"):
            continue
        runs = sorted(r for r in cand.glob("fold*") if (r / "metrics.json").is_file())
        entries[cand.name] = (runs, [root / "kfold_judge" / cand.name / r.name for r in runs])
    if "plain" not in entries:
        raise SystemExit(f"{root / 'kfold' / 'plain'}: no plain fold runs")
    entries = {"plain": entries.pop("plain"), **entries}
    return choose(entries, RULE_KFOLD)


def choose(entries: dict[str, tuple[list[Path], list[Path]]], rule: str) -> dict[str, Any]:
    """Apply the rule to candidates given as (run folders, judge folders); "plain" first."""
    rows: dict[str, dict[str, Any]] = {}
    for name, (runs, judges) in entries.items():
        rows[name] = {"run": str(runs[0]) if len(runs) == 1 else [str(r) for r in runs],
                      "val_accuracy": float(np.mean([read(r / "metrics.json")["best_val_score"]
                                                     for r in runs])),
                      "train_config": read(runs[0] / "config.json")["train_config"],
                      "ela": median_change([j / "ela" for j in judges]),
                      "pgd": robust_share([j / "pgd" for j in judges])}
    base = rows["plain"]
    for name, row in rows.items():
        row["r_ela"] = ratio(row["ela"]["median"], base["ela"]["median"])
        row["r_pgd"] = row["pgd"]["robust"] / base["pgd"]["robust"]
        row["score"] = min(row["r_ela"] / TARGETS["ela"], row["r_pgd"] / TARGETS["pgd"])
        row["eligible"] = (name != "plain"
                           and row["val_accuracy"] >= base["val_accuracy"] - MARGIN)
    eligible = [n for n, r in rows.items() if r["eligible"]]
    chosen = max(eligible, key=lambda n: (rows[n]["score"], rows[n]["val_accuracy"]),
                 default=None)
    return {"rule": rule, "chosen": chosen,
            "chosen_config": rows[chosen]["train_config"] if chosen else None,
            "candidates": rows}


def markdown(result: dict[str, Any]) -> str:
    def pct(v: float | None, digits: int = 2) -> str:
        return "∞" if v is None else f"{100 * v:.{digits}f} %"

    lines = ["| run | training | val accuracy | ELA median ΔB/B to fool (95 % interval) | "
             "r_ela | PGD 2 cm not fooled | r_pgd | min(r_ela/2, r_pgd/3) | |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, r in result["candidates"].items():
        c = r["train_config"]
        how = c.get("adversarial") or "plain"
        method = how
        if method in ("pgd", "trades"):
            how += f" ε {100 * c['adv_eps']:g} cm"
        if method == "rotation":
            how += f" {c['adv_angle']:g}°"
        if method.startswith("dynamic"):
            how += f" RMS {100 * c['adv_eps']:g} cm w {c['adv_bone_weight']:g}"
        if method.endswith("trades"):
            how += f" β {c['trades_beta']:g}"
        e, p = r["ela"], r["pgd"]
        mark = ("← chosen" if name == result["chosen"]
                else "plain" if name == "plain" else "" if r["eligible"] else "not eligible")
        lines.append(f"| {name} | {how} | {pct(r['val_accuracy'], 1)} | {pct(e['median'])} "
                     f"({pct(e['low'])}–{pct(e['high'])}) | {r['r_ela']:.2f} | "
                     f"{p['not_fooled']}/{p['n']} | {r['r_pgd']:.2f} | {r['score']:.2f} | "
                     f"{mark} |")
    return f"Rule: {result['rule']}.\n\n" + "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folder", help="the defence_msr folder of scripts/real_data.sh")
    p.add_argument("--plain", help="the plain run folder of the architecture")
    p.add_argument("--arch", default="hcn", help="the candidates' prefix (default hcn)")
    p.add_argument("--kfold", action="store_true",
                   help="judge on the grouped k-fold runs (ROOT/kfold) instead; writes "
                        "select_kfold*.json")
    args = p.parse_args()
    root = Path(args.folder)
    if args.kfold:
        result = select_kfold(root, args.arch)
    elif args.plain:
        result = select(root, Path(args.plain), args.arch)
    else:
        p.error("--plain is needed without --kfold")
    stem = ("select" if args.arch == "hcn" else f"select_{args.arch}") \
        + ("_kfold" if args.kfold else "")
    atomic_write_json(root / f"{stem}.json", result)
    text = markdown(result)
    atomic_write_bytes(root / f"{stem}.md", text.encode("utf-8"))
    print(text, end="")


if __name__ == "__main__":
    main()
