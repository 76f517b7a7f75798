"""Grouped k-fold splits of a run's TRAINING part: a judge of defences on subjects the
candidates never trained on.

The training-part judge of `scripts/select_defence.py` attacks samples every candidate
trained on, and adversarial training is robust first on exactly those. Here, per fold i
(`ela.data.splits.group_kfold` over the training part's subjects, stratified by label):

- train: the training part's clips of the other folds' subjects;
- val: the run's validation clips of those subjects (best epoch);
- test: the training part's clips of fold i's subjects — what the judge attacks
  (``ela attack FOLD_RUN --part test``).

The run's own test part is in no fold. Writes ``OUT/fold<i>.json`` (``ela train --split``)
and prints each fold's subjects and sizes.

    .venv/bin/python scripts/fold_splits.py runs/msr_hcn --data ../shared/data/msr_action3d \\
        --format msr --folds 3 --out runs/defence_msr/folds
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ela.data.prepare import read_dataset
from ela.data.splits import Split, group_ids, group_kfold, load_split, save_split


def fold_splits(run: Path, data: str, fmt: str | None, folds: int, key: str = "subject",
                label: str = "action", seed: int = 0) -> list[Split]:
    """The `folds` splits of `run`'s training part (see the module doc)."""
    split = load_split(run / "split.json")
    dataset = read_dataset(data, fmt)
    split.check(len(dataset))
    groups, labels = group_ids(dataset, key), dataset.labels(label)
    train = split.train
    out = []
    for fold in group_kfold(labels[train], groups[train], folds, seed):
        held = set(groups[train[fold.test]])
        val = split.val[~np.isin(groups[split.val], list(held))]
        out.append(Split(f"{split.name}-train-{key}-{fold.name}", train[fold.train], val,
                         train[fold.test], len(dataset),
                         {**fold.meta, "from": str(run / "split.json"), "key": key,
                          "held_out": sorted(held)}))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", help="the run whose split.json's training part is cut into folds")
    p.add_argument("--data", required=True)
    p.add_argument("--format", default=None)
    p.add_argument("--folds", type=int, default=3)
    p.add_argument("--key", default="subject", help="metadata key kept whole (default subject)")
    p.add_argument("--label", default="action")
    p.add_argument("--out", required=True)
    args = p.parse_args()
    for i, split in enumerate(fold_splits(Path(args.run), args.data, args.format, args.folds,
                                          args.key, args.label)):
        path = save_split(split, Path(args.out) / f"fold{i}.json")
        print(f"{path}: held out {args.key} {', '.join(split.meta['held_out'])}; train "
              f"{len(split.train)}, val {len(split.val)}, test {len(split.test)}")


if __name__ == "__main__":
    main()
