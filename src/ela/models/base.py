"""`SkeletonModel`, the base class of every model, and `rename_keys` for checkpoint upgrades.

A `SkeletonModel` takes (N, C, T, V, M) float input (metres; C coordinates, T frames, V
joints, M persons), returns logits (N, num_classes) from `forward` and its penultimate
feature vector (N, D) from `features`. The shared blocks (`ela.models.blocks`) and the
registry (`ela.models.registry`) both build on this module and import nothing of each other.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ela.skeleton.layout import Layout


class SkeletonModel(nn.Module):
    """Base class: subclasses implement `forward_features(x) -> (logits, features)`."""

    kind: str = "action"  # "action", "emotion" or "multimodal"

    def __init__(self, layout: Layout, num_classes: int, in_channels: int = 3):
        super().__init__()
        self.layout = layout
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.config: dict[str, Any] = {}

    def forward_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_features(x)[0]

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, D) penultimate-layer features."""
        return self.forward_features(x)[1]

    def predict_class(self, logits: torch.Tensor) -> torch.Tensor:
        """Class index from logits (models with extra outputs, e.g. ProxEmo, override)."""
        return logits.argmax(dim=1)

    def upgrade_state_dict(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """`state` with the keys that older versions of this model wrote renamed to today's.

        The checkpoint loader applies it before loading. This base version passes each
        registered model held as a direct sub-module (a two-stream model's streams, a
        multimodal model's skeleton encoder) the keys under its prefix; models whose own
        keys changed override it and call it.
        """
        for prefix, sub in self.named_children():
            if isinstance(sub, SkeletonModel):
                p = prefix + "."
                inner = {k[len(p):]: v for k, v in state.items() if k.startswith(p)}
                state = {**{k: v for k, v in state.items() if not k.startswith(p)},
                         **{p + k: v for k, v in sub.upgrade_state_dict(inner).items()}}
        return state


def rename_keys(
    state: dict[str, torch.Tensor], rules: Sequence[tuple[str, str]]
) -> dict[str, torch.Tensor]:
    """`state` with every key rewritten by the (regex, replacement) `rules`, in order."""
    out = {}
    for key, value in state.items():
        for pattern, repl in rules:
            key = re.sub(pattern, repl, key)
        out[key] = value
    return out
