"""The robustness plot: robust accuracy vs budget ε for ΔB/B, l2 and l∞, one curve per
attack folder (model), from the result of `ela.runs.robustness.robustness_curves`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ela.viz.strip import save_figure


def curve_points(changes: Sequence[float], n: int, right: float) -> tuple[np.ndarray, np.ndarray]:
    """Step points (ε, robust accuracy) of one curve: `changes` are the sorted finite
    changes of the fooled samples, `n` the samples counted (the never fooled included),
    `right` the last ε drawn. Accuracy at ε is the share of changes > ε."""
    c = np.asarray(changes, dtype=np.float64)
    eps = np.concatenate([[0.0], c, [max(right, float(c[-1]) if len(c) else 0.0)]])
    return eps, (n - np.searchsorted(c, eps, side="right")) / n


def plot_robustness(result: dict[str, Any], out: str | Path, formats: Sequence[str] = ("png",),
                    dpi: int = 150) -> list[Path]:
    """Write the plot as `out`.<format>: one panel per measure, one step curve per attack
    folder; x in the display unit of each measure (%, mm). Returns the paths."""
    measures = result["measures"]
    curves = result["curves"]
    fig = Figure(figsize=(4.2 * len(measures), 3.6))
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(measures), squeeze=False)[0]
    for ax, (key, m) in zip(axes, measures.items(), strict=True):
        right = 1.05 * max((max(c["changes"][key], default=0.0) for c in curves), default=0.0)
        for c in curves:
            if c["n"][key] == 0:
                continue
            eps, acc = curve_points(c["changes"][key], c["n"][key], right)
            ax.step(eps * m["scale"], 100 * acc, where="post",
                    label=f"{c['label']} ({c['method']} on {c['model']})")
        ax.set_xlabel(f"budget ε: {m['label']} ({m['unit']})")
        ax.set_ylim(-2, 102)
        ax.set_xlim(left=0)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("robust accuracy (%) of the attacked samples")
    axes[-1].legend(fontsize=7, loc="lower left")
    fig.suptitle("Robust accuracy vs ε — upper bounds: an attack's found minimum is an upper "
                 "bound on the true minimal perturbation", fontsize=9)
    fig.subplots_adjust(left=0.06, right=0.99, bottom=0.16, top=0.88, wspace=0.22)
    return save_figure(fig, out, formats, dpi)
