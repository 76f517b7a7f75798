"""Attack a trained action model over a dataset and write the results as files.

`run_attack` loads the checkpoint (safetensors + JSON, no pickle), prepares the data exactly
as the model was trained (same frames, sampling and preprocessing, from the run's config),
picks the test samples of the run's saved split that the model classifies correctly, attacks
them in batches and writes into `out`:

- ``summary.json``: method, model, dataset, n, success rate, ΔB/B, ΔA/A, ΔS/S, l2,
  acceleration change, emotion consistency, model evaluations per sample, seconds, options;
- ``samples.csv``: one row per attacked sample (index, name, label, predictions, success,
  every metric, iterations, evaluations);
- ``adversarial.npz``: clean and adversarial sequences, lengths, labels, predictions.

Each batch's result is written to ``out/batches/`` atomically as it finishes, so an
interrupted run, started again with the same arguments, attacks only the missing batches
(a damaged or foreign batch file is redone, never trusted). Inputs are prepared batch by
batch (`ela.training.run.run_stream`): only one batch of prepared tensors is in memory at a
time. A batch that does not fit in memory stops the run with an `ElaError` suggesting a
smaller batch size. What the attacks noted (e.g. a sample stopped on a non-finite loss) goes
into the summary's ``notes``, with dataset sample indices.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
import sys
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from ela.attacks import ATTACKS, AttackResult
from ela.attacks.metrics import METRICS, emotion_predictions, summarize_arrays
from ela.data.dataset import collate
from ela.errors import ElaError
from ela.files import atomic_write_bytes, atomic_write_json
from ela.io.base import SkeletonSet
from ela.runs.progress import BatchProgress
from ela.training.checkpoint import load, load_config
from ela.training.run import resolve_device, run_stream

Fetch = Callable[[np.ndarray], tuple[torch.Tensor, torch.Tensor, torch.Tensor]]
"""Dataset indices -> (x (n, C, T, V, M), y (n,), lengths (n,)) prepared on the device."""


def attack_options(method: str, gamma: float | None = None, iters: int | None = None,
                   **extra: Any) -> dict[str, Any]:
    """Keyword arguments of the attack class for the command-line options, checked.

    `iters` is the budget of gradient steps per sample (`steps`) for every method; `gamma`
    is ELA's penalty and an error for the others.
    """
    if method not in ATTACKS:
        raise ElaError(f"unknown attack {method!r}; known: {', '.join(sorted(ATTACKS))}")
    known = ATTACKS[method].options()
    opts: dict[str, Any] = {}
    if gamma is not None:
        if "gamma" not in known:
            raise ElaError(f"--gamma applies to ela only, not to {method}")
        opts["gamma"] = gamma
    if iters is not None:
        opts["steps"] = iters
    opts.update(extra)
    unknown = sorted(set(opts) - set(known))
    if unknown:
        raise ElaError(f"{method}: unknown option(s) {', '.join(unknown)}; {method} takes: "
                       f"{', '.join(known)}")
    return opts


def select_samples(model: torch.nn.Module, fetch: Fetch, candidates: np.ndarray,
                   samples: int | None, seed: int, batch_size: int,
                   target: int | str | None = None) -> np.ndarray:
    """Indices among `candidates` that the model classifies correctly, at most `samples`.

    Inputs come from `fetch`, `batch_size` at a time. With a class index `target`, samples
    of that class are left out (a targeted attack has nothing to do on them). A random
    subset (seeded) when more are correct than asked for, in increasing order.
    """
    hits = []
    with torch.no_grad():
        for start in range(0, len(candidates), batch_size):
            idx = candidates[start:start + batch_size]
            with memory_guard(len(idx)):
                x, y, _ = fetch(idx)
                hit = model.predict_class(model(x)) == y
                if isinstance(target, int):
                    hit &= y != target
                hits.append(hit.cpu())
    hit = torch.cat(hits) if hits else torch.zeros(0, dtype=torch.bool)
    correct = candidates[hit.numpy()]
    if samples is not None and len(correct) > samples:
        rng = np.random.default_rng(seed)
        correct = np.sort(rng.choice(correct, size=samples, replace=False))
    return correct


def _resolve_target(target: str | None, classes: list[str]) -> int | str | None:
    if target is None:
        return None
    if target in ("least-likely", "least_likely", "ll"):
        return "least-likely"
    if target in classes:
        return classes.index(target)
    try:
        value = int(target)
    except ValueError:
        raise ElaError(f"--target {target!r} is neither a class name nor an index; "
                       f"classes: {classes}") from None
    if not 0 <= value < len(classes):
        raise ElaError(f"--target {value} out of range for {len(classes)} classes")
    return value


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


@contextlib.contextmanager
def memory_guard(batch: int) -> Iterator[None]:
    """Turn an out-of-memory failure inside the block into an ElaError naming the fix."""
    try:
        yield
    except (RuntimeError, MemoryError) as err:  # torch.cuda.OutOfMemoryError included
        text = str(err).lower()
        if isinstance(err, RuntimeError) and "out of memory" not in text \
                and "can't allocate memory" not in text:
            raise
        raise ElaError(f"a batch of {batch} samples does not fit in memory ({err}); run "
                       "again with a smaller --batch-size") from err


def dataset_notes(notes: list[str], idx: np.ndarray) -> list[str]:
    """Attack notes with batch positions ("sample 3", "[0, 2]") as dataset indices."""
    def one(m: re.Match) -> str:
        return f"sample {int(idx[int(m[1])])}"

    def many(m: re.Match) -> str:
        return "[" + ", ".join(str(int(idx[int(k)])) for k in m[1].split(",")) + "]"

    return [re.sub(r"\[(\d+(?:, \d+)*)\]", many, re.sub(r"sample (\d+)", one, n))
            for n in notes]


def save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write `arrays` as a compressed .npz, atomically."""
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())


