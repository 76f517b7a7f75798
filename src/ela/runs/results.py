"""The files of an attack run: per-shard result files and the merged outputs.

Every shard (one or more batches) is written to ``out/shards/shard_<k>.npz`` as it
finishes (`ela.files.atomic_write_npz`); `load_result_file` reads one back, or None when it is
damaged or not one, so it is redone, never trusted. `write_outputs` merges them into:

- ``summary.json``: method, model, dataset, n, success rate, ΔB/B, ΔA/A, ΔS/S, l2,
  acceleration change, emotion consistency, model evaluations per sample, seconds, options,
  the data's fingerprint, the attacked weights' digest (``model_digest``) and how many of
  the part's ``candidates`` the model classified ``correct``ly;
- ``samples.csv``: one row per attacked sample (index, name, label, predictions, success,
  every metric, iterations, evaluations);
- ``adversarial.npz``: clean and adversarial sequences, lengths, labels, predictions.
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ela.attacks import AttackResult
from ela.attacks.guard import FLAGGED
from ela.attacks.metrics import METRICS, emotion_predictions
from ela.attacks.summary import summarize_arrays
from ela.data.fingerprint import same_data
from ela.errors import DataFormatError, ElaError
from ela.files import (
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_npz,
    read_npz_arrays,
)
from ela.io.base import SkeletonSet
from ela.training.checkpoint import load_config

SETTINGS_FILE = "settings.json"


def batch_arrays(result: AttackResult, indices: np.ndarray, lengths: torch.Tensor,
                 emotion_model: torch.nn.Module | None) -> dict[str, np.ndarray]:
    """The per-sample arrays of one attacked batch (dataset `indices`), as result files
    keep them: sequences, labels, predictions, counts, metrics and emotion predictions."""
    out = {
        "original": result.original, "adversarial": result.adversarial, "lengths": lengths,
        "labels": result.labels, "clean_pred": result.clean_predictions,
        "adv_pred": result.adversarial_predictions, "success": result.success,
        "iterations": result.iterations, "evaluations": result.evaluations,
        "gradients": result.gradients,
        "targets": (result.targets if result.targets is not None
                    else torch.full_like(result.labels, -1)),
    }
    arrays = {k: v.detach().cpu().numpy() for k, v in out.items()}
    arrays["indices"] = indices
    for name in METRICS:
        arrays[f"metric_{name}"] = result.metrics[name].detach().cpu().numpy()
    if emotion_model is not None:
        for key, x in (("clean_emotion", result.original), ("adv_emotion", result.adversarial)):
            arrays[key] = emotion_predictions(emotion_model, x, result.layout).cpu().numpy()
    arrays["seconds"] = np.array(result.seconds)
    return arrays


def dataset_notes(notes: list[str], idx: np.ndarray) -> list[str]:
    """Attack notes with batch positions ("sample 3", "[0, 2]") as dataset indices."""
    def one(m: re.Match) -> str:
        return f"sample {int(idx[int(m[1])])}"

    def many(m: re.Match) -> str:
        return "[" + ", ".join(str(int(idx[int(k)])) for k in m[1].split(",")) + "]"

    return [re.sub(r"\[(\d+(?:, \d+)*)\]", many, re.sub(r"sample (\d+)", one, n))
            for n in notes]


def load_result_file(path: Path) -> dict[str, np.ndarray] | None:
    """The arrays of a batch or shard result file; None when it is damaged or not one
    (pickled data is never loaded), or lacks a metric (older files lack newer metrics)."""
    needed = ["indices", "notes", *(f"metric_{name}" for name in METRICS)]
    try:
        return read_npz_arrays(path, needed)
    except DataFormatError:
        return None  # a damaged batch file is redone, never trusted


def reset_if_changed(folder: Path, settings: dict[str, Any], data: dict[str, Any],
                     pattern: str, overwrite: bool = False) -> None:
    """Forget the result files (`pattern`) in `folder` written with other `settings`.

    `data` is the fingerprint (`ela.data.fingerprint.data_fingerprint`) of the data now;
    files computed on other data are an ElaError naming both datasets unless `overwrite`.
    """
    path = folder / SETTINGS_FILE
    text = json.dumps({**settings, "data": data}, sort_keys=True, default=str)
    if path.exists():
        saved = path.read_text()
        if saved == text:
            return
        try:
            old = json.loads(saved)
        except ValueError:
            old = {}
        same_data(old.get("data") if isinstance(old, dict) else None, data,
                  str(folder.parent), overwrite)
    for stale in folder.glob(pattern):
        stale.unlink()
    atomic_write_bytes(path, text.encode("utf-8"))


def merge_parts(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Concatenate per-batch (or per-shard) arrays; seconds are summed, notes joined."""
    merged = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]
              if k not in ("seconds", "notes")}
    merged["seconds"] = np.array(sum(float(p["seconds"]) for p in parts))
    merged["notes"] = np.array([str(n) for p in parts for n in p["notes"]], dtype=str)
    return merged


