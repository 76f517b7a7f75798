"""The robustness table of docs/robustness.md from a `scripts/real_data.sh robust-msr` folder.

Reads the runs' metrics.json, the attack folders' summary.json (PGD success at its fixed
budget), ``robustness/robustness.json`` (the median ΔB/B ELA needs to fool each model) and
``transfer/transfer.json`` (success of the other plain models' attacks on each run), and
writes ``table.md`` beside them: one row per run.

    .venv/bin/python scripts/robustness_table.py runs/robust_msr
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ela.files import atomic_write_bytes

PLAIN = {"hcn": "hcn", "hcn_pgd": "hcn", "hcn_trades": "hcn", "sgn": "sgn",
         "sgn_trades": "sgn", "2s-agcn": "2s-agcn"}
SOURCES = ("hcn", "sgn", "2s-agcn")


def pct(v: float | None, digits: int = 1) -> str:
    return "–" if v is None else f"{100 * v:.{digits}f} %"


def read(path: Path) -> Any:
    return json.loads(path.read_text()) if path.is_file() else None


def transfer_from_others(transfer: dict[str, Any], run: str) -> dict[str, float | None]:
    """Per method: the success of the attacks made on the plain models other than `run`'s
    own family, pooled over those surrogates (fooled ÷ clean-correct)."""
    column = next((j for j, c in enumerate(transfer["columns"]) if Path(c).name == run), None)
    out: dict[str, list[int]] = {}
    for cell in transfer["cells"]:
        surrogate = Path(cell["surrogate"] or "").name
        if cell["column"] != column or surrogate == PLAIN[run] or surrogate not in SOURCES:
            continue
        totals = out.setdefault(cell["method"], [0, 0])
        totals[0] += cell["fooled"]
        totals[1] += cell["clean_correct"]
    return {m: (f / c if c else None) for m, (f, c) in out.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folder", help="the robust_msr folder of scripts/real_data.sh")
    args = p.parse_args()
    root = Path(args.folder)
    robustness = read(root / "robustness" / "robustness.json") or {"curves": []}
    median = {Path(c["folder"]).parent.name: c["median"] for c in robustness["curves"]}
    transfer = read(root / "transfer" / "transfer.json")
    lines = ["| model | training | clean accuracy | PGD success at 1 cm | ELA success | "
             "ELA median ΔB/B to fool (× plain) | ELA median l2 / l∞ to fool (mm) | transfer "
             "success from the other models' ELA / C&W / PGD |",
             "|---|---|---|---|---|---|---|---|"]
    for run, family in PLAIN.items():
        metrics = read(root / run / "metrics.json")
        if metrics is None:
            continue
        config = read(root / run / "config.json")["train_config"]
        how = config.get("adversarial") or "plain"
        if how != "plain":
            how += f" (ε {100 * config['adv_eps']:g} cm, {config['adv_steps']} steps)"
        pgd = read(root / "attacks" / run / "pgd" / "summary.json") or {}
        ela = read(root / "attacks" / run / "ela" / "summary.json") or {}
        moved = transfer_from_others(transfer, run) if transfer else {}
        m, base = median.get(run, {}), median.get(family, {})
        dbb = m.get("bone_length_change")
        ratio = (f" ({dbb / base['bone_length_change']:.2f}×)"
                 if dbb is not None and base.get("bone_length_change") else "")
        mm = " / ".join("–" if m.get(k) is None else f"{1000 * m[k]:.1f}"
                        for k in ("l2", "linf"))
        lines.append(
            f"| {family} | {how} | {pct(metrics['accuracy'])} | {pct(pgd.get('success_rate'))}"
            f" | {pct(ela.get('success_rate'))} | {pct(dbb, 2)}{ratio} | {mm} | "
            + " / ".join(pct(moved.get(m)) for m in ("ela", "cw", "pgd")) + " |")
    text = "\n".join(lines) + "\n"
    atomic_write_bytes(root / "table.md", text.encode("utf-8"))
    print(text)


if __name__ == "__main__":
    main()
