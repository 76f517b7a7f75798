"""Model evaluations to success: ELA (early stop) vs a fixed 100 × 10 ADMM schedule and the
baselines C&W-L2, SMART and PGD, all with their default settings, on the same samples.

For each method: success rate, the median number of forward passes of the attacked model
spent on a successful sample (clean pass included) and ΔB/B, ΔA/A, ΔS/S over the successful
samples. The fixed schedule is ELA with early stop disabled (patience > outer iterations),
i.e. every sample takes all 100 × 10 steps at lr 1e-3 as in the public ADMM code; ELA with
early stop is shown with its default budget (200 × 10) and with the fixed schedule's budget
(100 × 10), the like-for-like comparison. ELA with a 3× larger Adam step shows what the step
size does to cost and imperceptibility.

    .venv/bin/python bench/evaluations.py --data ../shared/data/msr_action3d
"""

from __future__ import annotations

from typing import Any

import common
import numpy as np

from ela.attacks import CW, ELA, PGD, SMART

METHODS = {
    "ELA (early stop, defaults: ≤ 200×10)": lambda m: ELA(m),
    "ELA (early stop, ≤ 100×10)": lambda m: ELA(m, outer_iters=100, inner_steps=10),
    "ELA fixed 100×10": lambda m: ELA(m, outer_iters=100, inner_steps=10, patience=101),
    "ELA (early stop), lr 3e-3": lambda m: ELA(m, lr=3e-3),
    "C&W-L2": lambda m: CW(m),
    "SMART": lambda m: SMART(m),
    "PGD (I-FGSM, ε = 2 cm)": lambda m: PGD(m),
}


def measure(s: common.Subject) -> list[dict[str, Any]]:
    rows = []
    for name, make in METHODS.items():
        result = make(s.model)(s.x, s.y, lengths=s.lengths)
        ok = result.success.numpy()
        evals = result.evaluations.numpy()
        metric = {k: v.numpy() for k, v in result.metrics.items()}

        def mean_ok(key: str, metric=metric, ok=ok) -> float:
            return float(np.nanmean(metric[key][ok])) if ok.any() else float("nan")

        rows.append({"model": s.name, "method": name, "n": len(ok),
                     "success_rate": float(ok.mean()),
                     "median_evals": common.median(evals[ok]),
                     "mean_evals_all": float(evals.mean()),
                     "bone_length_change": mean_ok("bone_length_change"),
                     "bone_angle_change": mean_ok("bone_angle_change"),
                     "joint_speed_change": mean_ok("joint_speed_change"),
                     "seconds": result.seconds})
    return rows


def print_rows(rows: list[dict[str, Any]]) -> None:
    print("\n## Model evaluations per successful sample (median)\n")
    print("| model | method | n | SR | evals / success (median) | ΔB/B | ΔA/A | ΔS/S | "
          "time (s) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['method']} | {r['n']} | {100 * r['success_rate']:.0f} % | "
              f"{r['median_evals']:.0f} | {100 * r['bone_length_change']:.2f} % | "
              f"{100 * r['bone_angle_change']:.2f} % | {100 * r['joint_speed_change']:.2f} % | "
              f"{r['seconds']:.0f} |")


def main() -> None:
    p = common.parser(__doc__.splitlines()[0])
    p.set_defaults(samples=16)
    args = p.parse_args()
    common.start(args.threads)
    data = common.read_data(args.data)
    rows = []
    for run in common.action_runs(args, data)[:1]:
        rows += measure(common.subject(run, data, args.samples, args.seed))
    print_rows(rows)


if __name__ == "__main__":
    main()
