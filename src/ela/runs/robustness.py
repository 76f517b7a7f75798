"""Robustness curves from the minimal perturbations that ELA and C&W find.

A minimal-perturbation attack finds, per sample, the smallest change it can that fools the
model. Robust accuracy at a budget ε is then the share of the attacked samples whose found
change exceeds ε or that the attack never fooled (change ∞). The denominator is the attacked
samples: `ela attack` attacks only samples the model classifies correctly, so this is the
accuracy among correctly classified samples. Summaries record how many of the part's
candidates the model classified correctly (``correct`` of ``candidates``), so each curve
also gives its ``clean_accuracy`` and the robust accuracy over all samples of the part
(``robust_accuracy_of_all`` = clean accuracy × robust accuracy; None for folders written
before summaries recorded ``correct``).
An attack's found minimum is an upper bound on the true minimal perturbation, so each curve
is an upper bound on the true robust accuracy, and the median change to fool an upper bound
on the true median.

Changes, per sample, are those of `ela.attacks.metrics`, computed from adversarial.npz
(so older folders without an l∞ column work too): ΔB/B (``bone_length_change``, a
fraction), ``l2`` (metres per valid frame) and ``linf`` (max |x' − x| over valid frames and
present persons, metres). A fooled sample whose change is not measurable (NaN, e.g. no bone
of at least 1 mm) is left out of that measure's curve; ``n`` per measure says how many count.
The median change to fool counts never-fooled samples as ∞, so it is ∞ (null in JSON) when
half or more were never fooled. Targeted attack folders are refused: a curve is about
fooling the model, not about reaching one class.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ela.attacks.metrics import imperceptibility
from ela.errors import ElaError
from ela.files import atomic_write_bytes, atomic_write_json
from ela.viz.load import AttackOutput, load_attacks
from ela.viz.robustness import plot_robustness

#: measure key -> (label, display scale, display unit); values are stored in SI units
MEASURES = {
    "bone_length_change": ("ΔB/B", 100.0, "%"),
    "l2": ("l2", 1000.0, "mm per frame"),
    "linf": ("l∞", 1000.0, "mm"),
}

NOTE = ("an attack's found minimum is an upper bound on the true minimal perturbation, so "
        "these curves are upper bounds on robust accuracy (and the medians upper bounds on "
        "the change needed to fool)")
DENOMINATOR = ("robust accuracy at ε = share of the attacked samples (those the model "
               "classified correctly) whose found change exceeds ε or that were never fooled")


def sample_changes(attack: AttackOutput, chunk: int = 256) -> dict[str, np.ndarray]:
    """{measure: (N,) change of each attacked sample, SI units; ∞ where not fooled, NaN
    where fooled but not measurable}, from the clean and adversarial (N, C, T, V, M)."""
    parts: dict[str, list[np.ndarray]] = {k: [] for k in MEASURES}
    for start in range(0, len(attack), chunk):
        rows = slice(start, start + chunk)
        metrics = imperceptibility(torch.from_numpy(attack.clean[rows]),
                                   torch.from_numpy(attack.adversarial[rows]), attack.layout,
                                   torch.from_numpy(attack.lengths[rows]))
        for k in MEASURES:
            parts[k].append(metrics[k].numpy().astype(np.float64))
    return {k: np.where(attack.success, np.concatenate(v), math.inf) for k, v in parts.items()}


def robust_accuracy(changes: np.ndarray, eps: Sequence[float] | np.ndarray) -> np.ndarray:
    """(len(eps),) share of the samples whose change (∞: never fooled; NaN: not measurable,
    left out) exceeds each ε; NaN when no sample is measurable."""
    kept = changes[~np.isnan(changes)]
    if len(kept) == 0:
        return np.full(len(eps), math.nan)
    return (kept[None, :] > np.asarray(eps, dtype=np.float64)[:, None]).mean(axis=1)


def nice_grid(top: float, count: int = 6) -> list[float]:
    """About `count` round budgets (1, 2 or 5 × 10^k steps) from 0 to `top` or just above
    (a `top` within 1e-6 relative of a round budget, e.g. float32 0.05, ends there)."""
    if not top > 0 or not math.isfinite(top):
        return [0.0]
    raw = top / count
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    return [round(k * step, 12) for k in range(math.ceil(top / step * (1 - 1e-6)) + 1)]


def finite_or_none(value: float) -> float | None:
    """`value` as a float, None where it is not finite (JSON has no ∞)."""
    return float(value) if math.isfinite(value) else None


def _curve(attack: AttackOutput) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The JSON-able curve of one attack folder and its per-sample changes."""
    s = attack.summary
    if s.get("target") is not None:
        raise ElaError(f"{attack.folder}: a targeted attack (to {s['target']}); robustness "
                       "curves need untargeted attacks")
    if len(attack) == 0:
        raise ElaError(f"{attack.folder}: holds no attacked sample")
    changes = {k: v[~np.isnan(v)] for k, v in sample_changes(attack).items()}
    correct, candidates = s.get("correct"), s.get("candidates")
    return {
        "folder": str(attack.folder), "label": attack.folder.name, "method": s.get("method"),
        "model": s.get("model"), "run": s.get("run"), "n_attacked": len(attack),
        "fooled": float(attack.success.mean()),
        "clean_accuracy": correct / candidates if correct is not None and candidates else None,
        "n": {k: len(v) for k, v in changes.items()},
        "median": {k: finite_or_none(np.median(v)) if len(v) else None for k, v in changes.items()},
        "changes": {k: np.sort(v[np.isfinite(v)]).tolist() for k, v in changes.items()},
    }, changes


