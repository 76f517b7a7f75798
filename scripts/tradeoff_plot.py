"""ELA's settings as a trade-off curve against the baselines, from a `tune_ela.py --out` file.

Two panels: ΔB/B (the relative measure ELA optimises) against the median l∞ and against l2
(metre measures it does not), one point per setting: ELA's settings (joined in order of
their l∞ in the first panel), the baselines as single marked points. Example:

    .venv/bin/python scripts/tradeoff_plot.py docs/results/tuning/msr_hcn_train.json \\
        --out docs/tradeoff_msr_hcn.png
"""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ela.files import atomic_write_bytes  # noqa: E402

BASELINES = {"cw": ("C&W-L2", "s", "tab:red"), "smart": ("SMART", "^", "tab:orange")}


def label(row: dict) -> str:
    """A short label of an ELA setting: its j and q weights."""
    opts = row["options"]
    return f"j {opts.get('peak_weight', 1):g}, q {opts.get('spread_weight', 100):g}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("tuning", help="JSON written by scripts/tune_ela.py --out")
    p.add_argument("--out", required=True, help="PNG file")
    args = p.parse_args()
    data = json.loads(Path(args.tuning).read_text())
    rows = [r for r in data["rows"] if r["linf_median"] is not None]
    ela = sorted((r for r in rows if r["method"] == "ela"), key=lambda r: r["linf_median"])
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, key, title in ((axes[0], "linf_median", "median l∞ (mm)"),
                           (axes[1], "l2", "l2 (mm/frame)")):
        xs = [1000 * r[key] for r in ela]
        ys = [100 * r["bone_length_change"] for r in ela]
        # joined in order of l∞ on the left; on the right the same order would zigzag
        ax.plot(xs, ys, "o-" if key == "linf_median" else "o", color="tab:blue",
                label="ELA settings")
        for r, x, y in zip(ela, xs, ys, strict=True):
            default = not r["options"]
            ax.annotate(label(r) + (" (default)" if default else ""), (x, y), fontsize=7,
                        xytext=(4, 4), textcoords="offset points",
                        fontweight="bold" if default else "normal")
        for r in rows:
            if r["method"] in BASELINES:
                name, marker, colour = BASELINES[r["method"]]
                ax.plot(1000 * r[key], 100 * r["bone_length_change"], marker, markersize=9,
                        color=colour, label=f"{name} (SR {r['success_rate']:.0%})")
        ax.set_xlabel(title)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("ΔB/B (%)")
    axes[0].legend(fontsize=8)
    fig.suptitle(f"{data['run']}: {data['samples']} training samples, seed {data['seed']}",
                 fontsize=10)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    atomic_write_bytes(args.out, buf.getvalue())
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
