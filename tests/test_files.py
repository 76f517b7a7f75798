"""Atomic writes: whole files only, shareable permissions, nothing left behind on failure."""

from __future__ import annotations

import os
import stat

import pytest

from ela.errors import ElaError
from ela.files import atomic_write_bytes, atomic_write_json


def test_atomic_write_replaces_whole_file_with_umask_permissions(tmp_path):
    path = tmp_path / "sub" / "result.json"
    atomic_write_json(path, {"a": 1})
    atomic_write_json(path, {"a": 2})
    assert path.read_text().strip().replace(" ", "").replace("\n", "") == '{"a":2}'
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask
    assert [p.name for p in path.parent.iterdir()] == ["result.json"]


def test_failed_write_leaves_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "summary.json"
    atomic_write_bytes(path, b"old")
    with pytest.raises(ElaError, match="not plain JSON"):
        atomic_write_json(path, {"x": float("nan")})
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]
