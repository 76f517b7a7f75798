"""`ela data convert`: any readable dataset into a store (streamed) or an `.npz` (in memory).

A store (`ela.io.store`) is written while the source is read: each sample is selected
(``only``), mapped (``layout``), filtered and resampled as it arrives and appended, so memory
stays flat in N. Folders of NTU ``.skeleton`` files are parsed by `workers` processes, each
parsing whole files (`ela.io.ntu.parse_sample`); the calling process appends the results in
file order as they come back (at most a few files per worker wait in memory). A bad file is
reported with its name and reason and skipped, never zero-filled. An output ending in
``.npz`` is written as before: the whole set read into memory (small sets, other tools).
"""

from __future__ import annotations

import multiprocessing
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ela.data.prepare import apply_transform, read_dataset, select_classes
from ela.data.transforms import resample
from ela.errors import DataFormatError, ElaError
from ela.io import detect_format, iter_files, open_reader, write_npz
from ela.io.base import ReadResult, Sample, SkeletonSet
from ela.io.ntu import parse_sample
from ela.io.store import StoreWriter
from ela.skeleton.checks import data_warnings
from ela.skeleton.filters import butter_lowpass
from ela.skeleton.layouts import get_layout
from ela.skeleton.mapping import map_array

PARALLEL_FORMATS = ("ntu",)
"""Formats whose folders are parsed file by file in worker processes."""


@dataclass
class Converted:
    """What `convert` wrote: the file, its samples, the files skipped (file, reason), the
    data warnings, files read and seconds taken."""

    path: Path
    samples: int
    layout: str
    skipped: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    files: int = 0
    seconds: float = 0.0


def _parse_ntu(task: tuple[str, str]) -> tuple[Sample | None, str, str]:
    """Worker: (sample, file, "") or (None, file, reason) of one `.skeleton` file."""
    path, layout = task
    try:
        return parse_sample(path, layout), path, ""
    except DataFormatError as err:
        return None, path, (f"line {err.line}: {err.problem}" if err.line is not None
                            else err.problem)


def _pooled(files: list[Path], layout: str, workers: int,
            skipped: list[tuple[str, str]]) -> Iterator[Sample]:
    """Samples of `files` in order, parsed by `workers` processes (bad files to `skipped`)."""
    tasks = [(str(f), layout) for f in files]
    if workers <= 1:
        results: Iterator[tuple[Sample | None, str, str]] = map(_parse_ntu, tasks)
        yield from _kept(results, skipped)
        return
    context = multiprocessing.get_context("fork" if "fork" in
                                          multiprocessing.get_all_start_methods() else None)
    with context.Pool(workers) as pool:
        window: deque = deque()
        todo = iter(tasks)
        for task in todo:
            window.append(pool.apply_async(_parse_ntu, (task,)))
            if len(window) >= 8 * workers:
                break

        def ordered() -> Iterator[tuple[Sample | None, str, str]]:
            while window:
                result = window.popleft().get()
                task = next(todo, None)
                if task is not None:
                    window.append(pool.apply_async(_parse_ntu, (task,)))
                yield result

        yield from _kept(ordered(), skipped)


def _kept(results: Iterator[tuple[Sample | None, str, str]],
          skipped: list[tuple[str, str]]) -> Iterator[Sample]:
    for sample, path, why in results:
        if sample is None:
            skipped.append((path, why))
        else:
            yield sample


def open_source(path: str | Path, fmt: str | None = None, workers: int = 1) -> ReadResult:
    """A streaming read of `path` (`ela.io.open_reader`); a folder of NTU files with
    `workers` > 1 is parsed in that many processes."""
    fmt = fmt or detect_format(path)
    result = open_reader(path, fmt)
    if fmt in PARALLEL_FORMATS and Path(path).is_dir():
        files = iter_files(path, "*.skeleton")
        result.samples = _pooled(files, result.layout.name, workers, result.skipped)
    return result


