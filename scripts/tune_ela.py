"""Compare attack settings on samples of a run's TRAINING part (never its test part).

ELA's defaults are chosen with this script, so that the test samples docs/results.md reports
stay unseen while tuning. Each setting is ``method[:key=value,key=value]`` (options as
`ela attack --cfg` takes them); every setting attacks the same `--samples` training samples
that the model classifies correctly (seeded choice) and prints one row: success, ΔB/B,
ΔA/A (ours and the paper's measure), bone turn (degrees), l2 and acceleration change (mm),
median l∞ (mm), ΔS/S (still joints counted), still-joint motion p99 (mm/frame), emotion
consistency, and the model evaluations per sample (median, p90). Example:

    .venv/bin/python scripts/tune_ela.py runs/msr_hcn --data ../shared/data/msr_action3d \\
        --format msr --emotion runs/emotion_cnn ela ela:lr=3e-3,lr_decay=0.95 cw smart
"""

from __future__ import annotations

import argparse
import ast
import math
import re
import time

import numpy as np
import torch

from ela.attacks import ATTACKS, summarize
from ela.data.prepare import read_dataset
from ela.files import atomic_write_json
from ela.runs.select import select_samples
from ela.training.checkpoint import load, load_config
from ela.training.run import run_inputs


def parse_setting(text: str) -> tuple[str, dict]:
    """``"ela:lr=3e-3,steps=1000"`` → ("ela", {"lr": 0.003, "steps": 1000}); a value in
    brackets keeps its commas (``weights=(1,1,10)``)."""
    method, _, rest = text.partition(":")
    opts = {}
    for item in filter(None, re.split(r",(?![^([]*[)\]])", rest)):
        key, _, value = item.partition("=")
        try:
            opts[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            opts[key] = value
    return method, opts


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run")
    p.add_argument("settings", nargs="+", help="method[:key=value,...]")
    p.add_argument("--data", required=True)
    p.add_argument("--format", default=None)
    p.add_argument("--emotion", default=None, help="E for ELA and the emotion consistency")
    p.add_argument("--samples", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", default=None,
                   help="JSON file for the rows (each setting's summary, median l∞ and "
                        "largest turn), written after every setting")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    x, y, lengths, train, _ = run_inputs(args.run, load_config(args.run),
                                         read_dataset(args.data, fmt=args.format), part="train")
    model = load(args.run, device=args.device)
    emotion = load(args.emotion, device=args.device) if args.emotion else None

    def fetch(idx: np.ndarray):
        return (x[idx].to(args.device), y[idx].to(args.device), lengths[idx].to(args.device))

    chosen = select_samples(model, fetch, train, args.samples, args.seed, 256)
    xs, ys, ls = fetch(chosen)
    print(f"{args.run}: {len(chosen)} training samples")
    rows: list[dict] = []
    for setting in args.settings:
        method, opts = parse_setting(setting)
        cls = ATTACKS[method]
        attack = cls.build(model, emotion_model=emotion, **opts)
        torch.manual_seed(args.seed)
        start = time.perf_counter()
        result = attack(xs, ys, lengths=ls)
        s = summarize(result, emotion_model=emotion).to_dict()
        ev = result.evaluations.cpu().numpy()

        def pct(key: str, s=s) -> str:
            return "-" if s[key] is None else f"{100 * s[key]:.2f}"

        def mm(key: str, s=s) -> str:
            return "-" if s[key] is None else f"{1000 * s[key]:.1f}"

        p99 = s["still_joint_speed_p99_mm"]
        linf = result.metrics["linf"][result.success].cpu().numpy()
        turn = "-" if s["bone_turn"] is None else f"{math.degrees(s['bone_turn']):.2f}°"
        top = result.metrics["bone_turn_max"][result.success].cpu().numpy()
        top = "-" if not len(top) else f"{math.degrees(float(np.median(top))):.0f}°"
        print(f"{setting:48s} SR {s['success_rate']:.2f}  ΔB/B {pct('bone_length_change')}  "
              f"ΔA/A {pct('bone_angle_change')}  paperΔA {pct('bone_angle_change_paper')}  "
              f"turn {turn} (largest {top})  shift {mm('centre_shift')} mm  l2 {mm('l2')} mm  "
              f"l∞ median "
              f"{'-' if not len(linf) else f'{1000 * np.median(linf):.0f}'} mm  "
              f"Δacc {mm('acceleration_change')} mm  "
              f"ΔS/S {pct('joint_speed_change')}  still p99 "
              f"{'-' if p99 is None else f'{p99:.1f}'}  emo {pct('emotion_consistency')}  "
              f"evals med {np.median(ev):.0f} p90 {np.percentile(ev, 90):.0f}  "
              f"{time.perf_counter() - start:.0f} s", flush=True)
        if args.out:
            rows.append({"setting": setting, "method": method, "options": opts,
                         "linf_median": float(np.median(linf)) if len(linf) else None,
                         "bone_turn_max_median": float(np.median(
                             result.metrics["bone_turn_max"][result.success].cpu().numpy()))
                         if len(linf) else None,
                         **{k: v for k, v in s.items()
                            if isinstance(v, int | float | str | None)}})
            atomic_write_json(args.out, {"run": args.run, "samples": len(chosen),
                                         "seed": args.seed, "rows": rows})


if __name__ == "__main__":
    main()
