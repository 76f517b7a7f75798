"""The defence tables of docs/robustness.md from a `scripts/real_data.sh defence-msr` folder.

Reads the model cards ``ROOT/cards/MODEL/card.json`` (`ela card`; MODEL in `MODELS`, those
present), the choices ``ROOT/select.json``, ``ROOT/select_sgn.json`` and
``ROOT/select_kfold.json`` (`scripts/select_defence.py`), the transfer scores
``ROOT/{transfer,transfer_kfold,transfer_sgn}/transfer.json`` (`ela eval DEFENDED
--adversarial` on its plain model's test attacks) and writes ``ROOT/table.md`` (printed
too) and ``ROOT/budget.png``:

1. per model (hcn plain, the chosen defence, the grouped k-fold judge's choice where
   ``defence-kfold`` attacked it, the plain model guarded by the pooled
   detector and by feature squeezing; sgn plain, with its chosen defence and guarded by
   feature squeezing): clean
   accuracy, ELA's success and median ΔB/B to fool (× its plain model), C&W's median l∞ to
   fool, robust accuracy at l∞ 2 cm under PGD, APGD and the worst case of all the card's
   attacks per sample (× plain), transfer success of the plain model's attacks; every
   attack is white-box on what it attacks (the guard included: adaptive);
2. budget curves: PGD (50 fixed steps of ε/4) and APGD (100 steps, adaptive step size)
   success among the attacked samples at each l∞ budget, per model (a defence that masks
   gradients would stay below 100 % as the budget grows);
3. detection, per guard: its catch rate at its threshold on the non-adaptive test attacks
   (the ``detection`` of its card), against the share of attacked samples the adaptive
   attack does not get past.

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

MODELS = ("plain", "chosen", "kfold_chosen", "guarded", "squeezed", "sgn_plain", "sgn_chosen",
          "sgn_squeezed")
"""Card folders, in table order; a model's "× plain" is against the plain model of its
architecture (the sgn_ ones against sgn_plain)."""
CURVES = ("pgd", "apgd")
#: guarded model card -> (architecture, the guard's name): that architecture's plain model guarded
GUARDS = {"guarded": ("hcn", "pooled detector"), "squeezed": ("hcn", "feature squeezing"),
          "sgn_squeezed": ("sgn", "feature squeezing")}
#: defended model -> folder of `ela eval` on its plain model's ELA / C&W / PGD 2 cm attacks
TRANSFER = {"chosen": "transfer", "kfold_chosen": "transfer_kfold", "sgn_chosen": "transfer_sgn"}


def read(path: Path) -> Any:
    return json.loads(path.read_text()) if path.is_file() else None


def pct(v: float | None, digits: int = 1) -> str:
    return "–" if v is None else f"{100 * v:.{digits}f} %"


def times(v: float | None, base: float | None) -> str:
    if v is None or base is None:
        return ""
    return f" ({v / base:.2f}×)" if base else " (plain: 0)" if v else ""


def rows_by_name(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {Path(a["folder"]).name: a for a in card["attacks"]}


def budgets(rows: dict[str, dict[str, Any]],
            method: str = "pgd") -> list[tuple[float, dict[str, Any]]]:
    """(ε in metres, card row) of the `method`_ε attack folders, by ε."""
    return sorted((float(n.removeprefix(f"{method}_")), r) for n, r in rows.items()
                  if n.startswith(f"{method}_"))


def plain_of(model: str) -> str:
    return "sgn_plain" if model.startswith("sgn_") else "plain"


def tables(root: Path) -> str:
    """The three tables (Markdown) from the small files of a defence folder."""
    cards = {m: c for m in MODELS if (c := read(root / "cards" / m / "card.json"))}
    rows = {m: rows_by_name(c) for m, c in cards.items()}
    names = model_names(root)

    def clean(m: str) -> float:
        return rows[m]["ela"]["clean_accuracy_guarded"]  # flagged clean sequences: refused

    def robust_2cm(m: str, method: str) -> float | None:
        if method == "worst":  # per sample: fooled by any of the card's attacks within 2 cm
            return cards[m].get("worst_case", {}).get("linf", {}).get("0.02")
        row = rows[m].get(f"{method}_0.02")
        return None if row is None else row["robust_accuracy"]["linf"]["0.02"]

    def dbb(m: str) -> float | None:
        return rows[m]["ela"]["median_to_fool"]["bone_length_change"]

    def moved(m: str) -> list[float]:
        transfer = read(root / TRANSFER.get(m, "-") / "transfer.json")
        return [c["transfer_success"] for c in transfer["cells"]] if transfer else []

    out = ["| model | clean accuracy | ELA success | ELA median ΔB/B to fool (× plain) | "
           "C&W median l∞ to fool | robust accuracy at l∞ 2 cm: PGD / APGD / worst case "
           "of all attacks (× plain) | "
           "transfer success of the plain model's ELA / C&W / PGD 2 cm |",
           "|---|---|---|---|---|---|---|"]
    for m, r in rows.items():
        base = plain_of(m)
        linf = r["cw"]["median_to_fool"]["linf"]
        robust = " / ".join(f"{pct(robust_2cm(m, a))}{times(robust_2cm(m, a), robust_2cm(base, a))}"
                            for a in (*CURVES, "worst"))
        tr = (" / ".join(pct(v) for v in transferred) if (transferred := moved(m))
              else "white-box" if m == base else "–")
        out.append(f"| {names[m]} | {pct(clean(m))} | {pct(r['ela']['success_rate'])} | "
                   f"{pct(dbb(m), 2)}{times(dbb(m), dbb(base))} | "
                   f"{'∞' if linf is None else f'{100 * linf:.1f} cm'} | {robust} | {tr} |")
    eps = [e for e, _ in budgets(rows["plain"])]
    out += ["", "| success at l∞ (cm) | " + " | ".join(f"{100 * e:g}" for e in eps) + " |",
            "|---" * (len(eps) + 1) + "|"]
    out += [f"| {names[m]}, {method.upper()} | "
            + " | ".join(pct(r["success_rate"]) for _, r in budgets(rows[m], method)) + " |"
            for m in rows for method in CURVES if budgets(rows[m], method)]
    out += ["", "| guard | attack | caught by the guard (non-adaptive) | clean test sequences "
            "flagged | adaptive attack: success (fooled and not flagged) | stopped by the "
            "guard |", "|---|---|---|---|---|---|"]
    for guard in (g for g in GUARDS if g in rows):
        detect = cards[guard].get("detection", {})
        for method, key in (("ela", "ela"), ("cw", "cw"), ("pgd", "pgd_0.02")):
            d, a = detect.get(method, {}), rows[guard][key]
            out.append(f"| {', '.join(GUARDS[guard])} | {method} | "
                       f"{pct(d.get('caught_at_threshold'))} | "
                       f"{pct(d.get('false_alarms_at_threshold'))} | "
                       f"{pct(a['success_rate'])} | {pct(1 - a['success_rate'])} |")
    return "\n".join(out) + "\n"


def model_names(root: Path) -> dict[str, str]:
    hcn, sgn = (read(root / f"{stem}.json")["chosen"] for stem in ("select", "select_sgn"))
    names = {"plain": "hcn, plain", "chosen": f"hcn, {hcn} (chosen by the rule)",
             **{g: f"{arch}, plain + {name} (guard)" for g, (arch, name) in GUARDS.items()},
             "sgn_plain": "sgn, plain",
             "sgn_chosen": f"sgn, {sgn} (chosen by the rule)"}
    if kfold := read(root / "select_kfold.json"):  # its card exists only after defence-kfold
        names["kfold_chosen"] = f"hcn, {kfold['chosen']} (the k-fold judge's choice)"
    return names


def plot_budget(root: Path, out: Path) -> None:
    """PGD (dashed) and APGD (solid) success against the l∞ budget, per model, as a PNG."""
    names = model_names(root)
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    for i, m in enumerate(MODELS):
        card = read(root / "cards" / m / "card.json")
        if card is None:
            continue
        for method, style in zip(CURVES, ("--", "-"), strict=True):
            curve = budgets(rows_by_name(card), method)
            if curve:
                label = f"{names[m].replace('`', '')}, {method.upper()}"
                ax.plot([100 * e for e, _ in curve], [100 * r["success_rate"] for _, r in curve],
                        style, marker="o", color=f"C{i}", label=label)
    ax.set_xscale("log")
    ax.set_xlabel("budget l∞ (cm); PGD 50 steps, APGD 100 steps")
    ax.set_ylabel("success among attacked (%)")
    ax.set_ylim(0, 105)
    ax.legend(fontsize=6)
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
