"""What several command families share: the data options and their reading, `--cfg` parsing,
range checks and the printing of metrics."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ela.errors import ElaError

DEVICE_HELP = "auto (CUDA when available), cpu, cuda or cuda:N"
FORMAT_HELP = ("reader: ntu, ntu-npy, kinetics, pyskl, msr, bvh, bandai, npz, store "
               "(detected from the path when left out)")


def add_data_args(p: argparse.ArgumentParser, required: bool = True) -> None:
    """--data, --format, --layout and --only, read by `read_data`."""
    p.add_argument("--data", required=required, help="dataset file or folder")
    p.add_argument("--format", default=None, help=FORMAT_HELP)
    p.add_argument("--layout", default=None,
                   help="map the data to this layout after reading (e.g. gait16)")
    p.add_argument("--only", default=None,
                   help="keep samples whose label is in a list, e.g. style=angry,happy,sad,normal")


def read_data(args: argparse.Namespace):
    """The dataset of `add_data_args`' options, with its reading time on stderr."""
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


def at_least(value: int | float | None, low: int | float, flag: str) -> None:
    """Refuse `value` of option `flag` below `low` (None: the option was left out)."""
    if value is not None and value < low:
        raise ElaError(f"{flag} must be ≥ {low}, got {value}")


def parse_cfg(items: list[str] | None) -> dict[str, Any]:
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


def fmt(v: Any) -> str:
    """A value for a one-line summary: 4 decimals for floats, '-' for None."""
    return "-" if v is None else (f"{v:.4f}" if isinstance(v, float) else str(v))


def print_metrics(metrics: dict[str, Any]) -> None:
    """The scores of a run (or the mean±std of its folds) on one line, per clip on another."""
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
