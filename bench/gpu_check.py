"""The GPU check: one call on a machine with CUDA, under 8 minutes.

1. the batching ratio of ELA on the GPU (a batch of N vs N single-sample attacks, same
   settings, `OUTER` × 10 steps) for HCN and the paper-size 2s-AGCN;
2. the time per attacked sample of a full ELA attack with its defaults (early stop on) on
   32 MSR Action3D test samples, for the same two models, with the median and p90 of the
   model evaluations per sample;
3. the tests that exercise CUDA (`pytest -k cuda`: every model, every attack on CUDA).

Models are trained here for `--epochs` epochs on MSR Action3D (paper-size 2s-AGCN:
channels 64-64-64-64-128-128-128-256-256-256), enough to attack; times are wall-clock with
`torch.cuda.synchronize()` around each region. Prints Markdown tables (the card's name
first) and writes them to `--out` (default gpu_check.md).

    python bench/gpu_check.py --data ../shared/data/msr_action3d
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from ela.attacks import ELA
from ela.io import read
from ela.training.checkpoint import load, load_config
from ela.training.run import run_inputs, run_training

ROOT = Path(__file__).resolve().parents[1]
OUTER = 5
MODELS = {"hcn": {}, "2s-agcn": {}}  # 2s-agcn at its paper size (the default channels)


def wall(fn, device: torch.device) -> float:
    """Wall-clock seconds of fn(), with the device's queue drained before and after."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


def measure(name: str, cfg: dict, data, args: argparse.Namespace,
            dev: torch.device) -> tuple:
    """Train `name` briefly on the GPU, then time ELA on its correctly classified samples."""
    run = Path(args.work) / f"msr_{name}_e{args.epochs}"
    if not (run / "metrics.json").is_file():
        run_training(data, name, "action", run, model_cfg=cfg, frames=32, epochs=args.epochs,
                     device=str(dev), progress=False, log=lambda _: None)
    model = load(run, device=dev)
    x, y, lengths, test, _ = run_inputs(run, load_config(run), data)
    with torch.no_grad():
        pred = model(x[test].to(dev)).argmax(1).cpu()
    correct = test[(pred == y[test]).numpy()][: args.samples]
    xs, ys, ls = (t[correct].to(dev) for t in (x, y, lengths))
    short = ELA(model, steps=OUTER * 10)
    short(xs[:2], ys[:2], lengths=ls[:2])  # warm-up: kernels, allocator
    batched = wall(lambda: short(xs, ys, lengths=ls), dev)
    single = wall(lambda: [short(xs[i:i + 1], ys[i:i + 1], lengths=ls[i:i + 1])
                           for i in range(len(xs))], dev)
    full = ELA(model, **({"steps": args.full_steps} if args.full_steps else {}))
    results = []
    seconds = wall(lambda: results.append(full(xs, ys, lengths=ls)), dev)
    ev = results[0].evaluations.cpu().numpy()
    return (name, sum(q.numel() for q in model.parameters()), len(xs), batched, single,
            seconds, float(results[0].success.float().mean()), float(np.median(ev)),
            float(np.percentile(ev, 90)))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "msr_action3d"))
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--samples", type=int, default=32)
    p.add_argument("--work", default="/tmp/ela-gpu-check")
    p.add_argument("--out", default="gpu_check.md")
    p.add_argument("--skip-tests", action="store_true")
    p.add_argument("--device", default="cuda", help="cpu: a dry run of the script itself")
    p.add_argument("--full-steps", type=int, default=None,
                   help="budget of the full attack (default: ELA's own)")
    args = p.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        print("skipped: no CUDA device here")
        raise SystemExit(0)
    dev = torch.device(args.device)
    card = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu (dry run)"
    lines = [f"GPU check on {card} (torch {torch.__version__})", ""]
    data = read(args.data, format="msr")
    rows = [measure(name, cfg, data, args, dev) for name, cfg in MODELS.items()]
    lines += [f"## ELA on the GPU (MSR Action3D test samples, models trained {args.epochs} "
              "epochs here)", "",
              "| model | parameters | N | batched, 50 steps (s) | one at a time (s) | "
              "batching ratio | full ELA (s) | s / sample | SR | evals median | evals p90 |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, params, n, b, s, full_s, sr, med, p90 in rows:
        lines.append(f"| {name} | {params:,} | {n} | {b:.2f} | {s:.2f} | **{s / b:.1f}×** | "
                     f"{full_s:.1f} | {full_s / n:.2f} | {100 * sr:.0f} % | {med:.0f} | "
                     f"{p90:.0f} |")
    Path(args.out).write_text("\n".join(lines) + "\n")
    if not args.skip_tests:  # after the timings, which want the GPU to themselves
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-k", "cuda",
                               str(ROOT / "tests")], capture_output=True, text=True)
        tail = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr
        lines += ["", f"CUDA tests (pytest -k cuda): {tail} in "
                      f"{time.perf_counter() - start:.0f} s"]
        print(proc.stdout[-3000:], proc.stderr[-2000:], flush=True)
    text = "\n".join(lines)
    print(text)
    Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
