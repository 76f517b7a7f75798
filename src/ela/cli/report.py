"""`ela report`: pictures and a self-contained HTML report of attack and training folders."""

from __future__ import annotations

import argparse
from pathlib import Path


def cmd_report(args: argparse.Namespace) -> int:
    from ela.viz import write_report

    html_out = (Path(args.out) if args.out else Path(args.outputs[0]) / "report.html") \
        if args.html else None
    for path in write_report(args.outputs, html_out, animation=args.animation,
                             max_samples=args.samples, row=args.sample):
        print(path)
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
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
