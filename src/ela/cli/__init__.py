"""The `ela` command: thin wrappers that parse arguments, call the library and print.

Each command family is one module of this package with ``add_parser(subparsers)``, which
adds its commands and sets each one's ``func`` (its handler: namespace → exit code).
"""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import PackageNotFoundError, version

from ela.cli import attack, catalog, data, demo, detect, report, train
from ela.errors import ElaError

FAMILIES = (data, train, attack, detect, report, catalog, demo)
"""The command families in the order `ela --help` lists them: a new family is a module with
``add_parser(subparsers)`` and one entry here."""


def _version() -> str:
    try:
        return version("ela")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "(not installed)"


def build_parser() -> argparse.ArgumentParser:
    """The whole `ela` parser: every command family's commands and options."""
    parser = argparse.ArgumentParser(
        prog="ela", description="Emotion-aware skeleton motion analysis and adversarial "
                                "robustness (Emotion Loss Attack).")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    for family in FAMILIES:
        family.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run `ela` with `argv` (default: the process's arguments); the exit code: 0, 2 for an
    `ElaError` (its message on stderr), 130 for Ctrl-C."""
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
