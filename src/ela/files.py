"""Atomic file writes: a temporary file in the target's folder, fsync, then os.replace.

A crash never leaves a half-written file under the final name, so a later run can trust
every result file it finds.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from ela.errors import ElaError


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
