"""A robust model card: what a defended (or plain) action model withstands, in one file.

`model_card(run, attacks, detect=None, selection=None)` reads a run folder and attack
folders made on it (``ela attack``; with ``--guard`` for a model guarded by a detector) and
returns:

- the model, its clean accuracy (the run's test metrics) and how it was trained (plain or
  its adversarial-training settings), with the rule that chose those settings when a
  selection file (``scripts/select_defence.py``'s ``select.json``) is given;
- per attack folder: how much it knows (``white-box`` or ``white-box + guard``), its success
  rate, and the **robust accuracy over all samples of the attacked part** at stated budgets
  = share of the part's samples the (guarded) model classifies right on the clean sequence
  and the attack does not fool within the budget. A minimal-change attack (ELA, C&W) gives
  it at every budget of `BUDGETS` (ΔB/B and l∞) from the change it needed per sample; a
  fixed-budget attack (PGD, MI-FGSM, APGD: an ``eps``) gives it at its own l∞ budget. A clean
  sequence the guard flags counts as not classified right. A minimal-change attack also
  gives its median change to fool (``median_to_fool``; never fooled counts as ∞, None);
- the **worst case over all the attacks** (``worst_case``), when they attacked the same
  samples: robust accuracy at each l∞ budget (`BUDGETS`' and every fixed budget) where a
  sample counts as fooled when *any* attack fooled it with an l∞ change within the budget
  (per sample, as AutoAttack counts an ensemble) — never above any single attack's;
- per attack method of a ``detect.json`` (`ela detect`, trained or ``--squeeze``), the
  share of successful adversarial sequences of the non-adaptive attack that its pooled
  detector flags at its threshold (``caught_at_threshold``) and the share of clean test
  sequences it flags; ``detector`` names the kind.

Every robust accuracy is an upper bound: a stronger attack may fool more. `write_card`
writes ``card.json`` and ``card.md``; `ela report` shows a folder holding ``card.json``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ela.attacks import ATTACKS
from ela.errors import ElaError
from ela.files import atomic_write_bytes, atomic_write_json
from ela.runs.robustness import finite_or_none, sample_changes
from ela.training.checkpoint import read_json
from ela.viz.load import AttackOutput, load_attack

#: measure -> budgets (SI units) at which a minimal-change attack's robust accuracy is given
BUDGETS = {"bone_length_change": (0.01, 0.02, 0.05), "linf": (0.02, 0.05, 0.10)}
LABELS = {"bone_length_change": ("ΔB/B", 100.0, "%"), "linf": ("l∞", 100.0, "cm")}
TRAINING_KEYS = ("adversarial", "adv_eps", "adv_steps", "adv_bone_weight", "trades_beta",
                 "adv_angle")


def _training(config: dict[str, Any]) -> dict[str, Any]:
    train = config.get("train_config", {})
    if not train.get("adversarial"):
        return {"adversarial": None}
    return {k: train.get(k) for k in TRAINING_KEYS if k in train}


def _attack_row(attack: AttackOutput, changes: dict[str, np.ndarray]) -> dict[str, Any]:
    """The card's row of one attack folder; `changes`: its `sample_changes`."""
    s = attack.summary
    method = str(s.get("method"))
    correct, candidates = s.get("correct"), s.get("candidates")
    if correct is None or not candidates:
        raise ElaError(f"{attack.folder}: its summary.json records no 'correct' of "
                       "'candidates'; attack it again with this version")
    part_accuracy = correct / candidates
    right = attack.clean_pred == attack.labels  # a flagged clean sequence is not right
    row: dict[str, Any] = {
        "folder": str(attack.folder), "method": method,
        "knows": "white-box + guard" if s.get("guard") else "white-box",
        "guard": s.get("guard"), "n": len(attack),
        "success_rate": s.get("success_rate"), "part_accuracy": part_accuracy,
        "clean_accuracy_guarded": part_accuracy * float(right.mean()) if len(attack) else None,
    }
    eps = _fixed_eps(attack)
    if eps is not None:
        robust = right & ~attack.success
        row["robust_accuracy"] = {"linf": {str(eps): part_accuracy * float(robust.mean())}}
        return row
    row["median_to_fool"] = {k: finite_or_none(np.nanmedian(changes[k])) if len(attack) else None
                             for k in BUDGETS}
    row["robust_accuracy"] = {
        k: {str(e): part_accuracy * float((right & ~(changes[k] <= e)).mean()) for e in eps}
        for k, eps in BUDGETS.items()}
    return row


def _fixed_eps(attack: AttackOutput) -> float | None:
    """The l∞ budget (metres) of a fixed-budget attack's folder; None for the others."""
    method = str(attack.summary.get("method"))
    options = ATTACKS[method].options() if method in ATTACKS else {}
    if "eps" not in options:
        return None
    return float(attack.summary.get("options", {}).get("eps", options["eps"]))


def _linf_to_fool(attack: AttackOutput, changes: dict[str, np.ndarray]) -> np.ndarray:
    """(N,) l∞ change of each fooled sample (∞ where not fooled); a fixed-budget attack's
    successes count at most its ε (float32 rounding can put them a hair above it)."""
    linf = changes["linf"]
    eps = _fixed_eps(attack)
    return linf if eps is None else np.where(np.isinf(linf), linf, np.minimum(linf, eps))


