"""Helpers shared by the readers: per-file streaming with skip lists, safe pickles, names."""

from __future__ import annotations

import io
import math
import pickle
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ela.errors import DataFormatError
from ela.io.base import Sample


def reason(err: DataFormatError) -> str:
    """The `skipped` reason of an error: its problem, with the line when known."""
    return f"line {err.line}: {err.problem}" if err.line is not None else err.problem


def stream(
    files: Iterable[Path], parse: Callable[[Path], Sample | None],
    skipped: list[tuple[str, str]],
) -> Iterator[Sample]:
    """Yield `parse(f)` for each file; a file that raises DataFormatError goes to `skipped`.

    `parse` may return None for a file that is deliberately left out (not an error).
    """
    for f in files:
        try:
            sample = parse(f)
        except DataFormatError as err:
            skipped.append((str(f), reason(err)))
            continue
        if sample is not None:
            yield sample


def single_or_stream(
    path: Path, files: list[Path], parse: Callable[[Path], Sample | None],
    skipped: list[tuple[str, str]],
) -> Iterator[Sample]:
    """Stream a folder; a single file given directly is parsed now and raises if bad."""
    if path.is_file():
        sample = parse(path)
        return iter([] if sample is None else [sample])
    return stream(files, parse, skipped)


def read_text(path: Path) -> str:
    """A text file's content; unreadable or non-UTF-8 files raise DataFormatError."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise DataFormatError(path, f"cannot read as text: {err}") from None


def to_float(path: Path, token: str, line: int) -> float:
    try:
        return float(token)
    except ValueError:
        raise DataFormatError(path, f"non-numeric value {token!r}", line) from None


def to_int(path: Path, token: str, line: int, what: str) -> int:
    try:
        return int(token)
    except ValueError:
        raise DataFormatError(path, f"{what} must be an integer, got {token!r}", line) from None


_SAFE_BUILTINS = {"list", "tuple", "str", "int", "float", "dict", "set", "frozenset", "bytes",
                  "bytearray", "bool", "complex"}
_SAFE_NUMPY = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
}


class _SafeUnpickler(pickle.Unpickler):
    """Allows plain containers, numbers, strings and numpy arrays/scalars; nothing callable."""

    def find_class(self, module: str, name: str) -> Any:
        if module in ("builtins", "__builtin__") and name in _SAFE_BUILTINS:
            return super().find_class("builtins", name)
        if (module, name) in _SAFE_NUMPY:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} (not plain data)")


def safe_load_pickle(path: Path) -> Any:
    """Unpickle `path` allowing only plain data and numpy arrays (untrusted files run no code)."""
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise DataFormatError(path, f"cannot read: {err}") from None
    try:
        return _SafeUnpickler(io.BytesIO(raw), encoding="latin1").load()
    except Exception as err:  # noqa: BLE001 - damaged pickles fail in many ways; none runs code
        raise DataFormatError(path, f"not a plain-data pickle: {err}") from None


MAX_CLASSES = 100_000  # labels beyond this are corrupt, not classes (name lists stay small)


def checked_data(path: Path, data: np.ndarray) -> np.ndarray:
    """`data` as float32, refused (DataFormatError) when empty, non-finite or all zero.

    Finiteness is checked after the cast: 1e300 is a finite float64 but inf in float32. An
    all-zero sample would pass everywhere as an absent person, so it is an error too.
    """
    out = np.asarray(data, dtype=np.float32)
    if out.size == 0:
        raise DataFormatError(path, "no frames")
    finite = np.isfinite(out)
    if not finite.all():
        raise DataFormatError(path, f"{int((~finite).sum())} coordinate values are NaN, "
                                    "infinite or beyond float32 range")
    if not out.any():
        raise DataFormatError(path, "all coordinates are zero (no person in any frame)")
    return out


def class_names(count: int, prefix: str = "class_") -> list[str]:
    """Placeholder names ``class_0``, … for datasets that ship no label names."""
    return [f"{prefix}{i}" for i in range(count)]


def ntu_action_names(count: int = 120) -> list[str]:
    """NTU action codes ``A001`` … (label k is code A(k+1))."""
    return [f"A{i + 1:03d}" for i in range(count)]


def _bad_line(path: Path, lines: list[str], columns: int, first_line: int) -> DataFormatError:
    """The error for the first line of `lines` that is not `columns` finite numbers."""
    for k, line in enumerate(lines):
        tokens = line.split()
        if not tokens:
            continue
        if len(tokens) != columns:
            return DataFormatError(path, f"expected {columns} values, got {len(tokens)}",
                                   first_line + k)
        for token in tokens:
            try:
                value = float(token)
            except ValueError:
                return DataFormatError(path, f"non-numeric value {token!r}", first_line + k)
            if not math.isfinite(value):
                return DataFormatError(path, f"value {token!r} is not finite", first_line + k)
    return DataFormatError(path, "malformed numeric table")


def parse_table(path: Path, lines: list[str], columns: int, first_line: int = 1) -> np.ndarray:
    """(rows, columns) float64 of whitespace-separated numbers; blank lines are ignored.

    Errors name the file and the 1-based line (`first_line` is the number of ``lines[0]``):
    a wrong value count, a non-numeric value, NaN or infinity.
    """
    if not any(line.strip() for line in lines):
        return np.zeros((0, columns))  # (numpy would warn about an empty input)
    try:
        values = np.loadtxt(io.StringIO("\n".join(lines)), dtype=np.float64, comments=None,
                            ndmin=2)
    except ValueError:
        raise _bad_line(path, lines, columns, first_line) from None
    if values.size == 0:
        return np.zeros((0, columns))
    if values.shape[1] != columns or not np.isfinite(values).all():
        raise _bad_line(path, lines, columns, first_line)
    return values
