"""`ela attack`, `ela experiment`, `ela transfer` and `ela robustness`: attack trained runs
and score what the attacks made."""

from __future__ import annotations

import argparse
import sys

from ela.attacks import ATTACKS
from ela.cli.common import DEVICE_HELP, add_data_args, at_least, fmt, parse_cfg, read_data


def score_transfer(args: argparse.Namespace, runs: list[str], attacks: list[str]) -> int:
    """Score `runs` on the sequences of `attacks`; print the matrix, write it to --out."""
    from ela.runs.transfer import transfer_markdown, transfer_matrix, write_transfer

    at_least(args.batch_size, 1, "--batch-size")
    matrix = transfer_matrix(runs, attacks, device=args.device, batch_size=args.batch_size)
    print(transfer_markdown(matrix))
    if args.out:
        for path in write_transfer(matrix, args.out):
            print(f"wrote {path}")
    return 0


def cmd_transfer(args: argparse.Namespace) -> int:
    return score_transfer(args, args.runs, args.attacks)


def cmd_robustness(args: argparse.Namespace) -> int:
    from ela.runs.robustness import robustness_curves, robustness_markdown, write_robustness

    result = robustness_curves(args.attacks)
    print(robustness_markdown(result))
    if args.out:
        for path in write_robustness(result, args.out):
            print(f"wrote {path}")
    return 0


def cmd_card(args: argparse.Namespace) -> int:
    from ela.runs.card import card_markdown, model_card, write_card

    card = model_card(args.run, args.attacks, args.detect, args.selection)
    print(card_markdown(card), end="")
    if args.out:
        for path in write_card(card, args.out):
            print(f"wrote {path}")
    return 0


def _backend(args: argparse.Namespace):
    """The backend of --backend / --shard-size and the Ray options."""
    from ela.runs.attack import make_backend

    return make_backend(args.backend, shard_size=args.shard_size, address=args.address,
                        workers=args.workers, num_cpus=args.cpus_per_worker,
                        num_gpus=args.gpus_per_worker,
                        log=lambda line: print(line, file=sys.stderr, flush=True))


def _check_attack_args(args: argparse.Namespace) -> None:
    """Options of `ela attack` / `ela experiment` checked before any data is read: each
    attack the command will run is built once on a stand-in model, so that its own checks
    (e.g. ELA's steps ≥ inner_steps) fail now rather than after other work."""
    import torch

    from ela.runs.experiment import METHODS
    from ela.runs.job import attack_options

    for value, flag in ((args.samples, "--samples"), (args.batch_size, "--batch-size"),
                        (args.iters, "--iters")):
        at_least(value, 1, flag)
    method = getattr(args, "method", None)
    for name in [method] if method else METHODS:
        opts = attack_options(name, args.gamma if method else None, args.iters,
                              **(parse_cfg(args.cfg) if method else {}))
        ATTACKS[name].build(torch.nn.Identity(), "kinect20", **opts)


def cmd_attack(args: argparse.Namespace) -> int:
    _check_attack_args(args)
    from ela.runs.attack import run_attack
    from ela.runs.job import AttackJob

    job = AttackJob.from_flags(
        args.run, args.method, args.out, gamma=args.gamma, iters=args.iters,
        cfg=parse_cfg(args.cfg), label=args.label, emotion=args.emotion, target=args.target,
        samples=args.samples, seed=args.seed, device=args.device, batch_size=args.batch_size,
        split=args.part, overwrite=args.overwrite, guard=args.guard)
    backend = _backend(args)
    summary = run_attack(job, read_data(args), backend)
    keys = ("success_rate", "bone_length_change", "bone_angle_change", "joint_speed_change",
            "l2", "acceleration_change", "emotion_consistency")
    print(" ".join(f"{k}={fmt(summary.get(k))}" for k in keys))
    for note in summary.get("notes", []):
        print(f"note: {note}", file=sys.stderr)
    print(f"results written to {args.out}")
    return 0


def cmd_experiment(args: argparse.Namespace) -> int:
    from ela.runs.experiment import run_paper_experiment

    _check_attack_args(args)
    data = read_data(args)
    tables = run_paper_experiment(
        data, runs=args.runs, emotion=args.emotion, label=args.label, out=args.out,
        samples=args.samples, seed=args.seed, device=args.device, target=args.target,
        iters=args.iters, gammas=[float(g) for g in args.gammas.split(",")],
        batch_size=args.batch_size, backend=_backend(args), overwrite=args.overwrite,
    )
    print(tables)
    return 0


def _add_backend_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", default="local", choices=["local", "ray"],
                   help="local: this process; ray: shards on Ray actors (needs ela[ray])")
    p.add_argument("--address", default=None,
                   help="Ray cluster to join ('auto' or HOST:PORT); default a local Ray")
    p.add_argument("--shard-size", type=int, default=None,
                   help="samples per shard, a multiple of --batch-size (default one batch); "
                        "finished shards are kept in OUT/shards/ and skipped on a re-run")
    p.add_argument("--workers", type=int, default=None,
                   help="Ray actors (default: as many as the cluster's CPUs or GPUs allow)")
    p.add_argument("--cpus-per-worker", type=int, default=1,
                   help="CPUs each Ray actor reserves (default 1); the attack itself runs "
                        "with this process's torch thread count, so numbers do not depend "
                        "on the backend")
    p.add_argument("--gpus-per-worker", type=float, default=None,
                   help="default 1 when the Ray cluster has GPUs, else 0")
    p.add_argument("--overwrite", action="store_true",
                   help="replace results in --out that were computed on other data "
                        "(without it, that is an error naming both datasets)")


