"""The CLI reference page (Markdown) from `ela.cli.build_parser`, so it cannot drift.

Every command and sub-command gets a heading and its ``--help`` text, in the order the
parser defines them; then what ``ela models`` and ``ela attacks`` print (every option
that ``--cfg key=value`` sets, with its default). The MkDocs hook `scripts/mkdocs_hooks.py`
renders ``cli.md`` anew at every build; the committed ``docs/cli.md`` (for readers of the
repository) is checked against it by tests/test_docs.py. After changing the parser:

    .venv/bin/python scripts/cli_reference.py --write   # rewrites docs/cli.md
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from ela.cli import build_parser, main

PAGE = Path(__file__).resolve().parents[1] / "docs" / "cli.md"
WIDTH = "100"  # help text is wrapped at this many columns, whatever the terminal


Command = tuple[tuple[str, ...], argparse.ArgumentParser]


def commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Iterator[Command]:
    """(command path, parser) for `parser` and every sub-command below it, depth first."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from commands(sub, (*path, name))


def printed(*argv: str) -> str:
    """What ``ela ARGV`` prints."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        main(list(argv))
    return out.getvalue()


def render() -> str:
    """The whole reference page as Markdown."""
    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = WIDTH
    try:
        parser = build_parser()
        parts = ["# CLI reference", "",
                 "Generated from the parser (`ela.cli.build_parser`) by "
                 "`scripts/cli_reference.py`: the `--help` of every command. Run it as "
                 "`.venv/bin/ela` unless the environment is activated "
                 "([Install](install.md)); a tour of the commands is on "
                 "[Command line](command-line.md).", ""]
        for path, sub in commands(parser):
            title = " ".join(("ela", *path))
            parts += [f"## `{title}`", "", "```text", sub.format_help().rstrip(), "```", ""]
        for command, what in (("models", "Model options"), ("attacks", "Attack options")):
            parts += [f"## {what} (`ela {command}`)", "", "```text", printed(command).rstrip(),
                      "```", ""]
        return "\n".join(parts)
    finally:
        if saved is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = saved


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        PAGE.write_text(render(), encoding="utf-8")
    else:
        print(render(), end="")
