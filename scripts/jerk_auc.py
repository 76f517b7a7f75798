"""A detector with nothing to learn: how well the jerk of a sequence tells attacked from clean.

Beside `ela detect` (a trained classifier), a fixed score: the mean squared jerk (third
temporal difference of the joint positions, summed over x, y, z, averaged over frames,
joints and persons; m²/frame⁶) of each sequence. The ROC-AUC of that score between the
successful adversarial sequences of an attack folder and their clean sequences says how
much high-frequency motion an attack adds against the data's own sensor noise; a learned
detector that does no better has learned no more than that. Nothing is fitted, so the
training and the test part can both be read.

    .venv/bin/python scripts/jerk_auc.py runs/detect_msr/train/{ela,cw,smart,pgd}
"""

from __future__ import annotations

import argparse

import numpy as np

from ela.training.metrics import roc_auc
from ela.viz.load import load_attack


def mean_squared_jerk(x: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """(N,) mean squared jerk of x (N, C, T, V, M) over each sequence's first `lengths`
    frames (padding is not motion)."""
    out = np.empty(len(x))
    for i, (seq, n) in enumerate(zip(x, lengths, strict=True)):
        jerk = np.diff(seq[:, :int(n)], n=3, axis=1)
        out[i] = np.square(jerk).sum(axis=0).mean() if jerk.shape[1] else np.nan
    return out


def jerk_auc(folder: str) -> tuple[str, int, float]:
    """(method, successful samples, AUC of the mean squared jerk) of an attack folder."""
    out = load_attack(folder)
    ok = out.success
    clean = mean_squared_jerk(out.clean[ok], out.lengths[ok])
    adv = mean_squared_jerk(out.adversarial[ok], out.lengths[ok])
    attacked = np.r_[np.zeros(len(clean), bool), np.ones(len(adv), bool)]
    method = str(out.summary.get("method", out.folder.name))
    return method, int(ok.sum()), roc_auc(np.r_[clean, adv], attacked)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folders", nargs="+", help="`ela attack` output folders")
    print("| folder | method | successful | AUC of the mean squared jerk |")
    print("|---|---|---|---|")
    for folder in p.parse_args().folders:
        method, n, auc = jerk_auc(folder)
        print(f"| {folder} | {method} | {n} | {auc:.3f} |")


if __name__ == "__main__":
    main()
