"""Shared fixtures: where the real data lives (../shared/data), skipping when it is absent,
and attack folders of known change for the detector tests."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch

from ela.data.demo import demo_dataset

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


NOISE_FRAMES = 16
"""Frames of the sequences `noise_attack` writes."""


def noise_attack(folder: Path, method: str, noise: float, seed: int, n: int = 24) -> str:
    """An attack folder (ntu25 demo walks and waves, `NOISE_FRAMES` frames) whose every
    sample is fooled by adding Gaussian noise of `noise` metres to every joint of every
    frame; returns the folder as a string."""
    folder.mkdir(parents=True)
    data = demo_dataset(n_per_class=n // 2, frames=NOISE_FRAMES, actions=("walk", "wave"),
                        seed=seed)
    clean = np.stack([s.data for s in data.samples[:n]]).astype(np.float32)
    rng = np.random.default_rng(seed)
    adv = clean + rng.normal(0.0, noise, clean.shape).astype(np.float32)
    np.savez(folder / "adversarial.npz", clean=clean, adversarial=adv,
             lengths=np.full(n, NOISE_FRAMES), labels=np.zeros(n, int),
             clean_pred=np.zeros(n, int), adv_pred=np.ones(n, int), success=np.ones(n, bool),
             indices=np.arange(n), layout=np.array("ntu25"), classes=np.array(["a", "b"]))
    (folder / "summary.json").write_text(json.dumps({"method": method, "model": "hcn", "n": n}))
    return str(folder)
