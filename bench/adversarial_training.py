"""Cost of adversarial training: seconds per training step with PGD, TRADES, dynamic or
rotation batches ÷ a plain step, per action model, on MSR Action3D.

One step = the objective of `ela.training.adversarial` (the training attack's `--adv-steps`
forward + backward passes, then the loss) + backward + Adam update on a batch of 32 real
samples (32 frames, kinect20, centred), as `ela train --adversarial` runs it. An epoch is
a fixed number of such steps, so the ratio is also the cost per epoch against plain
training. Ratios are measured in one run, one torch thread, minimum over `--reps`.

    .venv/bin/python bench/adversarial_training.py --models hcn,sgn

(`--models` defaults to hcn,2s-agcn as in the other benchmarks.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import common
import torch
import torch.nn.functional as F

from ela.data import to_tensor_batch
from ela.data.transforms import build_transform
from ela.io.base import SkeletonSet
from ela.models import create_model
from ela.training.adversarial import METHODS, adversarial_objective

BATCH = 32
STEPS = (1, 3, 5)


def measure(data: SkeletonSet, models: list[str], reps: int, seed: int = 0
            ) -> list[dict[str, Any]]:
    """Per model: the plain step's seconds and, per (method, steps), the step ÷ plain."""
    x, y, lengths = to_tensor_batch(data.subset(range(BATCH)), 32, "action",
                                    build_transform(["centre"], data.layout))
    rows = []
    for name in models:
        torch.manual_seed(seed)
        model = create_model(name, data.layout, len(data.label_names["action"]),
                             **common.MODEL_CFG.get(name, {})).train()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)

        def timed(loss_of: Callable[[], torch.Tensor], opt=opt) -> float:
            def step() -> None:
                opt.zero_grad()
                loss_of().backward()
                opt.step()

            step()  # the first step allocates
            return common.timed(step, reps)

        base = timed(lambda m=model: F.cross_entropy(m(x), y))
        ratios = {}
        for method in METHODS:
            for k in STEPS:
                objective = adversarial_objective(method, 0.01, k, 10.0, 6.0, F.cross_entropy)
                ratios[method, k] = timed(
                    lambda o=objective, m=model: o(m, x, y, lengths)[0]) / base
        rows.append({"model": name, "plain_s": base, "ratios": ratios})
    return rows


def print_rows(rows: list[dict[str, Any]], threads: int = 1) -> None:
    print(f"\n## Adversarial training cost (batch {BATCH}, {threads} thread(s))\n")
    keys = list(rows[0]["ratios"]) if rows else []
    print("| model | plain step (s) | " + " | ".join(
        f"{m} {k} steps ÷ plain" for m, k in keys) + " |")
    print("|---|---|" + "---|" * len(keys))
    for r in rows:
        print(f"| {r['model']} | {r['plain_s']:.3f} | "
              + " | ".join(f"{r['ratios'][k]:.2f}×" for k in keys) + " |")


def main() -> None:
    p = common.parser(__doc__.splitlines()[0])
    args = p.parse_args()
    common.start(args.threads)
    rows = measure(common.read_data(args.data), args.models.split(","), args.reps, args.seed)
    print_rows(rows, args.threads)


if __name__ == "__main__":
    main()
