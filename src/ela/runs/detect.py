"""A detector of adversarial sequences: an outside judge of how much trace an attack leaves.

A binary classifier (any registered action model as its backbone; `hcn` by default) learns
to tell clean sequences from attacked ones on attack folders of a run's TRAINING part
(``ela attack --part train``), and is scored on attack folders of the TEST part. Every
successful adversarial sequence counts as "attacked" and its clean sequence as "clean", so
both classes hold the same motions and the detector can only learn the change itself.

Per attack method one detector is trained on that method's folders, and one more on all of
them pooled (with a single method the two are the same training, made once); each is scored
by ROC-AUC (0.5: cannot tell; 1: always tells) with a percentile-bootstrap interval over
test pairs (a clean sequence and its attacked copy are drawn together), and by the share of
attacked sequences caught when 5 % of clean ones are flagged. A lower AUC means fewer traces
a model can learn: the nearest objective stand-in for "a person cannot tell" that needs no
user study. Each detector's threshold (its ``threshold.json``, what a guard flags above) is
set for 5 % false alarms on clean sequences: those of validation-part attack folders when
given (`calibration_set`), else the held-out training pairs'.

``OUT/detect.json`` holds, per method, ``auc``, ``auc_low``, ``auc_high``,
``caught_at_5pct``, ``n_train``, ``n_test`` (attacked sequences), ``detector`` (its run
folder under ``OUT/detectors/``, loadable with `ela.training.checkpoint.load`),
``held_out_loss`` (the chosen training's loss on its held-out pairs) and ``learned``: whether
that loss is below `LEARNED_BELOW` × ln 2, the cross-entropy of a detector that answers
50 / 50 to every sequence. A detector that did not learn reads an AUC near 0.5 whatever the
attack: that says nothing about the attack, and the markdown table marks it;
``pooled`` holds the same for the pooled detector on each method's test folders and on all
of them. Detector folders are written atomically and reused when their settings match, so
an interrupted run resumes.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.stats import binomtest
from torch.utils.data import TensorDataset

from ela.errors import ElaError
from ela.files import atomic_write_json
from ela.models import create_model
from ela.training import loop
from ela.training.checkpoint import load, read_json, save_checkpoint
from ela.training.metrics import bootstrap_interval, roc_auc, true_positive_rate_at
from ela.viz.load import AttackOutput, load_attack

CLASSES = ["clean", "attacked"]
POOLED = "pooled"
THRESHOLD_FILE = "threshold.json"
RESTARTS_FILE = "restarts.json"
LEARNED_BELOW = 0.98
"""A detector learned when its held-out loss is below this share of ln 2 (chance)."""


@dataclass
class DetectorSettings:
    """How each detector is trained. model/cfg: backbone (`ela models`) and its options;
    val_share: share of the training samples held out to choose the best epoch and the
    best of `restarts` trainings (by loss) and to set the threshold; max_restarts: more
    trainings (further seeds), up to this many in all, while none has learned (`learning`;
    None: `restarts` only);
    bootstrap: resamples of the interval; false_alarms: the clean share flagged for
    ``caught_at_5pct``; group: None holds out single samples; a regular expression whose
    first group, searched in each sample's name, is its group (e.g. ``s(\\d+)``, the subject
    of MSR's ``a01_s03_e02``) holds out whole groups, so the threshold is set on groups
    (subjects) the detector never saw, as the test's will be."""

    model: str = "hcn"
    cfg: dict[str, Any] = field(default_factory=dict)
    epochs: int = 60
    batch_size: int = 32
    lr: float = 1e-3
    seed: int = 0
    val_share: float = 0.2
    restarts: int = 3
    max_restarts: int | None = None
    bootstrap: int = 1000
    false_alarms: float = 0.05
    device: str = "auto"
    group: str | None = None


@dataclass
class Pairs:
    """Clean and attacked copies of the successful samples of attack folders.

    x: (2P, C, T, V, M) float32, the P clean sequences then their P attacked copies;
    lengths: (2P,); attacked: (2P,) bool; pair: (2P,) pair id (clean and attacked copy
    share it); sample: (2P,) the dataset index of the clean sequence (folders of several
    attacks on the same samples repeat it); name: (2P,) its name (``samples.csv``)."""

    x: np.ndarray
    lengths: np.ndarray
    attacked: np.ndarray
    pair: np.ndarray
    sample: np.ndarray
    name: np.ndarray

    @property
    def num_attacked(self) -> int:
        return int(self.attacked.sum())