def robustness_curves(attack_paths: Sequence[str | Path]) -> dict[str, Any]:
    """Curves of every attack folder (or grid of them) given: ``{"note", "denominator",
    "measures", "curves", "table"}``. Each curve holds, per measure, the sorted finite
    changes of its fooled samples, ``n`` (measurable samples, the denominator) and the
    median change to fool (None: ∞); ``table`` holds robust accuracy at round budgets
    ``eps`` up to the largest change found, one list per curve."""
    found = [_curve(a) for a in load_attacks(list(attack_paths))]
    if len({c["label"] for c, _ in found}) < len(found):  # e.g. ".../hcn/ela", ".../sgn/ela"
        for c, _ in found:
            c["label"] = f"{Path(c['run'] or Path(c['folder']).parent).name}/{c['label']}"
    table = {}
    for k in MEASURES:
        eps = nice_grid(max((max(c["changes"][k], default=0.0) for c, _ in found),
                            default=0.0))
        accs = [robust_accuracy(changes[k], eps) for _, changes in found]
        table[k] = {"eps": eps,
                    "robust_accuracy": [[finite_or_none(a) for a in acc] for acc in accs],
                    "robust_accuracy_of_all": [
                        [None if c["clean_accuracy"] is None
                         else finite_or_none(c["clean_accuracy"] * a) for a in acc]
                        for (c, _), acc in zip(found, accs, strict=True)]}
    return {"note": NOTE, "denominator": DENOMINATOR,
            "measures": {k: {"label": lab, "scale": sc, "unit": u}
                         for k, (lab, sc, u) in MEASURES.items()},
            "curves": [c for c, _ in found], "table": table}


def _display(value: float | None, measure: str) -> str:
    return "∞" if value is None else f"{value * MEASURES[measure][1]:.3g}"


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


def robustness_markdown(result: dict[str, Any]) -> str:
    """Markdown: one robust-accuracy table per measure and the medians to fool."""
    curves = result["curves"]
    names = [f"{c['label']} ({c['method']} on {c['model']})" for c in curves]
    parts = [f"Robust accuracy vs ε: {result['denominator']}; in brackets, of all samples "
             f"of the part (× clean accuracy).\nNote: {result['note']}.\n"]
    for k, (label, _, unit) in MEASURES.items():
        eps = result["table"][k]["eps"]
        head = (f"| at ε = {label} ({unit}) | n | " + " | ".join(_display(e, k) for e in eps)
                + " |\n" + "|---" * (len(eps) + 2) + "|\n")
        rows = "\n".join(
            f"| {name} | {c['n'][k]} | " + " | ".join(
                _percent(a) + ("" if b is None else f" ({_percent(b)})")
                for a, b in zip(accs, of_all, strict=True)) + " |"
            for name, c, accs, of_all in zip(names, curves,
                                             result["table"][k]["robust_accuracy"],
                                             result["table"][k]["robust_accuracy_of_all"],
                                             strict=True))
        parts.append(head + rows + "\n")
    head = ("| median change to fool (∞: half or more never fooled) | clean accuracy | fooled | "
            + " | ".join(f"{lab} ({u})" for lab, _, u in MEASURES.values()) + " |\n"
            + "|---" * (len(MEASURES) + 3) + "|\n")
    rows = "\n".join(f"| {name} | {_percent(c['clean_accuracy'])} | "
                      f"{100 * c['fooled']:.1f} % | " + " | ".join(
                          _display(c["median"][k], k) for k in MEASURES) + " |"
                      for name, c in zip(names, curves, strict=True))
    parts.append(head + rows + "\n")
    return "\n".join(parts)


def write_robustness(result: dict[str, Any], out: str | Path) -> list[Path]:
    """``robustness.json``, ``robustness.md`` and ``robustness.png`` into folder `out`."""
    out = Path(out)
    written = [atomic_write_json(out / "robustness.json", result),
               atomic_write_bytes(out / "robustness.md",
                                  robustness_markdown(result).encode("utf-8"))]
    return written + plot_robustness(result, out / "robustness")
