"""Attack results compared on equal footing: the samples that every method fooled.

Each method's ``summary.json`` averages its metrics over the samples *it* fooled, so a method
that gives up on the hard samples looks more imperceptible than one that fools them all.
`common_success` re-averages the per-sample rows of several ``ela attack`` folders
(``samples.csv``) over the samples that all of them fooled (the paper's "at equal success
rate"), so every method is scored on the same sequences.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ela.attacks.metrics import METRICS
from ela.errors import DataFormatError, ElaError


def read_samples(folder: str | Path) -> dict[int, dict[str, str]]:
    """Rows of ``folder/samples.csv`` keyed by the dataset index of the sample."""
    path = Path(folder) / "samples.csv"
    try:
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except OSError as exc:
        raise DataFormatError(path, f"cannot read the per-sample table ({exc})") from exc
    missing = {"index", "success"} - set(rows[0] if rows else {})
    if rows and missing:
        raise DataFormatError(path, f"columns {sorted(missing)} are missing")
    return {int(r["index"]): r for r in rows}


def common_success(folders: Sequence[str | Path]) -> tuple[list[int], list[dict[str, Any]]]:
    """The indices every folder attacked and fooled, and each folder's means over them.

    Returns (indices, summaries): one summary per folder, in order, with ``n`` (the number
    of common samples), the mean of every metric of `METRICS` (fractions, like summary.json;
    None for a metric that a folder written before it existed lacks) and
    ``emotion_consistency`` (share with the emotion prediction unchanged; None without an
    emotion model). Raises ElaError when the folders share no attacked sample.
    """
    if not folders:
        raise ElaError("common_success needs at least one attack folder")
    tables = [read_samples(f) for f in folders]
    shared = set.intersection(*(set(t) for t in tables))
    if not shared:
        raise ElaError(f"the attack folders {[str(f) for f in folders]} share no sample "
                       f"(different data, seeds or --samples)")
    fooled = sorted(i for i in shared if all(t[i]["success"] == "True" for t in tables))
    summaries = [_means(t, fooled) for t in tables]
    return fooled, summaries


def _means(table: dict[int, dict[str, str]], indices: list[int]) -> dict[str, Any]:
    out: dict[str, Any] = {"n": len(indices)}
    for key in METRICS:
        values = np.array([float(table[i].get(key) or "nan") for i in indices],
                          dtype=np.float64)
        out[key] = (float(np.nanmean(values)) if values.size and not np.isnan(values).all()
                    else None)
    emotions = [(table[i].get("clean_emotion", ""), table[i].get("adv_emotion", ""))
                for i in indices]
    known = [(a, b) for a, b in emotions if a != "" and b != ""]
    out["emotion_consistency"] = (float(np.mean([a == b for a, b in known]))
                                  if known and len(known) == len(indices) else None)
    return out
