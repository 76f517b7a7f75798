"""`ela data info`, `ela data convert` and `ela extract`: read, inspect and write datasets."""

from __future__ import annotations

import argparse
import json
import sys

from ela.cli.common import FORMAT_HELP


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
    from ela.data.convert import convert

    done = convert(args.path, args.out, args.format, workers=args.workers, layout=args.layout,
                   only=args.only, lowpass=args.lowpass, frames=args.frames, label=args.label,
                   log=lambda line: print(line, file=sys.stderr, flush=True))
    for text in done.warnings:
        print(f"warning: {text}", file=sys.stderr)
    print(f"wrote {done.path}: {done.samples} samples, layout {done.layout}"
          + (f", {len(done.skipped)} skipped" if done.skipped else "")
          + f" in {done.seconds:.1f} s")
    for f, reason in done.skipped:
        print(f"skipped {f}: {reason}")
    return 0


def cmd_extract(args: argparse.Namespace) -> int:
    from ela.io import write_npz
    from ela.video import extract

    data = extract(args.path, layout=args.layout, lowpass=args.lowpass, log=print,
                   progress=True)
    write_npz(data, args.out)
    _wrote(args.out, data, "videos")
    return 0


def _wrote(path: str, data, what: str) -> None:
    """What a written dataset file holds, and the files skipped while reading it."""
    print(f"wrote {path}: {len(data)} {what}, layout {data.layout.name}"
          + (f", {len(data.skipped)} skipped" if data.skipped else ""))
    for f, reason in data.skipped:
        print(f"skipped {f}: {reason}")


def add_parser(sub: argparse._SubParsersAction) -> None:
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
    conv = dsub.add_parser("convert", help="write any readable dataset as an ela store "
                                           "(streamed, for sets larger than memory) or .npz")
    conv.add_argument("path", help="dataset file or folder")
    conv.add_argument("--format", default=None, help=FORMAT_HELP)
    conv.add_argument("--out", required=True,
                      help="output: a .npz file (read into memory first: small sets), or any "
                           "other name for a store (HDF5, written while reading; read it "
                           "back with --data OUT)")
    conv.add_argument("--workers", type=int, default=1,
                      help="processes parsing NTU .skeleton folders (default 1)")
    conv.add_argument("--layout", default=None, help="map to this layout")
    conv.add_argument("--frames", type=int, default=None, help="resample every sample to T")
    conv.add_argument("--lowpass", action="store_true",
                      help="Butterworth low-pass (order 8, cut-off 0.1, zero-phase)")
    conv.add_argument("--label", default=None, help="check that this label exists")
    conv.add_argument("--only", default=None, help="e.g. style=angry,happy,sad,normal")
    conv.set_defaults(func=cmd_data_convert)

    ext = sub.add_parser("extract", help="3D skeletons from videos (MediaPipe Pose, the "
                                         "papers' low-pass filter); needs ela[video]")
    ext.add_argument("path", help="a video, or a folder of videos (one dataset file)")
    ext.add_argument("--layout", default="upper10", choices=["upper10", "ntu25", "mediapipe33"],
                     help="layout of the extracted skeletons (default upper10)")
    ext.add_argument("--lowpass", action=argparse.BooleanOptionalAction, default=True,
                     help="Butterworth low-pass, order 8, cut-off 0.1 (default on)")
    ext.add_argument("--out", required=True, help="output .npz file")
    ext.set_defaults(func=cmd_extract)