def pairs_of(outputs: list[AttackOutput]) -> Pairs:
    """The successful samples of `outputs` (folders of one input space) as `Pairs`."""
    clean, adv, lengths, samples, names = [], [], [], [], []
    for out in outputs:
        ok = out.success
        clean.append(out.clean[ok])
        adv.append(out.adversarial[ok])
        lengths.append(out.lengths[ok])
        samples.append(out.indices[ok])
        names.append(np.asarray(out.names, dtype=object)[ok])
    c, a, n = np.concatenate(clean), np.concatenate(adv), np.concatenate(lengths)
    s, m = np.concatenate(samples), np.concatenate(names)
    p = len(c)
    return Pairs(x=np.concatenate([c, a]).astype(np.float32), lengths=np.concatenate([n, n]),
                 attacked=np.r_[np.zeros(p, bool), np.ones(p, bool)],
                 pair=np.r_[np.arange(p), np.arange(p)], sample=np.r_[s, s], name=np.r_[m, m])


def named_folders(specs: list[str]) -> dict[str, list[AttackOutput]]:
    """``[NAME=]DIR`` specs → {name: folders}; the name defaults to the folder's method."""
    named: dict[str, list[AttackOutput]] = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep:
            name, path = "", spec
        out = load_attack(path)
        named.setdefault(name or str(out.summary.get("method", out.folder.name)), []).append(out)
    return named


def check_same_space(outputs: list[AttackOutput]) -> None:
    """Every folder must hold sequences of one shape and layout (one detector input)."""
    first = outputs[0]
    for out in outputs[1:]:
        if out.clean.shape[1:] != first.clean.shape[1:] or out.layout.name != first.layout.name:
            raise ElaError(f"{out.folder}: sequences {out.clean.shape[1:]} of layout "
                           f"{out.layout.name}, but {first.folder} holds "
                           f"{first.clean.shape[1:]} of {first.layout.name}; a detector "
                           "reads one input space (attack folders of one run)")


@dataclass
class Calibration:
    """Clean sequences that set a detector's threshold: x (K, C, T, V, M) float32, and
    where they come from (``threshold.json``'s ``calibrated_on``)."""

    x: np.ndarray
    source: str


def calibration_set(specs: list[str], training: list[AttackOutput],
                    false_alarms: float) -> tuple[Calibration, list[AttackOutput]]:
    """The clean sequences of the attack folders `specs` — of the run's validation part,
    sequences no model here trained on — and the folders (for `check_same_space`). A
    sequence also found in a `training` folder, or too few sequences for the false-alarm
    rate, are refused."""
    def names(o: AttackOutput) -> set[str]:  # without samples.csv a folder has no names
        return set(o.names) if (o.folder / "samples.csv").is_file() else set()

    folders = [o for outs in named_folders(specs).values() for o in outs]
    seen = set().union(*(names(o) for o in training))
    for o in folders:
        if overlap := seen.intersection(names(o)):
            raise ElaError(f"{o.folder}: calibration sequence {sorted(overlap)[0]!r} is also "
                           "in a --train folder; calibrate on the validation part "
                           "(ela attack RUN --part val), sequences no model here trained on")
    x = np.concatenate([o.clean for o in folders]).astype(np.float32)
    needed = math.ceil(1 / false_alarms)
    if len(x) < needed:
        raise ElaError(f"{len(x)} calibration sequence(s); a threshold for "
                       f"{false_alarms:.0%} false alarms needs at least {needed}")
    where = ", ".join(str(o.folder) for o in folders)
    return Calibration(x, f"{len(x)} clean sequences of {where}"), folders


def threshold_of(scores: np.ndarray, false_alarms: float) -> float:
    """The score that `false_alarms` of the clean `scores` exceed."""
    return float(np.quantile(scores, 1 - false_alarms))


def groups_of(pairs: Pairs, pattern: str) -> np.ndarray:
    """(2P,) the group of each pair's sample: the first group of `pattern` in its name."""
    regex = re.compile(pattern)
    if regex.groups < 1:
        raise ElaError(f"hold-out group {pattern!r} has no (capture group)")
    found = {}
    for name in np.unique(pairs.name):
        match = regex.search(str(name))
        if match is None:
            raise ElaError(f"sample {name!r}: hold-out group {pattern!r} does not match its "
                           "name (samples.csv of its attack folder)")
        found[name] = match.group(1)
    return np.array([found[n] for n in pairs.name], dtype=object)


