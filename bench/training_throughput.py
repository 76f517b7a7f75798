"""Training throughput (samples per CPU second) of each action model on MSR Action3D.

One training step = forward + cross-entropy + backward + Adam update on a batch of 32 real
samples (32 frames, kinect20), models in training mode as `ela train` runs them; ST-GCN and
2s-AGCN at the reduced widths ``channels=[32, 64, 64, 128, 128]``, SGN built for 32 frames,
the others at paper size.

    .venv/bin/python bench/training_throughput.py --data ../shared/data/msr_action3d
"""

from __future__ import annotations

from typing import Any

import common
import torch

from ela.data import to_tensor_batch
from ela.data.transforms import build_transform
from ela.io.base import SkeletonSet
from ela.models import create_model, list_models

BATCH = 32


def measure(data: SkeletonSet, reps: int, seed: int = 0) -> list[dict[str, Any]]:
    x, y, _ = to_tensor_batch(data.subset(range(BATCH)), 32, "action",
                                    build_transform(["centre"], data.layout))
    rows = []
    for name in list_models("action"):
        torch.manual_seed(seed)
        model = create_model(name, data.layout, len(data.label_names["action"]),
                             **common.MODEL_CFG.get(name, {})).train()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)

        def step(model=model, opt=opt) -> None:
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()

        step()  # first step allocates
        seconds = common.timed(step, reps)
        rows.append({"model": name, "cfg": common.MODEL_CFG.get(name, {}),
                     "params": sum(p.numel() for p in model.parameters()),
                     "step_s": seconds, "samples_per_s": BATCH / seconds})
    return rows


def print_rows(rows: list[dict[str, Any]]) -> None:
    print(f"\n## Training throughput (batch {BATCH}, one thread)\n")
    print("| model | parameters | step (s) | samples / s |")
    print("|---|---|---|---|")
    for r in rows:
        cfg = "".join(f" ({k} {v})" for k, v in r["cfg"].items())
        print(f"| {r['model']}{cfg} | {r['params']:,} | {r['step_s']:.3f} | "
              f"{r['samples_per_s']:.0f} |")


def main() -> None:
    args = common.parser(__doc__.splitlines()[0]).parse_args()
    common.start(args.threads)
    print_rows(measure(common.read_data(args.data), args.reps, args.seed))


if __name__ == "__main__":
    main()
