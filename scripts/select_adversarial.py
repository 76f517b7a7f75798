"""Choose one adversarially trained hcn on the validation subject only, then report it.

Reads a `scripts/real_data.sh robust-msr robust-msr-select` folder. The rule, fixed before
any result was seen: among the adversarially trained hcn runs whose best validation
accuracy is at most 5 points below the plain run's, take the one whose ELA attack on the
*validation* part (``attacks_val/<run>/ela``) needs the largest median ΔB/B to fool (ties:
the higher validation accuracy). Only then are the test numbers of the chosen run and of
the plain run read (clean accuracy, PGD success at 1 cm, ELA's median ΔB/B to fool on the
test part). Writes ``select.md`` beside the runs and prints it.

    .venv/bin/python scripts/select_adversarial.py runs/robust_msr
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ela.files import atomic_write_bytes
from ela.runs.robustness import robustness_curves

PLAIN = "hcn"
MARGIN = 0.05


def read(path: Path) -> Any:
    return json.loads(path.read_text()) if path.is_file() else None


def median_dbb(folder: Path) -> float | None:
    """ELA's median ΔB/B to fool in attack folder `folder` (None: ∞ or no folder)."""
    if not (folder / "summary.json").is_file():
        return None
    return robustness_curves([folder])["curves"][0]["median"]["bone_length_change"]


def setting(root: Path, run: str) -> str:
    c = read(root / run / "config.json")["train_config"]
    if not c.get("adversarial"):
        return "plain"
    extra = f", β {c['trades_beta']:g}" if c["adversarial"] == "trades" else ""
    return f"{c['adversarial']} (ε {100 * c['adv_eps']:g} cm, {c['adv_steps']} steps{extra})"


def pct(v: float | None, digits: int = 1) -> str:
    return "–" if v is None else f"{100 * v:.{digits}f} %"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folder", help="the robust_msr folder of scripts/real_data.sh")
    root = Path(p.parse_args().folder)
    runs = sorted(r.name for r in root.glob("hcn*") if (r / "metrics.json").is_file())
    val = {r: read(root / r / "metrics.json")["best_val_score"] for r in runs}
    val_dbb = {r: median_dbb(root / "attacks_val" / r / "ela") for r in runs}
    eligible = [r for r in runs if r != PLAIN and val[r] >= val[PLAIN] - MARGIN
                and val_dbb[r] is not None]
    chosen = max(eligible, key=lambda r: (val_dbb[r], val[r])) if eligible else None
    lines = ["Validation subject only (the choice):", "",
             "| run | training | val accuracy | ELA median ΔB/B to fool (val) | eligible |",
             "|---|---|---|---|---|"]
    for r in runs:
        lines.append(f"| {r} | {setting(root, r)} | {pct(val[r])} | {pct(val_dbb[r], 2)} | "
                     f"{'plain' if r == PLAIN else ('yes' if r in eligible else 'no')}"
                     f"{' ← chosen' if r == chosen else ''} |")
    lines += ["", "Test part (read after the choice):", "",
              "| run | training | test accuracy | PGD success at 1 cm | ELA success | "
              "ELA median ΔB/B to fool (× plain) |", "|---|---|---|---|---|---|"]
    plain_dbb = median_dbb(root / "attacks" / PLAIN / "ela")
    for r in [PLAIN] + ([chosen] if chosen else []):
        dbb = median_dbb(root / "attacks" / r / "ela")
        ratio = f" ({dbb / plain_dbb:.2f}×)" if dbb is not None and plain_dbb else ""
        pgd = read(root / "attacks" / r / "pgd" / "summary.json") or {}
        ela = read(root / "attacks" / r / "ela" / "summary.json") or {}
        lines.append(f"| {r} | {setting(root, r)} | "
                     f"{pct(read(root / r / 'metrics.json')['accuracy'])} | "
                     f"{pct(pgd.get('success_rate'))} | {pct(ela.get('success_rate'))} | "
                     f"{pct(dbb, 2)}{ratio} |")
    text = "\n".join(lines) + "\n"
    atomic_write_bytes(root / "select.md", text.encode("utf-8"))
    print(text)


if __name__ == "__main__":
    main()