def held_out(pairs: Pairs, settings: DetectorSettings) -> np.ndarray:
    """(2P,) bool: the pairs held out of a detector's training (best epoch, threshold),
    chosen by sample (or by group, with `settings.group`): every attack's pair of a held-out
    sample is held out, so no clean sequence of the held-out pairs was seen in training (a
    pooled detector sees each sample once per attack)."""
    rng = np.random.default_rng(settings.seed)
    if settings.group is None:
        ids = np.unique(pairs.sample)
        held = rng.choice(ids, size=int(round(settings.val_share * len(ids))), replace=False)
        return np.isin(pairs.sample, held)
    groups = groups_of(pairs, settings.group)
    names = np.unique(groups)
    if len(names) < 2:
        raise ElaError(f"hold-out group {settings.group!r} finds {len(names)} group(s) in the "
                       "training folders; holding one out needs at least 2")
    count = min(max(1, int(round(settings.val_share * len(names)))), len(names) - 1)
    return np.isin(groups, rng.choice(names, size=count, replace=False))


def train_detector(pairs: Pairs, layout: str, settings: DetectorSettings,
                   folder: Path, sources: list[str],
                   calibration: Calibration | None = None) -> tuple[torch.nn.Module, float]:
    """Train (or reuse, when `folder` holds one trained on the same sources and settings) a
    clean-vs-attacked classifier on `pairs`; best epoch by loss on held-out pairs. Returns
    it and its threshold: the log-odds that flags `false_alarms` of the `calibration`
    sequences, or without them of the held-out clean sequences (of all training clean
    sequences when none is held out), also written to ``threshold.json`` for `ela attack
    --guard`."""
    # max_restarts None trains what detectors trained before it existed: they stay reusable
    fields = {k: v for k, v in asdict(settings).items()
              if k != "group" and not (k == "max_restarts" and v is None)}
    spec = {"settings": {**fields,  # "auto" as what it means here
                         "device": str(loop.resolve_device(settings.device))},
            "sources": sources,
            "held_out": "by sample" if settings.group is None else f"by group {settings.group}"}
    config_file = folder / "detector.json"
    val = held_out(pairs, settings)
    if config_file.exists() and read_json(config_file) == spec:
        model = load(folder, device=loop.resolve_device(settings.device))
    else:
        model = _fit(pairs, val, layout, settings, folder)
        atomic_write_json(config_file, spec)
    if calibration is not None:
        clean, source = calibration.x, calibration.source
    else:
        rows = ~pairs.attacked & (val if val.any() else True)
        clean = pairs.x[rows]
        where = "" if settings.group is None else \
            f" (groups {', '.join(sorted(set(groups_of(pairs, settings.group)[val])))})"
        source = (f"{int(rows.sum())} clean sequences held out of training{where}"
                  if val.any() else f"{int(rows.sum())} clean training sequences")
    threshold = threshold_of(attacked_scores(model, clean), settings.false_alarms)
    atomic_write_json(folder / THRESHOLD_FILE, {
        "threshold": threshold, "false_alarms": settings.false_alarms,
        "calibrated_on": source})
    return model, threshold


