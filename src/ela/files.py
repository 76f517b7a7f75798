"""Atomic file writes (a temporary file in the target's folder, fsync, then os.replace) and
a safe reader of the `.npz` archives ela writes.

A crash never leaves a half-written file under the final name, so a later run can trust
every result file it finds. `read_npz_arrays` never loads pickled data: a damaged or
foreign file is a `DataFormatError` naming it, never numpy's advice to allow pickles.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from ela.errors import DataFormatError, ElaError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write `data` to `path` atomically; returns the path.

    The file gets the usual permissions (0666 less the umask), not mkstemp's private 0600,
    so reports and results can be shared.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_json(path: str | Path, obj: Any, indent: int | None = 2) -> Path:
    """Write `obj` as JSON (no NaN/inf allowed) atomically; returns the path."""
    try:
        text = json.dumps(obj, indent=indent, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise ElaError(f"cannot write {path}: value is not plain JSON ({err})") from err
    return atomic_write_bytes(path, (text + "\n").encode("utf-8"))


def atomic_write_npz(path: str | Path, arrays: dict[str, np.ndarray]) -> Path:
    """Write `arrays` as a compressed .npz atomically; returns the path."""
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return atomic_write_bytes(path, buf.getvalue())


def read_npz_arrays(path: str | Path, names: Iterable[str] = ()) -> dict[str, np.ndarray]:
    """Every array of the .npz archive `path`, by name; `names` must be among them.

    Pickled data (object arrays, a pickle file) is never loaded. A file that is missing,
    not an .npz archive, damaged or without one of `names` is a `DataFormatError` naming
    the file and the problem.
    """
    path = Path(path)
    try:
        archive = np.load(path, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise DataFormatError(path, "a single .npy array, not an .npz archive")
        with archive:
            arrays = {name: archive[name] for name in archive.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as err:
        # numpy's advice (to load the file with allow_pickle=True) would be unsafe
        if isinstance(err, ValueError) and "allow_pickle" in str(err):
            what = ("holds an object array" if "Object arrays" in str(err) else
                    "is not an .npz archive: neither a zip archive nor an .npy array")
            raise DataFormatError(path, f"{what} (pickled data is never loaded)") from None
        raise DataFormatError(path, f"not a readable .npz archive ({err})") from None
    missing = [name for name in names if name not in arrays]
    if missing:
        raise DataFormatError(path, f"missing arrays {', '.join(missing)}")
    return arrays