def load_result_file(path: Path) -> dict[str, np.ndarray] | None:
    """The arrays of a batch or shard result file; None when it is damaged or not one."""
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error):
        return None  # a damaged batch file is redone, never trusted
    return arrays if "indices" in arrays and "notes" in arrays else None


def reset_if_changed(folder: Path, fingerprint: dict[str, Any],
                     pattern: str = "batch_*.npz") -> None:
    """Forget result files (`pattern`) written with other settings: not this run's."""
    path = folder / "settings.json"
    text = json.dumps(fingerprint, sort_keys=True, default=str)
    if path.exists() and path.read_text() == text:
        return
    for old in folder.glob(pattern):
        old.unlink()
    atomic_write_bytes(path, text.encode("utf-8"))


@dataclass
class Selection:
    """The samples an attack run attacks: run `model` (on `device`), the run's prepared
    `dataset`, the `candidates` of its split part, the class names, the resolved `target`
    (None, a class index or "least-likely") and the `chosen` dataset indices."""

    model: torch.nn.Module
    dataset: Any
    candidates: np.ndarray
    classes: list[str]
    target: int | str | None
    chosen: np.ndarray
    device: torch.device

    def fetch(self, idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x (n, C, T, V, M), y (n,), lengths (n,) of dataset indices `idx`, on the device."""
        x, y, lengths = collate([self.dataset[int(i)] for i in idx])
        return x.to(self.device), y.to(self.device), lengths.to(self.device)


def select_attack_samples(run: str | Path, data: SkeletonSet, samples: int | None = None,
                          seed: int = 0, label: str | None = None, split: str = "test",
                          target: str | None = None, device: str = "auto",
                          batch_size: int = 64) -> Selection:
    """The samples of the run's `split` part that its model classifies correctly (at most
    `samples`, chosen with `seed`; with a class `target`, none of that class), prepared
    exactly as the run was trained. Raises ElaError when there is none."""
    dev = resolve_device(device)
    ds, candidates, classes = run_stream(run, load_config(run), data, label, split)
    sel = Selection(load(run, device=dev), ds, candidates, classes,
                    _resolve_target(target, classes), np.zeros(0, dtype=np.int64), dev)
    sel.chosen = select_samples(sel.model, sel.fetch, candidates, samples, seed, batch_size,
                                sel.target)
    if len(sel.chosen) == 0:
        raise ElaError(f"{run}: the model classifies none of the {len(candidates)} candidate "
                       "samples correctly; nothing to attack")
    return sel


def attack_inputs(run: str | Path, data: SkeletonSet, samples: int | None = None,
                  seed: int = 0, label: str | None = None, split: str = "test",
                  target: str | None = None, device: str = "cpu"
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, np.ndarray]:
    """What `ela attack` attacks, as one batch (`select_attack_samples`): x (n, C, T, V, M),
    y (n,), lengths (n,) on `device`, and the dataset indices (n,)."""
    sel = select_attack_samples(run, data, samples, seed, label, split, target, device)
    return (*sel.fetch(sel.chosen), sel.chosen)


def run_attack(run: str | Path, data: SkeletonSet, method: str, out: str | Path,
               label: str | None = None, emotion: str | Path | None = None,
               target: str | None = None, gamma: float | None = None, iters: int | None = None,
               samples: int | None = None, seed: int = 0, device: str = "auto",
               batch_size: int = 64, attack_cfg: dict[str, Any] | None = None,
               split: str = "test", emotion_loss: bool = True,
               progress: bool = True) -> dict[str, Any]:
    """Attack the model of run folder `run` on `data`; write summary, table and arrays.

    `emotion` is the run folder of an emotion model: it measures the emotion consistency of
    every method and, for ELA with `emotion_loss`, is the E of the emotion term. `progress`:
    a tqdm bar over samples (rate, ETA) when stderr is a terminal, else one stderr line per
    batch; False for silence. Returns the summary dict (also written to ``out/summary.json``).
    """
    opts = attack_options(method, gamma, iters, **(attack_cfg or {}))
    out = Path(out)
    config = load_config(run)
    sel = select_attack_samples(run, data, samples, seed, label, split, target, device,
                                batch_size)
    model, fetch, chosen, tgt = sel.model, sel.fetch, sel.chosen, sel.target
    candidates, classes = sel.candidates, sel.classes
    emotion_model = load(emotion, device=sel.device) if emotion is not None else None
    attack = ATTACKS[method].build(model, data.layout,
                                   emotion_model=emotion_model if emotion_loss else None,
                                   **opts)

    batches_dir = out / "batches"
    batches_dir.mkdir(parents=True, exist_ok=True)
    reset_if_changed(batches_dir, {"run": str(run), "method": method, "options": opts,
                                    "target": str(tgt), "seed": seed, "emotion": str(emotion),
                                    "emotion_loss": emotion_loss,
                                    "threads": torch.get_num_threads(),
                                    "batch_size": batch_size, "chosen": chosen.tolist()})
    parts: list[dict[str, np.ndarray]] = []
    n_batches = -(-len(chosen) // batch_size)
    finished = {}  # batch number -> arrays of a sound result file of this run
    for b in range(n_batches):
        path = batches_dir / f"batch_{b:05d}.npz"
        found = load_result_file(path) if path.exists() else None
        if found is not None and np.array_equal(
                found["indices"], chosen[b * batch_size:(b + 1) * batch_size]):
            finished[b] = found
    if finished and progress:
        todo = [b + 1 for b in range(n_batches) if b not in finished]
        print(f"attack {method}: {len(finished)} of {n_batches} batches done"
              + (f", resuming at batch {todo[0]}" if todo else ""), file=sys.stderr, flush=True)
    on_tty = progress and sys.stderr.isatty()
    bar = tqdm(total=len(chosen), desc=f"attack {method}", unit="sample", file=sys.stderr,
               dynamic_ncols=True, leave=False, disable=not on_tty)
    for b, start in enumerate(range(0, len(chosen), batch_size)):
        idx = chosen[start:start + batch_size]
        path = batches_dir / f"batch_{b:05d}.npz"
        done = finished.get(b)
        if done is not None:
            parts.append(done)
        else:
            torch.manual_seed(seed + b)  # a resumed batch draws what it would have drawn
            steps = BatchProgress(f"attack {method}, batch {b + 1}/{n_batches}", on_tty)
            attack.progress = steps if progress else None
            with memory_guard(len(idx)):
                x, y, lengths = fetch(idx)
                result = attack(x, y, target=tgt, lengths=lengths)
                done = batch_arrays(result, idx, lengths, emotion_model)
            steps.close()
            done["notes"] = np.array(dataset_notes(result.notes, idx), dtype=str)
            save_npz(path, done)
            parts.append(done)
            del x, y, lengths, result
        bar.update(len(idx))
        if progress and not on_tty:
            print(f"attack {method}: batch {b + 1}/{n_batches} ({start + len(idx)}/"
                  f"{len(chosen)} samples, success {float(done['success'].mean()):.0%}, "
                  f"{float(done['seconds']):.1f} s)", file=sys.stderr, flush=True)
    bar.close()

    return write_outputs(out, merge_parts(parts), data, classes, config, summary_fields(
        method, run, candidates, tgt, classes, emotion, emotion_loss, opts, seed), emotion)


def merge_parts(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Concatenate per-batch (or per-shard) arrays; seconds are summed, notes joined."""
    merged = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]
              if k not in ("seconds", "notes")}
    merged["seconds"] = np.array(sum(float(p["seconds"]) for p in parts))
    merged["notes"] = np.array([str(n) for p in parts for n in p["notes"]], dtype=str)
    return merged


