"""Transfer tests: action runs scored on the adversarial sequences of attacks on other models.

An attack folder (`ela attack`) keeps the clean and the adversarial sequences it attacked,
(N, C, T, V, M) in metres, already prepared in the input space of the attacked (surrogate)
run: its frames, sampling, window and transform (from the surrogate's config.json, which
summary.json names as ``run``). A target run scores them as they are, so it must prepare data
the same way; `check_transferable` refuses, naming the folder and what differs, when the
target is not an action model or differs in layout, coordinates, frames, sampling, window,
transform, label or classes.

Per (attack folder, target run), over the N attacked samples (those the surrogate classified
correctly):

* ``clean_accuracy``: share the target classifies correctly on the clean sequence;
* ``adversarial_accuracy``: share it classifies correctly on the adversarial sequence;
* ``transfer_success``: among the attacked samples the target classifies correctly on the
  clean sequence, the share it misclassifies on the adversarial one (None when it classifies
  none correctly). Any wrong class counts, also for a targeted attack. A sample the surrogate
  was not fooled by still counts, with the attack's last iterate.

When the target is the surrogate itself the cell is white-box success, marked as such: the
target's weights have the digest summary.json records as ``model_digest`` (so a moved run
folder is still recognised), or, for folders written before digests were recorded, the
target is the folder summary.json names as ``run``.
`transfer_matrix` scores every run on every attack; `write_transfer` writes the surrogate ×
target matrix as ``transfer.json`` and ``transfer.md`` (read by `ela report`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ela.errors import CheckpointError, ElaError
from ela.files import atomic_write_bytes, atomic_write_json
from ela.training.checkpoint import load, load_config, weights_digest
from ela.training.loop import resolve_device
from ela.training.run import PREPARATION
from ela.viz.load import AttackOutput, load_attacks

DEFINITION = ("transfer success = among the attacked samples the target classifies "
              "correctly on the clean sequence, the share it misclassifies on the adversarial "
              "one (untargeted: any wrong class counts); * = white-box (target is the attacked "
              "model)")

def surrogate_config(attack: AttackOutput) -> dict[str, Any]:
    """How the attacked (surrogate) run prepared its inputs: the `PREPARATION` keys that
    summary.json records, else (folders written before it recorded them) the config.json
    of the run it names as ``run``."""
    if isinstance(attack.summary.get("preparation"), dict):
        return attack.summary["preparation"]
    run = attack.summary.get("run")
    if not run:
        raise ElaError(f"{attack.folder}: summary.json names no attacked run (\"run\"); its "
                       "config is needed to check how the sequences were prepared")
    try:
        return load_config(run)
    except CheckpointError as err:
        raise ElaError(f"{attack.folder}: the attacked run {run} named in summary.json cannot "
                       f"be read ({err}); its config is needed to check how the sequences "
                       "were prepared") from None


def check_transferable(attack: AttackOutput, surrogate: dict[str, Any], run: str | Path,
                       config: dict[str, Any]) -> None:
    """Raise ElaError unless action run `run` (its `config`) can score the sequences of
    `attack` as they are: same layout, coordinates C, frames T, classes and preparation as
    the `surrogate` config."""
    kind = config.get("kind", "action")
    if kind != "action":
        raise ElaError(f"{run}: a {kind} model ({config['model']['name']}); transfer tests "
                       "score action models")
    model = config["model"]
    n, c, t, v, _ = attack.clean.shape
    found = {"layout": (model.get("layout"), attack.layout.name),
             "coordinates C": (model.get("in_channels", 3), c),
             "frames T": (config.get("frames"), t),
             "classes": (config.get("classes"), attack.classes)}
    found.update({key: (config.get(key), surrogate.get(key)) for key in PREPARATION})
    for what, (target, seen) in found.items():
        if target != seen:
            raise ElaError(f"{attack.folder}: {what} {seen!r} of the attacked sequences "
                           f"(run {attack.summary.get('run')}) differ from run {run}'s "
                           f"{target!r}; a transfer test needs both runs to prepare data "
                           "the same way")


def predict(model: torch.nn.Module, x: np.ndarray, device: torch.device,
            batch_size: int = 64) -> np.ndarray:
    """(N,) classes the model predicts for sequences x (N, C, T, V, M), metres."""
    out = []
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            batch = torch.as_tensor(x[start:start + batch_size], dtype=torch.float32,
                                    device=device)
            out.append(model.predict_class(model(batch)).cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def is_surrogate(run: str | Path, digest: str, attack: AttackOutput) -> bool:
    """Whether `run` (weights digest `digest`) is the model `attack` was made on."""
    recorded = attack.summary.get("model_digest")
    if recorded is not None:
        return recorded == digest
    named = attack.summary.get("run")
    return named is not None and Path(run).resolve() == Path(named).resolve()


def score_run(run: str | Path, attacks: Sequence[AttackOutput], device: str = "auto",
              batch_size: int = 64) -> list[dict[str, Any]]:
    """One cell per attack: `run` scored on its clean and adversarial sequences (see the
    module docstring for the numbers). Every attack is checked before anything is scored."""
    config = load_config(run)
    surrogates = [surrogate_config(a) for a in attacks]
    for attack, surrogate in zip(attacks, surrogates, strict=True):
        check_transferable(attack, surrogate, run, config)
    dev = resolve_device(device)
    model = load(run, device=dev)
    digest = weights_digest(run)
    cells = []
    for attack in attacks:
        clean = predict(model, attack.clean, dev, batch_size) == attack.labels
        adv = predict(model, attack.adversarial, dev, batch_size) == attack.labels
        fooled = int((clean & ~adv).sum())
        cells.append({
            "attack": str(attack.folder), "method": attack.summary.get("method"),
            "surrogate": attack.summary.get("run"), "surrogate_model": attack.summary.get("model"),
            "target": str(run), "target_model": config["model"]["name"],
            "white_box": is_surrogate(run, digest, attack),
            "n": len(attack), "surrogate_success": float(attack.success.mean()),
            "clean_accuracy": float(clean.mean()), "adversarial_accuracy": float(adv.mean()),
            "clean_correct": int(clean.sum()), "fooled": fooled,
            "transfer_success": fooled / int(clean.sum()) if clean.any() else None,
        })
    return cells


def _labels(paths: Sequence[str]) -> list[str]:
    """Folder names; "parent/name" when two names clash; the full paths when those do."""
    for label in (lambda p: p.name, lambda p: f"{p.parent.name}/{p.name}"):
        names = [label(Path(p)) for p in paths]
        if len(set(names)) == len(names):
            return names
    return list(paths)


def transfer_matrix(runs: Sequence[str | Path], attack_paths: Sequence[str | Path],
                    device: str = "auto", batch_size: int = 64) -> dict[str, Any]:
    """Every run scored on every attack folder (or grid of them): the surrogate × target
    matrix as ``{"definition", "rows" (attack labels), "columns" (run labels), "cells"}``,
    each cell with its ``row`` and ``column`` index."""
    if not runs:
        raise ElaError("a transfer test needs at least one target run")
    attacks = load_attacks(list(attack_paths))
    rows = _labels([str(a.folder) for a in attacks])
    columns = _labels([str(r) for r in runs])
    cells = []
    for j, run in enumerate(runs):
        for i, cell in enumerate(score_run(run, attacks, device, batch_size)):
            cells.append({"row": i, "column": j, **cell})
    return {"definition": DEFINITION, "rows": rows, "columns": columns, "cells": cells}


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


def transfer_markdown(matrix: dict[str, Any]) -> str:
    """Markdown: transfer success (fooled / clean-correct) and adversarial / clean accuracy,
    one row per attack folder (method on surrogate), one column per target run."""
    rows, columns = matrix["rows"], matrix["columns"]
    grid = {(c["row"], c["column"]): c for c in matrix["cells"]}
    by_row = {c["row"]: c for c in matrix["cells"]}
    head = "| attack (method on model) | " + " | ".join(columns) + " |\n" \
           + "|---" * (len(columns) + 1) + "|\n"

    def table(cell_text) -> str:
        lines = []
        for i, row in enumerate(rows):
            first = f"{row} ({by_row[i]['method']} on {by_row[i]['surrogate_model']})"
            lines.append(f"| {first} | " + " | ".join(
                cell_text(grid[i, j]) for j in range(len(columns))) + " |")
        return head + "\n".join(lines) + "\n"

    def success(c: dict[str, Any]) -> str:
        return (f"{_percent(c['transfer_success'])} ({c['fooled']}/{c['clean_correct']})"
                + (" *" if c["white_box"] else ""))

    def accuracy(c: dict[str, Any]) -> str:
        return f"{_percent(c['adversarial_accuracy'])} / {_percent(c['clean_accuracy'])}"

    return ("Transfer success, surrogate (rows) × target (columns)\n\n" + table(success)
            + "\n" + matrix["definition"] + "\n\nAccuracy on the adversarial / clean "
            "sequences of the attacked samples\n\n" + table(accuracy))


def write_transfer(matrix: dict[str, Any], out: str | Path) -> list[Path]:
    """``transfer.json`` and ``transfer.md`` into folder `out`, or the JSON to `out` itself
    (and the Markdown beside it) when it ends in ".json"; returns the paths."""
    out = Path(out)
    path = out if out.suffix == ".json" else out / "transfer.json"
    atomic_write_json(path, matrix)
    md = path.with_suffix(".md")
    atomic_write_bytes(md, transfer_markdown(matrix).encode("utf-8"))
    return [path, md]
