"""CNN baseline for skeleton emotion recognition (paper 001, Table II).

The sequence is an image: channels = coordinates, height = frames, width = joints. Four
conv layers (64-128-256-512 by default), each 3×3 + BN + ReLU + 2×2 max-pool (ceil mode, so
a 10-joint width never pools to zero), then global average pooling → features (N, 512) →
a linear layer → logits. The paper reports 940.8 K parameters for its CNN without giving
kernel sizes; with 3×3 kernels this model has 1 554 948 (see `kernel_size`). Padding
frames are seen as zeros.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ela.models.base import SkeletonModel
from ela.models.blocks import conv_pool_unit, emotion_input
from ela.models.registry import register_model
from ela.skeleton.layout import Layout


@register_model("cnn", kind="emotion")
class EmotionCNN(SkeletonModel):
    """CNN baseline: (N, C, T, V, M) → logits (N, num_classes), features (N, channels[-1]).

    Args:
        channels: output channels of the conv layers (paper best: 64, 128, 256, 512).
        kernel_size: square conv kernel (odd).
        dropout: dropout before the classifier.
    """

    def __init__(self, layout: Layout, num_classes: int, in_channels: int = 3,
                 channels: Sequence[int] = (64, 128, 256, 512), kernel_size: int = 3,
                 dropout: float = 0.0):
        super().__init__(layout, num_classes, in_channels)
        widths = [in_channels, *channels]
        self.convs = nn.Sequential(*(conv_pool_unit(a, b, kernel_size)
                                     for a, b in zip(widths[:-1], widths[1:], strict=True)))
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(widths[-1], num_classes)

    def forward_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feats = self.convs(emotion_input(self, x)).mean(dim=(2, 3))
        return self.fc(self.drop(feats)), feats
