"""Read what the pictures show: attack output folders and training run folders.

An attack folder (written by `ela.runs.attack.run_attack`) holds ``summary.json``,
``samples.csv`` and ``adversarial.npz``; a training run folder holds ``metrics.json`` and
``config.json``; a transfer folder (`ela transfer`, `ela eval --adversarial`) holds
``transfer.json``; a robustness folder (`ela robustness`) holds ``robustness.json`` and
``robustness.png``; a model-card folder (`ela card`) holds ``card.json`` and ``card.md``.
`find_outputs` also accepts a folder of such folders (an experiment grid).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ela.errors import DataFormatError, ElaError
from ela.files import read_npz_arrays
from ela.skeleton import Layout, get_layout

NPZ_KEYS = ("clean", "adversarial", "lengths", "labels", "clean_pred", "adv_pred", "success",
            "indices", "layout", "classes")


@dataclass
class AttackOutput:
    """One attack output folder. Arrays are per attacked sample (N of them).

    clean, adversarial: (N, C, T, V, M) float32 metres; lengths: (N,) valid frames; labels,
    clean_pred, adv_pred: (N,) class indices into `classes`; success: (N,) bool; indices:
    (N,) sample indices in the dataset; clean_emotion / adv_emotion: (N,) indices into
    `emotion_classes` when an emotion model was given, else None.
    """

    folder: Path
    summary: dict[str, Any]
    clean: np.ndarray
    adversarial: np.ndarray
    lengths: np.ndarray
    labels: np.ndarray
    clean_pred: np.ndarray
    adv_pred: np.ndarray
    success: np.ndarray
    indices: np.ndarray
    layout: Layout
    classes: list[str]
    names: list[str]
    clean_emotion: np.ndarray | None = None
    adv_emotion: np.ndarray | None = None
    emotion_classes: list[str] | None = None

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def title(self) -> str:
        s = self.summary
        return f"{self.folder.name}: {s.get('method', '?')} on {s.get('model', '?')}"

    def class_name(self, k: int) -> str:
        """The class's name; a negative prediction is a refusal (a guard flagged it)."""
        if k < 0:
            return "flagged"
        return self.classes[k] if k < len(self.classes) else str(k)

    def emotion_name(self, k: int) -> str:
        names = self.emotion_classes or []
        return names[k] if 0 <= k < len(names) else f"emotion {k}"

    def perturbation(self, row: int) -> np.ndarray:
        """(V, T') per-joint displacement ‖x′ − x‖ (metres, over coordinates and persons)."""
        t = max(int(self.lengths[row]), 1)
        diff = (self.adversarial[row, :3, :t] - self.clean[row, :3, :t]).astype(np.float64)
        return np.sqrt((diff ** 2).sum(axis=(0, 3))).T

    def joint_mean(self) -> np.ndarray:
        """(V,) mean per-joint displacement (metres) over the valid frames of the successful
        samples (all samples when none succeeded)."""
        rows = np.flatnonzero(self.success) if self.success.any() else np.arange(len(self))
        if len(rows) == 0:
            return np.zeros(self.layout.num_joints)
        return np.mean([self.perturbation(r).mean(axis=1) for r in rows], axis=0)


@dataclass
class TrainingOutput:
    """One training run folder: its metrics.json and config.json (empty dict if absent)."""

    folder: Path
    metrics: dict[str, Any]
    config: dict[str, Any]

    @property
    def title(self) -> str:
        model = self.config.get("model", {}).get("name", "?")
        return f"{self.folder.name}: {model} ({self.config.get('label', '?')})"

    @property
    def classes(self) -> list[str]:
        return list(self.metrics.get("classes") or self.config.get("classes") or [])

    @property
    def confusion(self) -> np.ndarray:
        """(C, C) counts, row = true class, column = predicted class."""
        return np.asarray(self.metrics["confusion"], dtype=np.int64)


@dataclass
class TransferOutput:
    """A transfer folder: `result` is its transfer.json (`ela.runs.transfer`): ``rows``
    (attack folders), ``columns`` (target runs), ``cells`` and the ``definition`` used."""

    folder: Path
    result: dict[str, Any]

    @property
    def title(self) -> str:
        return f"{self.folder.name}: transfer of {len(self.result['rows'])} attacks to " \
               f"{len(self.result['columns'])} models"


