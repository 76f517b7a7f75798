"""Attack folders compared by looking at their adversarial sequences, at equal success.

Every metric of `ela.attacks.metrics.imperceptibility` is recomputed from each folder's
``adversarial.npz`` (so folders written before a metric existed get it too), over the
samples that every folder attacked and fooled. Prints one Markdown row per folder: means of
ΔB/B, ΔA/A (ours and the paper's measure), bone turn (degrees), centre shift (mm), ΔS/S,
l2 (mm per frame), acceleration change (mm/frame²), the median and p90 of l∞ (mm) and the
largest per-sample bone turn (degrees, median over samples: where a mean over bones and
frames hides a limb swung far in a few frames). Example:

    .venv/bin/python scripts/distance_table.py "ELA=out/grid/msr_hcn/ela" \\
        "C&W=out/grid/msr_hcn/cw"
"""

from __future__ import annotations

import argparse
import math

import numpy as np
import torch

from ela.attacks.metrics import imperceptibility
from ela.skeleton import bone_turns, bone_vectors
from ela.viz.load import load_attacks

MEANS = (("ΔB/B", "bone_length_change", 100.0, "{:.2f} %"),
         ("ΔA/A", "bone_angle_change", 100.0, "{:.2f} %"),
         ("ΔA/A (paper's measure)", "bone_angle_change_paper", 100.0, "{:.1f} %"),
         ("bone turn (°)", "bone_turn", 180.0 / math.pi, "{:.2f}"),
         ("centre shift (mm)", "centre_shift", 1000.0, "{:.1f}"),
         ("ΔS/S", "joint_speed_change", 100.0, "{:.2f} %"),
         ("l2 (mm/frame)", "l2", 1000.0, "{:.1f}"),
         ("Δacc (mm/frame²)", "acceleration_change", 1000.0, "{:.1f}"))


def largest_turns(clean: np.ndarray, adv: np.ndarray, layout, lengths: np.ndarray) -> np.ndarray:
    """(N,) the largest turn of any bone in any valid frame, radians."""
    x, x_adv = torch.from_numpy(clean), torch.from_numpy(adv)
    turns = bone_turns(x_adv, bone_vectors(x, layout), layout)  # (N, T, B, M)
    length = torch.linalg.vector_norm(bone_vectors(x, layout), dim=1)
    frames = torch.arange(x.shape[2])[None, :, None, None] < torch.from_numpy(lengths)[:, None,
                                                                                      None, None]
    turns = torch.where(frames & (length >= 1e-3), turns, torch.zeros_like(turns))
    return turns.flatten(1).amax(1).numpy()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folders", nargs="+", help="NAME=ATTACK_DIR")
    args = p.parse_args()
    names, paths = zip(*(f.split("=", 1) for f in args.folders), strict=True)
    attacks = load_attacks(list(paths))
    fooled = set.intersection(*(set(a.indices[a.success].tolist()) for a in attacks))
    print(f"{len(fooled)} samples fooled by all of: {', '.join(names)}\n")
    head = [c for c, *_ in MEANS] + ["l∞ median / p90 (mm)", "largest bone turn (°, median)"]
    print("| attack | " + " | ".join(head) + " |\n" + "|---" * (len(head) + 1) + "|")
    for name, a in zip(names, attacks, strict=True):
        rows = np.array([i in fooled for i in a.indices.tolist()])
        order = np.argsort(a.indices[rows])
        clean, adv = a.clean[rows][order], a.adversarial[rows][order]
        lengths = a.lengths[rows][order]
        m = imperceptibility(torch.from_numpy(clean), torch.from_numpy(adv), a.layout,
                             torch.from_numpy(lengths))
        cells = [fmt.format(scale * float(np.nanmean(m[key].numpy())))
                 for _, key, scale, fmt in MEANS]
        linf = 1000 * m["linf"].numpy()
        cells.append(f"{np.median(linf):.0f} / {np.percentile(linf, 90):.0f}")
        cells.append(f"{math.degrees(np.median(largest_turns(clean, adv, a.layout, lengths))):.0f}")
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
