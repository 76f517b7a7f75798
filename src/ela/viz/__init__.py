"""Pictures of skeleton attacks and training runs: Figure-1 strips, animations, confusion
matrices and a self-contained interactive HTML report (`ela report`)."""

from ela.viz.animate import animate_sample, ffmpeg_available
from ela.viz.confusion import plot_confusion
from ela.viz.load import AttackOutput, TrainingOutput, find_outputs, load_attack, load_training
from ela.viz.projection import camera_axes, default_view, project, sequence_points
from ela.viz.report import attack_figures, build_html, write_html, write_report
from ela.viz.strip import plot_strip

__all__ = [
    "AttackOutput", "TrainingOutput", "animate_sample", "attack_figures", "build_html",
    "camera_axes", "default_view", "ffmpeg_available", "find_outputs", "load_attack",
    "load_training", "plot_confusion", "plot_strip", "project", "sequence_points",
    "write_html", "write_report",
]
