"""Multimodal data from a manifest: one utterance per row, its speech, words and movement.

A manifest is a CSV file (header row) or a JSON-lines file (``.jsonl``/``.json``, one object
per line) with the fields

- ``label``: the class name (required);
- ``audio``: a speech file (WAV, FLAC, … anything libsndfile reads);
- ``transcript`` (or ``text``): what was said;
- ``skeleton`` (or ``video``): a skeleton file in any format `ela.io.read` detects, or a
  video (`ela.video`, needs the video extra); ``skeleton_index`` picks a sample of a file
  holding several (default 0);
- ``group``: samples with one group (speaker, session, clip) stay on one side of a split.

Relative paths are relative to the manifest's folder. Only the modalities a model uses must
be present. `load_multimodal` extracts the features once (`MultimodalData`);
`MultimodalDataset` serves them as ``(ModalityBatch, label, length)`` items for the training
loop, where a `ModalityBatch` is a dict of tensors that moves with ``.to(device)`` and that
the default DataLoader collation stacks key by key.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from ela.data.dataset import fix_frames
from ela.data.transforms import Transform
from ela.errors import DataFormatError, ElaError
from ela.io.base import Sample, SkeletonSet
from ela.io.mapping import map_set
from ela.skeleton import get_layout
from ela.text.tokenize import Vocabulary

MODALITIES = ("audio", "text", "skeleton")
_ALIASES = {"text": "transcript", "video": "skeleton"}
_FIELDS = {"label", "audio", "transcript", "skeleton", "skeleton_index", "group"}


@dataclass
class ManifestEntry:
    """One manifest row (paths resolved; None where the row leaves a field empty)."""

    label: str
    audio: Path | None = None
    transcript: str | None = None
    skeleton: Path | None = None
    skeleton_index: int = 0
    group: str | None = None
    line: int = 0


def _entry(row: dict[str, Any], base: Path, path: Path, line: int) -> ManifestEntry:
    row = {_ALIASES.get(k.strip().lower(), k.strip().lower()): v for k, v in row.items() if k}
    unknown = sorted(set(row) - _FIELDS)
    if unknown:
        raise DataFormatError(path, f"unknown fields {unknown}; known: {sorted(_FIELDS)}", line)
    values = {k: (str(v).strip() if v is not None else "") for k, v in row.items()}
    if not values.get("label"):
        raise DataFormatError(path, "the row has no label", line)
    try:
        index = int(values.get("skeleton_index") or 0)
    except ValueError:
        raise DataFormatError(path, f"skeleton_index {values['skeleton_index']!r} is not an "
                                    f"integer", line) from None

    def file(key: str) -> Path | None:
        return (base / values[key]) if values.get(key) else None

    return ManifestEntry(values["label"], file("audio"), values.get("transcript") or None,
                         file("skeleton"), index, values.get("group") or None, line)


def read_manifest(path: str | Path) -> list[ManifestEntry]:
    """The entries of a CSV or JSON-lines manifest (see the module doc)."""
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(path, "no such manifest file")
    base = path.parent
    entries = []
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            if path.suffix.lower() in (".jsonl", ".json", ".ndjson"):
                for line, text in enumerate(fh, start=1):
                    if not text.strip():
                        continue
                    try:
                        row = json.loads(text)
                    except json.JSONDecodeError as err:
                        raise DataFormatError(path, f"not JSON ({err.msg})", line) from None
                    if not isinstance(row, dict):
                        raise DataFormatError(path, "each line must be a JSON object", line)
                    entries.append(_entry(row, base, path, line))
            else:
                reader = csv.DictReader(fh)
                if not reader.fieldnames or "label" not in [f.strip().lower()
                                                            for f in reader.fieldnames]:
                    raise DataFormatError(path, "the CSV header has no 'label' column", 1)
                for row in reader:
                    if None in row:
                        raise DataFormatError(path, "more values than header columns",
                                              reader.line_num)
                    entries.append(_entry(row, base, path, reader.line_num))
    except UnicodeDecodeError as err:
        raise DataFormatError(path, f"not UTF-8 text ({err.reason})") from None
    if not entries:
        raise DataFormatError(path, "the manifest lists no samples")
    return entries


@dataclass
class MultimodalData:
    """Features of every manifest entry, for the modalities asked for.

    labels (N,) int64 into `classes`; groups (N,) (the entry's group, else its row number);
    mfcc: N arrays (T_i, 39); prosody (N, 35) float32; texts: N transcripts; skeleton: a
    SkeletonSet of N one-person samples in one layout. Absent modalities are None.
    """

    labels: np.ndarray
    classes: list[str]
    groups: np.ndarray
    modalities: tuple[str, ...]
    mfcc: list[np.ndarray] | None = None
    prosody: np.ndarray | None = None
    texts: list[str] | None = None
    skeleton: SkeletonSet | None = None
    source: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.labels.size)

    def __repr__(self) -> str:
        """One line: sample count, classes, modalities and source — never the features."""
        return (f"MultimodalData(n={len(self)}, classes={len(self.classes)}, "
                f"modalities={self.modalities}, source={self.source!r})")


def _check_modalities(modalities: Sequence[str]) -> tuple[str, ...]:
    mods = tuple(dict.fromkeys(modalities))
    bad = [m for m in mods if m not in MODALITIES]
    if bad or not mods:
        raise ElaError(f"modalities must be a non-empty subset of {MODALITIES}, got "
                       f"{list(modalities)}")
    return mods


def _read_skeleton(path: Path, index: int, layout: str, lowpass_video: bool) -> SkeletonSet:
    from ela.video.extract import VIDEO_SUFFIXES

    if path.suffix.lower() in VIDEO_SUFFIXES:
        from ela.video.extract import extract

        data = extract(path, layout=layout, lowpass=lowpass_video)
    else:
        from ela.io import read

        data = map_set(read(path), layout)
    if not 0 <= index < len(data):
        raise DataFormatError(path, f"skeleton_index {index} but the file holds "
                                    f"{len(data)} samples")
    sample = data.samples[index]
    one = Sample(sample.data[..., :1], {}, {**sample.meta, "file": str(path), "index": index})
    return data.replaced(samples=[one], label_names={}, skipped=[])


def load_multimodal(
    path: str | Path,
    modalities: Sequence[str] = MODALITIES,
    layout: str = "upper10",
    classes: Sequence[str] | None = None,
    lowpass_video: bool = True,
    log: Callable[[str], None] | None = None,
) -> MultimodalData:
    """Read the manifest `path` and extract the features of `modalities`.

    layout: skeletons are mapped to it (upper10 in the emotion papers). classes: the class
    order (default: sorted label names); a label outside it raises DataFormatError. Audio →
    `ela.audio.extract_file`; skeleton files are read once even when several rows share one.
    """
    mods = _check_modalities(modalities)
    path = Path(path)
    entries = read_manifest(path)
    names = list(classes) if classes is not None else sorted({e.label for e in entries})
    index = {n: i for i, n in enumerate(names)}
    field_of = {"audio": "audio", "text": "transcript", "skeleton": "skeleton"}
    for e in entries:
        if e.label not in index:
            raise DataFormatError(path, f"label {e.label!r} is not one of {names}", e.line)
        for m in mods:
            if getattr(e, field_of[m]) is None:
                raise DataFormatError(path, f"the row has no {field_of[m]} (the model uses "
                                            f"{', '.join(mods)})", e.line)
    data = MultimodalData(
        labels=np.array([index[e.label] for e in entries], dtype=np.int64), classes=names,
        groups=np.array([e.group if e.group is not None else f"row{e.line}" for e in entries],
                        dtype=object),
        modalities=mods, source=str(path))
    if "audio" in mods:
        from ela.audio import extract_file

        feats = [extract_file(e.audio) for e in entries]
        data.mfcc = [f.mfcc for f in feats]
        data.prosody = np.stack([f.prosody for f in feats])
        if log is not None:
            log(f"audio: {len(feats)} files, {sum(f.seconds for f in feats):.1f} s")
    if "text" in mods:
        data.texts = [e.transcript or "" for e in entries]
    if "skeleton" in mods:
        cache: dict[tuple[Path, int], SkeletonSet] = {}
        for e in entries:
            key = (e.skeleton, e.skeleton_index)
            if key not in cache:
                cache[key] = _read_skeleton(e.skeleton, e.skeleton_index, layout, lowpass_video)
        first = next(iter(cache.values()))
        data.skeleton = first.replaced(samples=[cache[(e.skeleton, e.skeleton_index)].samples[0]
                                                for e in entries], source=str(path))
        data.meta["layout"] = get_layout(layout).name
    return data


class ModalityBatch(dict):
    """A dict of tensors (one sample or a batch) that moves to a device as a whole."""

    def to(self, device: torch.device | str, non_blocking: bool = False) -> ModalityBatch:
        return ModalityBatch({k: v.to(device, non_blocking=non_blocking)
                              for k, v in self.items()})


def _pad(seqs: Sequence[np.ndarray], length: int, width: int | None = None
         ) -> tuple[np.ndarray, np.ndarray]:
    """(N, length[, width]) zero-padded stack of `seqs` (cut to `length`) and their lengths."""
    shape = (len(seqs), length) if width is None else (len(seqs), length, width)
    out = np.zeros(shape, dtype=np.float32 if width else np.int64)
    lengths = np.zeros(len(seqs), dtype=np.int64)
    for i, s in enumerate(seqs):
        k = min(len(s), length)
        out[i, :k] = np.asarray(s)[:k]
        lengths[i] = k
    return out, lengths


class MultimodalDataset(Dataset):
    """Items ``(ModalityBatch, label, length)`` of `MultimodalData` samples `indices`.

    The batch holds, for the modalities present: ``mfcc`` (A, 39) float32 zero-padded and
    ``mfcc_length``; ``prosody`` (35,); ``tokens`` (L,) int64 ids of `vocab` (0 = padding)
    and ``tokens_length`` (at least 1: an empty transcript is one unknown token);
    ``skeleton`` (C, T, V, 1) float32 (`frames` frames by `sampling`, after `transform`).
    A and L are the longest sequences in the whole data, capped at `max_audio_frames` and
    `max_tokens`, so every split pads alike. length is the skeleton's valid frames (else
    the MFCC frames).
    """

    def __init__(self, data: MultimodalData, indices: Sequence[int] | np.ndarray | None = None,
                 vocab: Vocabulary | None = None, frames: int = 32,
                 transform: Transform | None = None, sampling: str = "resample",
                 max_audio_frames: int = 1500, max_tokens: int = 100,
                 modalities: Sequence[str] | None = None):
        mods = _check_modalities(modalities or data.modalities)
        absent = [m for m in mods if m not in data.modalities]
        if absent:
            raise ElaError(f"{data.source}: the data was loaded without {absent}")
        self.indices = (np.arange(len(data)) if indices is None
                        else np.asarray(indices, dtype=np.int64).reshape(-1))
        self.labels = data.labels[self.indices]
        self.modalities = mods
        self.source = data.source
        idx = self.indices
        self.items: dict[str, torch.Tensor] = {}
        self.lengths = np.zeros(idx.size, dtype=np.int64)
        if "audio" in mods:
            longest = max(len(m) for m in data.mfcc)
            mfcc, lengths = _pad([data.mfcc[i] for i in idx], min(longest, max_audio_frames),
                                 data.mfcc[0].shape[1])
            self.items.update(mfcc=torch.from_numpy(mfcc),
                              mfcc_length=torch.from_numpy(lengths),
                              prosody=torch.from_numpy(data.prosody[idx]))
            self.lengths = lengths
        if "text" in mods:
            if vocab is None:
                raise ElaError("the text modality needs a vocabulary")
            ids = [vocab.encode(data.texts[i]) or [1] for i in range(len(data))]
            longest = max(len(t) for t in ids)
            tokens, lengths = _pad([ids[i] for i in idx], min(longest, max_tokens))
            self.items.update(tokens=torch.from_numpy(tokens),
                              tokens_length=torch.from_numpy(lengths))
        if "skeleton" in mods:
            clips = []
            for i in idx:
                x = data.skeleton.samples[int(i)].data
                x = transform(x, None) if transform is not None else x
                clip, length = fix_frames(x, frames, sampling)
                clips.append(clip)
                self.lengths[len(clips) - 1] = length
            self.items["skeleton"] = torch.from_numpy(
                np.stack(clips).astype(np.float32) if clips
                else np.zeros((0, 3, frames, data.skeleton.layout.num_joints, 1), np.float32))

    def __len__(self) -> int:
        return int(self.indices.size)

    def __repr__(self) -> str:
        """One line: item count, modalities, the shape of each item's tensors, source."""
        shapes = ", ".join(f"{k}: {tuple(v.shape[1:])}" for k, v in self.items.items())
        return (f"MultimodalDataset(n={len(self)}, modalities={self.modalities}, "
                f"items={{{shapes}}}, source={self.source!r})")

    def __getitem__(self, item: int) -> tuple[ModalityBatch, int, int]:
        return (ModalityBatch({k: v[item] for k, v in self.items.items()}),
                int(self.labels[item]), int(self.lengths[item]))
