"""The `ela` command: thin wrappers that parse arguments, call the library and print."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ela.attacks import ATTACKS
from ela.errors import ElaError
from ela.training.loop import TrainConfig

TRAIN_DEFAULTS = TrainConfig()
"""`ela train`'s defaults are TrainConfig's: one set of defaults for the CLI and the API."""

DEVICE_HELP = "auto (CUDA when available), cpu, cuda or cuda:N"
FORMAT_HELP = ("reader: ntu, ntu-npy, kinetics, pyskl, msr, bvh, bandai, npz (detected from "
               "the path when left out)")


def _model_help() -> str:
    from ela.models.registry import list_models

    return ("model: " + ", ".join(list_models("action")) + " (action); "
            + ", ".join(list_models("emotion")) + " (emotion); "
            + ", ".join(list_models("multimodal")) + " (multimodal, with --manifest); "
            "`ela models` lists their options")


def _add_data_args(p: argparse.ArgumentParser, required: bool = True) -> None:
    p.add_argument("--data", required=required, help="dataset file or folder")
    p.add_argument("--format", default=None, help=FORMAT_HELP)
    p.add_argument("--layout", default=None,
                   help="map the data to this layout after reading (e.g. gait16)")
    p.add_argument("--only", default=None,
                   help="keep samples whose label is in a list, e.g. style=angry,happy,sad,normal")


def _read(args: argparse.Namespace):
    import time

    from ela.data import prepare

    start = time.perf_counter()
    print(f"reading {args.data} …", file=sys.stderr, flush=True)
    data = prepare.read_dataset(args.data, fmt=args.format, layout=args.layout,
                                only=args.only)
    print(f"read {len(data)} samples ({data.layout.name}"
          + (f", {len(data.skipped)} files skipped" if data.skipped else "")
          + f") in {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
    return data


def cmd_data_info(args: argparse.Namespace) -> int:
    from ela.data import prepare

    summary = prepare.read_dataset(args.path, fmt=args.format, layout=args.layout).summary()
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(f"{summary['source']}: {summary['samples']} samples, layout {summary['layout']} "
          f"({summary['joints']} joints, {summary['channels']} channels)")
    f = summary["frames"]
    print(f"frames: min {f['min']}, median {f['median']:g}, max {f['max']}; "
          f"persons per sample: {summary['persons']}")
    for key, counts in summary["labels"].items():
        print(f"label {key} ({len(counts) - ('(unlabelled)' in counts)} classes): "
              + ", ".join(f"{k} {v}" for k, v in counts.items()))
    for item in summary["skipped"]:
        print(f"skipped {item['file']}: {item['reason']}")
    for text in summary["warnings"]:
        print(f"warning: {text}")
    return 0


def cmd_data_convert(args: argparse.Namespace) -> int:
    from ela.data import prepare
    from ela.io import write_npz
    from ela.skeleton.checks import data_warnings

    data = prepare.read_dataset(args.path, fmt=args.format, layout=args.layout, only=args.only)
    for text in data_warnings([s.data for s in data.samples], data.layout)[1]:
        print(f"warning: {text}", file=sys.stderr)
    data = prepare.apply_transform(data, lowpass=args.lowpass, frames=args.frames)
    if args.label:
        data.labels(args.label)  # fails early with the labels there are
    write_npz(data, args.out)
    print(f"wrote {args.out}: {len(data)} samples, layout {data.layout.name}"
          + (f", {len(data.skipped)} skipped" if data.skipped else ""))
    for f, reason in data.skipped:
        print(f"skipped {f}: {reason}")
    return 0


def _at_least(value: int | float | None, low: int | float, flag: str) -> None:
    if value is not None and value < low:
        raise ElaError(f"{flag} must be ≥ {low}, got {value}")


def _check_train_args(args: argparse.Namespace) -> None:
    """Every argument of `ela train` that can be checked without data, before any data is
    read or any file written."""
    from ela.data.transforms import build_transform
    from ela.models.registry import list_models
    from ela.skeleton import get_layout

    kinds = ("multimodal",) if args.manifest else ("action", "emotion")
    known = [n for k in kinds for n in list_models(k)]
    if args.model not in known:
        raise ElaError(f"unknown --model {args.model!r}; "
                       f"{'multimodal' if args.manifest else 'skeleton'} models: "
                       f"{', '.join(sorted(known))} (`ela models` lists their options)")
    for value, low, flag in ((args.epochs, 1, "--epochs"), (args.batch_size, 1, "--batch-size"),
                             (args.frames, 1, "--frames"), (args.window, 2, "--window"),
                             (args.folds, 2, "--folds")):
        _at_least(value, low, flag)
    if args.lr is not None and args.lr <= 0:
        raise ElaError(f"--lr must be > 0, got {args.lr}")
    # a syntax check of the step strings; the placeholder layout is only for steps that
    # need one (the run uses the data's own)
    for flag, spec in (("--transform", args.transform), ("--augment", args.augment)):
        try:
            build_transform(spec, get_layout(args.layout or "ntu25"))
        except ElaError as err:
            raise ElaError(f"{flag}: {err}") from None


def cmd_train(args: argparse.Namespace) -> int:
    from ela.training.run import run_training

    _check_train_args(args)
    config = TrainConfig.overridden(
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
        device=args.device, weight_decay=args.weight_decay, schedule=args.schedule,
        patience=args.patience, label_smoothing=args.label_smoothing, monitor=args.monitor,
        class_weight="balanced" if args.balance else None, adversarial=args.adversarial,
        adv_eps=args.adv_eps, adv_steps=args.adv_steps, adv_bone_weight=args.adv_bone_weight,
        trades_beta=args.trades_beta)
    if args.manifest:
        return _train_multimodal(args, config)
    if not args.data or not args.label:
        raise ElaError("ela train needs --data and --label (or --manifest for the "
                       "multimodal models)")
    data = _read(args)
    metrics = run_training(
        data, args.model, args.label, args.out, model_cfg=_parse_cfg(args.cfg),
        frames=args.frames, split=args.split, folds=args.folds, train_config=config,
        window=args.window, transform=args.transform, augment=args.augment,
        sampling=args.sampling, group=args.group, overwrite=args.overwrite,
    )
    _print_metrics(metrics)
    print(f"run written to {args.out}")
    return 0


def _train_multimodal(args: argparse.Namespace, config) -> int:
    from ela.training.multimodal import run_multimodal_training

    metrics = run_multimodal_training(
        args.manifest, args.model, args.out, model_cfg=_parse_cfg(args.cfg),
        layout=args.layout or "upper10", frames=args.frames, sampling=args.sampling,
        transform="centre" if args.transform is None else args.transform,
        split=args.split or "emotion5", folds=args.folds, glove=args.glove,
        train_config=config, overwrite=args.overwrite)
    _print_metrics(metrics)
    print(f"run written to {args.out}")
    return 0


def cmd_extract(args: argparse.Namespace) -> int:
    from ela.io import write_npz
    from ela.video import extract

    data = extract(args.path, layout=args.layout, lowpass=args.lowpass, log=print,
                   progress=True)
    write_npz(data, args.out)
    print(f"wrote {args.out}: {len(data)} videos, layout {data.layout.name}"
          + (f", {len(data.skipped)} skipped" if data.skipped else ""))
    for f, reason in data.skipped:
        print(f"skipped {f}: {reason}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from ela.training.run import evaluate_run

    if args.adversarial:
        given = [f for f, v in (("--data", args.data), ("--manifest", args.manifest),
                                ("--part", args.part), ("--label", args.label)) if v]
        if given:
            raise ElaError(f"ela eval --adversarial scores the sequences the attack folders "
                           f"hold; leave out {', '.join(given)}")
        return _transfer(args, [args.run], args.adversarial)
    if args.manifest:
        from ela.training.multimodal import evaluate_multimodal_run

        _print_metrics(evaluate_multimodal_run(args.run, args.manifest, args.out,
                                               part=args.part, device=args.device))
        return 0
    if not args.data:
        raise ElaError("ela eval needs --data (or --manifest for a multimodal run)")
    data = _read(args)
    metrics = evaluate_run(args.run, data, label=args.label, out=args.out, part=args.part,
                           device=args.device)
    print(f"{args.run} on {args.part or 'all'} samples of {args.data}: "
          f"{metrics.get('num_samples', '?')} samples")
    _print_metrics(metrics)
    return 0


def _transfer(args: argparse.Namespace, runs: list[str], attacks: list[str]) -> int:
    """Score `runs` on the sequences of `attacks`; print the matrix, write it to --out."""
    from ela.runs.transfer import transfer_markdown, transfer_matrix, write_transfer

    _at_least(args.batch_size, 1, "--batch-size")
    matrix = transfer_matrix(runs, attacks, device=args.device, batch_size=args.batch_size)
    print(transfer_markdown(matrix))
    if args.out:
        for path in write_transfer(matrix, args.out):
            print(f"wrote {path}")
    return 0


def cmd_transfer(args: argparse.Namespace) -> int:
    return _transfer(args, args.runs, args.attacks)


def cmd_robustness(args: argparse.Namespace) -> int:
    from ela.runs.robustness import robustness_curves, robustness_markdown, write_robustness

    result = robustness_curves(args.attacks)
    print(robustness_markdown(result))
    if args.out:
        for path in write_robustness(result, args.out):
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
        _at_least(value, 1, flag)
    method = getattr(args, "method", None)
    for name in [method] if method else METHODS:
        opts = attack_options(name, args.gamma if method else None, args.iters,
                              **(_parse_cfg(args.cfg) if method else {}))
        ATTACKS[name].build(torch.nn.Identity(), "kinect20", **opts)


def cmd_attack(args: argparse.Namespace) -> int:
    _check_attack_args(args)
    from ela.runs.attack import run_attack
    from ela.runs.job import AttackJob

    job = AttackJob.from_flags(
        args.run, args.method, args.out, gamma=args.gamma, iters=args.iters,
        cfg=_parse_cfg(args.cfg), label=args.label, emotion=args.emotion, target=args.target,
        samples=args.samples, seed=args.seed, device=args.device, batch_size=args.batch_size,
        split=args.part, overwrite=args.overwrite)
    backend = _backend(args)
    summary = run_attack(job, _read(args), backend)
    keys = ("success_rate", "bone_length_change", "bone_angle_change", "joint_speed_change",
            "l2", "acceleration_change", "emotion_consistency")
    print(" ".join(f"{k}={_fmt(summary.get(k))}" for k in keys))
    for note in summary.get("notes", []):
        print(f"note: {note}", file=sys.stderr)
    print(f"results written to {args.out}")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from ela.models.registry import list_models, model_options

    for kind in ("action", "emotion", "multimodal"):
        print(f"{kind} models:")
        for name in list_models(kind):
            opts = ", ".join(f"{k}={v!r}" for k, v in model_options(name).items())
            print(f"  {name}: {opts or '(no options)'}")
    print("set options with `ela train --cfg key=value ...`")
    return 0


def cmd_attacks(args: argparse.Namespace) -> int:
    from ela.attacks import ATTACKS

    for name, cls in sorted(ATTACKS.items()):
        doc = (cls.__doc__ or "").strip().splitlines()[0]
        print(f"{name}: {doc}")
        print("  options (--cfg key=value): " + ", ".join(
            f"{k}={v!r}" for k, v in cls.options().items()))
    return 0


def cmd_experiment(args: argparse.Namespace) -> int:
    from ela.runs.experiment import run_paper_experiment

    _check_attack_args(args)
    data = _read(args)
    tables = run_paper_experiment(
        data, runs=args.runs, emotion=args.emotion, label=args.label, out=args.out,
        samples=args.samples, seed=args.seed, device=args.device, target=args.target,
        iters=args.iters, gammas=[float(g) for g in args.gammas.split(",")],
        batch_size=args.batch_size, backend=_backend(args), overwrite=args.overwrite,
    )
    print(tables)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from ela.demo import run_demo

    run_demo(Path(args.out), quick=args.quick, seed=args.seed)
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


def cmd_report(args: argparse.Namespace) -> int:
    from ela.viz import write_report

    html_out = (Path(args.out) if args.out else Path(args.outputs[0]) / "report.html") \
        if args.html else None
    for path in write_report(args.outputs, html_out, animation=args.animation,
                             max_samples=args.samples, row=args.sample):
        print(path)
    return 0


def _parse_cfg(items: list[str] | None) -> dict[str, Any]:
    """``key=value`` strings → dict, values parsed as JSON when they parse."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise ElaError(f"--cfg expects key=value, got {item!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def _fmt(v: Any) -> str:
    return "-" if v is None else (f"{v:.4f}" if isinstance(v, float) else str(v))


def _print_metrics(metrics: dict[str, Any]) -> None:
    if "mean" in metrics:
        mean, std = metrics["mean"], metrics["std"]
        print("  ".join(f"{k} {mean[k]:.3f}±{std[k]:.3f}" for k in ("uar", "war", "wap")
                        if k in mean))
    else:
        print("  ".join(f"{k} {metrics[k]:.3f}" for k in ("accuracy", "uar", "wap")
                        if k in metrics))
    if "clip" in metrics:
        clip = metrics["clip"]
        print("per clip (mean window vote): "
              + "  ".join(f"{k} {clip[k]:.3f}" for k in ("accuracy", "uar", "wap")))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ela", description="Emotion-aware skeleton motion analysis and adversarial "
                                "robustness (Emotion Loss Attack).")
    sub = parser.add_subparsers(dest="command", required=True)

    data = sub.add_parser("data", help="inspect and convert skeleton datasets")
    dsub = data.add_subparsers(dest="data_command", required=True)
    info = dsub.add_parser("info", help="samples, layout, frames, labels, skipped files")
    info.add_argument("path", help="dataset file or folder")
    info.add_argument("--format", default=None, help=FORMAT_HELP)
    info.add_argument("--layout", default=None,
                      help="map the data to this layout after reading (e.g. gait16), as "
                           "the other commands do")
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(func=cmd_data_info)
    conv = dsub.add_parser("convert", help="write any readable dataset as ela .npz")
    conv.add_argument("path", help="dataset file or folder")
    conv.add_argument("--format", default=None, help=FORMAT_HELP)
    conv.add_argument("--out", required=True, help="output .npz file")
    conv.add_argument("--layout", default=None, help="map to this layout")
    conv.add_argument("--frames", type=int, default=None, help="resample every sample to T")
    conv.add_argument("--lowpass", action="store_true",
                      help="Butterworth low-pass (order 8, cut-off 0.1, zero-phase)")
    conv.add_argument("--label", default=None, help="check that this label exists")
    conv.add_argument("--only", default=None, help="e.g. style=angry,happy,sad,normal")
    conv.set_defaults(func=cmd_data_convert)

    train = sub.add_parser("train", help="train a recognizer and evaluate it honestly")
    train.add_argument("--model", required=True, help=_model_help())
    _add_data_args(train, required=False)
    train.add_argument("--label", default=None, help="label to learn (action, content, style)")
    train.add_argument("--manifest", default=None,
                       help="multimodal manifest (CSV or JSON lines: audio, transcript, "
                            "skeleton or video, label, group) for smern, sern, sern-2s, mdre, "
                            "are, tre; --layout then defaults to upper10, --split to emotion5")
    train.add_argument("--glove", default=None,
                       help="GloVe-format word vectors for the text encoder (multimodal)")
    train.add_argument("--out", required=True, help="run folder")
    train.add_argument("--frames", type=int, default=32,
                       help="frames T every sample (or window) is brought to (default 32)")
    train.add_argument("--epochs", type=int, default=None,
                       help=f"training epochs (default {TRAIN_DEFAULTS.epochs})")
    train.add_argument("--folds", type=int, default=None,
                       help="k-fold cross-validation grouped by clip")
    train.add_argument("--split", default=None,
                       help="cross-subject, cross-view, msr-cross-subject, holdout[:a,b,c], "
                            "kfold:K, emotion5, or a split.json file (default: the dataset's "
                            "protocol if it has one, else holdout)")
    train.add_argument("--window", type=int, default=None,
                       help="cut clips into windows of this many frames (stride half)")
    train.add_argument("--transform", default=None,
                       help="preprocessing steps, e.g. 'centre+align' (default centre)")
    train.add_argument("--augment", default=None, help="training augmentation, e.g. rotate:15")
    train.add_argument("--sampling", default="resample", choices=["resample", "crop", "pad"],
                       help="how a clip becomes T frames")
    train.add_argument("--batch-size", type=int, default=None,
                       help=f"samples per step (default {TRAIN_DEFAULTS.batch_size})")
    train.add_argument("--lr", type=float, default=None,
                       help=f"Adam learning rate (default {TRAIN_DEFAULTS.lr:g})")
    train.add_argument("--weight-decay", type=float, default=None,
                       help=f"Adam weight decay (default {TRAIN_DEFAULTS.weight_decay:g})")
    train.add_argument("--schedule", default=None, choices=["none", "cosine", "step"],
                       help="learning-rate schedule over the epochs (default "
                            f"{TRAIN_DEFAULTS.schedule})")
    train.add_argument("--patience", type=int, default=None,
                       help="early stopping: epochs without a better validation score "
                            "(default: none)")
    train.add_argument("--label-smoothing", type=float, default=None,
                       help="label smoothing of the cross-entropy (default "
                            f"{TRAIN_DEFAULTS.label_smoothing:g})")
    train.add_argument("--monitor", default=None, choices=["accuracy", "uar", "loss"],
                       help="validation score that picks the best epoch (default "
                            f"{TRAIN_DEFAULTS.monitor})")
    train.add_argument("--adversarial", default=None, choices=["pgd", "trades"],
                       help="adversarial training: pgd (Madry: train on attacked batches) or "
                            "trades (clean loss + β·KL to the attacked batch); attacks stay in "
                            "an l∞ ball of --adv-eps metres with a bone-length penalty")
    train.add_argument("--adv-eps", type=float, default=None,
                       help=f"l∞ budget of the training attack in metres (default "
                            f"{TRAIN_DEFAULTS.adv_eps:g})")
    train.add_argument("--adv-steps", type=int, default=None,
                       help=f"steps of the training attack per batch (default "
                            f"{TRAIN_DEFAULTS.adv_steps})")
    train.add_argument("--adv-bone-weight", type=float, default=None,
                       help="penalty on the relative bone-length change inside the training "
                            f"attack (default {TRAIN_DEFAULTS.adv_bone_weight:g})")
    train.add_argument("--trades-beta", type=float, default=None,
                       help=f"TRADES' β (default {TRAIN_DEFAULTS.trades_beta:g})")
    train.add_argument("--group", default="clip",
                       help="metadata key whose samples stay on one side of every split, the "
                            "validation part of a protocol split included (default clip; "
                            "e.g. subject: validate on held-out subjects)")
    train.add_argument("--balance", action="store_true",
                       help="weight the loss by inverse class frequency (skewed classes)")
    train.add_argument("--cfg", nargs="*", help="model options key=value")
    train.add_argument("--seed", type=int, default=None,
                       help="seed of the split, the initial weights and the batches "
                            f"(default {TRAIN_DEFAULTS.seed})")
    train.add_argument("--device", default=None, help=DEVICE_HELP)
    train.add_argument("--overwrite", action="store_true",
                       help="replace a run in --out trained on other data (without it, that "
                            "is an error naming both datasets)")
    train.set_defaults(func=cmd_train)

    ev = sub.add_parser("eval", help="evaluate a trained run on data")
    ev.add_argument("run", help="run folder written by `ela train`")
    _add_data_args(ev, required=False)
    ev.add_argument("--manifest", default=None,
                    help="multimodal manifest, for runs trained with --manifest")
    ev.add_argument("--label", default=None, help="label to score (default: the run's)")
    ev.add_argument("--part", default=None, choices=["train", "val", "test"],
                    help="only this part of the run's own split")
    ev.add_argument("--out", default=None,
                    help="folder (or .json) for metrics; with --adversarial for "
                         "transfer.json and transfer.md")
    ev.add_argument("--device", default="auto", help=DEVICE_HELP)
    ev.add_argument("--adversarial", nargs="+", default=None, metavar="ATTACK_DIR",
                    help="transfer test: score the run on the clean and adversarial "
                         "sequences of these attack folders (made on other models) instead "
                         "of on --data")
    ev.add_argument("--batch-size", type=int, default=64,
                    help="sequences scored together with --adversarial (default 64)")
    ev.set_defaults(func=cmd_eval)

    at = sub.add_parser("attack", help="attack a trained action model")
    at.add_argument("run", help="run folder of the action model")
    _add_data_args(at)
    at.add_argument("--label", default=None, help="label the model was trained on")
    at.add_argument("--method", default="ela", choices=sorted(ATTACKS),
                    help="attack (`ela attacks` lists each with its options)")
    at.add_argument("--emotion", default=None, help="run folder of an emotion model (E)")
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
    _add_data_args(ex)
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

    ext = sub.add_parser("extract", help="3D skeletons from videos (MediaPipe Pose, the "
                                         "papers' low-pass filter); needs ela[video]")
    ext.add_argument("path", help="a video, or a folder of videos (one dataset file)")
    ext.add_argument("--layout", default="upper10", choices=["upper10", "ntu25", "mediapipe33"],
                     help="layout of the extracted skeletons (default upper10)")
    ext.add_argument("--lowpass", action=argparse.BooleanOptionalAction, default=True,
                     help="Butterworth low-pass, order 8, cut-off 0.1 (default on)")
    ext.add_argument("--out", required=True, help="output .npz file")
    ext.set_defaults(func=cmd_extract)

    rep = sub.add_parser("report", help="pictures and a self-contained HTML report of attack "
                                        "and training folders")
    rep.add_argument("outputs", nargs="+", metavar="FOLDER",
                     help="attack output, training run, `ela transfer` or `ela robustness` "
                          "folders (or folders holding them)")
    rep.add_argument("--html", action=argparse.BooleanOptionalAction, default=True,
                     help="write the HTML report (default: yes)")
    rep.add_argument("--out", default=None, help="HTML file (default: OUT/report.html)")
    rep.add_argument("--samples", type=int, default=12, help="samples per attack in the viewer")
    rep.add_argument("--sample", type=int, default=None,
                     help="row of adversarial.npz for the strip and animation "
                          "(default: the first successful one)")
    rep.add_argument("--animation", action=argparse.BooleanOptionalAction, default=True,
                     help="write the GIF (and MP4 when ffmpeg is there)")
    rep.set_defaults(func=cmd_report)

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

    models = sub.add_parser("models", help="list the models and their options")
    models.set_defaults(func=cmd_models)

    lst = sub.add_parser("attacks", help="list the attacks and their options")
    lst.set_defaults(func=cmd_attacks)

    demo = sub.add_parser("demo", help="the main job on built-in demo data")
    demo.add_argument("--out", default="out/demo", help="folder for everything the demo writes")
    demo.add_argument("--quick", action="store_true", help="smaller models and budgets")
    demo.add_argument("--seed", type=int, default=0, help="seed of the data, models and attacks")
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ElaError as err:
        print(f"ela: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # finished epochs and batches are on disk (atomic writes)
        return _interrupted()
    except Exception as err:
        if _raised_by_interrupt(err):
            return _interrupted()
        raise


def _interrupted() -> int:
    print("\nela: interrupted; run the same command again to resume", file=sys.stderr)
    return 130


def _raised_by_interrupt(err: BaseException) -> bool:
    """Whether `err` was raised while a Ctrl-C was being handled (a library's cleanup that
    fails half-way, e.g. tqdm creating its lock when the interrupt lands)."""
    seen: set[int] = set()
    cause = err.__context__
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, KeyboardInterrupt):
            return True
        seen.add(id(cause))
        cause = cause.__context__
    return False


if __name__ == "__main__":
    raise SystemExit(main())
