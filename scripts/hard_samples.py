"""Re-attack the hardest samples of an ELA run with other ELA settings.

Takes the `--k` samples with the largest ΔB/B in ``ATTACK_DIR/samples.csv`` (an ``ela
attack`` or ``ela experiment`` cell) and attacks them again, once per setting given as
``key=value[,key=value]`` ELA options, with the same E. Prints SR, ΔB/B per sample and the
means over the successful ones, and the model evaluations. For example, on the grid of
`scripts/real_data.sh runs grid-bandai2`:

    .venv/bin/python scripts/hard_samples.py runs/bandai2_hcn runs/grid_bandai2/bandai2_hcn/ela \
        --data ../shared/data/bandai2 --format bandai --emotion runs/emotion_2s-sstgcn \
        lr=3e-3 steps=6000 lr=1e-2
"""

from __future__ import annotations

import argparse
import ast
import time

import numpy as np
import torch

from ela.attacks import ELA
from ela.data.prepare import read_dataset
from ela.runs.compare import read_samples
from ela.training.checkpoint import load, load_config
from ela.training.run import run_inputs


def _options(text: str) -> dict:
    pairs = (item.split("=", 1) for item in text.split(",") if item)
    return {k: ast.literal_eval(v) for k, v in pairs}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run")
    p.add_argument("attack_dir")
    p.add_argument("settings", nargs="+", help="ELA options, e.g. lr=3e-3 steps=6000")
    p.add_argument("--data", required=True)
    p.add_argument("--format", default=None)
    p.add_argument("--emotion", default=None)
    p.add_argument("--k", type=int, default=8)
    args = p.parse_args()
    torch.set_num_threads(1)
    rows = read_samples(args.attack_dir)
    hard = sorted(rows, key=lambda i: -float(rows[i]["bone_length_change"]))[:args.k]
    print("ΔB/B (%) in", args.attack_dir, [round(100 * float(rows[i]["bone_length_change"]), 1)
                                          for i in hard])
    x, y, lengths, _, _ = run_inputs(args.run, load_config(args.run),
                                     read_dataset(args.data, fmt=args.format), part="all")
    x, y, lengths = x[hard], y[hard], lengths[hard]
    model = load(args.run)
    emotion = load(args.emotion) if args.emotion else None
    for setting in args.settings:
        start = time.perf_counter()
        result = ELA(model, emotion_model=emotion, **_options(setting))(x, y, lengths=lengths)
        ok = result.success.numpy()
        m = {k: v.numpy() for k, v in result.metrics.items()}

        def mean(key: str, m=m, ok=ok) -> float:
            return round(100 * float(m[key][ok].mean()), 2) if ok.any() else float("nan")

        print(f"{setting}: SR {ok.mean():.2f}, ΔB/B {np.round(100 * m['bone_length_change'], 1)}"
              f" mean {mean('bone_length_change')} %, ΔA/A {mean('bone_angle_change')} %, "
              f"ΔS/S {mean('joint_speed_change')} %, evaluations "
              f"{result.evaluations.numpy().tolist()}, {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
