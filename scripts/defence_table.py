"""The defence tables of docs/robustness.md from a `scripts/real_data.sh defence-msr` folder.

Reads the model cards ``ROOT/cards/{plain,chosen,guarded}/card.json`` (`ela card`), the
choice ``ROOT/select.json`` (`scripts/select_defence.py`), the transfer scores
``ROOT/transfer/transfer.json`` (`ela eval CHOSEN --adversarial` on the plain model's test
attacks) and writes ``ROOT/table.md`` (printed too) and ``ROOT/budget.png``:

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


def tables(root: Path) -> str:
    """The three tables (Markdown) from the small files of a defence folder."""
    cards = {m: read(root / "cards" / m / "card.json") for m in MODELS}
    rows = {m: rows_by_name(c) for m, c in cards.items()}
    select = read(root / "select.json")
    names = model_names(select)

    def clean(m: str) -> float:
        return rows[m]["ela"]["clean_accuracy_guarded"]  # flagged clean sequences: refused

    def robust_2cm(m: str) -> float:
        return rows[m]["pgd_0.02"]["robust_accuracy"]["linf"]["0.02"]

    base_dbb = rows["plain"]["ela"]["median_to_fool"]["bone_length_change"]
    transfer = read(root / "transfer" / "transfer.json")
    moved = [c["transfer_success"] for c in transfer["cells"]] if transfer else []
    out = ["| model | clean accuracy | ELA success | ELA median ΔB/B to fool (× plain) | "
           "C&W median l∞ to fool | robust accuracy at PGD l∞ 2 cm (× plain) | "
           "transfer success of the plain model's ELA / C&W / PGD 2 cm |",
           "|---|---|---|---|---|---|---|"]
    for m in MODELS:
        r = rows[m]
        dbb = r["ela"]["median_to_fool"]["bone_length_change"]
        linf = r["cw"]["median_to_fool"]["linf"]
        tr = (" / ".join(pct(v) for v in moved) if m == "chosen" and moved
              else "white-box" if m == "plain" else "–")
        out.append(f"| {names[m]} | {pct(clean(m))} | {pct(r['ela']['success_rate'])} | "
                   f"{pct(dbb, 2)}{times(dbb, base_dbb)} | "
                   f"{'∞' if linf is None else f'{100 * linf:.1f} cm'} | "
                   f"{pct(robust_2cm(m))}{times(robust_2cm(m), robust_2cm('plain'))} | {tr} |")
    budgets = [e for e, _ in pgd_budgets(rows["plain"])]
    out += ["", "| PGD success at l∞ (cm) | " + " | ".join(f"{100 * e:g}" for e in budgets)
            + " |", "|---" * (len(budgets) + 1) + "|"]
    out += [f"| {names[m]} | " + " | ".join(pct(r["success_rate"])
                                            for _, r in pgd_budgets(rows[m])) + " |"
            for m in MODELS]
    detect = cards["plain"].get("detection", {})
    out += ["", "| attack | caught by the guard (non-adaptive) | clean test sequences flagged "
            "| adaptive attack: success (fooled and not flagged) | stopped by the guard |",
            "|---|---|---|---|---|"]
    for method, key in (("ela", "ela"), ("cw", "cw"), ("pgd", "pgd_0.02")):
        d, a = detect.get(method, {}), rows["guarded"][key]
        out.append(f"| {method} | {pct(d.get('caught_at_threshold'))} | "
                   f"{pct(d.get('false_alarms_at_threshold'))} | {pct(a['success_rate'])} | "
                   f"{pct(1 - a['success_rate'])} |")
    return "\n".join(out) + "\n"


def model_names(select: dict[str, Any]) -> dict[str, str]:
    return {"plain": "hcn, plain", "chosen": f"hcn, {select['chosen']} (chosen by the rule)",
            "guarded": "hcn, plain + pooled detector (guard)"}


def plot_budget(root: Path, out: Path) -> None:
    """PGD success against its l∞ budget, one curve per model, as a PNG."""
    names = model_names(read(root / "select.json"))
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    for m in MODELS:
        curve = pgd_budgets(rows_by_name(read(root / "cards" / m / "card.json")))
        ax.plot([100 * e for e, _ in curve], [100 * r["success_rate"] for _, r in curve],
                marker="o", label=names[m])
    ax.set_xscale("log")
    ax.set_xlabel("PGD budget l∞ (cm, 50 steps)")
    ax.set_ylabel("success among attacked (%)")
    ax.set_ylim(0, 105)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folder", help="the defence_msr folder of scripts/real_data.sh")
    root = Path(p.parse_args().folder)
    text = tables(root)
    atomic_write_bytes(root / "table.md", text.encode("utf-8"))
    plot_budget(root, root / "budget.png")
    print(text, end="")


if __name__ == "__main__":
    main()
