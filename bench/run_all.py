"""All four benchmarks in one run, on the same data and the same models.

    .venv/bin/python bench/run_all.py --data ../shared/data/msr_action3d

(1) overhead ratio and (2) batching ratio for every action model (`--run` folders, or hcn
and the reduced 2s-AGCN trained briefly here); (3) evaluations to success on the first
model (`--eval-samples`, default 16: the fixed 100 × 10 schedule alone takes 1 000 steps);
(4) training throughput of every action model. Prints Markdown tables.
"""

from __future__ import annotations

import adversarial_training
import attack_overhead
import batching
import common
import evaluations
import training_throughput


def main() -> None:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--eval-samples", type=int, default=16)
    p.add_argument("--compile", action="store_true", help="also time torch.compile")
    args = p.parse_args()
    common.start(args.threads)
    data = common.read_data(args.data)
    emotion, emotion_name = common.emotion_model(args)
    runs = common.action_runs(args, data)
    subjects = [common.subject(run, data, args.samples, args.seed) for run in runs]
    print(f"data {args.data}: {len(data)} sequences; models "
          + ", ".join(f"{s.name} ({s.run})" for s in subjects))
    attack_overhead.print_rows(
        [attack_overhead.measure(s, emotion, args.reps, args.compile) for s in subjects],
        emotion_name)
    batching.print_rows([batching.measure(s) for s in subjects])
    evaluations.print_rows(
        evaluations.measure(common.subject(runs[0], data, args.eval_samples, args.seed)))
    training_throughput.print_rows(training_throughput.measure(data, args.reps, args.seed))
    adversarial_training.print_rows(adversarial_training.measure(
        data, args.models.split(","), args.reps, args.seed), args.threads)


if __name__ == "__main__":
    main()
