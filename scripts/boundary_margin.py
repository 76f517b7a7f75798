"""How far past the decision boundary an attack leaves its sequences: the margin between
the two largest logits of the attacked model on each successful adversarial sequence (and,
for reference, on their clean sequences).

A minimal-change attack (ELA, C&W, SMART) stops as soon as the answer flips, so its
margin is near its stopping rule (ELA's `conf`, C&W's κ = 0); a squeezer (`ela detect
--squeeze`) that removes part of the change brings such a sequence back. Nothing is
fitted. With ``--guard DETECTOR_FOLDER`` (e.g. ``ela detect --squeeze``'s
``OUT/detectors/squeeze``) each row also gives the share of the adversarial sequences the
detector flags at its threshold, and the median ΔB/B and l∞ of the successful samples:
how the margin an attack stops at trades its size against being
caught.

    .venv/bin/python scripts/boundary_margin.py runs/msr_hcn runs/detect_msr/test/{ela,cw,smart,pgd}
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from ela.attacks.metrics import imperceptibility
from ela.runs.detect import attacked_scores, guard_threshold
from ela.training.checkpoint import load
from ela.viz.load import AttackOutput, load_attack


class TopTwoMargin(torch.nn.Module):
    """(N, 2) logits (0, largest − second largest logit of `model`), so `attacked_scores`
    (logit 1 − logit 0) reads the margin."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        top = self.model(x).topk(2, dim=1).values
        margin = top[:, 0] - top[:, 1]
        return torch.stack([torch.zeros_like(margin), margin], dim=1)


def successful_medians(out: AttackOutput) -> tuple[float, float]:
    """Median ΔB/B (%) and l∞ (mm) of the successful samples of an attack folder."""
    ok = out.success
    m = imperceptibility(torch.from_numpy(out.clean[ok]), torch.from_numpy(out.adversarial[ok]),
                         out.layout, torch.from_numpy(out.lengths[ok]))
    return (100 * float(np.nanmedian(m["bone_length_change"].numpy())),
            1000 * float(np.median(m["linf"].numpy())))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", help="the attacked model's run folder")
    p.add_argument("folders", nargs="+", help="`ela attack` output folders of that run")
    p.add_argument("--guard", default=None, metavar="DETECTOR_FOLDER",
                   help="also the share its detector flags at its threshold, and the medians")
    args = p.parse_args()
    torch.set_num_threads(1)
    margin = TopTwoMargin(load(args.run, device="cpu").eval())
    guard = load(args.guard) if args.guard else None
    extra = (" caught by the guard | median ΔB/B | median l∞ (mm) |" if guard else "")
    print("| folder | method | successful | median margin, adversarial | p90 | "
          "median margin, their clean sequences |" + extra)
    print("|---" * (6 + (3 if guard else 0)) + "|")
    for folder in args.folders:
        out = load_attack(folder)
        ok = out.success
        adv = attacked_scores(margin, out.adversarial[ok])
        clean = attacked_scores(margin, out.clean[ok])
        method = str(out.summary.get("method", out.folder.name))
        row = (f"| {folder} | {method} | {int(ok.sum())} | {np.median(adv):.2f} | "
               f"{np.percentile(adv, 90):.2f} | {np.median(clean):.2f} |")
        if guard is not None:
            caught = attacked_scores(guard, out.adversarial[ok]) > guard_threshold(args.guard)
            db, linf = successful_medians(out)
            row += f" {100 * caught.mean():.1f} % | {db:.2f} % | {linf:.0f} |"
        print(row)


if __name__ == "__main__":
    main()