def _worst_case(attacks: list[AttackOutput],
                changes: list[dict[str, np.ndarray]]) -> dict[str, Any] | None:
    """{"linf": {budget: robust accuracy against every attack at once}, "attacks": count},
    or None when the folders did not attack the same samples of the same (guarded) model;
    `changes`: each attack's `sample_changes`."""
    first = attacks[0]
    right = first.clean_pred == first.labels
    if any(not np.array_equal(a.indices, first.indices)
           or not np.array_equal(a.clean_pred == a.labels, right) for a in attacks[1:]):
        return None
    s = first.summary
    part_accuracy = s["correct"] / s["candidates"]
    linf = np.fmin.reduce([_linf_to_fool(a, c)  # ∞: none fooled it
                           for a, c in zip(attacks, changes, strict=True)])
    eps = sorted({*BUDGETS["linf"], *(e for a in attacks if (e := _fixed_eps(a)) is not None)})
    return {"linf": {str(e): part_accuracy * float((right & ~(linf <= e)).mean())
                     for e in eps}, "attacks": len(attacks)}


def model_card(run: str | Path, attacks: Sequence[str | Path],
               detect: str | Path | None = None,
               selection: str | Path | None = None) -> dict[str, Any]:
    """The card of `run` from attack folders made on it (see the module doc)."""
    run = Path(run)
    config, metrics = read_json(run / "config.json"), read_json(run / "metrics.json")
    card: dict[str, Any] = {
        "run": str(run), "model": config.get("model", {}).get("name"),
        "clean_accuracy": metrics.get("accuracy"), "split": metrics.get("split"),
        "training": _training(config), "budgets": {k: list(v) for k, v in BUDGETS.items()},
        "note": ("robust accuracy = share of the attacked part's samples classified right "
                 "(and not flagged by a guard) whose attack needed more than the budget or "
                 "failed; an upper bound, as any attack's"),
    }
    outputs = [load_attack(a) for a in attacks]
    changes = [sample_changes(a) for a in outputs]  # once per folder: rows and worst case
    card["attacks"] = [_attack_row(a, c) for a, c in zip(outputs, changes, strict=True)]
    if outputs and len(outputs[0]) and (worst := _worst_case(outputs, changes)) is not None:
        card["worst_case"] = worst
    if selection is not None:
        chosen = read_json(Path(selection))
        card["chosen_by"] = {"rule": chosen.get("rule"), "chosen": chosen.get("chosen"),
                             "file": str(selection)}
    if detect is not None:
        report = read_json(Path(detect))
        card["detector"] = report.get("settings", {}).get("detector", "pooled detector")
        card["detection"] = {
            name: {k: r.get(k) for k in ("caught_at_threshold", "false_alarms_at_threshold",
                                         "auc", "threshold", "n_test")}
            for name, r in report.get("pooled", {}).items() if name != "all"}
    return card


def _pct(value: float | None) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) \
        else f"{100 * value:.1f} %"


def card_markdown(card: dict[str, Any]) -> str:
    """The card as Markdown."""
    t = card["training"]
    how = "plain" if not t.get("adversarial") else ", ".join(
        f"{k} {v}" for k, v in t.items() if v is not None)
    lines = [f"# Model card: {card['model']} ({card['run']})", "",
             f"- clean accuracy (test): {_pct(card['clean_accuracy'])}",
             f"- training: {how}"]
    if "chosen_by" in card:
        lines.append(f"- chosen as `{card['chosen_by']['chosen']}` by the rule: "
                     f"{card['chosen_by']['rule']}")
    lines += ["", f"Robust accuracy ({card['note']}):", ""]
    budgets = [(k, e) for k, eps in card["budgets"].items() for e in eps]
    head = [f"{LABELS[k][0]} {e * LABELS[k][1]:g} {LABELS[k][2]}" for k, e in budgets]
    lines += ["| attack | knows | success | fixed budget | " + " | ".join(head) + " |",
              "|---" * (len(head) + 4) + "|"]
    for a in card["attacks"]:
        ra = a["robust_accuracy"]
        if "bone_length_change" in ra:
            cells = [_pct(ra[k][str(e)]) for k, e in budgets]
            fixed = "–"
        else:
            (eps, acc), = ra["linf"].items()
            cells = ["–"] * len(budgets)
            fixed = f"l∞ {100 * float(eps):g} cm: {_pct(acc)}"
        lines.append(f"| {a['method']} ({Path(a['folder']).name}) | {a['knows']} | "
                     f"{_pct(a['success_rate'])} | {fixed} | " + " | ".join(cells) + " |")
    if "worst_case" in card:
        w = card["worst_case"]
        lines += ["", f"Worst case over the {w['attacks']} attacks above (a sample is fooled "
                  "when any of them fooled it within the budget):", "",
                  "| " + " | ".join(f"l∞ {100 * float(e):g} cm" for e in w["linf"]) + " |",
                  "|---" * len(w["linf"]) + "|",
                  "| " + " | ".join(_pct(v) for v in w["linf"].values()) + " |"]
    if "detection" in card:
        lines += ["", f"Detection ({card.get('detector', 'pooled detector')} at its "
                  "threshold, non-adaptive attacks):", "",
                  "| attack | caught | clean flagged | AUC |", "|---|---|---|---|"]
        lines += [f"| {name} | {_pct(r['caught_at_threshold'])} | "
                  f"{_pct(r['false_alarms_at_threshold'])} | "
                  f"{'–' if r['auc'] is None else format(r['auc'], '.3f')} |"
                  for name, r in card["detection"].items()]
    return "\n".join(lines) + "\n"


def write_card(card: dict[str, Any], out: str | Path) -> list[Path]:
    """``card.json`` and ``card.md`` into folder `out`."""
    out = Path(out)
    return [atomic_write_json(out / "card.json", card),
            atomic_write_bytes(out / "card.md", card_markdown(card).encode("utf-8"))]