def write_outputs(out: Path, merged: dict[str, np.ndarray], data: SkeletonSet,
                  classes: list[str], config: dict[str, Any], extra: dict[str, Any],
                  emotion: str | Path | None) -> dict[str, Any]:
    """summary.json, samples.csv and adversarial.npz from merged per-sample arrays."""
    summary = summarize_arrays({k: v for k, v in merged.items()
                                if k not in ("seconds", "notes")},
                               float(merged["seconds"])).to_dict()
    summary.update({
        "model": config["model"]["name"], "dataset": data.source, "layout": data.layout.name,
        "label": config.get("label"), "n": int(len(merged["indices"])), **extra,
        "notes": [str(n) for n in merged["notes"]],
        "written": time.strftime("%Y-%m-%dT%H:%M:%S"),
    })
    atomic_write_json(out / "summary.json", summary)
    write_table(out / "samples.csv", merged, data, classes)
    atomic_write_npz(out / "adversarial.npz", {
        "clean": merged["original"], "adversarial": merged["adversarial"],
        "lengths": merged["lengths"], "labels": merged["labels"],
        "clean_pred": merged["clean_pred"], "adv_pred": merged["adv_pred"],
        "success": merged["success"], "indices": merged["indices"],
        "layout": np.array(data.layout.name), "classes": np.array(classes),
        **({"clean_emotion": merged["clean_emotion"], "adv_emotion": merged["adv_emotion"],
            "emotion_classes": np.array(load_config(emotion).get("classes") or [])}
           if "clean_emotion" in merged and emotion is not None else {}),
    })
    return summary


def write_table(path: Path, m: dict[str, np.ndarray], data: SkeletonSet,
                classes: list[str]) -> None:
    """samples.csv: one row per attacked sample of merged arrays `m`, classes by name."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    metric_cols = [f"metric_{n}" for n in METRICS]
    emo = ["clean_emotion", "adv_emotion"] if "clean_emotion" in m else []
    writer.writerow(["index", "name", "label", "clean_pred", "adv_pred", "target", "success",
                     *METRICS, "iterations", "evaluations", "gradients", *emo])
    for r in range(len(m["indices"])):
        i = int(m["indices"][r])
        name = data.samples[i].meta.get("name", str(i)) if i < len(data.samples) else str(i)

        def cls(k: int) -> str:
            return classes[k] if 0 <= k < len(classes) else ""

        def pred(k: int) -> str:  # negative: refused, a guard's detector flagged it
            return FLAGGED if k < 0 else cls(k)

        writer.writerow([
            i, name, cls(int(m["labels"][r])), pred(int(m["clean_pred"][r])),
            pred(int(m["adv_pred"][r])), cls(int(m["targets"][r])), bool(m["success"][r]),
            *[f"{float(m[c][r]):.6g}" for c in metric_cols], int(m["iterations"][r]),
            int(m["evaluations"][r]), int(m["gradients"][r]), *[int(m[k][r]) for k in emo],
        ])
    atomic_write_bytes(path, buf.getvalue().encode("utf-8"))


def load_summary(out: str | Path) -> dict[str, Any]:
    """The summary.json of an attack output folder."""
    path = Path(out) / "summary.json"
    if not path.is_file():
        raise ElaError(f"{path}: no attack summary here")
    return json.loads(path.read_text())