@dataclass
class RobustnessOutput:
    """A robustness folder: `result` is its robustness.json (`ela.runs.robustness`), `plot`
    the path of its robustness.png (None when absent)."""

    folder: Path
    result: dict[str, Any]
    plot: Path | None

    @property
    def title(self) -> str:
        return f"{self.folder.name}: robustness of {len(self.result['curves'])} attack folders"


@dataclass
class CardOutput:
    """A model-card folder: `card` is its card.json (`ela.runs.card`), `text` its card.md."""

    folder: Path
    card: dict[str, Any]
    text: str

    @property
    def title(self) -> str:
        return f"{self.folder.name}: model card of {self.card.get('run', '?')}"


def load_card(folder: str | Path) -> CardOutput:
    """Read a model-card folder (card.json and card.md)."""
    folder = Path(folder)
    card = _json(folder / "card.json")
    if not isinstance(card.get("attacks"), list):
        raise DataFormatError(folder / "card.json", "needs a list 'attacks'")
    md = folder / "card.md"
    return CardOutput(folder=folder, card=card,
                      text=md.read_text(encoding="utf-8") if md.is_file() else "")


def is_attack(folder: Path) -> bool:
    return (folder / "summary.json").is_file() and (folder / "adversarial.npz").is_file()


def is_training(folder: Path) -> bool:
    return (folder / "metrics.json").is_file() and not (folder / "summary.json").is_file()


def load_transfer(folder: str | Path) -> TransferOutput:
    """Read a transfer folder (transfer.json with rows, columns and cells)."""
    folder = Path(folder)
    path = folder / "transfer.json"
    result = _json(path)
    if not all(isinstance(result.get(k), list) for k in ("rows", "columns", "cells")):
        raise DataFormatError(path, "needs lists 'rows', 'columns' and 'cells'")
    return TransferOutput(folder=folder, result=result)


def load_robustness(folder: str | Path) -> RobustnessOutput:
    """Read a robustness folder (robustness.json with curves, and robustness.png)."""
    folder = Path(folder)
    path = folder / "robustness.json"
    result = _json(path)
    if not isinstance(result.get("curves"), list):
        raise DataFormatError(path, "needs a list 'curves'")
    plot = folder / "robustness.png"
    return RobustnessOutput(folder=folder, result=result, plot=plot if plot.is_file() else None)


def load_attacks(paths: list[str | Path]) -> list[AttackOutput]:
    """The attack folders `paths` (or those found below them, e.g. an experiment grid).

    Raises ElaError naming a path that is not an attack folder and holds none: an empty
    folder, one missing summary.json or adversarial.npz, or a training run folder.
    """
    found: list[AttackOutput] = []
    for p in map(Path, paths):
        if not p.is_dir():
            raise ElaError(f"{p}: no such attack folder")
        if is_attack(p):
            found.append(load_attack(p))
            continue
        if (p / "summary.json").is_file() or (p / "adversarial.npz").is_file():
            have, lack = (("summary.json", "adversarial.npz")
                          if (p / "summary.json").is_file()
                          else ("adversarial.npz", "summary.json"))
            raise ElaError(f"{p}: holds {have} but no {lack}; not a finished attack folder "
                           "(run `ela attack` again to finish it)")
        attacks = [o for o in _walk(p, 2) if isinstance(o, AttackOutput)]
        if not attacks:
            raise ElaError(f"{p}: not an attack folder (needs summary.json and "
                           "adversarial.npz, as `ela attack` writes) and none is below it")
        found.extend(attacks)
    return found


def _json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataFormatError(path, f"not readable JSON ({err})") from None
    if not isinstance(value, dict):
        raise DataFormatError(path, "expected a JSON object")
    return value


def _names(folder: Path, n: int) -> list[str]:
    path = folder / "samples.csv"
    if path.is_file():
        with open(path, newline="") as fh:
            names = [row.get("name") or row.get("index", "") for row in csv.DictReader(fh)]
        if len(names) == n:
            return names
    return [f"sample {i}" for i in range(n)]


