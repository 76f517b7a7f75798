"""`ela detect --squeeze RUN`: feature squeezing (`ela.models.squeeze`) as a guard and a
judge, its filter chosen and its threshold set without the test part.

The rule, fixed before any test folder is read:

1. the threshold τ(σ) of each candidate width σ (`SIGMAS`, frames) is the (1 − 5 %)
   quantile of the scores of the clean sequences of `calibrate` — attack folders of the
   run's VALIDATION part (``ela attack RUN --part val``), clips the model never trained
   on, as the test's are new to it. The training part's clean sequences cannot set it:
   the model learnt them, so they score near 0 and a threshold from them flags many new
   clean ones;
2. σ is the candidate that catches the largest share of the successful adversarial
   sequences of the TRAINING-part attack folders at τ(σ) (pooled over their methods; the
   first on ties).

Then the detector is scored like a trained one (`ela.runs.detect.score`) on each test
name and on all of them (``pooled`` in ``detect.json``, so that `ela card --detect`
reads either kind); ``choice`` lists every candidate's threshold and catch rates.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from ela.errors import ElaError
from ela.files import atomic_write_json
from ela.models.squeeze import squeezer_of
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

SIGMAS = (0.5, 1.0, 1.5, 2.0)
"""Candidate widths (frames) of the Gaussian along time."""
FOLDER = "squeeze"
"""The detector's folder under ``OUT/detectors/``."""


def run_squeeze(run: str | Path, train_specs: list[str], test_specs: list[str],
                calibrate: list[str], out: str | Path,
                settings: DetectorSettings | None = None,
                sigmas: tuple[float, ...] = SIGMAS) -> dict[str, Any]:
    """Choose, calibrate and score a feature-squeezing detector of `run`'s action model;
    writes ``OUT/detectors/squeeze`` (checkpoint + threshold.json, a `--guard` folder) and
    ``OUT/detect.json``, and returns the report. Specs are ``[NAME=]DIR`` attack folders;
    `calibrate` are folders of the run's validation part (only their clean sequences are
    read)."""
    settings = settings or DetectorSettings()
    out = Path(out)
    model = load(run, device=loop.resolve_device(settings.device)).eval()
    train_sets, test_sets = named_folders(train_specs), named_folders(test_specs)
    train = [o for outs in train_sets.values() for o in outs]
    calibration, calib = calibration_set(calibrate, train, settings.false_alarms)
    every = [*train, *calib, *(o for outs in test_sets.values() for o in outs)]
    check_same_space(every)
    if every[0].layout.name != model.layout.name:
        raise ElaError(f"{every[0].folder}: sequences of layout {every[0].layout.name}, but "
                       f"{run} reads {model.layout.name}")
    clean = calibration.x
    attacked = {name: pairs_of(outs) for name, outs in train_sets.items()}

    choice, detectors = [], {sigma: squeezer_of(model, sigma) for sigma in sigmas}
    for sigma, det in detectors.items():
        tau = threshold_of(attacked_scores(det, clean), settings.false_alarms)
        caught = {name: attacked_scores(det, p.x[p.attacked]) > tau
                  for name, p in attacked.items()}
        choice.append({"sigma": sigma, "threshold": tau,
                       "caught_train": float(np.concatenate(list(caught.values())).mean()),
                       "caught_train_by_method": {k: float(v.mean())
                                                  for k, v in caught.items()}})
    best = max(choice, key=lambda row: row["caught_train"])  # the first on ties
    det, tau = detectors[best["sigma"]], best["threshold"]
    folder = out / "detectors" / FOLDER
    save_checkpoint(det, folder, extra={"classes": ["clean", "attacked"], "label": "attacked",
                                        "frames": int(clean.shape[2])})
    atomic_write_json(folder / THRESHOLD_FILE, {
        "threshold": tau, "false_alarms": settings.false_alarms,
        "calibrated_on": calibration.source, "sigma": best["sigma"]})

    n_train = sum(p.num_attacked for p in attacked.values())
    tests = {**{name: pairs_of(outs) for name, outs in test_sets.items()},
             "all": pairs_of([o for outs in test_sets.values() for o in outs])}
    report: dict[str, Any] = {
        "settings": {**asdict(settings), "detector": "feature squeezing", "run": str(run),
                     "sigmas": list(sigmas)},
        "rule": "threshold: 95 % quantile of the calibration (validation-part) clean scores; "
                "sigma: the most training-part attacked sequences caught at its threshold",
        "choice": choice, "chosen": best["sigma"],
        POOLED: {name: {**score(det, tau, pairs, settings), "n_train": n_train,
                        "detector": str(folder)} for name, pairs in tests.items()},
    }
    atomic_write_json(out / "detect.json", report)
    return report


def markdown(report: dict[str, Any]) -> str:
    """The choice and the test scores of a feature-squeezing report as Markdown."""
    methods = list(report["choice"][0]["caught_train_by_method"])
    fa = report["settings"]["false_alarms"]
    lines = ["| σ (frames) | threshold | training attacks caught: pooled | "
             + " | ".join(methods) + " |", "|---" * (len(methods) + 3) + "|"]
    for row in report["choice"]:
        mark = " (chosen)" if row["sigma"] == report["chosen"] else ""
        lines.append(f"| {row['sigma']:g}{mark} | {row['threshold']:.3f} | "
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