def summary_fields(method: str, run: str | Path, candidates: np.ndarray,
                   tgt: int | str | None, classes: list[str], emotion: str | Path | None,
                   emotion_loss: bool, opts: dict[str, Any], seed: int) -> dict[str, Any]:
    """The settings an attack summary records beside its metrics."""
    return {
        "method": method, "run": str(run), "candidates": int(len(candidates)),
        "target": None if tgt is None else (tgt if isinstance(tgt, str) else classes[tgt]),
        "emotion_model": None if emotion is None else str(emotion),
        "emotion_loss": bool(emotion is not None and emotion_loss
                             and "emotion_weight" in ATTACKS[method].options()
                             and opts.get("emotion_weight",
                                          ATTACKS[method].options()["emotion_weight"]) > 0),
        "options": dict(opts), "seed": seed, "torch_threads": torch.get_num_threads(),
    }


def write_outputs(out: Path, merged: dict[str, np.ndarray], data: SkeletonSet,
                  classes: list[str], config: dict[str, Any], extra: dict[str, Any],
                  emotion: str | Path | None) -> dict[str, Any]:
    """summary.json, samples.csv and adversarial.npz from merged per-sample arrays."""
    summary = summarize_arrays({k: v for k, v in merged.items()
                                if k not in ("seconds", "notes")}, float(merged["seconds"]))
    summary.update({
        "model": config["model"]["name"], "dataset": data.source, "layout": data.layout.name,
        "label": config.get("label"), "n": int(len(merged["indices"])), **extra,
        "notes": [str(n) for n in merged["notes"]],
        "written": time.strftime("%Y-%m-%dT%H:%M:%S"),
    })
    atomic_write_json(out / "summary.json", summary)
    _write_table(out / "samples.csv", merged, data, classes)
    save_npz(out / "adversarial.npz", {
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


def _write_table(path: Path, m: dict[str, np.ndarray], data: SkeletonSet,
                 classes: list[str]) -> None:
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

        writer.writerow([
            i, name, cls(int(m["labels"][r])), cls(int(m["clean_pred"][r])),
            cls(int(m["adv_pred"][r])), cls(int(m["targets"][r])), bool(m["success"][r]),
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
