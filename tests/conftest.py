"""Shared fixtures: where the real data lives (../shared/data), skipping when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

SHARED_DATA = Path(
    os.environ.get("ELA_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)

torch.set_num_threads(1)  # small tensors: threads cost more than they save


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
