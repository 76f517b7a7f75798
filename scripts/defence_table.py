"""The defence tables of docs/robustness.md from a `scripts/real_data.sh defence-msr` folder.

Reads the model cards ``ROOT/cards/{plain,chosen,guarded}/card.json`` (`ela card`), the
choice ``ROOT/select.json`` (`scripts/select_defence.py`), the transfer scores
``ROOT/transfer.json`` (`ela eval CHOSEN --adversarial` the plain model's test attacks) and
writes ``ROOT/table.md`` (printed too) and ``ROOT/budget.png``:

1. per model (plain, the chosen defence, the plain model guarded by the pooled detector):
   clean accuracy, ELA's success and median ΔB/B to fool (× plain), C&W's median l∞ to
   fool, robust accuracy at PGD l∞ 2 cm (× plain), transfer success of the plain model's
   attacks; every attack is white-box on what it attacks (the guard included: adaptive);
2. budget curves: PGD success among the attacked samples at each l∞ budget, per model (a
   defence that masks gradients would stay below 100 % as the budget grows);
3. detection: the pooled detector's catch rate at its threshold on the non-adaptive test
   attacks, against the share of attacked samples the adaptive attack does not get past.

    .venv/bin/python scripts/defence_table.py runs/defence_msr
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ela.files import atomic_write_bytes  # noqa: E402

MODELS = ("plain", "chosen", "guarded")


def read(path: Path) -> Any:
    return json.loads(path.read_text()) if path.is_file() else None


def pct(v: float | None, digits: int = 1) -> str:
    return "–" if v is None else f"{100 * v:.{digits}f} %"


def times(v: float | None, base: float | None) -> str:
    return "" if v is None or not base else f" ({v / base:.2f}×)"


def rows_by_name(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {Path(a["folder"]).name: a for a in card["attacks"]}


def pgd_budgets(rows: dict[str, dict[str, Any]]) -> list[tuple[float, dict[str, Any]]]:
    return sorted((float(n.removeprefix("pgd_")), r) for n, r in rows.items()
                  if n.startswith("pgd_"))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folder", help="the defence_msr folder of scripts/real_data.sh")
    root = Path(p.parse_args().folder)
    cards = {m: read(root / "cards" / m / "card.json") for m in MODELS}
    rows = {m: rows_by_name(c) for m, c in cards.items()}
    select = read(root / "select.json")
    names = {"plain": "hcn, plain", "chosen": f"hcn, {select['chosen']} (chosen by the rule)",
             "guarded": "hcn, plain + pooled detector (guard)"}

    def clean(m: str) -> float:
        if m == "guarded":  # flagged clean sequences are refused
            return rows[m]["ela"]["clean_accuracy_guarded"]
        return cards[m]["clean_accuracy"]

    def robust_2cm(m: str) -> float:
        return rows[m]["pgd_0.02"]["robust_accuracy"]["linf"]["0.02"]

    base_dbb = rows["plain"]["ela"]["median_to_fool"]["bone_length_change"]
    transfer = read(root / "transfer.json")
    moved = {Path(c["row"]).name if "/" in str(c["row"]) else c["row"]: c["transfer_success"]
             for c in transfer["cells"]} if transfer else {}
    out = ["| model | clean accuracy | ELA success | ELA median ΔB/B to fool (× plain) | "
           "C&W median l∞ to fool | robust accuracy at PGD l∞ 2 cm (× plain) | "
           "transfer success of the plain model's ELA / C&W / PGD |",
           "|---|---|---|---|---|---|---|"]
    for m in MODELS:
        r = rows[m]
        dbb = r["ela"]["median_to_fool"]["bone_length_change"]
        linf = r["cw"]["median_to_fool"]["linf"]
        tr = (" / ".join(pct(v) for v in moved.values()) if m == "chosen" and moved
              else "white-box" if m == "plain" else "–")
        out.append(f"| {names[m]} | {pct(clean(m))} | {pct(r['ela']['success_rate'])} | "
                   f"{pct(dbb, 2)}{times(dbb, base_dbb) if m != 'plain' else ' (1.00×)'} | "
                   f"{'∞' if linf is None else f'{100 * linf:.1f} cm'} | "
                   f"{pct(robust_2cm(m))}{times(robust_2cm(m), robust_2cm('plain'))} | {tr} |")
    budgets = [e for e, _ in pgd_budgets(rows["plain"])]
    out += ["", "| PGD success at l∞ (cm) | " + " | ".join(f"{100 * e:g}" for e in budgets)
            + " |", "|---" * (len(budgets) + 1) + "|"]
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    for m in MODELS:
        curve = pgd_budgets(rows[m])
        out.append(f"| {names[m]} | " + " | ".join(pct(r["success_rate"]) for _, r in curve)
                   + " |")
        ax.plot([100 * e for e, _ in curve], [100 * r["success_rate"] for _, r in curve],
                marker="o", label=names[m])
    ax.set_xscale("log")
    ax.set_xlabel("PGD budget l∞ (cm, 50 steps)")
    ax.set_ylabel("success among attacked (%)")
    ax.set_ylim(0, 105)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(root / "budget.png", dpi=110)
    detect = cards["plain"].get("detection", {})
    out += ["", "| attack | caught by the guard (non-adaptive) | clean sequences flagged | "
            "adaptive attack: success (fooled and not flagged) | stopped |",
            "|---|---|---|---|---|"]
    for method, key in (("ela", "ela"), ("cw", "cw"), ("pgd", "pgd_0.02")):
        d, a = detect.get(method, {}), rows["guarded"][key]
        out.append(f"| {method} | {pct(d.get('caught_at_threshold'))} | "
                   f"{pct(d.get('false_alarms_at_threshold'))} | {pct(a['success_rate'])} | "
                   f"{pct(1 - a['success_rate'])} |")
    text = "\n".join(out) + "\n"
    atomic_write_bytes(root / "table.md", text.encode("utf-8"))
    print(text, end="")


if __name__ == "__main__":
    main()
