"""Write every results table of the docs from the small files kept under docs/results/.

A table lives in a Markdown file between two marker comments, each alone on its line::

    <!-- results:NAME -->
    ... generated; do not edit ...
    <!-- /results:NAME -->

and is described by the entry ``[tables.NAME]`` of ``docs/results/tables.toml``: its kind,
its rows (a name and a folder under docs/results/), its columns and the command that made
the files (printed under the table). Kinds:

- ``summary``: one row per attack folder, values from its ``summary.json``;
- ``equal_success``: one row per attack folder, over the samples that every listed folder
  attacked and fooled (`ela.runs.compare.common_success`), each column a statistic
  (``mean``, ``median``, ``p90``, ``max``) of that column of the folder's ``samples.csv``;
  ``n`` is the number of those samples and ``emotion_consistency`` the share whose
  predicted emotion is unchanged;
- ``training``: one row per training run, values from its ``metrics.json`` (a dotted key
  such as ``mean.uar`` reaches into nested values; ``pm`` names the ± value).

A ``summary`` or ``training`` table may name another JSON file (``file = "detect.json"``),
a row its own file (``file`` in the row) and a ``prefix`` put before every key of its
columns (``prefix = "methods.ela"``): so one `ela detect` output gives a row per attack. A
numeric part of a dotted key indexes a list (``prefix = "rows.3"``: the fourth setting of a
`scripts/tune_ela.py --out` file).

A column is a key of the ``[columns]`` catalogue of the spec (title, scale, format), or an
inline table ``{ key = ..., title = ..., scale = ..., format = ..., stat = ..., pm = ... }``
whose fields override the catalogue's. Markers are looked for in README.md and docs/**/*.md.

    .venv/bin/python scripts/docs_results.py           # rewrite the tables
    .venv/bin/python scripts/docs_results.py --check   # exit 1 when a table differs
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import tomllib
from pathlib import Path
from typing import Any

import numpy as np

from ela.errors import ElaError
from ela.files import atomic_write_bytes
from ela.runs.compare import common_success, read_samples

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "results"
# markers stand alone on their lines (so that prose can name them)
MARKER = re.compile(r"^<!-- results:(?P<name>[\w.-]+) -->\n(?P<body>.*?)"
                    r"^<!-- /results:(?P=name) -->$", re.DOTALL | re.MULTILINE)
OPENING = re.compile(r"^<!-- results:([\w.-]+) -->$", re.MULTILINE)
STATS = {"mean": np.nanmean, "median": np.nanmedian, "max": np.nanmax,
         "p90": lambda v: np.nanpercentile(v, 90)}
KINDS = ("summary", "equal_success", "training")


class SpecError(ElaError):
    """A table spec, a results file or a marker that is not as it should be."""


def load_spec(results: Path) -> dict[str, Any]:
    """The parsed ``tables.toml`` of folder `results`."""
    path = results / "tables.toml"
    try:
        spec = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SpecError(f"{path}: {exc}") from exc
    for name, table in spec.get("tables", {}).items():
        missing = {"kind", "rows", "columns", "command"} - set(table)
        if missing:
            raise SpecError(f"{path}: table {name!r} lacks {sorted(missing)}")
        if table["kind"] not in KINDS:
            raise SpecError(f"{path}: table {name!r} has kind {table['kind']!r}; "
                            f"known: {', '.join(KINDS)}")
    return spec


def column(spec: dict[str, Any], entry: str | dict[str, Any], table: str) -> dict[str, Any]:
    """A column's full description: the catalogue's entry under the inline overrides."""
    fields = {"key": entry} if isinstance(entry, str) else dict(entry)
    if "key" not in fields:
        raise SpecError(f"tables.toml: a column of table {table!r} has no key")
    merged = {"scale": 1.0, "format": "{}", "stat": "mean", "title": fields["key"],
              **spec.get("columns", {}).get(fields["key"], {}), **fields}
    if merged["stat"] not in STATS:
        raise SpecError(f"tables.toml: column {merged['key']!r} of table {table!r} has stat "
                        f"{merged['stat']!r}; known: {', '.join(STATS)}")
    return merged


def cell(value: Any, col: dict[str, Any], pm: Any = None) -> str:
    """One formatted value ('–' when there is none)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    def scaled(v: float) -> float:
        return v if col["scale"] == 1 else col["scale"] * v  # a count stays an int

    text = col["format"].format(scaled(value))
    if pm is not None:
        unit = " %" if text.endswith(" %") else ""
        text = (text.removesuffix(unit) + " ± "
                + col["format"].format(scaled(pm)).removesuffix(unit) + unit)
    return text


def lookup(data: dict[str, Any], key: str, path: Path) -> Any:
    """`data[key]`, a dotted key reaching into nested dicts and lists (``rows.2.l2``);
    SpecError naming `path`."""
    value: Any = data
    for part in key.split("."):
        if isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            raise SpecError(f"{path}: no value {key!r}")
    return value


def read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SpecError(f"{path}: cannot read it ({exc})") from exc