def add_parser(sub: argparse._SubParsersAction) -> None:
    at = sub.add_parser("attack", help="attack a trained action model")
    at.add_argument("run", help="run folder of the action model")
    add_data_args(at)
    at.add_argument("--label", default=None, help="label the model was trained on")
    at.add_argument("--method", default="ela", choices=sorted(ATTACKS),
                    help="attack (`ela attacks` lists each with its options)")
    at.add_argument("--emotion", default=None, help="run folder of an emotion model (E)")
    at.add_argument("--guard", default=None, metavar="DETECTOR_DIR",
                    help="adaptive attack on the model guarded by a detector of `ela detect` "
                         "(OUT/detectors/NAME): success = misclassified and not flagged at "
                         "the detector's threshold")
    at.add_argument("--target", default=None, help="class name or index: targeted attack; "
                                                   "'least-likely' for the least likely class")
    at.add_argument("--gamma", type=float, default=None,
                    help="ELA's augmented-Lagrangian penalty γ (default: ELA's own)")
    at.add_argument("--iters", type=int, default=None,
                    help="budget of gradient steps per sample, for every method (the "
                         "attack's `steps`; default: the attack's own)")
    at.add_argument("--samples", type=int, default=None, help="attack at most N samples")
    at.add_argument("--part", default="test", choices=["train", "val", "test"],
                    help="part of the run's split whose samples are attacked (default test; "
                         "val to choose settings without touching the test samples)")
    at.add_argument("--batch-size", type=int, default=64,
                    help="samples attacked together (default 64); finished batches are kept")
    at.add_argument("--cfg", nargs="*", help="attack options key=value")
    at.add_argument("--seed", type=int, default=0,
                    help="seed of the choice of samples and of each batch's randomness")
    at.add_argument("--device", default="auto", help=DEVICE_HELP)
    at.add_argument("--out", required=True,
                    help="folder for summary.json, samples.csv and adversarial.npz")
    _add_backend_args(at)
    at.set_defaults(func=cmd_attack)

    ex = sub.add_parser("experiment", help="run the paper's experiment grid")
    ex.add_argument("grid", choices=["paper"],
                    help="paper: Tables 1–5 (γ sweep, targeted, emotion ablation, baselines)")
    ex.add_argument("--runs", nargs="+", required=True, help="action model run folders")
    add_data_args(ex)
    ex.add_argument("--label", default=None, help="label the models were trained on")
    ex.add_argument("--emotion", default=None, help="run folder of an emotion model (E)")
    ex.add_argument("--target", default=None,
                    help="class of the targeted cells (default: each model's last class)")
    ex.add_argument("--gammas", default="0.1,1,10", help="γ values of Table 1")
    ex.add_argument("--iters", type=int, default=None,
                    help="budget of gradient steps per sample, for every method")
    ex.add_argument("--samples", type=int, default=None, help="attack at most N samples")
    ex.add_argument("--seed", type=int, default=0, help="seed of the choice of samples")
    ex.add_argument("--device", default="auto", help=DEVICE_HELP)
    ex.add_argument("--out", required=True,
                    help="folder of the grid: one attack folder per cell and tables.md")
    ex.add_argument("--batch-size", type=int, default=64, help="samples attacked together")
    _add_backend_args(ex)
    ex.set_defaults(func=cmd_experiment)

    tr = sub.add_parser("transfer", help="transfer test: score action runs on the "
                                         "adversarial sequences of attacks on other models")
    tr.add_argument("--runs", nargs="+", required=True, metavar="RUN",
                    help="target run folders (action models; columns of the matrix)")
    tr.add_argument("--attacks", nargs="+", required=True, metavar="ATTACK_DIR",
                    help="attack folders, or folders holding them (rows of the matrix)")
    tr.add_argument("--out", default=None,
                    help="folder for transfer.json and transfer.md (shown by `ela report`)")
    tr.add_argument("--batch-size", type=int, default=64,
                    help="sequences scored together (default 64)")
    tr.add_argument("--device", default="auto", help=DEVICE_HELP)
    tr.set_defaults(func=cmd_transfer)

    rb = sub.add_parser("robustness", help="robust accuracy vs budget ε (ΔB/B, l2, l∞) from "
                                           "the minimal perturbations of attack folders")
    rb.add_argument("attacks", nargs="+", metavar="ATTACK_DIR",
                    help="untargeted attack folders (ELA, C&W, ...), or folders holding them; "
                         "one curve each")
    rb.add_argument("--out", default=None,
                    help="folder for robustness.json, robustness.md and robustness.png "
                         "(shown by `ela report`)")
    rb.set_defaults(func=cmd_robustness)

    cd = sub.add_parser("card", help="a robust model card: clean accuracy, robust accuracy "
                                     "at stated budgets under (adaptive) attacks, detection")
    cd.add_argument("run", help="run folder of the action model")
    cd.add_argument("--attacks", nargs="+", required=True, metavar="ATTACK_DIR",
                    help="attack folders made on the run (with --guard: adaptive to its "
                         "detector)")
    cd.add_argument("--detect", default=None, metavar="DETECT_JSON",
                    help="detect.json of `ela detect`: detection rates of the pooled detector")
    cd.add_argument("--selection", default=None, metavar="SELECT_JSON",
                    help="how the run's defence was chosen (scripts/select_defence.py)")
    cd.add_argument("--out", default=None,
                    help="folder for card.json and card.md (shown by `ela report`)")
    cd.set_defaults(func=cmd_card)