def _steps(result: ReadResult, layout: str | None, only: str | None, lowpass: bool,
           frames: int | None) -> tuple[Callable[[Sample], Sample | None], Any, dict]:
    """The per-sample conversion, the layout and the label names of the output."""
    names = dict(result.label_names)
    keep: Callable[[Sample], Sample | None] = lambda s: s  # noqa: E731
    if only:
        probe = select_classes(SkeletonSet([], result.layout, names, source=result.source),
                               only)
        key = only.partition("=")[0].strip()
        old_to_new = {result.label_names[key].index(n): i
                      for i, n in enumerate(probe.label_names[key])}
        names = probe.label_names

        def keep(s: Sample) -> Sample | None:
            if s.labels.get(key) not in old_to_new:
                return None
            return Sample(s.data, {**s.labels, key: old_to_new[s.labels[key]]}, s.meta)

    target = get_layout(layout) if layout else result.layout

    def step(s: Sample) -> Sample | None:
        kept = keep(s)
        if kept is None:
            return None
        x = kept.data
        meta = kept.meta
        if target.name != result.layout.name:
            x = map_array(x, result.layout, target)
            meta = {**meta, "mapped_from": result.layout.name}
        x = butter_lowpass(x) if lowpass else x
        x = resample(x, frames) if frames else x
        return Sample(np.asarray(x, dtype=np.float32), kept.labels, meta)

    return step, target, names


def convert(path: str | Path, out: str | Path, fmt: str | None = None, *,
            workers: int = 1, layout: str | None = None, only: str | None = None,
            lowpass: bool = False, frames: int | None = None, label: str | None = None,
            log: Callable[[str], None] | None = None) -> Converted:
    """Convert the dataset at `path` into `out`: a store, or an `.npz` when `out` ends so.

    fmt: the reader (detected when None). workers: processes parsing NTU folders (others
    are read in this process). layout: map every sample to it. only: ``"label=a,b"`` keeps
    those classes, renumbered. lowpass: Butterworth order 8, cut-off 0.1. frames: resample
    every sample to T. label: check this label exists (before writing). `log` gets one
    line every 10 s. Raises DataFormatError / ElaError on bad options or no samples.
    """
    if workers < 1:
        raise ElaError(f"--workers must be ≥ 1, got {workers}")
    out = Path(out)
    start = time.perf_counter()
    if out.suffix == ".npz":
        data = read_dataset(path, fmt=fmt, layout=layout, only=only)
        _, warnings = data_warnings((s.data for s in data.samples), data.layout)
        data = apply_transform(data, lowpass=lowpass, frames=frames)
        if label:
            data.labels(label)  # fails early with the labels there are
        write_npz(data, out)
        return Converted(out, len(data), data.layout.name, list(data.skipped), warnings,
                         seconds=time.perf_counter() - start)
    result = open_source(path, fmt, workers)
    if label and label not in result.label_names:
        raise DataFormatError(path, f"no label {label!r}; labels here: "
                                    f"{sorted(result.label_names)}")
    step, target, names = _steps(result, layout, only, lowpass, frames)
    say = log or (lambda _: None)
    last = start
    seen = 0

    def stream() -> Iterator[np.ndarray]:
        nonlocal seen, last
        for sample in result.samples:
            seen += 1
            converted = step(sample)
            if converted is None:
                continue
            writer.append(converted)
            if time.perf_counter() - last >= 10:
                last = time.perf_counter()
                say(f"convert: {writer.count} samples written, {len(result.skipped)} "
                    f"skipped, {seen / (last - start):.0f} samples/s")
            yield converted.data

    with StoreWriter(out, target, names, result.fps, result.source) as writer:
        _, warnings = data_warnings(stream(), target)
        if writer.count == 0:
            raise DataFormatError(path, "no samples to write"
                                  + (f" ({len(result.skipped)} files skipped)"
                                     if result.skipped else ""))
        writer.close(result.skipped)
    return Converted(out, writer.count, target.name, list(result.skipped), warnings,
                     files=seen + len(result.skipped), seconds=time.perf_counter() - start)