def _fit(pairs: Pairs, val: np.ndarray, layout: str, settings: DetectorSettings,
         folder: Path) -> torch.nn.Module:
    """Train `settings.restarts` detectors (seeds seed, seed + 1, ...), and more up to
    `settings.max_restarts` while none has learned, and keep the one with the lowest
    held-out loss (training loss without held-out pairs): a detector often never leaves
    chance from its first steps, and only the training part decides."""

    def dataset(rows: np.ndarray) -> TensorDataset:
        return TensorDataset(torch.from_numpy(pairs.x[rows]),
                             torch.from_numpy(pairs.attacked[rows].astype(np.int64)),
                             torch.from_numpy(pairs.lengths[rows]))

    train_ds = dataset(np.flatnonzero(~val))
    val_ds = dataset(np.flatnonzero(val)) if val.any() else None
    best: tuple[float, torch.nn.Module, list[dict[str, Any]]] | None = None
    tries = []
    most = max(settings.restarts, settings.max_restarts or 0)
    for seed in range(settings.seed, settings.seed + most):
        if len(tries) >= settings.restarts and learned(best[0]):
            break
        loop.seed_everything(seed)
        model = create_model(settings.model, layout, num_classes=2,
                             in_channels=pairs.x.shape[1], **settings.cfg)
        cfg = loop.TrainConfig(epochs=settings.epochs, batch_size=settings.batch_size,
                               lr=settings.lr, seed=seed, device=settings.device,
                               monitor="loss")
        result = loop.train(model, train_ds, val_ds, cfg, progress=False, class_names=CLASSES)
        row = result.history[result.best_epoch - 1]
        loss = float(row["val_loss"] if val_ds is not None else row["loss"])
        tries.append({"seed": seed, "loss": loss, "best_epoch": result.best_epoch})
        if best is None or loss < best[0]:
            best = (loss, model, result.history)
    _, model, history = best
    save_checkpoint(model, folder, extra={"classes": CLASSES, "label": "attacked",
                                          "frames": int(pairs.x.shape[2])})
    atomic_write_json(folder / "history.json", history)
    atomic_write_json(folder / RESTARTS_FILE, tries)
    return model


def learned(loss: float) -> bool:
    """Whether a detector's held-out loss is below `LEARNED_BELOW` × ln 2 (chance)."""
    return bool(loss < LEARNED_BELOW * math.log(2))


def learning(folder: str | Path) -> dict[str, Any]:
    """``held_out_loss`` of the training a detector folder kept (the lowest of its
    ``restarts.json``) and ``learned`` (`learned`)."""
    loss = min(t["loss"] for t in read_json(Path(folder) / RESTARTS_FILE))
    return {"held_out_loss": loss, "learned": learned(loss)}


def guard_threshold(folder: str | Path) -> float:
    """The threshold a detector folder of `ela detect` (``OUT/detectors/NAME``) records in
    its ``threshold.json``."""
    file = Path(folder) / THRESHOLD_FILE
    if not file.is_file():
        raise ElaError(f"{folder}: no {THRESHOLD_FILE}; pass a detector folder of `ela detect` "
                       "(OUT/detectors/NAME), written by this version")
    return float(read_json(file)["threshold"])


