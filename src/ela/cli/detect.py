"""`ela detect`: detectors of adversarial sequences, an outside judge of imperceptibility."""

from __future__ import annotations

import argparse
from pathlib import Path

from ela.cli.common import DEVICE_HELP, at_least, parse_cfg
from ela.errors import ElaError

SIZE_OPTIONS = {"smooth": "sigmas", "quantise": "quanta", "rigid": "rigids",
                "median": "medians"}
"""The option giving each squeezer kind's candidate sizes."""


def cmd_detect(args: argparse.Namespace) -> int:
    from ela.runs import squeeze
    from ela.runs.detect import DetectorSettings, markdown, run_detect

    at_least(args.epochs, 1, "--epochs")
    at_least(args.bootstrap, 1, "--bootstrap")
    at_least(args.restarts, 1, "--restarts")
    if args.max_restarts is not None:
        at_least(args.max_restarts, args.restarts, "--max-restarts")
    settings = DetectorSettings(model=args.model, cfg=parse_cfg(args.cfg), epochs=args.epochs,
                                seed=args.seed, bootstrap=args.bootstrap, device=args.device,
                                restarts=args.restarts, max_restarts=args.max_restarts,
                                group=args.hold_out_group)
    sizes = {kind: tuple(getattr(args, option)) for kind, option in SIZE_OPTIONS.items()
             if getattr(args, option) is not None}
    if args.squeeze is not None:
        if not args.calibrate:
            raise ElaError("--squeeze needs --calibrate: attack folders of the run's "
                           "validation part (ela attack RUN --part val), whose clean "
                           "sequences set the threshold")
        report = squeeze.run_squeeze(args.squeeze, args.train, args.test, args.calibrate,
                                     args.out, settings, sizes)
        print(squeeze.markdown(report))
    else:
        if sizes:
            raise ElaError("--medians, --sigmas, --quanta and --rigids are options of "
                           "--squeeze")
        print(markdown(run_detect(args.train, args.test, args.out, settings, args.calibrate)))
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
    det.add_argument("--model", default="hcn",
                     help="detector backbone (default hcn; highpass: a backbone, hcn unless "
                          "--cfg backbone=..., on the joints and their fast part, x minus "
                          "its low-pass along time)")
    det.add_argument("--cfg", nargs="*", metavar="KEY=VALUE", help="backbone options")
    det.add_argument("--epochs", type=int, default=60, help="training epochs (default 60)")
    det.add_argument("--restarts", type=int, default=3,
                     help="trainings per detector (seeds seed, seed + 1, ...); the one with "
                          "the lowest loss on held-out training samples is kept (default 3)")
    det.add_argument("--max-restarts", type=int, default=None, metavar="N",
                     help="more trainings, up to N in all, while none has learned (its "
                          "held-out loss not 2 %% below ln 2, a 50/50 answer's; default: "
                          "--restarts only)")
    det.add_argument("--bootstrap", type=int, default=1000,
                     help="bootstrap resamples of the AUC interval (default 1000)")
    det.add_argument("--hold-out-group", default=None, metavar="REGEX",
                     help="hold out whole groups of training samples (to choose the epoch and "
                          "set the threshold) instead of single ones: a sample's group is the "
                          "first (group) of REGEX in its name, e.g. 's(\\d+)' for MSR's "
                          "subjects, so the threshold meets unseen subjects as the test does")
    det.add_argument("--seed", type=int, default=0,
                     help="seed of the held-out pairs, training and bootstrap (default 0)")
    det.add_argument("--squeeze", default=None, metavar="RUN",
                     help="instead of training detectors, feature squeezing of RUN's action "
                          "model (Xu et al. 2018: its answer on the sequence and on copies "
                          "filtered along time, quantised or with rigid bones); the squeezers "
                          "are chosen on the --train folders, the threshold set on the "
                          "--calibrate folders")
    det.add_argument("--calibrate", nargs="+", default=None, metavar="ATTACK_DIR",
                     help="attack folders of the run's validation part (ela attack RUN "
                          "--part val), clips no model here trained on: their clean "
                          "sequences set each detector's threshold for 5 %% false alarms "
                          "(needed with --squeeze; by default a trained detector's is set "
                          "on its held-out training pairs)")
    det.add_argument("--medians", nargs="*", type=float, default=None, metavar="FRAMES",
                     help="with --squeeze: candidate windows (odd) of the median along time "
                          "(default 3 5; none: no median)")
    det.add_argument("--sigmas", nargs="*", type=float, default=None, metavar="FRAMES",
                     help="with --squeeze: candidate widths of the Gaussian along time "
                          "(default 0.5 1 1.5 2; none: no smoothing)")
    det.add_argument("--quanta", nargs="*", type=float, default=None, metavar="METRES",
                     help="with --squeeze: candidate grid steps of the coordinate "
                          "quantisation (default 0.01 0.02 0.04; none: no quantisation)")
    det.add_argument("--rigids", nargs="*", type=float, default=None, metavar="SHARE",
                     help="with --squeeze: candidate shares (0 … 1] of each bone's length "
                          "change the rigid squeezer removes (default 0.5 1; none: no "
                          "rigid squeezer)")
    det.add_argument("--device", default="auto", help=DEVICE_HELP)
    det.set_defaults(func=cmd_detect)
