"""How strong and how perceptual each adversarial-training attack is, on a run's TRAINING part.

Every setting ``method:key=value,...`` (method one of `ela.training.adversarial.METHODS`;
keys eps, steps, bone_weight, angle as `training_attack` takes them, defaults those of
`ela train`) attacks the same `--samples` training-part samples of the run, once, with the
model in eval mode, exactly as a training batch is attacked, and prints one row: the share
the model gets wrong on x', ΔB/B, ELA's default dynamic distance D and the median l∞ (cm).
A training attack that fools few samples trains on near-clean batches; one with a large D
trains on changes ELA would never make. Example (the numbers in the module doc of
`ela.training.adversarial`):

    .venv/bin/python scripts/training_attacks.py runs/msr_hcn \\
        --data ../shared/data/msr_action3d --format msr pgd:eps=0.02,bone_weight=10 \\
        pgd:eps=0.06,bone_weight=10 dynamic:eps=0.01,bone_weight=0 \\
        dynamic:eps=0.01,bone_weight=1 dynamic:eps=0.02,bone_weight=1
"""

from __future__ import annotations

import argparse

import torch
from tune_ela import parse_setting

from ela.data.prepare import read_dataset
from ela.runs.select import attack_inputs
from ela.skeleton.features import valid_mask
from ela.training.adversarial import bone_change, default_distance, training_attack
from ela.training.checkpoint import load
from ela.training.loop import TrainConfig


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", help="trained run folder")
    p.add_argument("settings", nargs="+", help="method[:key=value,...]")
    p.add_argument("--data", required=True)
    p.add_argument("--format", default=None)
    p.add_argument("--samples", type=int, default=96)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.set_num_threads(1)
    model = load(args.run).eval()
    data = read_dataset(args.data, args.format)
    x, y, lengths, _ = attack_inputs(args.run, data, samples=args.samples, seed=args.seed,
                                     split="train")
    distance = default_distance(model)
    ref = distance.reference(x, lengths)
    mask = valid_mask(x, lengths)
    defaults = TrainConfig()
    print("| setting | fooled | ΔB/B | D | median l∞ (cm) |\n|---|---|---|---|---|")
    for text in args.settings:
        method, opts = parse_setting(text)
        torch.manual_seed(args.seed)
        adv = training_attack(method, model, x, y, lengths, opts.get("eps", defaults.adv_eps),
                              opts.get("steps", defaults.adv_steps),
                              opts.get("bone_weight", defaults.adv_bone_weight),
                              opts.get("angle", defaults.adv_angle), distance)
        with torch.no_grad():
            fooled = float((model(adv).argmax(1) != y).float().mean())
            linf = (adv - x).abs().amax(dim=(1, 2, 3, 4)).median()
            print(f"| {text} | {100 * fooled:.1f} % | "
                  f"{100 * float(bone_change(adv, x, model.layout, mask).mean()):.2f} % | "
                  f"{float(distance(adv, ref).mean()):.2f} | {100 * float(linf):.1f} |")


if __name__ == "__main__":
    main()
