"""Confusion matrix pictures of training runs (row-normalised colours, counts written in)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ela.errors import ElaError
from ela.viz.strip import save_figure


def row_normalise(confusion: np.ndarray) -> np.ndarray:
    """(C, C) counts → share of each true class (row) predicted as each class; 0 rows stay 0."""
    cm = np.asarray(confusion, dtype=np.float64)
    totals = cm.sum(axis=1, keepdims=True)
    return np.divide(cm, totals, out=np.zeros_like(cm), where=totals > 0)


def plot_confusion(confusion: np.ndarray, classes: Sequence[str], out: str | Path,
                   title: str | None = None, formats: Sequence[str] = ("png",),
                   dpi: int = 150) -> list[Path]:
    """Write the confusion matrix (rows = true class) as `out`.<format>; returns the paths.

    Cells are coloured by the row share (the class's recall on the diagonal) and show the
    count; the y labels carry each class's recall.
    """
    cm = np.asarray(confusion, dtype=np.int64)
    c = len(classes)
    if cm.shape != (c, c):
        raise ElaError(f"confusion matrix {cm.shape} does not match {c} classes")
    share = row_normalise(cm)
    size = min(max(3.2, 0.42 * c + 2.2), 16)
    fig = Figure(figsize=(size + 0.8, size))
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of true class")
    font = 8 if c <= 12 else 6 if c <= 25 else 4
    rows, cols = np.nonzero(cm)
    for i, j in zip(rows, cols, strict=True):
        ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=font,
                color="white" if share[i, j] > 0.6 else "black")
    recall = np.diag(share)
    ax.set_xticks(range(c), labels=list(classes), rotation=60, ha="right", fontsize=font)
    ax.set_yticks(range(c), labels=[f"{n} ({r:.0%})" for n, r in zip(classes, recall,
                                                                     strict=True)],
                  fontsize=font)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true (recall)")
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return save_figure(fig, out, formats, dpi)
