"""`ela train` and `ela eval`: train a recognizer, score a trained run."""

from __future__ import annotations

import argparse

from ela.cli.common import DEVICE_HELP, add_data_args, at_least, parse_cfg, print_metrics, read_data
from ela.errors import ElaError
from ela.training.adversarial import METHODS as ADVERSARIAL_METHODS
from ela.training.loop import TrainConfig

TRAIN_DEFAULTS = TrainConfig()
"""`ela train`'s defaults are TrainConfig's: one set of defaults for the CLI and the API."""


def _model_help() -> str:
    from ela.models.registry import list_models

    return ("model: " + ", ".join(list_models("action")) + " (action); "
            + ", ".join(list_models("emotion")) + " (emotion); "
            + ", ".join(list_models("multimodal")) + " (multimodal, with --manifest); "
            "`ela models` lists their options")


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
                             (args.folds, 2, "--folds"), (args.num_workers, 0, "--num-workers")):
        at_least(value, low, flag)
    if args.lr is not None and args.lr <= 0:
        raise ElaError(f"--lr must be > 0, got {args.lr}")
    # a syntax check of the step strings; the placeholder layout is only for steps that
    # need one (the run uses the data's own)
    for flag, spec in (("--transform", args.transform), ("--augment", args.augment)):
        try:
            build_transform(spec, get_layout(args.layout or "ntu25"))
        except ElaError as err:
            raise ElaError(f"{flag}: {err}") from None


def _recommended(args: argparse.Namespace) -> None:
    """``--adversarial recommended``: the defence chosen for the model (hcn's for a model the
    rule was not run on), its settings where no flag sets one."""
    from ela.training.adversarial import recommended

    if args.adversarial != "recommended":
        return
    for key, value in recommended(args.model).items():
        if key == "adversarial" or getattr(args, key) is None:
            setattr(args, key, value)


def cmd_train(args: argparse.Namespace) -> int:
    from ela.training.run import run_training

    _check_train_args(args)
    _recommended(args)
    config = TrainConfig.overridden(
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
        device=args.device, weight_decay=args.weight_decay, schedule=args.schedule,
        patience=args.patience, label_smoothing=args.label_smoothing, monitor=args.monitor,
        class_weight="balanced" if args.balance else None, adversarial=args.adversarial,
        adv_eps=args.adv_eps, adv_steps=args.adv_steps, adv_bone_weight=args.adv_bone_weight,
        trades_beta=args.trades_beta, adv_angle=args.adv_angle, num_workers=args.num_workers)
    if args.manifest:
        return _train_multimodal(args, config)
    if not args.data or not args.label:
        raise ElaError("ela train needs --data and --label (or --manifest for the "
                       "multimodal models)")
    data = read_data(args)
    metrics = run_training(
        data, args.model, args.label, args.out, model_cfg=parse_cfg(args.cfg),
        frames=args.frames, split=args.split, folds=args.folds, train_config=config,
        window=args.window, transform=args.transform, augment=args.augment,
        sampling=args.sampling, group=args.group, overwrite=args.overwrite,
    )
    print_metrics(metrics)
    print(f"run written to {args.out}")
    return 0


def _train_multimodal(args: argparse.Namespace, config: TrainConfig) -> int:
    from ela.training.multimodal import run_multimodal_training

    metrics = run_multimodal_training(
        args.manifest, args.model, args.out, model_cfg=parse_cfg(args.cfg),
        layout=args.layout or "upper10", frames=args.frames, sampling=args.sampling,
        transform="centre" if args.transform is None else args.transform,
        split=args.split or "emotion5", folds=args.folds, glove=args.glove,
        train_config=config, overwrite=args.overwrite)
    print_metrics(metrics)
    print(f"run written to {args.out}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from ela.cli.attack import score_transfer
    from ela.training.run import evaluate_run

    if args.adversarial:
        given = [f for f, v in (("--data", args.data), ("--manifest", args.manifest),
                                ("--part", args.part), ("--label", args.label)) if v]
        if given:
            raise ElaError(f"ela eval --adversarial scores the sequences the attack folders "
                           f"hold; leave out {', '.join(given)}")
        return score_transfer(args, [args.run], args.adversarial)
    if args.manifest:
        from ela.training.multimodal import evaluate_multimodal_run

        print_metrics(evaluate_multimodal_run(args.run, args.manifest, args.out,
                                              part=args.part, device=args.device))
        return 0
    if not args.data:
        raise ElaError("ela eval needs --data (or --manifest for a multimodal run)")
    data = read_data(args)
    metrics = evaluate_run(args.run, data, label=args.label, out=args.out, part=args.part,
                           device=args.device)
    print(f"{args.run} on {args.part or 'all'} samples of {args.data}: "
          f"{metrics.get('num_samples', '?')} samples")
    print_metrics(metrics)
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    train = sub.add_parser("train", help="train a recognizer and evaluate it honestly")
    train.add_argument("--model", required=True, help=_model_help())
    add_data_args(train, required=False)
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
    train.add_argument("--num-workers", type=int, default=None,
                       help="DataLoader worker processes reading and preparing samples "
                            f"(default {TRAIN_DEFAULTS.num_workers}: this process); with a "
                            "store (--format store) each worker reads its own samples")
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
    train.add_argument("--adversarial", default=None,
                       choices=[*ADVERSARIAL_METHODS, "recommended"],
                       help="adversarial training: pgd (Madry: train on attacked batches) or "
                            "trades (clean loss + β·KL to the attacked batch), attacks in an "
                            "l∞ ball of --adv-eps metres with a bone-length penalty; dynamic: "
                            "gradient steps from the clean sequence on the loss less ELA's "
                            "dynamic distance, --adv-eps metres RMS; dynamic-trades: that "
                            "attack with trades' loss; rotation: "
                            "train on batches whose bones turn smoothly, at most --adv-angle "
                            "degrees, lengths kept; recommended: the defence chosen for the "
                            "model on MSR (hcn, sgn; hcn's for other models; "
                            "docs/robustness.md#defences), every setting included")
    train.add_argument("--adv-eps", type=float, default=None,
                       help=f"budget of the training attack in metres: l∞ (pgd, trades), "
                            f"root-mean-square (dynamic, dynamic-trades) (default "
                            f"{TRAIN_DEFAULTS.adv_eps:g})")
    train.add_argument("--adv-steps", type=int, default=None,
                       help=f"steps of the training attack per batch (default "
                            f"{TRAIN_DEFAULTS.adv_steps})")
    train.add_argument("--adv-bone-weight", type=float, default=None,
                       help="weight of the penalty inside the training attack: the relative "
                            "bone-length change (pgd, trades) or ELA's dynamic distance "
                            f"(dynamic) (default {TRAIN_DEFAULTS.adv_bone_weight:g})")
    train.add_argument("--adv-angle", type=float, default=None,
                       help="largest turn of a bone per coordinate in the rotation training "
                            f"attack, degrees (default {TRAIN_DEFAULTS.adv_angle:g})")
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
    add_data_args(ev, required=False)
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
