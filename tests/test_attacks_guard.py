"""Adaptive attacks on a model guarded by a detector (`ela.attacks.guard`): a flagged
sequence is refused and never adversarial, and every attack that knows the guard fools the
model with changes the detector does not flag."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from ela.attacks import ATTACKS
from ela.attacks.guard import REJECTED, Guarded
from ela.attacks.objectives import is_adversarial
from ela.data.demo import demo_dataset
from ela.skeleton import get_layout

T = 12


class Linear(nn.Module):
    """A linear classifier of the flattened sequence: fooled by small changes."""

    def __init__(self, x: torch.Tensor, classes: int = 3):
        super().__init__()
        self.layout = get_layout("ntu25")
        self.num_classes = classes
        torch.manual_seed(0)
        self.fc = nn.Linear(x[0].numel(), classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.flatten(1))


class Memory(nn.Module):
    """A "detector" that remembers the clean sequences: its log-odds of attacked are
    log(1e4 · the mean squared distance (m²) to the nearest one + 1e-3), so at threshold 0
    it flags a change of RMS above 1 cm."""

    def __init__(self, clean: torch.Tensor):
        super().__init__()
        self.layout = get_layout("ntu25")
        self.register_buffer("clean", clean.clone())
        self.scale = nn.Parameter(torch.full((), 1e4))  # a parameter, like any detector

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gap = (x[:, None] - self.clean[None]).square().mean(dim=(2, 3, 4, 5)).min(dim=1).values
        odds = (self.scale * gap + 1e-3).log()
        return torch.stack([torch.zeros_like(odds), odds], dim=1)


@pytest.fixture(scope="module")
def batch():
    data = demo_dataset(n_per_class=1, frames=T, actions=("walk", "wave", "bow"), seed=0)
    x = torch.from_numpy(np.stack([s.data for s in data.samples])).float()
    model = Linear(x)
    return x, model, model(x).argmax(dim=1)


def test_a_flagged_prediction_is_a_refusal_and_never_adversarial():
    logits = torch.tensor([[2.0, 1.0, -0.5], [0.0, 3.0, 0.5]])  # last column: log-odds − τ
    assert Guarded.predict_class(logits).tolist() == [0, REJECTED]
    labels = torch.tensor([1, 0])
    assert is_adversarial(Guarded.predict_class(logits), labels).tolist() == [True, False]


@pytest.mark.parametrize("method,options", [("cw", {"steps": 300, "search_steps": 4}),
                                            ("ela", {}),
                                            ("pgd", {"eps": 0.02, "steps": 40}),
                                            ("apgd", {"eps": 0.02, "steps": 40})])
def test_an_adaptive_attack_fools_the_model_without_being_flagged(batch, method, options):
    x, model, labels = batch
    detector = Memory(x)
    if method in ("pgd", "apgd"):  # the premise: an attack that ignores the guard is caught
        plain = ATTACKS[method].build(model, **options)(x, labels)
        with torch.no_grad():
            assert bool((detector(plain.adversarial)[:, 1] > 0)[plain.success].any())
    result = ATTACKS[method].build(Guarded(model, detector, 0.0), **options)(x, labels)
    assert result.success.any()
    with torch.no_grad():
        odds = detector(result.adversarial)[:, 1]
    assert bool((odds[result.success] <= 0).all())  # every success passes the guard
    fooled = model(result.adversarial).argmax(dim=1) != labels
    assert bool((fooled[result.success]).all())
    refused = result.adversarial_predictions == REJECTED
    assert not bool((result.success & refused).any())


def test_the_budget_curve_of_an_adaptive_apgd_rises_where_fixed_steps_fall(batch):
    """The masked-gradient check: success must not fall as ε grows. Fixed-step PGD's
    sign steps of ε/4 land where the detector flags, so its curve falls to nothing at large
    ε; APGD's halving steps, started at x, keep finding unflagged adversarial points."""
    x, model, labels = batch
    guarded = Guarded(model, Memory(x), 0.0)
    pgd, apgd = [], []
    for eps in (0.02, 0.08, 0.32):
        pgd.append(float(ATTACKS["pgd"](guarded, eps=eps, steps=50)(x, labels).success.sum()))
        apgd.append(float(ATTACKS["apgd"](guarded, eps=eps, steps=50)(x, labels).success.sum()))
    assert pgd[-1] < pgd[0] and apgd[0] > 0
    assert apgd == sorted(apgd)  # non-decreasing in ε
