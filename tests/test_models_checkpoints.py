"""Checkpoints of the GCN family written before issue 13's refactor still load and agree.

`tests/data/checkpoints_v1` (see its README) holds one tiny checkpoint per registered model
built on the GCN blocks, the outputs it gave on fixed inputs, and the digest of its
fixed-seed initial state dict.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open

from ela.models.blocks import UnitGCN
from ela.models.registry import create_model, list_models
from ela.training.checkpoint import load, load_config

DATA = Path(__file__).parent / "data" / "checkpoints_v1"
CASES = sorted(p.name for p in DATA.iterdir() if p.is_dir())


def state_digest(state: dict[str, torch.Tensor]) -> str:
    """SHA-256 over a state dict's keys, dtypes, shapes and bytes, in key order."""
    h = hashlib.sha256()
    for k in sorted(state):
        t = state[k].detach().cpu().contiguous()
        h.update(f"{k}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


def test_every_gcn_model_has_an_old_checkpoint():
    """Equality: every registered model holding a graph convolution has a checkpoint here."""
    own = set(list_models()) - set(list_models("detector"))  # a detector wraps a trained model
    gcn = {name for name in own
           if any(isinstance(m, UnitGCN) for m in create_model(name, "upper10", 4).modules())}
    assert {load_config(DATA / case)["model"]["name"] for case in CASES} == gcn


@pytest.mark.parametrize("case", CASES)
def test_old_checkpoint_gives_the_same_outputs(case):
    model = load(DATA / case)
    expected = np.load(DATA / "expected.npz")
    prefix = f"input/{model.layout.name}/"
    inputs = {k.removeprefix(prefix): torch.from_numpy(expected[k])
              for k in expected.files if k.startswith(prefix)}
    with torch.no_grad():
        logits, feats = model.forward_features(
            inputs if model.kind == "multimodal" else inputs["skeleton"])
    np.testing.assert_allclose(logits.numpy(), expected[f"{case}/logits"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(feats.numpy(), expected[f"{case}/features"], rtol=0, atol=1e-6)


@pytest.mark.parametrize("case", CASES)
def test_fixed_seed_initialisation_is_unchanged(case):
    """The same initial weights under the old key names (`upgrade_state_dict` maps them)."""
    digests = json.loads((DATA / "init_digests.json").read_text())
    torch.manual_seed(0)
    model = create_model(**load_config(DATA / case)["model"])
    with safe_open(str(DATA / case / "model.safetensors"), framework="pt") as fh:
        old_keys = list(fh.keys())
    new_key = model.upgrade_state_dict({k: k for k in old_keys})  # new name -> old name
    state = model.state_dict()
    assert set(new_key) == set(state)
    assert state_digest({old: state[new] for new, old in new_key.items()}) == digests[case]
