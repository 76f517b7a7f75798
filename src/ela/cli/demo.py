"""`ela demo`: the main job (train, attack, report) on built-in demo data."""

from __future__ import annotations

import argparse
from pathlib import Path


def cmd_demo(args: argparse.Namespace) -> int:
    from ela.demo import run_demo

    run_demo(Path(args.out), quick=args.quick, seed=args.seed)
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser("demo", help="the main job on built-in demo data")
    demo.add_argument("--out", default="out/demo", help="folder for everything the demo writes")
    demo.add_argument("--quick", action="store_true", help="smaller models and budgets")
    demo.add_argument("--seed", type=int, default=0, help="seed of the data, models and attacks")
    demo.set_defaults(func=cmd_demo)