@torch.no_grad()
def attacked_scores(model: torch.nn.Module, x: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """(N,) the detector's log-odds that each sequence of x (N, C, T, V, M) is attacked."""
    model.eval()
    dev = next(model.parameters()).device
    out = []
    for start in range(0, len(x), batch_size):
        logits = model(torch.from_numpy(x[start:start + batch_size]).to(dev)).float()
        out.append((logits[:, 1] - logits[:, 0]).cpu())
    return torch.cat(out).numpy()


def rate_key(false_alarms: float) -> str:
    """The report key of the detection rate at `false_alarms` of the test's clean
    sequences, e.g. ``caught_at_5pct``."""
    return f"caught_at_{round(100 * false_alarms)}pct"


def score(model: torch.nn.Module, threshold: float, test: Pairs,
          settings: DetectorSettings) -> dict[str, Any]:
    """AUC with its bootstrap interval, the detection rate at the set false alarms of the
    test's clean sequences, and at the detector's own threshold (``caught_at_threshold``,
    with its 95 % Wilson interval ``caught_low`` / ``caught_high`` and the test's
    ``false_alarms_at_threshold``): what a guard set before the test flags."""
    s = attacked_scores(model, test.x)
    low, high = bootstrap_interval(lambda rows: roc_auc(s[rows], test.attacked[rows]),
                                   test.pair, settings.bootstrap, seed=settings.seed)
    caught = s[test.attacked] > threshold
    interval = (binomtest(int(caught.sum()), caught.size).proportion_ci(method="wilson")
                if caught.size else None)
    return {"auc": roc_auc(s, test.attacked), "auc_low": low, "auc_high": high,
            rate_key(settings.false_alarms):
                true_positive_rate_at(s, test.attacked, settings.false_alarms),
            "threshold": threshold,
            "caught_at_threshold": float(caught.mean()) if caught.size else math.nan,
            "caught_low": interval.low if interval else None,
            "caught_high": interval.high if interval else None,
            "false_alarms_at_threshold": float((s[~test.attacked] > threshold).mean()),
            "n_test": test.num_attacked}


def run_detect(train_specs: list[str], test_specs: list[str], out: str | Path,
               settings: DetectorSettings | None = None,
               calibrate: list[str] | None = None) -> dict[str, Any]:
    """Train and score the per-method and pooled detectors; writes and returns detect.json.

    train_specs / test_specs: ``[NAME=]DIR`` attack folders (training part / test part);
    each test name needs a training folder of the same name. calibrate: attack folders of
    the validation part whose clean sequences set every detector's threshold (by default
    the held-out training pairs' do)."""
    settings = settings or DetectorSettings()
    out = Path(out)
    train_sets, test_sets = named_folders(train_specs), named_folders(test_specs)
    missing = sorted(set(test_sets) - set(train_sets))
    if missing:
        raise ElaError(f"no training-part attack folder for {', '.join(missing)} (names: "
                       f"{', '.join(sorted(train_sets))}); name folders NAME=DIR to pair them")
    every = [o for outs in (*train_sets.values(), *test_sets.values()) for o in outs]
    calibration = None
    if calibrate:
        calibration, folders = calibration_set(
            calibrate, [o for outs in train_sets.values() for o in outs], settings.false_alarms)
        every += folders
    check_same_space(every)
    layout = every[0].layout.name
    train_pairs = {name: pairs_of(outs) for name, outs in train_sets.items()}
    test_pairs = {name: pairs_of(outs) for name, outs in test_sets.items()}
    for name, pairs in {**train_pairs, **test_pairs}.items():
        if pairs.num_attacked < 2:
            raise ElaError(f"{name}: {pairs.num_attacked} successful adversarial sequence(s); "
                           "a detector needs at least 2 to train and to be scored")

    def sources(outs: list[AttackOutput]) -> list[str]:
        return [str(o.folder.resolve()) for o in outs]

    report: dict[str, Any] = {"settings": asdict(settings), "methods": {}, POOLED: {}}
    if calibration is not None:
        report["calibrated_on"] = calibration.source
    pooled_train = pairs_of([o for outs in train_sets.values() for o in outs])
    folder = out / "detectors" / POOLED  # first: the guard of `ela attack --guard`
    model, threshold = train_detector(pooled_train, layout, settings, folder,
                                      sources([o for outs in train_sets.values() for o in outs]),
                                      calibration)
    everything = pairs_of([o for outs in test_sets.values() for o in outs])
    for name, test in {**test_pairs, "all": everything}.items():
        report[POOLED][name] = {**score(model, threshold, test, settings),
                                "n_train": pooled_train.num_attacked, "detector": str(folder),
                                **learning(folder)}
    for name, test in test_pairs.items():
        if len(train_sets) == 1:  # the same pairs and seeds: the pooled detector is its own
            report["methods"][name] = dict(report[POOLED][name])
            continue
        folder = out / "detectors" / name
        model, threshold = train_detector(train_pairs[name], layout, settings, folder,
                                          sources(train_sets[name]), calibration)
        report["methods"][name] = {**score(model, threshold, test, settings),
                                   "n_train": train_pairs[name].num_attacked,
                                   "detector": str(folder), **learning(folder)}
    atomic_write_json(out / "detect.json", report)
    return report


def markdown(report: dict[str, Any]) -> str:
    """detect.json as a Markdown table: per method, its own detector and the pooled one."""
    fa = report["settings"]["false_alarms"]
    key = rate_key(fa)
    lines = [f"| attack | n train / test | AUC (95 % interval) | caught at {100 * fa:g} % false "
             "alarms | pooled detector: AUC (95 % interval) |", "|---|---|---|---|---|"]

    def auc(r: dict[str, Any]) -> str:
        learned = "" if r["learned"] else ", did not learn"
        return f"{r['auc']:.3f} ({r['auc_low']:.3f}–{r['auc_high']:.3f}{learned})"

    for name, r in report["methods"].items():
        p = report[POOLED][name]
        lines.append(f"| {name} | {r['n_train']} / {r['n_test']} | {auc(r)} | "
                     f"{100 * r[key]:.0f} % | {auc(p)} |")
    lines.append(f"| all (pooled) | {report[POOLED]['all']['n_train']} / "
                 f"{report[POOLED]['all']['n_test']} | – | – | {auc(report[POOLED]['all'])} |")
    return "\n".join(lines) + "\n"
