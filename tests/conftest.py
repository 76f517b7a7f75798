"""Shared fixtures: where the real data lives (../shared/data), skipping when it is absent."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import ModuleType

import pytest
import torch

SHARED_DATA = Path(
    os.environ.get("ELA_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)

torch.set_num_threads(1)  # small tensors: threads cost more than they save


def script(name: str) -> ModuleType:
    """The module of scripts/<name>.py, imported from its file (scripts/ is no package)."""
    path = Path(__file__).resolve().parents[1] / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def shared(name: str) -> Path:
    """Path of ../shared/data/<name>, or skip the test with a message when it is absent."""
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"real data {path} is absent (set ELA_SHARED_DATA to its folder)")
    return path


@pytest.fixture
def shared_data():
    """Call with a sub-folder name: ``shared_data("msr_action3d")``."""
    return shared
