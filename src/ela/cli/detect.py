"""`ela detect`: detectors of adversarial sequences, an outside judge of imperceptibility."""

from __future__ import annotations

import argparse
from pathlib import Path

from ela.cli.common import DEVICE_HELP, at_least, parse_cfg


def cmd_detect(args: argparse.Namespace) -> int:
    from ela.runs.detect import DetectorSettings, markdown, run_detect

    at_least(args.epochs, 1, "--epochs")
    at_least(args.bootstrap, 1, "--bootstrap")
    at_least(args.restarts, 1, "--restarts")
    settings = DetectorSettings(model=args.model, cfg=parse_cfg(args.cfg), epochs=args.epochs,
                                seed=args.seed, bootstrap=args.bootstrap, device=args.device,
                                restarts=args.restarts, group=args.hold_out_group)
    report = run_detect(args.train, args.test, args.out, settings)
    print(markdown(report))
    print(f"wrote {Path(args.out) / 'detect.json'}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    det = sub.add_parser("detect", help="train detectors of adversarial sequences on attacks "
                                        "of the training part; ROC-AUC on attacks of the "
                                        "test part (an outside judge of imperceptibility)")
    det.add_argument("--train", nargs="+", required=True, metavar="[NAME=]ATTACK_DIR",
                     help="attack folders of the run's training part (ela attack --part "
                          "train); NAME pairs them with --test folders (default: the method)")
    det.add_argument("--test", nargs="+", required=True, metavar="[NAME=]ATTACK_DIR",
                     help="attack folders of the run's test part, one detector each name")
    det.add_argument("--out", required=True,
                     help="folder for detect.json and the detectors' run folders")
    det.add_argument("--model", default="hcn", help="detector backbone (default hcn)")
    det.add_argument("--cfg", nargs="*", metavar="KEY=VALUE", help="backbone options")
    det.add_argument("--epochs", type=int, default=60, help="training epochs (default 60)")
    det.add_argument("--restarts", type=int, default=3,
                     help="trainings per detector (seeds seed, seed + 1, ...); the one with "
                          "the lowest loss on held-out training samples is kept (default 3)")
    det.add_argument("--bootstrap", type=int, default=1000,
                     help="bootstrap resamples of the AUC interval (default 1000)")
    det.add_argument("--hold-out-group", default=None, metavar="REGEX",
                     help="hold out whole groups of training samples (to choose the epoch and "
                          "set the threshold) instead of single ones: a sample's group is the "
                          "first (group) of REGEX in its name, e.g. 's(\\d+)' for MSR's "
                          "subjects, so the threshold meets unseen subjects as the test does")
    det.add_argument("--seed", type=int, default=0,
                     help="seed of the held-out pairs, training and bootstrap (default 0)")
    det.add_argument("--device", default="auto", help=DEVICE_HELP)
    det.set_defaults(func=cmd_detect)
