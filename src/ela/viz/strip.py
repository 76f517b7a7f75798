"""The paper's Figure 1: sampled frames of a sample, original green and adversarial red.

Row (a) shows the original alone; every further row overlays one attack's adversarial
sequence (red) on the original (green). Written as PNG and as vector PDF / SVG.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from ela.errors import ElaError
from ela.files import atomic_write_bytes
from ela.skeleton import Layout
from ela.viz.projection import default_view, present_persons, project, sequence_points

ORIGINAL = "#1a9641"
ADVERSARIAL = "#d7191c"


def draw_skeleton(ax, uv: np.ndarray, layout: Layout, color: str, width: float = 1.6,
                  size: float = 6.0, zorder: int = 2) -> tuple[LineCollection, object]:
    """Draw (M, V, 2) screen points with the layout's bones; returns (bones, joints) artists."""
    bones = LineCollection(bone_segments(uv, layout), colors=color, linewidths=width, zorder=zorder,
                           capstyle="round")
    ax.add_collection(bones)
    joints = ax.scatter(uv[..., 0].ravel(), uv[..., 1].ravel(), s=size, c=color,
                        zorder=zorder + 1, linewidths=0)
    return bones, joints


def bone_segments(uv: np.ndarray, layout: Layout) -> np.ndarray:
    """(M, V, 2) screen points → (M·E, 2, 2) bone segments."""
    edges = np.asarray(layout.edges, dtype=np.int64).reshape(-1, 2)
    return uv[:, edges].reshape(-1, 2, 2)


def view_limits(*uvs: np.ndarray, margin: float = 0.06) -> tuple[tuple, tuple]:
    """Equal-aspect (xlim, ylim) around all given (..., 2) screen points."""
    pts = np.concatenate([u.reshape(-1, 2) for u in uvs])
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    half = max(float((hi - lo).max()) / 2, 1e-3) * (1 + margin)
    mid = (lo + hi) / 2
    return (mid[0] - half, mid[0] + half), (mid[1] - half, mid[1] + half)


def sample_frames(length: int, count: int = 10) -> np.ndarray:
    """`count` frame indices spread evenly over `length` frames (fewer if the clip is short)."""
    return np.unique(np.linspace(0, max(int(length), 1) - 1, count).round().astype(np.int64))


def plot_strip(clean: np.ndarray, adversarial: Sequence[np.ndarray] | np.ndarray,
               length: int, layout: Layout, out: str | Path,
               row_titles: Sequence[str] | None = None, title: str | None = None,
               frames: int = 10, formats: Sequence[str] = ("png", "pdf", "svg"),
               dpi: int = 150) -> list[Path]:
    """Write the strip of `frames` sampled frames; returns the written files.

    clean: (C, T, V, M) original sample (metres, up axis of `layout`); adversarial: one
    such array or a list of them (one row each, e.g. C&W, SMART, ELA); length: valid frames.
    `out` is the file name without suffix; one file per entry of `formats`.
    """
    advs = [adversarial] if isinstance(adversarial, np.ndarray) else list(adversarial)
    for a in advs:
        if a.shape != clean.shape:
            raise ElaError(f"adversarial sample {a.shape} does not match original {clean.shape}")
    names = list(row_titles) if row_titles is not None else ["adversarial"] * len(advs)
    if len(names) != len(advs):
        raise ElaError(f"{len(names)} row titles for {len(advs)} adversarial rows")
    persons = present_persons(clean, length)
    pts = sequence_points(clean, length, layout.up_axis, persons)
    view = default_view(pts, layout)
    orig_uv = project(pts, *view)
    adv_uv = [project(sequence_points(a, length, layout.up_axis, persons), *view)
              for a in advs]
    xlim, ylim = view_limits(orig_uv, *adv_uv)
    picks = sample_frames(pts.shape[0], frames)

    rows = 1 + len(advs)
    fig = Figure(figsize=(1.25 * len(picks) + 0.6, 1.9 * rows + (0.35 if title else 0)))
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, len(picks), squeeze=False)
    labels = ["(a) original"] + [f"({chr(ord('b') + i)}) {n}" for i, n in enumerate(names)]
    for r in range(rows):
        for c, t in enumerate(picks):
            ax = axes[r, c]
            draw_skeleton(ax, orig_uv[t], layout, ORIGINAL, zorder=2)
            if r > 0:
                draw_skeleton(ax, adv_uv[r - 1][t], layout, ADVERSARIAL, width=1.1, size=4,
                              zorder=4)
            ax.set_xlim(*xlim)
            ax.set_ylim(*ylim)
            ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_yticks([])
            for side in ax.spines.values():
                side.set_visible(False)
            if r == rows - 1:
                ax.set_xlabel(f"frame {t + 1}", fontsize=7)
        axes[r, 0].set_ylabel(labels[r], fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.subplots_adjust(left=0.06, right=0.99, bottom=0.08, top=0.9 if title else 0.98,
                        wspace=0.02, hspace=0.08)
    return save_figure(fig, out, formats, dpi)


def save_figure(fig: Figure, out: str | Path, formats: Sequence[str], dpi: int = 150
                ) -> list[Path]:
    """Save `fig` as `out`.<format> for each format (atomically); returns the paths."""
    written = []
    for fmt in formats:
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, dpi=dpi, metadata=_metadata(fmt), bbox_inches="tight",
                    pad_inches=0.05)
        written.append(atomic_write_bytes(Path(f"{out}.{fmt}"), buf.getvalue()))
    return written


def _metadata(fmt: str) -> dict[str, str | None]:
    # No creation dates: the same input gives byte-identical vector files.
    if fmt == "pdf":
        return {"CreationDate": None, "Creator": "ela"}
    if fmt == "svg":
        return {"Date": None, "Creator": "ela"}
    return {"Software": "ela"}
