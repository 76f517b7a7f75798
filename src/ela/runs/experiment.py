"""The paper's experiment grid over trained action models, written as Markdown tables.

Table 1: ELA untargeted for every γ and model. Table 2: ELA targeted to one class (ELA's
defaults). Table 3: ELA with and without the emotion loss. Table 4: C&W-L2 and SMART beside
ELA; Table 5: the same four attacks (ELA, ELA without emotion loss, C&W, SMART) averaged
over the samples all four fooled (`ela.runs.compare`), i.e. at equal success rate. Every
cell is one `run_attack` output folder under `out/`; a cell whose ``summary.json`` exists
for the same data is not run again, so an interrupted grid resumes (a cell computed on other
data is an error, or is redone with `overwrite`). `iters` is every method's budget of
gradient steps per sample (`steps`).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

from ela.data.fingerprint import data_fingerprint, same_data
from ela.files import atomic_write_bytes
from ela.io.base import SkeletonSet
from ela.runs.attack import Backend, run_attack
from ela.runs.compare import common_success
from ela.runs.job import AttackJob
from ela.runs.results import load_summary
from ela.training.checkpoint import load_config

METHODS = ("ela", "cw", "smart")
"""The attacks of the grid's cells."""

COLUMNS = (("SR", "success_rate"), ("ΔB/B", "bone_length_change"),
           ("ΔA/A", "bone_angle_change"), ("ΔA/A (paper's measure)", "bone_angle_change_paper"),
           ("bone turn (°)", "bone_turn"), ("largest bone turn (°)", "bone_turn_max"),
           ("centre shift (mm)", "centre_shift"),
           ("ΔS/S", "joint_speed_change"), ("still joints p99 (mm/frame)",
                                             "still_joint_speed_p99_mm"),
           ("l2", "l2"), ("l∞ (mm)", "linf"), ("Δacc", "acceleration_change"),
           ("emotion kept", "emotion_consistency"),
           ("evals/sample (median)", "model_evaluations_median"))


def _pct(v: Any) -> str:
    return "–" if v is None else f"{100 * v:.2f} %"


def _cell(key: str, v: Any) -> str:
    if v is None:
        return "–"
    if key in ("l2", "acceleration_change"):
        return f"{v:.4f}"
    if key in ("model_evaluations_per_sample", "model_evaluations_median", "n"):
        return f"{v:.0f}"
    if key in ("bone_turn", "bone_turn_max"):  # radians → degrees
        return f"{math.degrees(v):.2f}"
    if key in ("centre_shift", "linf"):  # metres → mm
        return f"{1000 * v:.1f}"
    if key == "still_joint_speed_p99_mm":
        return f"{v:.1f}"
    if key == "still_joint_speed":  # metres/frame per sample → mm/frame
        return f"{1000 * v:.1f}"
    return _pct(v)


COMMON_COLUMNS = (("n fooled by all", "n"), *(c for c in COLUMNS if c[1] in (
    "bone_length_change", "bone_angle_change", "bone_angle_change_paper", "bone_turn",
    "bone_turn_max", "centre_shift", "joint_speed_change", "l2", "linf", "acceleration_change",
    "emotion_consistency")),
    ("largest still-joint speed (mm/frame, mean)", "still_joint_speed"))


def markdown_table(rows: list[tuple[str, dict[str, Any]]], first: str = "setting",
                   columns: tuple[tuple[str, str], ...] = COLUMNS) -> str:
    """A Markdown table: one row per (name, summary), the paper's columns."""
    head = f"| {first} | " + " | ".join(c for c, _ in columns) + " |"
    rule = "|" + "---|" * (len(columns) + 1)
    body = [f"| {name} | " + " | ".join(_cell(k, s.get(k)) for _, k in columns) + " |"
            for name, s in rows]
    return "\n".join([head, rule, *body])


def run_paper_experiment(data: SkeletonSet, runs: list[str], out: str | Path,
                         emotion: str | None = None, label: str | None = None,
                         samples: int | None = None, seed: int = 0, device: str = "auto",
                         target: str | None = None, iters: int | None = None,
                         gammas: list[float] | None = None, batch_size: int = 64,
                         backend: Backend | None = None, overwrite: bool = False) -> str:
    """Run the grid for every action run folder in `runs`; write and return ``tables.md``.

    Every cell is an `AttackJob` run by `run_attack` on `backend` (default: local)."""
    out = Path(out)
    fingerprint = data_fingerprint(data)
    gammas = gammas or [0.1, 1.0, 10.0]
    total = len(runs) * (len(gammas) + 5)  # γ sweep, targeted, ELA, no emotion, C&W, SMART
    seen: set[Path] = set()

    def cell(name: str, run: str, method: str, gamma: float | None = None,
             **kw: Any) -> dict[str, Any]:
        folder = out / Path(run).name / name
        done = load_summary(folder) if (folder / "summary.json").is_file() else None
        reuse = done is not None and same_data(done.get("data_fingerprint"), fingerprint,
                                               str(folder), overwrite)
        if folder not in seen:
            seen.add(folder)
            print(f"experiment: cell {len(seen)}/{total} {Path(run).name}/{name}"
                  + (" (done)" if reuse else ""), file=sys.stderr, flush=True)
        if reuse:
            return done
        job = AttackJob.from_flags(run, method, folder, gamma=gamma, iters=iters, label=label,
                                   samples=samples, seed=seed, device=device,
                                   batch_size=batch_size, overwrite=overwrite, **kw)
        return run_attack(job, data, backend, fingerprint=fingerprint)

    sections: dict[str, list[tuple[str, dict[str, Any]]]] = {
        "Table 1 — ELA untargeted, by γ": [], "Table 2 — ELA targeted": [],
        "Table 3 — emotion loss ablation": [],
        "Table 4 — baselines beside ELA": [],
    }
    t1, t2, t3, t4 = sections.values()
    t5: list[tuple[str, dict[str, Any]]] = []
    for run in runs:
        config = load_config(run)
        model = config["model"]["name"]
        for g in gammas:
            t1.append((f"{model}, γ = {g:g}",
                       cell(f"ela_g{g:g}", run, "ela", emotion=emotion, gamma=g)))
        classes = config.get("classes") or []
        goal = target if target is not None else (classes[-1] if classes else "0")
        t2.append((f"{model} → {goal}",
                   cell("ela_targeted", run, "ela", emotion=emotion, target=goal)))
        with_e = cell("ela", run, "ela", emotion=emotion)
        t3.append((f"{model}, with emotion loss", with_e))
        t3.append((f"{model}, without emotion loss",
                   cell("ela_noemo", run, "ela", emotion=emotion, emotion_loss=False)))
        t4.append((f"{model}, ELA", with_e))
        t4.append((f"{model}, C&W", cell("cw", run, "cw", emotion=emotion)))
        t4.append((f"{model}, SMART", cell("smart", run, "smart", emotion=emotion)))
        names = ("ELA", "ELA without emotion loss", "C&W", "SMART")
        folders = [out / Path(run).name / c for c in ("ela", "ela_noemo", "cw", "smart")]
        _, common = common_success(folders)
        t5.extend((f"{model}, {n}", c) for n, c in zip(names, common, strict=True))
    text = f"# Attack experiments on {data.source}\n"
    for title, rows in sections.items():
        text += f"\n## {title}\n\n{markdown_table(rows)}\n"
    text += ("\n## Table 5 — at equal success rate: means over the samples all four attacks "
             f"fooled\n\n{markdown_table(t5, columns=COMMON_COLUMNS)}\n")
    atomic_write_bytes(out / "tables.md", text.encode("utf-8"))
    return text
