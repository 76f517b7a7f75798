"""Where in time an attack's change lives: the share of its energy in the slowest frequencies.

For each successful sample of an attack folder the change δ = x' − x over the sample's
frames is taken apart into the frequencies of an orthonormal DCT-II along time (SciPy),
its energy summed over coordinates, joints and persons. Printed per folder (medians over the
samples): the change's RMS per joint (mm), the share of its energy in the `--low` slowest
frequencies (0 = constant … low − 1) and the share in the upper half of the band. A change
in the slow frequencies drifts as a body could; one in the upper half jerks from frame to
frame (what smoothing undoes and a detector of the fast part, `--model highpass`, reads).

    .venv/bin/python scripts/change_spectrum.py runs/detect_msr/test/{ela,cw,smart,pgd}
"""

from __future__ import annotations

import argparse

import numpy as np
import scipy.fft

from ela.viz.load import load_attack


def energy_shares(change: np.ndarray, low: int) -> tuple[float, float]:
    """(share of the energy in the `low` slowest DCT frequencies, share in the upper half
    of the band) of one change (C, T, V, M) along T; NaN for a change with no energy."""
    energy = np.square(scipy.fft.dct(change, axis=1, norm="ortho")).sum(axis=(0, 2, 3))
    total = energy.sum()
    if total == 0:
        return np.nan, np.nan
    return float(energy[:low].sum() / total), float(energy[len(energy) // 2:].sum() / total)


def spectrum(folder: str, low: int) -> tuple[str, int, float, float, float]:
    """(method, successful samples, median RMS per joint in mm, median low share, median
    high share) of an attack folder."""
    out = load_attack(folder)
    rms, lows, highs = [], [], []
    for i in np.flatnonzero(out.success):
        n = int(out.lengths[i])
        change = (out.adversarial[i] - out.clean[i])[:, :n].astype(np.float64)
        rms.append(1000 * np.sqrt(np.square(change).sum(axis=0).mean()))
        lo, hi = energy_shares(change, low)
        lows.append(lo)
        highs.append(hi)
    method = str(out.summary.get("method", out.folder.name))
    return (method, len(rms), float(np.median(rms)), float(np.nanmedian(lows)),
            float(np.nanmedian(highs)))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folders", nargs="+", help="`ela attack` output folders")
    p.add_argument("--low", type=int, default=4,
                   help="how many of the slowest frequencies count as slow (default 4)")
    args = p.parse_args()
    print(f"| folder | method | successful | change RMS per joint (mm, median) | energy in the "
          f"{args.low} slowest frequencies (median) | energy in the upper half (median) |")
    print("|---|---|---|---|---|---|")
    for folder in args.folders:
        method, n, rms, lo, hi = spectrum(folder, args.low)
        print(f"| {folder} | {method} | {n} | {rms:.1f} | {lo:.2f} | {hi:.2f} |")


if __name__ == "__main__":
    main()
