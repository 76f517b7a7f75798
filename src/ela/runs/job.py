"""What an attack run is asked to do: `AttackJob`, the one description every path takes.

``ela attack``, ``ela experiment``, the demo and the Python API all build an `AttackJob` and
hand it to `ela.runs.attack.run_attack`, whatever backend then attacks the shards.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from ela.attacks import ATTACKS
from ela.errors import ElaError


def attack_options(method: str, gamma: float | None = None, iters: int | None = None,
                   **extra: Any) -> dict[str, Any]:
    """Keyword arguments of the attack class for the command-line options, checked.

    `iters` is the budget of gradient steps per sample (`steps`) for every method; `gamma`
    is ELA's penalty and an error for the others; `extra` are other options of the attack
    class (``--cfg key=value``).
    """
    if method not in ATTACKS:
        raise ElaError(f"unknown attack {method!r}; known: {', '.join(sorted(ATTACKS))}")
    known = ATTACKS[method].options()
    opts: dict[str, Any] = {}
    if gamma is not None:
        if "gamma" not in known:
            raise ElaError(f"--gamma applies to ela only, not to {method}")
        opts["gamma"] = gamma
    if iters is not None:
        opts["steps"] = iters
    opts.update(extra)
    unknown = sorted(set(opts) - set(known))
    if unknown:
        raise ElaError(f"{method}: unknown option(s) {', '.join(unknown)}; {method} takes: "
                       f"{', '.join(known)}")
    return opts


@dataclass
class AttackJob:
    """One attack run: attack the model of run folder `run` with `method`, write into `out`.

    options: keyword arguments of the attack class (`attack_options` builds them from the
    command line's ``--iters``, ``--gamma`` and ``--cfg``). label: the label the run was
    trained on (default: the run's). emotion: run folder of an emotion model; it measures
    the emotion consistency of every method and, for ELA with `emotion_loss`, is the E of
    the emotion term. target: None (untargeted), a class name or index, or "least-likely".
    samples: at most that many correctly classified samples of the run's `split` part
    (chosen with `seed`; None: all). batch_size: samples attacked together; batch b is
    seeded with ``seed + b``, so results do not depend on which process attacks it.
    device: "auto", "cpu", "cuda", ... where the attack runs. overwrite: replace results
    in `out` that were computed on other data (otherwise that is an error). guard: a
    detector folder of `ela detect` (``OUT/detectors/NAME``): attack the model guarded by
    it, adaptively (success = misclassified and not flagged; `ela.attacks.guard`).
    """

    run: str | Path
    method: str
    out: str | Path
    options: dict[str, Any] = field(default_factory=dict)
    label: str | None = None
    emotion: str | Path | None = None
    emotion_loss: bool = True
    target: str | None = None
    samples: int | None = None
    seed: int = 0
    split: str = "test"
    device: str = "auto"
    batch_size: int = 64
    overwrite: bool = False
    guard: str | Path | None = None

    def __post_init__(self) -> None:
        self.options = attack_options(self.method, **self.options)
        if self.batch_size < 1:
            raise ElaError(f"--batch-size must be ≥ 1, got {self.batch_size}")
        if self.samples is not None and self.samples < 1:
            raise ElaError(f"--samples must be ≥ 1, got {self.samples}")

    @classmethod
    def from_flags(cls, run: str | Path, method: str, out: str | Path,
                   gamma: float | None = None, iters: int | None = None,
                   cfg: dict[str, Any] | None = None, **fields: Any) -> AttackJob:
        """A job from command-line style options (``--gamma``, ``--iters``, ``--cfg``)."""
        return cls(run, method, out, attack_options(method, gamma, iters, **(cfg or {})),
                   **fields)

    def moved(self, out: str | Path, **changes: Any) -> AttackJob:
        """The same job writing into `out`, with `changes` applied."""
        return replace(self, out=out, **changes)

    def uses_emotion_loss(self) -> bool:
        """Whether the attack's objective has an emotion term (ELA with E and weight > 0)."""
        known = ATTACKS[self.method].options()
        return bool(self.emotion is not None and self.emotion_loss
                    and "emotion_weight" in known
                    and self.options.get("emotion_weight", known["emotion_weight"]) > 0)

    def describe(self) -> dict[str, Any]:
        """The job as JSON values (paths as strings)."""
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items()}
