"""SMACN: Spatial Multi-head Attention based Convolutional Network (paper 001, §III-B).

The first person's sequence is an image (channels = coordinates, height = frames, width =
joints). A 3×3 conv layer, then 4 conv units (3×3 conv + BN + ReLU + 2×2 max-pool, ceil
mode so that narrow skeletons never pool to zero) give a T'×V'×C map whose L = T'·V'
position vectors a_i ∈ R^C enter a multi-head attention pooling:

    y_i = tanh(W a_i + b),  e_i = U y_i ∈ R^H,  α^h = softmax_i(e_i^h),
    G = ⊕_h Σ_i α_i^h a_i ∈ R^{H·C}

G is the emotion vector (`features`, (N, heads·C)), and one fully connected layer maps it to
logits. The paper names neither the channel widths nor F and H; the defaults (stem 64,
units 64-128-256-256, F = 512, H = 8) give 1 143 236 parameters for 10 joints and 4
classes, close to the paper's 1143.8 K. Padding frames are seen as zeros, as in the paper,
which zero-pads its sequences.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ela.models.base import SkeletonModel
from ela.models.blocks import conv_pool_unit, emotion_input
from ela.models.registry import register_model
from ela.skeleton.layout import Layout


class MultiHeadAttentionPool(nn.Module):
    """(N, C, H', W') map → (N, heads·C) attention-pooled vector and (N, heads, H'·W') weights."""

    def __init__(self, channels: int, att_dim: int, heads: int):
        super().__init__()
        self.proj = nn.Linear(channels, att_dim)  # W, b
        self.score = nn.Linear(att_dim, heads, bias=False)  # U

    def forward(self, fmap: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a = fmap.flatten(2).transpose(1, 2)  # (N, L, C)
        alpha = self.score(torch.tanh(self.proj(a))).softmax(dim=1)  # (N, L, H)
        pooled = torch.einsum("nlh,nlc->nhc", alpha, a)
        return pooled.flatten(1), alpha.transpose(1, 2)


@register_model("smacn", kind="emotion")
class SMACN(SkeletonModel):
    """SMACN: (N, C, T, V, M) → logits (N, num_classes), features (N, heads·units[-1]).

    Args:
        stem: output channels of the first conv layer.
        units: output channels of the four conv + max-pool units.
        att_dim: F, size of the attention projection.
        heads: H, number of attention heads.
        dropout: dropout on G before the output layer.
    """

    def __init__(self, layout: Layout, num_classes: int, in_channels: int = 3,
                 stem: int = 64, units: Sequence[int] = (64, 128, 256, 256),
                 att_dim: int = 512, heads: int = 8, dropout: float = 0.0):
        super().__init__(layout, num_classes, in_channels)
        self.stem = nn.Sequential(nn.Conv2d(in_channels, stem, 3, padding=1),
                                  nn.BatchNorm2d(stem), nn.ReLU(inplace=True))
        widths = [stem, *units]
        self.units = nn.Sequential(*(conv_pool_unit(a, b)
                                     for a, b in zip(widths[:-1], widths[1:], strict=True)))
        self.attention = MultiHeadAttentionPool(widths[-1], att_dim, heads)
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(heads * widths[-1], num_classes)

    def attention_maps(self, x: torch.Tensor) -> torch.Tensor:
        """(N, heads, T', V') attention weights over the final feature-map positions."""
        fmap = self.units(self.stem(emotion_input(self, x)))
        _, alpha = self.attention(fmap)
        return alpha.view(*alpha.shape[:2], *fmap.shape[2:])

    def forward_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        fmap = self.units(self.stem(emotion_input(self, x)))
        feats, _ = self.attention(fmap)
        return self.fc(self.drop(feats)), feats