def file_rows(results: Path, table: dict[str, Any], filename: str,
              cols: list[dict[str, Any]]) -> list[list[str]]:
    """Rows of a ``summary`` or ``training`` table: each row's values from one JSON file."""
    rows = []
    for row in table["rows"]:
        path = results / row["path"] / row.get("file", filename)
        data = read_json(path)
        prefix = f"{row['prefix']}." if "prefix" in row else ""
        rows.append([row["name"], *(cell(lookup(data, prefix + c["key"], path), c,
                                         lookup(data, prefix + c["pm"], path)
                                         if "pm" in c else None)
                                    for c in cols)])
    return rows


def equal_success_rows(results: Path, table: dict[str, Any],
                       cols: list[dict[str, Any]]) -> list[list[str]]:
    """Rows of an ``equal_success`` table: statistics over the samples all folders fooled."""
    folders = [results / row["path"] for row in table["rows"]]
    fooled, _ = common_success(folders)
    rows = []
    for row, folder in zip(table["rows"], folders, strict=True):
        samples = read_samples(folder)
        picked = [samples[i] for i in fooled]
        cells = []
        for c in cols:
            if c["key"] == "n":
                cells.append(cell(len(fooled), c))
                continue
            if c["key"] == "emotion_consistency":
                pairs = [(r.get("clean_emotion", ""), r.get("adv_emotion", "")) for r in picked]
                known = picked and all(a != "" and b != "" for a, b in pairs)
                cells.append(cell(float(np.mean([a == b for a, b in pairs])) if known else None,
                                  c))
                continue
            if picked and c["key"] not in picked[0]:
                raise SpecError(f"{folder / 'samples.csv'}: no column {c['key']!r}")
            values = np.array([float(r[c["key"]] or "nan") for r in picked], dtype=np.float64)
            value = (None if values.size == 0 or np.isnan(values).all()
                     else float(STATS[c["stat"]](values)))
            cells.append(cell(value, c))
        rows.append([row["name"], *cells])
    return rows


def render(name: str, spec: dict[str, Any], results: Path) -> str:
    """The Markdown of table `name`: the table, then where its numbers come from."""
    tables = spec.get("tables", {})
    if name not in tables:
        raise SpecError(f"{results / 'tables.toml'}: no table {name!r} "
                        f"(known: {', '.join(sorted(tables)) or 'none'})")
    table = tables[name]
    cols = [column(spec, c, name) for c in table["columns"]]
    if table["kind"] == "equal_success":
        rows = equal_success_rows(results, table, cols)
        files = "samples.csv"
    else:
        default = table.get("file") or ("summary.json" if table["kind"] == "summary"
                                        else "metrics.json")
        rows = file_rows(results, table, default, cols)
        files = "`, `".join(dict.fromkeys(row.get("file", default) for row in table["rows"]))
    head = [table.get("first", "")] + [c["title"] for c in cols]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    folders = ", ".join(dict.fromkeys(f"docs/results/{row['path']}" for row in table["rows"]))
    lines += ["", f"*From `{files}` of {folders}; made by `{table['command']}`.*"]
    return "\n".join(lines) + "\n"


def documents(root: Path) -> list[Path]:
    """README.md and the Markdown pages of docs/ (not the results files themselves)."""
    pages = sorted(p for p in (root / "docs").rglob("*.md")
                   if (root / "docs" / "results") not in p.parents)
    return [root / "README.md", *pages]


def regenerate(text: str, spec: dict[str, Any], results: Path, path: Path) -> str:
    """`text` with every marked table rendered anew."""
    opened = OPENING.findall(text)
    closed = [m["name"] for m in MARKER.finditer(text)]
    if opened != closed:
        unclosed = sorted(set(opened) - set(closed)) or opened
        raise SpecError(f"{path}: marker <!-- results:{unclosed[0]} --> has no matching "
                        f"<!-- /results:{unclosed[0]} -->")
    return MARKER.sub(lambda m: (f"<!-- results:{m['name']} -->\n"
                                 f"{render(m['name'], spec, results)}"
                                 f"<!-- /results:{m['name']} -->"), text)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 when a committed table differs")
    p.add_argument("--results", type=Path, default=RESULTS,
                   help="folder of the result files and tables.toml (default docs/results)")
    p.add_argument("--root", type=Path, default=ROOT,
                   help="repository whose README.md and docs/ hold the tables")
    args = p.parse_args(argv)
    try:
        spec = load_spec(args.results)
        stale, used = [], set()
        for path in documents(args.root):
            text = path.read_text(encoding="utf-8")
            used.update(OPENING.findall(text))
            new = regenerate(text, spec, args.results, path)
            if new != text:
                stale.append(path)
                if not args.check:
                    atomic_write_bytes(path, new.encode("utf-8"))
    except ElaError as exc:
        print(f"docs_results: error: {exc}", file=sys.stderr)
        return 2
    for name in sorted(set(spec.get("tables", {})) - used):
        print(f"docs_results: table {name!r} is in the spec but in no document")
    for path in stale:
        print(f"{path}: tables {'differ from' if args.check else 'rewritten from'} "
              f"{args.results}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
