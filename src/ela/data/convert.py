"""`ela data convert`: any readable dataset into a store (streamed) or an `.npz` (in memory).

A store (`ela.io.store`) is written while the source is read: each sample is selected
(``only``), mapped (``layout``), filtered and resampled as it arrives and appended, so memory
stays flat in N. Folders of NTU ``.skeleton`` files are read by `workers` processes, each
parsing (`ela.io.ntu.parse_sample`), converting (`Steps`) and checking whole files; the
calling process only appends the results to the store, in file order, as they come back (at
most 8 files per worker wait in memory). A bad file is
reported with its name and reason and skipped, never zero-filled. An output ending in
``.npz`` is written as before: the whole set read into memory (small sets, other tools).
"""

from __future__ import annotations

import itertools
import multiprocessing
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ela.data.prepare import apply_transform, read_dataset, select_classes
from ela.data.transforms import resample
from ela.errors import DataFormatError, ElaError
from ela.io import detect_format, iter_files, open_reader, write_npz
from ela.io.base import ReadResult, Sample, SkeletonSet
from ela.io.ntu import parse_sample
from ela.io.store import StoreWriter
from ela.skeleton.checks import checks_warnings, data_warnings, sample_checks
from ela.skeleton.filters import butter_lowpass
from ela.skeleton.layout import Layout
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


Checks = tuple[np.ndarray, bool, bool]
"""`ela.skeleton.checks.sample_checks` of one sample."""


@dataclass(frozen=True)
class Steps:
    """What happens to each sample read (picklable: worker processes apply it too): keep the
    classes of `old_to_new` of label `key` (renumbered), map `source` to `target`, compute
    the data checks, then low-pass filter and resample to `frames`."""

    source: Layout
    target: Layout
    key: str | None = None
    old_to_new: dict[int, int] | None = None
    lowpass: bool = False
    frames: int | None = None

    def __call__(self, s: Sample) -> tuple[Sample, Checks] | None:
        """The converted sample and its checks; None when `only` leaves it out."""
        labels, meta, x = s.labels, s.meta, s.data
        if self.key is not None and self.old_to_new is not None:
            if labels.get(self.key) not in self.old_to_new:
                return None
            labels = {**labels, self.key: self.old_to_new[labels[self.key]]}
        if self.target.name != self.source.name:
            x = map_array(x, self.source, self.target)
            meta = {**meta, "mapped_from": self.source.name}
        checks = sample_checks(x, self.target)
        x = butter_lowpass(x) if self.lowpass else x
        x = resample(x, self.frames) if self.frames else x
        return Sample(np.asarray(x, dtype=np.float32), labels, meta), checks


Result = tuple[tuple[Sample, Checks] | None, str, str]
"""(converted sample and checks, or None; the file; the reason it was skipped, or "")."""


def _convert_ntu(task: tuple[str, str, Steps]) -> Result:
    """Worker: one `.skeleton` file parsed and converted."""
    path, layout, steps = task
    try:
        return steps(parse_sample(path, layout)), path, ""
    except DataFormatError as err:
        return None, path, (f"line {err.line}: {err.problem}" if err.line is not None
                            else err.problem)


def _pooled(files: list[Path], layout: str, steps: Steps, workers: int) -> Iterator[Result]:
    """`_convert_ntu` of `files` in order, in `workers` processes (at most 8 files per
    worker waiting)."""
    tasks = [(str(f), layout, steps) for f in files]
    if workers <= 1:
        yield from map(_convert_ntu, tasks)
        return
    context = multiprocessing.get_context("fork" if "fork" in
                                          multiprocessing.get_all_start_methods() else None)
    with context.Pool(workers) as pool:
        todo = iter(tasks)
        window = deque(pool.apply_async(_convert_ntu, (task,))
                       for task in itertools.islice(todo, 8 * workers))
        while window:
            result = window.popleft().get()
            task = next(todo, None)
            if task is not None:
                window.append(pool.apply_async(_convert_ntu, (task,)))
            yield result


def _in_process(result: ReadResult, steps: Steps) -> Iterator[Result]:
    for sample in result.samples:
        yield steps(sample), str(sample.meta.get("file", "")), ""


def make_steps(result: ReadResult, layout: str | None, only: str | None, lowpass: bool,
               frames: int | None) -> tuple[Steps, dict[str, list[str]]]:
    """The `Steps` of the options and the label names of the output."""
    names = dict(result.label_names)
    key, old_to_new = None, None
    if only:
        probe = select_classes(SkeletonSet([], result.layout, names, source=result.source),
                               only)
        key = only.partition("=")[0].strip()
        old_to_new = {result.label_names[key].index(n): i
                      for i, n in enumerate(probe.label_names[key])}
        names = probe.label_names
    target = get_layout(layout) if layout else result.layout
    return Steps(result.layout, target, key, old_to_new, lowpass, frames), names


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
    fmt = fmt or detect_format(path)
    result = open_reader(path, fmt)
    if label and label not in result.label_names:
        raise DataFormatError(path, f"no label {label!r}; labels here: "
                                    f"{sorted(result.label_names)}")
    steps, names = make_steps(result, layout, only, lowpass, frames)
    if fmt in PARALLEL_FORMATS and Path(path).is_dir():
        results = _pooled(iter_files(path, "*.skeleton"), result.layout.name, steps, workers)
    else:
        results = _in_process(result, steps)
    say = log or (lambda _: None)
    last = start
    seen = 0

    def stream() -> Iterator[Checks]:
        nonlocal seen, last
        for converted, file, why in results:
            seen += 1
            if why:
                result.skipped.append((file, why))
            elif converted is not None:
                writer.append(converted[0])
                yield converted[1]
            if time.perf_counter() - last >= 10:
                last = time.perf_counter()
                say(f"convert: {writer.count} samples written, {len(result.skipped)} "
                    f"skipped, {seen / (last - start):.0f} files/s")

    with StoreWriter(out, steps.target, names, result.fps, result.source) as writer:
        _, warnings = checks_warnings(stream(), steps.target)
        if writer.count == 0:
            raise DataFormatError(path, "no samples to write"
                                  + (f" ({len(result.skipped)} files skipped)"
                                     if result.skipped else ""))
        writer.close(result.skipped)
    files = seen if fmt in PARALLEL_FORMATS and Path(path).is_dir() \
        else seen + len(result.skipped)
    return Converted(out, writer.count, steps.target.name, list(result.skipped), warnings,
                     files=files, seconds=time.perf_counter() - start)
