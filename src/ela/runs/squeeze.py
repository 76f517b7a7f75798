"""`ela detect --squeeze RUN`: feature squeezing (`ela.models.squeeze`) as a guard and a
judge, its squeezers chosen and its threshold set without the test part.

The rule, fixed before any test folder is read:

1. the threshold τ of each candidate is the (1 − 5 %) quantile of the scores of the clean
   sequences of `calibrate` — attack folders of the run's VALIDATION part (``ela attack
   RUN --part val``), clips the model never trained on, as the test's are new to it. The
   training part's clean sequences cannot set it: the model learnt them, so they score
   near 0 and a threshold from them flags many new clean ones;
2. the candidates are each single squeezer (`CANDIDATES`: smoothing by σ ∈ `SIGMAS`
   frames, quantisation to q ∈ `QUANTA` metres, bone lengths made rigid by a share ∈
   `RIGIDS`, the median over w ∈ `MEDIANS` frames — the kind added last, so it changes a
   choice only by catching more) and, as in the paper's joint detection, every two or
   more of the best of each kind together (each divided by its own τ; the largest counts);
3. a candidate "catches" the successful adversarial sequences of the TRAINING-part attack
   folders that score above its τ (pooled over their methods); the best of a kind and the
   chosen detector are those that catch the most (the first on ties).

Then the detector is scored like a trained one (`ela.runs.detect.score`) on each test
name and on all of them (``pooled`` in ``detect.json``, so that `ela card --detect`
reads either kind); ``choice`` lists every candidate's threshold and catch rates.
"""

from __future__ import annotations

from dataclasses import asdict
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from ela.errors import ElaError
from ela.files import atomic_write_json
from ela.models.squeeze import (
    MEDIAN,
    QUANTISE,
    RIGID,
    SMOOTH,
    squeezer,
    squeezer_name,
    squeezer_of,
)
from ela.runs.detect import (
    POOLED,
    THRESHOLD_FILE,
    DetectorSettings,
    attacked_scores,
    calibration_set,
    check_same_space,
    named_folders,
    pairs_of,
    rate_key,
    score,
    threshold_of,
)
from ela.training import loop
from ela.training.checkpoint import load, save_checkpoint

MEDIANS = (3.0, 5.0)
"""Candidate windows (frames) of the median along time."""
SIGMAS = (0.5, 1.0, 1.5, 2.0)
"""Candidate widths (frames) of the Gaussian along time."""
QUANTA = (0.01, 0.02, 0.04)
"""Candidate grid steps (metres) of the coordinate quantisation."""
RIGIDS = (0.5, 1.0)
"""Candidate shares of each bone's length change that the rigid squeezer removes."""
CANDIDATES = {SMOOTH: SIGMAS, QUANTISE: QUANTA, RIGID: RIGIDS, MEDIAN: MEDIANS}
"""Every kind's candidate sizes, in the order they are tried (the first wins a tie)."""
FOLDER = "squeeze"
"""The detector's folder under ``OUT/detectors/``."""


