"""Batching ratio: ELA on a batch of N samples vs the same attack one sample at a time.

The ratio is the throughput (samples per second, see `common.timed`) of the batched attack
over that of N single-sample attacks on the same samples, same settings. Beside it: the same
ratio for the bare model's forward + backward (batch N vs N × batch 1), the ceiling batching
can reach when the model dominates the cost. Budget: `OUTER` × 10 steps per sample (early
stop on, as by default; it rarely triggers so early), enough for the cost per step to show.

    .venv/bin/python bench/batching.py --data ../shared/data/msr_action3d
"""

from __future__ import annotations

from typing import Any

import common

from ela.attacks import ELA

OUTER = 5


def measure(s: common.Subject, reps: int = 1) -> dict[str, Any]:
    attack = ELA(s.model, steps=OUTER * 10)
    n = len(s.x)
    batched = common.timed(lambda: attack(s.x, s.y, lengths=s.lengths), reps)
    single = common.timed(lambda: [attack(s.x[i:i + 1], s.y[i:i + 1],
                                             lengths=s.lengths[i:i + 1]) for i in range(n)], 1)
    bare_n = common.timed(common.forward_backward(s.model, s.x), 5)
    bare_1 = common.timed(common.forward_backward(s.model, s.x[:1]), 20)
    return {"model": s.name, "batch": n, "batched_s": batched, "single_s": single,
            "batching_ratio": single / batched, "model_ratio": n * bare_1 / bare_n}


def print_rows(rows: list[dict[str, Any]]) -> None:
    print(f"\n## Batching ratio (ELA, {OUTER} × 10 steps per sample)\n")
    print("| model | N | batched (s) | one at a time (s) | ratio | bare model ratio |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['batch']} | {r['batched_s']:.1f} | {r['single_s']:.1f} | "
              f"**{r['batching_ratio']:.2f}×** | {r['model_ratio']:.2f}× |")


def main() -> None:
    args = common.parser(__doc__.splitlines()[0]).parse_args()
    common.start(args.threads)
    data = common.read_data(args.data)
    rows = [measure(common.subject(run, data, args.samples, args.seed))
            for run in common.action_runs(args, data)]
    print_rows(rows)


if __name__ == "__main__":
    main()
