"""Pictures of skeleton attacks and training runs: Figure-1 strips, animations, confusion
matrices, robustness curves and a self-contained interactive HTML report (`ela report`)."""

from ela.viz.animate import animate_sample, ffmpeg_available
from ela.viz.confusion import plot_confusion
from ela.viz.load import (
    AttackOutput,
    CardOutput,
    RobustnessOutput,
    TrainingOutput,
    TransferOutput,
    find_outputs,
    load_attack,
    load_attacks,
    load_card,
    load_robustness,
    load_training,
    load_transfer,
)
from ela.viz.projection import camera_axes, default_view, project, sequence_points
from ela.viz.report import attack_figures, build_html, write_html, write_report
from ela.viz.robustness import plot_robustness
from ela.viz.strip import plot_strip

__all__ = [
    "AttackOutput", "CardOutput", "RobustnessOutput", "TrainingOutput", "TransferOutput",
    "animate_sample", "attack_figures", "build_html", "camera_axes", "default_view",
    "ffmpeg_available", "find_outputs", "load_attack", "load_attacks", "load_card",
    "load_robustness", "load_training",
    "load_transfer", "plot_confusion", "plot_robustness", "plot_strip", "project",
    "sequence_points", "write_html", "write_report",
]
