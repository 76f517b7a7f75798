"""Progress of an attack inside a batch: a bar on a terminal, a line now and then in a log.

`BatchProgress` is given to an attack as its `progress` callback (`ela.attacks.base.
Progress`): steps done of the budget, samples still active, samples fooled so far, and an
ETA for the batch from the mean time per step (an upper bound: samples stop early).
"""

from __future__ import annotations

import sys
import time

from tqdm.auto import tqdm

from ela.attacks.base import Progress
from ela.training.loop import format_seconds


class BatchProgress:
    """Reports of one batch (`label`, e.g. "attack ela, batch 2/5"): on a terminal a tqdm
    bar over the step budget; otherwise one stderr line at most every `every` seconds."""

    def __init__(self, label: str, on_tty: bool, every: float = 30.0):
        self.label, self.on_tty, self.every = label, on_tty, every
        self.start = self.last = time.perf_counter()
        self.bar: tqdm | None = None

    def __call__(self, p: Progress) -> None:
        now = time.perf_counter()
        fooled = f"{p.fooled}/{p.samples}"
        if self.on_tty:
            if self.bar is None:
                self.bar = tqdm(total=p.budget, desc=self.label, unit="step", leave=False,
                                file=sys.stderr, dynamic_ncols=True)
            self.bar.n = p.step
            self.bar.set_postfix(active=p.active, fooled=fooled, refresh=True)
        elif now - self.last >= self.every:
            self.last = now
            eta = (now - self.start) / max(p.step, 1) * (p.budget - p.step)
            print(f"{self.label}: step {p.step}/{p.budget}, {p.active} samples active, "
                  f"{fooled} fooled, ETA ≤ {format_seconds(eta)}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
