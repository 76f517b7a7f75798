"""Animations of one sample: original (green) and adversarial (red), overlaid and side by side.

GIF through Pillow (a matplotlib dependency); MP4 through ffmpeg when it is installed.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
from matplotlib.animation import FFMpegWriter, PillowWriter
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ela.errors import ElaError
from ela.files import atomic_write_bytes
from ela.skeleton import Layout
from ela.viz.projection import default_view, present_persons, project, sequence_points
from ela.viz.strip import ADVERSARIAL, ORIGINAL, bone_segments, draw_skeleton, view_limits


def ffmpeg_available() -> bool:
    """Whether an ``ffmpeg`` executable is on the PATH (needed for MP4)."""
    return shutil.which("ffmpeg") is not None


def animate_sample(clean: np.ndarray, adversarial: np.ndarray, length: int, layout: Layout,
                   out: str | Path, fps: float = 15.0, title: str | None = None,
                   dpi: int = 80) -> Path:
    """Write an animation of the sample to `out` (.gif or .mp4); returns the written path.

    clean, adversarial: (C, T, V, M) metres; length: valid frames. Left panel: both
    overlaid; middle: original; right: adversarial. An .mp4 needs ffmpeg; without it the
    GIF is written next to it instead (the returned path says which).
    """
    out = Path(out)
    if out.suffix.lower() not in (".gif", ".mp4"):
        raise ElaError(f"{out}: animations are written as .gif or .mp4")
    if out.suffix.lower() == ".mp4" and not ffmpeg_available():
        out = out.with_suffix(".gif")
    persons = present_persons(clean, length)
    pts = sequence_points(clean, length, layout.up_axis, persons)
    view = default_view(pts, layout)
    orig = project(pts, *view)
    adv = project(sequence_points(adversarial, length, layout.up_axis, persons), *view)
    xlim, ylim = view_limits(orig, adv)

    fig = Figure(figsize=(7.5, 2.9 + (0.3 if title else 0)))
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 3)
    panels = [(axes[0], "overlay", [(orig, ORIGINAL), (adv, ADVERSARIAL)]),
              (axes[1], "original", [(orig, ORIGINAL)]),
              (axes[2], "adversarial", [(adv, ADVERSARIAL)])]
    artists = []
    for ax, name, layers in panels:
        for uv, color in layers:
            artists.append((uv, *draw_skeleton(ax, uv[0], layout, color)))
        ax.set_xlim(*xlim)
        ax.set_ylim(*ylim)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(name, fontsize=9)
    label = fig.text(0.5, 0.02, "", ha="center", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.08, top=0.84 if title else 0.9,
                        wspace=0.04)

    writer = (FFMpegWriter if out.suffix.lower() == ".mp4" else PillowWriter)(fps=fps)
    with tempfile.TemporaryDirectory(dir=out.parent if out.parent.exists() else None) as tmp:
        scratch = Path(tmp) / out.name
        with writer.saving(fig, str(scratch), dpi):
            for t in range(pts.shape[0]):
                for uv, bones, joints in artists:
                    bones.set_segments(bone_segments(uv[t], layout))
                    joints.set_offsets(uv[t].reshape(-1, 2))
                label.set_text(f"frame {t + 1}/{pts.shape[0]}")
                writer.grab_frame()
        return atomic_write_bytes(out, scratch.read_bytes())
