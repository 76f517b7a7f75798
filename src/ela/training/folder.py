"""The files of a run folder, in one place, and what reads or claims them.

A run folder (``ela train --out``) holds:

- ``data.json``: the fingerprint of the data it was trained on (`ela.data.fingerprint`);
- ``split.json``: the split (``ela-split``) or the folds (``ela-folds``);
- ``model.safetensors`` + ``config.json``: the checkpoint (`ela.training.checkpoint`);
- ``metrics.json``: test metrics; with folds, ``fold_<k>/`` per fold (its own checkpoint and
  metrics), the run folder holding a copy of the best-validation fold's checkpoint;
- ``train_state/``: the state an interrupted training resumes from (removed when done).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np

from ela.data import splits as S
from ela.data.fingerprint import same_data
from ela.errors import ElaError
from ela.files import atomic_write_bytes, atomic_write_json
from ela.training.checkpoint import CONFIG_FILE, MODEL_FILE, read_json

__all__ = ["CONFIG_FILE", "DATA_FILE", "METRICS_FILE", "MODEL_FILE", "SPLIT_FILE", "STATE_DIR",
           "claim", "copy_checkpoint", "fold_dir", "run_part"]

SPLIT_FILE = "split.json"
METRICS_FILE = "metrics.json"
DATA_FILE = "data.json"
STATE_DIR = "train_state"


def fold_dir(out: str | Path, fold: int) -> Path:
    """The folder of fold `fold` (from 1) of run folder `out`."""
    return Path(out) / f"fold_{fold}"


def claim(out: str | Path, fingerprint: dict[str, Any], overwrite: bool = False) -> Path:
    """Make `out` the run folder of the data with `fingerprint`, before anything is written.

    A folder trained on other data is an ElaError naming both datasets; with `overwrite`
    its results (checkpoint, metrics, split, folds, training state) are removed first.
    Returns the folder.
    """
    out = Path(out)
    path = out / DATA_FILE
    if path.is_file() and not same_data(read_json(path, error=ElaError), fingerprint,
                                        str(out), overwrite):
        for name in (MODEL_FILE, CONFIG_FILE, SPLIT_FILE, METRICS_FILE):
            (out / name).unlink(missing_ok=True)
        for folder in (*out.glob("fold_*"), out / STATE_DIR):
            shutil.rmtree(folder, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, fingerprint)
    return out


def copy_checkpoint(src: Path, dst: Path) -> None:
    """Copy the checkpoint files of folder `src` into `dst`, atomically each."""
    for name in (MODEL_FILE, CONFIG_FILE):
        atomic_write_bytes(dst / name, (src / name).read_bytes())


def run_part(run_dir: str | Path, config: dict[str, Any], part: str,
             num_samples: int) -> np.ndarray:
    """Indices of `part` ("train", "val" or "test") of the run's split.json, for a set of
    `num_samples`; with folds, the part of the fold whose checkpoint the folder holds."""
    if part not in ("train", "val", "test"):
        raise ElaError(f"part must be 'train', 'val' or 'test', got {part!r}")
    run_dir = Path(run_dir)
    splits = S.load_splits(run_dir / SPLIT_FILE)
    if len(splits) == 1:
        split = splits[0]
    else:
        fold = config.get("fold")
        if fold is None or not 1 <= int(fold) <= len(splits):
            raise ElaError(f"{run_dir}: a run with folds and no \"fold\" in its config has no "
                           f"single {part} part")
        split = splits[int(fold) - 1]
    return split.check(num_samples).parts()[part]
