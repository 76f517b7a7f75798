"""Overhead ratio: ELA time per iteration ÷ the bare model's forward + backward time.

Both on the same batch (the attacked samples, all active: early stop is off for this
measurement, so every iteration processes the whole batch), with and without the emotion
model E. An ELA iteration is one forward + backward of the attacked model plus the dynamic
distance, the emotion distance (one forward + backward of E when E is on) and the Adam step;
the ratio says what all of that costs on top of the model. `--compile` adds ELA with the
attacked model compiled by `torch.compile` (steady state, compilation time reported apart).

    .venv/bin/python bench/attack_overhead.py --data ../shared/data/msr_action3d
"""

from __future__ import annotations

import time
from typing import Any

import common
import torch

from ela.attacks import ELA
from ela.attacks.distances import EmotionDistance

SHORT, LONG, INNER = 1, 4, 10


def ela_step_time(s: common.Subject, emotion: torch.nn.Module | None, reps: int,
                  compile_model: bool = False) -> tuple[float, float]:
    """(CPU seconds per ELA iteration on the whole batch, wall seconds of compilation).

    Per iteration: the difference between a LONG and a SHORT attack over their difference
    in iterations, i.e. what one more iteration costs without the once-per-call work (clean
    and verification passes, clean features, metrics) that a real attack spreads over
    hundreds of iterations. Each attack time is the minimum over `reps` calls.
    """
    def attack(outer: int) -> ELA:
        return ELA(s.model, emotion_model=emotion, steps=outer * INNER, inner_steps=INNER,
                   patience=outer + 1, compile_model=compile_model)

    short, long = attack(SHORT), attack(LONG)
    start = time.perf_counter()
    if compile_model:  # the first calls compile; they are not part of a step
        short(s.x, s.y, lengths=s.lengths)
        long(s.x, s.y, lengths=s.lengths)
    compiling = time.perf_counter() - start
    t_short = common.timed(lambda: short(s.x, s.y, lengths=s.lengths), reps)
    t_long = common.timed(lambda: long(s.x, s.y, lengths=s.lengths), reps)
    return (t_long - t_short) / ((LONG - SHORT) * INNER), compiling


class _Embed(torch.nn.Module):
    """E's features through the layout mapping, (N, D): to time E's forward + backward."""

    def __init__(self, emotion: torch.nn.Module, layout):
        super().__init__()
        self.emotion = emotion
        self.distance = EmotionDistance(emotion, layout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.distance.embed(x)[1]


def measure(s: common.Subject, emotion: torch.nn.Module, reps: int,
            compile_model: bool = False) -> dict[str, Any]:
    bare = common.timed(common.forward_backward(s.model, s.x), 3 * reps)
    e_cost = common.timed(common.forward_backward(_Embed(emotion, s.model.layout), s.x),
                             3 * reps)
    plain, _ = ela_step_time(s, None, reps)
    with_e, _ = ela_step_time(s, emotion, reps)
    row = {"model": s.name, "batch": len(s.x), "bare_fwd_bwd_s": bare,
           "ela_iter_s": plain, "ela_iter_emotion_s": with_e, "emotion_fwd_bwd_s": e_cost,
           "overhead_ratio": plain / bare, "overhead_ratio_emotion": with_e / bare}
    if compile_model:
        row["ela_iter_compiled_s"], row["compile_s"] = ela_step_time(s, None, reps, True)
    return row


def print_rows(rows: list[dict[str, Any]], emotion_name: str) -> None:
    print(f"\n## Overhead ratio (ELA iteration ÷ bare forward+backward; E = {emotion_name})\n")
    print("| model | batch | fwd+bwd (s) | ELA iter (s) | ratio | E fwd+bwd (s) "
          "| ELA+E iter (s) | ratio with E |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['batch']} | {r['bare_fwd_bwd_s']:.4f} | "
              f"{r['ela_iter_s']:.4f} | **{r['overhead_ratio']:.2f}** | "
              f"{r['emotion_fwd_bwd_s']:.4f} | {r['ela_iter_emotion_s']:.4f} | "
              f"**{r['overhead_ratio_emotion']:.2f}** |")
    compiled = [r for r in rows if "ela_iter_compiled_s" in r]
    if compiled:
        print("\n| model | ELA iter eager (s) | ELA iter, torch.compile (s) | compile time (s) |")
        print("|---|---|---|---|")
        for r in compiled:
            print(f"| {r['model']} | {r['ela_iter_s']:.4f} | {r['ela_iter_compiled_s']:.4f} | "
                  f"{r['compile_s']:.0f} |")


def main() -> None:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--compile", action="store_true", help="also time torch.compile")
    args = p.parse_args()
    common.start(args.threads)
    data = common.read_data(args.data)
    emotion, emotion_name = common.emotion_model(args)
    rows = [measure(common.subject(run, data, args.samples, args.seed), emotion, args.reps,
                    args.compile)
            for run in common.action_runs(args, data)]
    print_rows(rows, emotion_name)


if __name__ == "__main__":
    main()