def run_squeeze(run: str | Path, train_specs: list[str], test_specs: list[str],
                calibrate: list[str], out: str | Path,
                settings: DetectorSettings | None = None,
                candidates: dict[str, tuple[float, ...]] | None = None) -> dict[str, Any]:
    """Choose, calibrate and score a feature-squeezing detector of `run`'s action model;
    writes ``OUT/detectors/squeeze`` (checkpoint + threshold.json, a `--guard` folder) and
    ``OUT/detect.json``, and returns the report. Specs are ``[NAME=]DIR`` attack folders;
    `calibrate` are folders of the run's validation part (only their clean sequences are
    read); `candidates` maps kinds to their candidate sizes (`CANDIDATES` overridden kind by
    kind; an empty tuple leaves a kind out, not all may be empty)."""
    settings = settings or DetectorSettings()
    out = Path(out)
    unknown = set(candidates or {}) - set(CANDIDATES)
    if unknown:
        raise ElaError(f"feature squeezing: unknown squeezer kind(s) {sorted(unknown)}; "
                       f"known: {', '.join(CANDIDATES)}")
    families = {**CANDIDATES, **(candidates or {})}
    if not any(families.values()):
        raise ElaError("feature squeezing needs at least one candidate size")
    model = load(run, device=loop.resolve_device(settings.device)).eval()
    train_sets, test_sets = named_folders(train_specs), named_folders(test_specs)
    train = [o for outs in train_sets.values() for o in outs]
    calibration, calib = calibration_set(calibrate, train, settings.false_alarms)
    every = [*train, *calib, *(o for outs in test_sets.values() for o in outs)]
    check_same_space(every)
    if every[0].layout.name != model.layout.name:
        raise ElaError(f"{every[0].folder}: sequences of layout {every[0].layout.name}, but "
                       f"{run} reads {model.layout.name}")
    attacked = {name: pairs_of(outs) for name, outs in train_sets.items()}
    detectors: dict[str, Any] = {}

    def candidate(specs: list[dict[str, Any]]) -> dict[str, Any]:
        name = " + ".join(squeezer_name(spec) for spec in specs)
        det = detectors[name] = squeezer_of(model, specs)
        tau = threshold_of(attacked_scores(det, calibration.x), settings.false_alarms)
        caught = {k: attacked_scores(det, p.x[p.attacked]) > tau for k, p in attacked.items()}
        return {"name": name, "squeezers": det.squeezers, "threshold": tau,
                "caught_train": float(np.concatenate(list(caught.values())).mean()),
                "caught_train_by_method": {k: float(v.mean()) for k, v in caught.items()}}

    def most(rows: list[dict[str, Any]]) -> dict[str, Any]:
        return max(rows, key=lambda row: row["caught_train"])  # the first on ties

    choice = [candidate([squeezer(kind, size)]) for kind, sizes in families.items()
              for size in sizes]
    best = [most([r for r in choice if r["squeezers"][0]["kind"] == kind])
            for kind, sizes in families.items() if sizes]
    for k in range(2, len(best) + 1):
        choice += [candidate([{**r["squeezers"][0], "scale": r["threshold"]} for r in rows])
                   for rows in combinations(best, k)]
    chosen = most(choice)
    det, tau = detectors[chosen["name"]], chosen["threshold"]
    folder = out / "detectors" / FOLDER
    save_checkpoint(det, folder, extra={"classes": ["clean", "attacked"], "label": "attacked",
                                        "frames": int(calibration.x.shape[2])})
    atomic_write_json(folder / THRESHOLD_FILE, {
        "threshold": tau, "false_alarms": settings.false_alarms,
        "calibrated_on": calibration.source, "squeezers": chosen["squeezers"]})

    n_train = sum(p.num_attacked for p in attacked.values())
    tests = {**{name: pairs_of(outs) for name, outs in test_sets.items()},
             "all": pairs_of([o for outs in test_sets.values() for o in outs])}
    report: dict[str, Any] = {
        "settings": {**asdict(settings), "detector": f"feature squeezing ({chosen['name']})",
                     "run": str(run),
                     "candidates": {kind: list(sizes) for kind, sizes in families.items()}},
        "rule": "threshold: 95 % quantile of the calibration (validation-part) clean scores; "
                "candidates: each squeezer, and every two or more of the best of each kind "
                "together (scores divided by their thresholds, the largest counts); chosen: "
                "the most training-part attacked sequences caught at its threshold",
        "choice": choice, "chosen": chosen["name"],
        POOLED: {name: {**score(det, tau, pairs, settings), "n_train": n_train,
                        "detector": str(folder)} for name, pairs in tests.items()},
    }
    atomic_write_json(out / "detect.json", report)
    return report


def markdown(report: dict[str, Any]) -> str:
    """The choice and the test scores of a feature-squeezing report as Markdown."""
    methods = list(report["choice"][0]["caught_train_by_method"])
    fa = report["settings"]["false_alarms"]
    lines = ["| squeezer | threshold | training attacks caught: pooled | "
             + " | ".join(methods) + " |", "|---" * (len(methods) + 3) + "|"]
    for row in report["choice"]:
        mark = " (chosen)" if row["name"] == report["chosen"] else ""
        lines.append(f"| {row['name']}{mark} | {row['threshold']:.3f} | "
                     f"{100 * row['caught_train']:.1f} % | "
                     + " | ".join(f"{100 * row['caught_train_by_method'][m]:.1f} %"
                                  for m in methods) + " |")
    lines += ["", "| attack | n test | AUC (95 % interval) | caught at the threshold | clean "
              "test sequences flagged | caught at "
              f"{100 * fa:g} % false alarms of the "
              "test |",
              "|---|---|---|---|---|---|"]
    for name, r in report[POOLED].items():
        lines.append(f"| {name} | {r['n_test']} | {r['auc']:.3f} ({r['auc_low']:.3f}–"
                     f"{r['auc_high']:.3f}) | {100 * r['caught_at_threshold']:.1f} % | "
                     f"{100 * r['false_alarms_at_threshold']:.1f} % | "
                     f"{100 * r[rate_key(fa)]:.1f} % |")
    return "\n".join(lines) + "\n"
