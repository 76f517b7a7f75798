"""ELA against its baselines, and its emotion-weight trade-off, over several action runs.

For every run folder: ELA with its defaults, ELA without the emotion term, C&W-L2, SMART and
ELA at each extra emotion weight (`--weights`), all on the same `--samples` test samples,
each an `ela attack` output folder under ``OUT/<run name>/<cell>`` (a cell whose
summary.json exists is not run again, so the grid resumes). Writes ``OUT/tables.md``:

1. each cell's summary (SR, ΔB/B, ΔA/A, the paper's ΔA/A measure, ΔS/S with still joints,
   still-joint p99 speed, l2, emotion consistency, median evaluations);
2. ELA, ELA without emotion, C&W and SMART averaged over the samples all four fooled
   (equal success), with ELA's ratio to the better baseline on each metric;
3. the emotion-weight trade-off (weight vs ΔB/B and emotion consistency) and its plot
   ``OUT/emotion_tradeoff.png``.

    .venv/bin/python scripts/attack_grid.py runs/bandai2_hcn runs/bandai2_sgn \\
        --data ../shared/data/bandai2 --format bandai --emotion runs/emotion_cnn \\
        --weights 0.3,3,10 --out attacks/bandai2_grid
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import torch

from ela.data.prepare import read_dataset
from ela.files import atomic_write_bytes
from ela.runs.attack import run_attack
from ela.runs.compare import common_success
from ela.runs.experiment import COLUMNS, COMMON_COLUMNS, markdown_table
from ela.runs.job import AttackJob
from ela.runs.results import load_summary
from ela.training.checkpoint import load_config

BASE = ("ela", "ela_noemo", "cw", "smart")
NAMES = {"ela": "ELA", "ela_noemo": "ELA without emotion term", "cw": "C&W-L2",
         "smart": "SMART"}
RATIO_KEYS = (("ΔB/B", "bone_length_change"), ("ΔA/A", "bone_angle_change"),
              ("ΔS/S", "joint_speed_change"))


def cells(weights: list[float]) -> dict[str, dict[str, Any]]:
    """Cell name → `AttackJob.from_flags` keywords."""
    out: dict[str, dict[str, Any]] = {
        "ela": {"method": "ela"},
        "ela_noemo": {"method": "ela", "emotion_loss": False},
        "cw": {"method": "cw"},
        "smart": {"method": "smart"},
    }
    for w in weights:
        out[f"ela_w{w:g}"] = {"method": "ela", "cfg": {"emotion_weight": w}}
    return out


def ratio_rows(run: str, summaries: list[dict[str, Any]]) -> str:
    """ELA's metric ÷ the better (lower) of C&W and SMART, at equal success."""
    ela, _, cw, smart = summaries
    parts = []
    for label, key in RATIO_KEYS:
        if ela.get(key) is None or cw.get(key) is None or smart.get(key) is None:
            parts.append(f"{label} –")
            continue
        best = min(cw[key], smart[key])
        parts.append(f"{label} {ela[key] / best:.2f}" if best > 0 else f"{label} –")
    return f"- {run}: ELA ÷ best baseline: " + ", ".join(parts)


def tradeoff_plot(points: dict[str, list[tuple[float, float, float]]], path: Path) -> None:
    """Emotion weight vs ΔB/B (left) and emotion consistency (right), one line per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
    for run, rows in points.items():
        rows = sorted(rows)
        w = [max(r[0], 0.03) for r in rows]  # weight 0 drawn at the left edge of a log axis
        ax1.plot(w, [100 * r[1] for r in rows], marker="o", label=run)
        ax2.plot(w, [100 * r[2] for r in rows], marker="o", label=run)
    for ax, ylabel in ((ax1, "ΔB/B (%)"), (ax2, "emotion consistency (%)")):
        ax.set_xscale("log")
        ax.set_xlabel("emotion weight (0 drawn at 0.03)")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", help="action run folders")
    p.add_argument("--data", required=True)
    p.add_argument("--format", default=None)
    p.add_argument("--emotion", required=True, help="emotion run folder (E)")
    p.add_argument("--weights", default="", help="extra emotion weights, e.g. 0.3,3,10")
    p.add_argument("--samples", type=int, default=32)
    p.add_argument("--steps", type=int, default=None,
                   help="budget of gradient steps per sample for every method (default: "
                        "each attack's own)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", required=True)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    weights = [float(w) for w in args.weights.split(",") if w]
    data = read_dataset(args.data, fmt=args.format)
    emotion_name = load_config(args.emotion)["model"]["name"]
    summary_rows, common_rows, ratios = [], [], []
    trade: dict[str, list[tuple[float, float, float]]] = {}
    for run in args.runs:
        name = Path(run).name
        folders = {}
        for cell, kw in cells(weights).items():
            folder = out / name / cell
            if not (folder / "summary.json").is_file():
                print(f"== {name} / {cell}", flush=True)
                job = AttackJob.from_flags(run, out=folder, emotion=args.emotion,
                                           samples=args.samples, seed=args.seed,
                                           device=args.device, batch_size=args.batch_size,
                                           iters=args.steps, **kw)
                run_attack(job, data, progress=False)
            folders[cell] = folder
            summary_rows.append((f"{name}, {cell}", load_summary(folder)))
        _, common = common_success([folders[c] for c in BASE])
        common_rows += [(f"{name}, {NAMES[c]}", s) for c, s in zip(BASE, common, strict=True)]
        ratios.append(ratio_rows(name, common))
        default_weight = load_summary(folders["ela"])["options"].get("emotion_weight", 1.0)
        trade[name] = [(0.0 if c == "ela_noemo" else
                        float(load_summary(f)["options"].get("emotion_weight", default_weight)),
                        load_summary(f)["bone_length_change"] or float("nan"),
                        load_summary(f)["emotion_consistency"] or float("nan"))
                       for c, f in folders.items() if c.startswith("ela")]
    trade_rows = [(f"{run}, weight {w:g}", {"bone_length_change": b, "emotion_consistency": e})
                  for run, rows in trade.items() for w, b, e in sorted(rows)]
    text = (f"# Attack grid on {data.source} (E = {emotion_name}, {args.emotion})\n\n"
            f"## Every cell (means over the samples each attack fooled)\n\n"
            f"{markdown_table(summary_rows, columns=COLUMNS)}\n\n"
            f"## At equal success: means over the samples all four attacks fooled\n\n"
            f"{markdown_table(common_rows, columns=COMMON_COLUMNS)}\n\n"
            + "\n".join(ratios) + "\n\n## Emotion weight trade-off\n\n"
            + markdown_table(trade_rows, columns=(("ΔB/B", "bone_length_change"),
                                                  ("emotion kept", "emotion_consistency")))
            + "\n")
    atomic_write_bytes(out / "tables.md", text.encode("utf-8"))
    tradeoff_plot(trade, out / "emotion_tradeoff.png")
    print(text)


if __name__ == "__main__":
    main()
