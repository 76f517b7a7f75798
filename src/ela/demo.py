"""`ela demo`: the whole pipeline on the built-in procedural data, in a few minutes on a CPU.

1. generate the demo set (ntu25 actions in four emotional styles) and write it as .npz;
2. train a small HCN action recognizer (label ``action``);
3. train a small CNN emotion recognizer on the same motions mapped to the gait16 layout
   (label ``emotion``) — the emotion model E of the attack (a CNN is cheap to back-propagate
   through at every attack step);
4. attack the HCN with ELA (emotion loss through E) and with C&W-L2 on test samples;
5. print and write the ELA-vs-C&W table;
6. write the pictures (strips, GIFs, confusion matrices) and the HTML report, print paths;
   the strip shows a typical ELA success (the one whose ΔB/B is closest to the median).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from ela.data.demo import demo_dataset
from ela.files import atomic_write_bytes
from ela.io import write_npz
from ela.io.mapping import map_set
from ela.runs.attack import run_attack
from ela.runs.compare import common_success
from ela.runs.experiment import COMMON_COLUMNS, markdown_table
from ela.runs.job import AttackJob
from ela.training.loop import TrainConfig
from ela.training.run import run_training
from ela.viz import write_report


def run_demo(out: Path, quick: bool = False, seed: int = 0) -> dict[str, dict]:
    """Run the demo into folder `out`; returns the attack summaries by method."""
    out.mkdir(parents=True, exist_ok=True)
    data = demo_dataset(n_per_class=4 if quick else 8, frames=48, seed=seed)
    data_path = write_npz(data, out / "demo_data.npz")
    summary = data.summary()
    print(f"demo data: {summary['samples']} samples, layout {summary['layout']}, "
          f"labels {json.dumps(summary['labels'])} -> {data_path}")

    # The action model trains briefly on purpose: on these clean procedural motions a long
    # run reaches logit margins far beyond those of models trained on real data, and the
    # attack table then says more about the margins than about the attacks.
    epochs = 15 if quick else 40
    action_epochs = 15 if quick else 20
    action_run = out / "action_hcn"
    metrics = run_training(
        data, "hcn", "action", action_run, model_cfg={"width": 0.25}, frames=32,
        split="holdout", train_config=TrainConfig(epochs=action_epochs, weight_decay=1e-4),
        seed=seed, augment="rotate:10", progress=False, log=lambda _: None)
    print(f"action model hcn: test accuracy {metrics['accuracy']:.3f} "
          f"(chance {1 / len(metrics['classes']):.3f}) -> {action_run}")

    gait = map_set(data, "gait16")
    emotion_run = out / "emotion_cnn"
    metrics = run_training(
        gait, "cnn", "emotion", emotion_run, model_cfg={"channels": [16, 32, 64, 64]},
        frames=32,
        split="holdout", train_config=TrainConfig(epochs=epochs, weight_decay=1e-4),
        seed=seed, progress=False, log=lambda _: None)
    print(f"emotion model cnn (gait16): test UAR {metrics['uar']:.3f} "
          f"(chance {1 / len(metrics['classes']):.3f}) -> {emotion_run}")

    samples = 8 if quick else 16
    summaries = {}
    for method, label in (("ela", "ELA (defaults, emotion term)"), ("cw", "C&W-L2")):
        job = AttackJob.from_flags(action_run, method, out / f"attack_{method}",
                                   iters=300 if quick and method == "ela" else None,
                                   emotion=emotion_run, samples=samples, seed=seed)
        summaries[label] = run_attack(job, data)
    attacked = next(iter(summaries.values()))["n"]
    _, common = common_success([out / "attack_ela", out / "attack_cw"])
    table = (f"ELA vs C&W on {attacked} demo test samples (hcn), each over what it fooled:\n\n"
             + markdown_table(list(summaries.items()), first="method")
             + f"\n\nThe same over the {common[0]['n']} samples both fooled (equal success):\n\n"
             + markdown_table(list(zip(summaries, common, strict=True)), first="method",
                              columns=COMMON_COLUMNS))
    atomic_write_bytes(out / "attack_table.md", (table + "\n").encode("utf-8"))
    print(f"\n{table}\nwritten to {out / 'attack_table.md'}")
    row, name, change, count = typical_success(out / "attack_ela")
    pictures = write_report([action_run, emotion_run, out / "attack_ela", out / "attack_cw"],
                            out / "report.html", row=row)
    print(f"strip: sample {name}, a typical ELA success — its ΔB/B, {100 * change:.2f} %, is "
          f"the median of ELA's {count} successes; top row the clean motion, below it the "
          "adversarial ones (ELA, and C&W where it succeeded)")
    print("pictures and report:\n" + "\n".join(f"  {p}" for p in pictures))
    return summaries


def typical_success(attack_dir: Path) -> tuple[int, str, float, int]:
    """(row of adversarial.npz, sample name, its ΔB/B, number of successes): the median
    success of an attack folder by ΔB/B (the lower middle one for an even count)."""
    with (attack_dir / "samples.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    won = [(r, row) for r, row in enumerate(rows) if row["success"] == "True"] or \
        list(enumerate(rows))
    won.sort(key=lambda item: float(item[1]["bone_length_change"]))
    r, row = won[(len(won) - 1) // 2]
    return r, row["name"], float(row["bone_length_change"]), len(won)
