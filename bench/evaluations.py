"""Model evaluations per sample: ELA's defaults, its earlier schedule and a faster setting,
beside the baselines C&W-L2, SMART and PGD, all on the same samples.

For each method: success rate, the median and p90 of the forward passes of the attacked
model per sample (clean pass included) and ΔB/B, ΔA/A, ΔS/S over the successful samples.
"ELA earlier schedule" is the schedule before the ELA issue (γ 1, constant lr 1e-3, stop
only after 20 outer iterations without a 0.1 % gain); "ELA fast" settles for 60 instead of
150 outer iterations with a faster step decay (×0.95): the earlier schedule's distances at
about a third of its evaluations.

    .venv/bin/python bench/evaluations.py --data ../shared/data/msr_action3d
"""

from __future__ import annotations

from typing import Any

import common
import numpy as np

from ela.attacks import CW, ELA, PGD, SMART

METHODS = {
    "ELA (defaults)": lambda m: ELA(m),
    "ELA earlier schedule": lambda m: ELA(m, gamma=1.0, lr=1e-3, lr_decay=1.0,
                                          settle_iters=None),
    "ELA fast (×0.95, settle 60)": lambda m: ELA(m, lr_decay=0.95, settle_iters=60),
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
                     "median_evals": common.median(evals),
                     "p90_evals": float(np.percentile(evals, 90)),
                     "mean_evals_all": float(evals.mean()),
                     "bone_length_change": mean_ok("bone_length_change"),
                     "bone_angle_change": mean_ok("bone_angle_change"),
                     "joint_speed_change": mean_ok("joint_speed_change"),
                     "seconds": result.seconds})
    return rows


def print_rows(rows: list[dict[str, Any]]) -> None:
    print("\n## Model evaluations per sample (median, p90)\n")
    print("| model | method | n | SR | evals median | evals p90 | ΔB/B | ΔA/A | ΔS/S | "
          "time (s) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['method']} | {r['n']} | {100 * r['success_rate']:.0f} % | "
              f"{r['median_evals']:.0f} | {r['p90_evals']:.0f} | "
              f"{100 * r['bone_length_change']:.2f} % | "
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