def _emotion_classes(arrays: dict[str, np.ndarray], summary: dict[str, Any]) -> list[str] | None:
    if "emotion_classes" in arrays and arrays["emotion_classes"].size:
        return [str(c) for c in arrays["emotion_classes"]]
    run = summary.get("emotion_model")
    config = Path(run) / "config.json" if run else None
    if config is not None and config.is_file():
        return [str(c) for c in _json(config).get("classes", [])] or None
    return None


def load_attack(folder: str | Path) -> AttackOutput:
    """Read an attack output folder; DataFormatError names a missing or malformed file."""
    folder = Path(folder)
    if not is_attack(folder):
        raise ElaError(f"{folder}: not an attack output folder (needs summary.json and "
                       "adversarial.npz, as `ela attack` writes)")
    summary = _json(folder / "summary.json")
    path = folder / "adversarial.npz"
    arrays = read_npz_arrays(path, NPZ_KEYS)
    clean, adv = arrays["clean"], arrays["adversarial"]
    if clean.ndim != 5 or clean.shape != adv.shape or clean.shape[0] != len(arrays["labels"]):
        raise DataFormatError(path, f"clean {clean.shape} and adversarial {adv.shape} must be "
                                    f"(N, C, T, V, M) with N = {len(arrays['labels'])}")
    layout = get_layout(str(arrays["layout"]))
    if clean.shape[3] != layout.num_joints:
        raise DataFormatError(path, f"{clean.shape[3]} joints but layout {layout.name} has "
                                    f"{layout.num_joints}")
    has_emotion = "clean_emotion" in arrays and "adv_emotion" in arrays
    n = clean.shape[0]
    return AttackOutput(
        folder=folder, summary=summary, clean=clean, adversarial=adv,
        lengths=arrays["lengths"].astype(np.int64), labels=arrays["labels"].astype(np.int64),
        clean_pred=arrays["clean_pred"].astype(np.int64),
        adv_pred=arrays["adv_pred"].astype(np.int64), success=arrays["success"].astype(bool),
        indices=arrays["indices"].astype(np.int64), layout=layout,
        classes=[str(c) for c in arrays["classes"]], names=_names(folder, n),
        clean_emotion=arrays["clean_emotion"].astype(np.int64) if has_emotion else None,
        adv_emotion=arrays["adv_emotion"].astype(np.int64) if has_emotion else None,
        emotion_classes=_emotion_classes(arrays, summary) if has_emotion else None,
    )


def load_training(folder: str | Path) -> TrainingOutput:
    """Read a training run folder (metrics.json with confusion and classes)."""
    folder = Path(folder)
    path = folder / "metrics.json"
    if not path.is_file():
        raise ElaError(f"{folder}: not a training run folder (no metrics.json)")
    metrics = _json(path)
    if "confusion" not in metrics or not (metrics.get("classes")):
        raise DataFormatError(path, "needs 'confusion' and 'classes'")
    config_path = folder / "config.json"
    config = _json(config_path) if config_path.is_file() else {}
    return TrainingOutput(folder=folder, metrics=metrics, config=config)


Output = AttackOutput | TrainingOutput | TransferOutput | RobustnessOutput | CardOutput


def find_outputs(paths: list[str | Path], depth: int = 3) -> list[Output]:
    """Load every attack / training / transfer / robustness folder given, looking `depth`
    levels into other folders (and into transfer and robustness folders).

    Raises ElaError for a path that does not exist or holds no result at any depth.
    """
    found: list[Output] = []
    for p in map(Path, paths):
        if not p.is_dir():
            raise ElaError(f"{p}: no such folder")
        hits = _walk(p, depth)
        if not hits:
            raise ElaError(f"{p}: no attack output (summary.json + adversarial.npz), "
                           "training run (metrics.json), transfer.json, robustness.json or "
                           f"card.json here or {depth} levels below")
        found.extend(hits)
    return found


def _walk(folder: Path, depth: int) -> list[Output]:
    if is_attack(folder):
        return [load_attack(folder)]
    if is_training(folder):
        return [load_training(folder)]
    out: list[Output] = []
    if (folder / "transfer.json").is_file():
        out.append(load_transfer(folder))
    if (folder / "robustness.json").is_file():
        out.append(load_robustness(folder))
    if (folder / "card.json").is_file():
        out.append(load_card(folder))
    if depth <= 0:
        return out
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and p.name != "batches"):
        out.extend(_walk(sub, depth - 1))
    return out
