"""Train / validation / test splits: dataset protocols, grouped stratified folds, JSON files.

Every split is a `Split` of index arrays into a `SkeletonSet` (or any labelled list). All
random splits take a seed and are deterministic. *Groups* (a clip id, a performer) never
straddle two parts of a split: windows of one clip or clips of one performer stay
together. Group assignment is greedy: groups, shuffled by the seed and sorted large to
small, each go to the part that most lacks their labels relative to its target share
(ties: the part furthest below its target size), which keeps parts stratified by label as
far as the groups allow.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ela.data.dataset import clip_id
from ela.errors import DataFormatError, ElaError
from ela.files import atomic_write_json
from ela.io.base import SkeletonSet

NTU_XSUB_TRAIN = frozenset({1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34,
                            35, 38})
NTU_XVIEW_TRAIN = frozenset({2, 3})
# protocol -> (meta key, test "is in training set" on the key's integer value)
PROTOCOLS = {
    "ntu-cross-subject": ("performer", NTU_XSUB_TRAIN.__contains__),
    "ntu-cross-view": ("camera", NTU_XVIEW_TRAIN.__contains__),
    "msr-cross-subject": ("subject", lambda s: s % 2 == 1),
}
_PROTOCOL_ALIASES = {"ntu-xsub": "ntu-cross-subject", "ntu-xview": "ntu-cross-view",
                     "msr-xsub": "msr-cross-subject", "xview": "ntu-cross-view",
                     "cross-view": "ntu-cross-view", "cv": "ntu-cross-view"}


def _index(a: Any) -> np.ndarray:
    return np.sort(np.asarray(a, dtype=np.int64).reshape(-1))


@dataclass
class Split:
    """Index arrays (sorted int64) of the training, validation and test parts.

    `num_samples` is the size of the indexed set (checked by `check`); `meta` records how
    the split was made (protocol, seed, fold).
    """

    name: str
    train: np.ndarray
    val: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    test: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    num_samples: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.train, self.val, self.test = (_index(p) for p in (self.train, self.val, self.test))

    def parts(self) -> dict[str, np.ndarray]:
        return {"train": self.train, "val": self.val, "test": self.test}

    def check(self, num_samples: int | None = None) -> Split:
        """Raise ElaError if parts overlap or an index does not fit the set; return self."""
        n = self.num_samples if num_samples is None else num_samples
        if (num_samples is not None and self.num_samples is not None
                and num_samples != self.num_samples):
            raise ElaError(f"split {self.name!r} was made for {self.num_samples} samples, "
                           f"the data has {num_samples}")
        joined = np.concatenate([self.train, self.val, self.test])
        if np.unique(joined).size != joined.size:
            raise ElaError(f"split {self.name!r}: a sample lies in two parts (or twice in one)")
        if joined.size and (joined.min() < 0 or (n is not None and joined.max() >= n)):
            raise ElaError(f"split {self.name!r}: indices outside 0..{n}")
        return self

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "num_samples": self.num_samples, "meta": self.meta,
                **{k: v.tolist() for k, v in self.parts().items()}}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Split:
        return cls(d["name"], d["train"], d.get("val", []), d.get("test", []),
                   d.get("num_samples"), d.get("meta", {}))


def _codes(values: Sequence[Any] | np.ndarray) -> np.ndarray:
    """(N,) int codes of arbitrary hashable values (labels or group ids)."""
    return np.unique(np.asarray([str(v) for v in values]), return_inverse=True)[1]


def assign_groups(labels: Sequence[int] | np.ndarray,
                  groups: Sequence[Any] | np.ndarray | None,
                  shares: Sequence[float], seed: int = 0) -> np.ndarray:
    """(N,) part index per sample: groups kept whole, labels stratified over the parts.

    `shares` are the target fractions of the parts (normalised). See the module docstring.
    """
    y = _codes(labels)
    n = y.size
    g = np.arange(n) if groups is None else _codes(groups)
    if g.size != n:
        raise ElaError(f"{n} labels but {g.size} group ids")
    share = np.asarray(shares, dtype=np.float64)
    if share.ndim != 1 or share.size < 1 or (share < 0).any() or share.sum() <= 0:
        raise ElaError(f"shares must be non-negative with a positive sum, got {list(shares)}")
    share = share / share.sum()
    counts = np.zeros((g.max() + 1 if n else 0, y.max() + 1 if n else 0))
    np.add.at(counts, (g, y), 1)
    rng = np.random.default_rng(seed)
    order = rng.permutation(counts.shape[0])
    order = order[np.argsort(-counts[order].sum(axis=1), kind="stable")]
    filled = np.zeros((share.size, counts.shape[1]))
    sizes = np.zeros(share.size)
    seen = np.zeros(counts.shape[1])
    part_of_group = np.zeros(counts.shape[0], dtype=np.int64)
    for gi in order:
        nz = np.flatnonzero(counts[gi])  # only the group's own classes change the score
        cg = counts[gi, nz]
        seen[nz] += cg
        need = np.round((filled[:, nz] - share[:, None] * seen[nz]) @ cg, 9)
        size_need = sizes - share * (sizes.sum() + cg.sum())
        best = int(np.lexsort((size_need, need))[0])
        filled[best, nz] += cg
        sizes[best] += cg.sum()
        part_of_group[gi] = best
    return part_of_group[g]


def stratified_kfold(labels: Sequence[int] | np.ndarray, k: int, seed: int = 0) -> list[Split]:
    """k folds, each class spread evenly; fold i tests on its part and trains on the rest."""
    y = _codes(labels)
    k = _folds(k, y.size)
    rng = np.random.default_rng(seed)
    perm = rng.permutation(y.size)
    order = perm[np.argsort(y[perm], kind="stable")]  # classes in turn, shuffled within
    part = np.empty(y.size, dtype=np.int64)
    part[order] = np.arange(y.size) % k
    return _fold_splits(part, k, f"stratified-{k}fold", seed)


def group_kfold(labels: Sequence[int] | np.ndarray, groups: Sequence[Any] | np.ndarray,
                k: int, seed: int = 0) -> list[Split]:
    """k folds with every group in exactly one test fold, stratified by label."""
    n = len(labels)
    k = _folds(k, n)
    part = assign_groups(labels, groups, np.ones(k), seed)
    splits = _fold_splits(part, k, f"group-{k}fold", seed)
    if any(s.test.size == 0 for s in splits):
        raise ElaError(f"group_kfold: only {np.unique(_codes(groups)).size} groups for "
                       f"{k} folds")
    return splits


def emotion_cv(labels: Sequence[int] | np.ndarray, groups: Sequence[Any] | np.ndarray | None,
               k: int = 5, ratios: tuple[float, float, float] = (8.0, 0.5, 1.5),
               seed: int = 0) -> list[Split]:
    """The emotion papers' 5-fold protocol (SMACN, S-STGCN): train : dev : test = 8 : 0.5 : 1.5.

    Five disjoint test parts cannot each hold 15 % and still cover every sample, and the
    papers integrate the five folds' test predictions into one score, so here every sample
    is tested exactly once: fold i tests on the i-th of k grouped, stratified parts (1/k of
    the data), and the rest is split into train and dev in the ratio ``ratios[0] :
    ratios[1]`` (8 : 0.5), again grouped and stratified. With k = 5 that is about
    75.3 : 4.7 : 20. ``ratios[2]`` is kept in the splits' meta only.
    """
    labels = np.asarray(labels)
    group_arr = np.arange(labels.size) if groups is None else np.asarray(groups, dtype=object)
    k = _folds(k, labels.size)
    part = assign_groups(labels, group_arr, np.ones(k), seed)
    splits = []
    for i in range(k):
        rest = np.flatnonzero(part != i)
        sub = assign_groups(labels[rest], group_arr[rest], ratios[:2], seed + 1 + i)
        splits.append(Split(f"emotion-{k}fold-{i}", rest[sub == 0], rest[sub == 1],
                            np.flatnonzero(part == i), labels.size,
                            {"fold": i, "folds": k, "seed": seed, "ratios": list(ratios)}))
    if any(s.test.size == 0 for s in splits):
        raise ElaError(f"emotion_cv: too few groups for {k} folds")
    return splits


def train_val_test(labels: Sequence[int] | np.ndarray,
                   groups: Sequence[Any] | np.ndarray | None = None,
                   ratios: tuple[float, float, float] = (0.8, 0.1, 0.1),
                   seed: int = 0) -> Split:
    """A random holdout split in `ratios`, grouped and stratified (see `assign_groups`)."""
    if len(ratios) != 3:
        raise ElaError(f"ratios must be (train, val, test), got {ratios}")
    part = assign_groups(labels, groups, ratios, seed)
    return Split("holdout", np.flatnonzero(part == 0), np.flatnonzero(part == 1),
                 np.flatnonzero(part == 2), len(labels),
                 {"seed": seed, "ratios": list(ratios)})


def group_ids(skeleton_set: SkeletonSet, key: str = "clip") -> np.ndarray:
    """(N,) group ids: ``meta[key]`` per sample, or the clip id (`clip_id`) for "clip"."""
    if key == "clip":
        return np.asarray([clip_id(s, i) for i, s in enumerate(skeleton_set.samples)])
    values = skeleton_set.meta(key)
    missing = sum(v is None for v in values)
    if missing:
        raise DataFormatError(skeleton_set.source or "dataset",
                              f"{missing} samples have no {key!r} in their metadata")
    return np.asarray([str(v) for v in values])


def _as_int(value: Any, key: str, source: str) -> int:
    if isinstance(value, int | np.integer):
        return int(value)
    digits = re.findall(r"\d+", str(value)) if value is not None else []
    if not digits:
        raise DataFormatError(source or "dataset",
                              f"metadata {key!r} = {value!r} holds no number")
    return int(digits[-1])


def protocol_split(skeleton_set: SkeletonSet, protocol: str, label: str | None = None,
                   val_fraction: float = 0.0, seed: int = 0, val_group: str = "clip") -> Split:
    """A dataset's standard split from metadata.

    Protocols: ``"ntu-cross-subject"`` (meta ``performer`` in `NTU_XSUB_TRAIN` trains),
    ``"ntu-cross-view"`` (meta ``camera`` 2 or 3 trains), ``"msr-cross-subject"`` (odd
    meta ``subject`` trains, even tests). ``"cross-subject"`` picks NTU when the samples
    carry ``performer``, else MSR. With `val_fraction` > 0 a validation part is taken from
    the training part, grouped by `val_group` (`group_ids`: "clip", or e.g. "subject" for
    held-out subjects) and stratified by `label`.
    """
    name = protocol.lower().replace("_", "-")
    if name in ("cross-subject", "xsub", "cs"):
        name = ("ntu-cross-subject" if all(v is not None
                                           for v in skeleton_set.meta("performer"))
                else "msr-cross-subject")
    name = _PROTOCOL_ALIASES.get(name, name)
    if name not in PROTOCOLS:
        raise ElaError(f"unknown split {protocol!r}; known: "
                       f"{', '.join(sorted(PROTOCOLS))}, cross-subject, cross-view, "
                       "holdout[:train,val,test], kfold:K, emotion5 (emotion:K), or a "
                       "split .json file")
    key, is_train = PROTOCOLS[name]
    values = group_ids(skeleton_set, key)
    train_mask = np.array([is_train(_as_int(v, key, skeleton_set.source)) for v in values])
    train, test = np.flatnonzero(train_mask), np.flatnonzero(~train_mask)
    val = np.zeros(0, dtype=np.int64)
    if val_fraction > 0:
        if not 0 < val_fraction < 1:
            raise ElaError(f"val_fraction must lie in [0, 1), got {val_fraction}")
        labels = (skeleton_set.labels(label)[train] if label is not None
                  else np.zeros(train.size, dtype=np.int64))
        part = assign_groups(labels, group_ids(skeleton_set, val_group)[train],
                             (1 - val_fraction, val_fraction), seed)
        train, val = train[part == 0], train[part == 1]
    return Split(name, train, val, test, len(skeleton_set),
                 {"protocol": name, "key": key, "val_fraction": val_fraction, "seed": seed})


def _folds(k: int, n: int) -> int:
    if int(k) != k or not 2 <= int(k) <= n:
        raise ElaError(f"number of folds must be an integer in 2..{n} (samples), got {k}")
    return int(k)


def _fold_splits(part: np.ndarray, k: int, name: str, seed: int) -> list[Split]:
    return [Split(f"{name}-{i}", np.flatnonzero(part != i), [], np.flatnonzero(part == i),
                  part.size, {"fold": i, "folds": k, "seed": seed}) for i in range(k)]


def _read_obj(path: str | Path) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise DataFormatError(path, "no such split file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataFormatError(path, f"not a JSON file: {e}") from None


def _read_json(path: str | Path, kind: str) -> dict[str, Any]:
    obj = _read_obj(path)
    if not isinstance(obj, dict) or obj.get("format") != kind:
        raise DataFormatError(path, f"not an {kind} file")
    return obj


def save_split(split: Split, path: str | Path) -> Path:
    """Write one split as JSON (atomically: a temporary file renamed into place)."""
    return atomic_write_json(path, {"format": "ela-split", "version": 1, **split.to_dict()},
                             indent=None)


def load_split(path: str | Path) -> Split:
    """Read a split written by `save_split`."""
    obj = _read_json(path, "ela-split")
    try:
        return Split.from_dict(obj).check()
    except (KeyError, TypeError, ValueError) as e:
        raise DataFormatError(path, f"malformed split: {e}") from None


def save_folds(folds: Sequence[Split], path: str | Path) -> Path:
    """Write a list of splits (cross-validation folds) as one JSON file, atomically."""
    return atomic_write_json(path, {"format": "ela-folds", "version": 1,
                                   "folds": [s.to_dict() for s in folds]}, indent=None)


def load_folds(path: str | Path) -> list[Split]:
    """Read folds written by `save_folds`."""
    obj = _read_json(path, "ela-folds")
    try:
        return [Split.from_dict(d).check() for d in obj["folds"]]
    except (KeyError, TypeError, ValueError) as e:
        raise DataFormatError(path, f"malformed folds: {e}") from None


def save_splits(splits: Sequence[Split], path: str | Path) -> Path:
    """One split as `save_split`, several as `save_folds`."""
    return save_split(splits[0], path) if len(splits) == 1 else save_folds(splits, path)


def load_splits(path: str | Path) -> list[Split]:
    """What `save_splits` wrote: a list of one split or of the folds."""
    obj = _read_obj(path)
    if isinstance(obj, dict) and obj.get("format") == "ela-folds":
        return load_folds(path)
    return [load_split(path)]


SPLIT_SPECS = ("holdout[:a,b,c]", "kfold:K", "emotion5", "emotion:K", "a protocol name",
               "file:PATH or a .json file")
"""The split specs `parse_splits` takes, for messages and help."""


def parse_splits(spec: str, labels: np.ndarray, groups: np.ndarray | None = None,
                 seed: int = 0, val_fraction: float = 0.1,
                 protocol: Callable[[str], Split] | None = None) -> list[Split]:
    """The splits of a spec string, for samples with `labels` (N,) and `groups` (N,).

    Specs: ``"holdout"`` (train/val/test 0.8/0.1/0.1) or ``"holdout:0.7,0.1,0.2"``;
    ``"kfold:K"`` (K grouped folds, `val_fraction` of each training part held out for
    validation); ``"emotion5"`` / ``"emotion:K"`` (the emotion papers' 8 : 0.5 : 1.5
    protocol, `emotion_cv`); ``"file:PATH"`` or a ``.json`` path written by `save_splits`;
    any other name goes to `protocol` (e.g. "cross-subject" of a skeleton set; an error
    when None). Every random split keeps groups whole and is stratified by label.
    """
    name, _, arg = spec.strip().partition(":")
    key = name.lower()
    if key == "file" or spec.endswith(".json"):
        return load_splits(arg if key == "file" else spec)
    if key == "holdout":
        ratios = _spec_numbers(arg, spec, 3) if arg else (0.8, 0.1, 0.1)
        return [train_val_test(labels, groups, tuple(ratios), seed)]
    if key in ("kfold", "folds"):
        k = int(_spec_numbers(arg, spec, 1)[0])
        if val_fraction <= 0:
            return group_kfold(labels, groups, k, seed)
        return emotion_cv(labels, groups, k, (1 - val_fraction, val_fraction, 1 / k), seed)
    if key in ("emotion", "emotion5", "emotion-cv"):
        k = int(_spec_numbers(arg, spec, 1)[0]) if arg else 5
        return emotion_cv(labels, groups, k, seed=seed)
    if protocol is None:
        raise ElaError(f"unknown split {spec!r}; one of: {', '.join(SPLIT_SPECS[:-2])}, "
                       f"{SPLIT_SPECS[-1]}")
    return [protocol(spec)]


def resolve_splits(spec: str | Split | Sequence[Split], skeleton_set: SkeletonSet,
                   label: str, seed: int = 0, val_fraction: float = 0.1,
                   group: str = "clip") -> list[Split]:
    """Splits of a skeleton set: a `parse_splits` spec (protocol names as `protocol_split`;
    groups from `group_ids` with `group`), a Split or a list of Splits; checked against
    the set's size."""
    if isinstance(spec, Split):
        out = [spec]
    elif not isinstance(spec, str):
        out = list(spec)
    else:
        out = parse_splits(spec, skeleton_set.labels(label), group_ids(skeleton_set, group),
                           seed, val_fraction,
                           lambda name: protocol_split(skeleton_set, name, label,
                                                       val_fraction, seed, group))
    if not out:
        raise ElaError(f"split {spec!r} gives no splits")
    return [split.check(len(skeleton_set)) for split in out]


def _spec_numbers(text: str, spec: str, count: int) -> list[float]:
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) != count:
        raise ElaError(f"split {spec!r}: expected {count} number(s) after ':'")
    return values
