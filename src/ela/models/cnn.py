"""CNN baseline for skeleton emotion recognition (paper 001, Table II) and shared input helpers.

The sequence is an image: channels = coordinates, height = frames, width = joints. Four
conv layers (64-128-256-512 by default), each 3×3 + BN + ReLU + 2×2 max-pool (ceil mode, so
a 10-joint width never pools to zero), then global average pooling → features (N, 512) →
a linear layer → logits. The paper reports 940.8 K parameters for its CNN without giving
kernel sizes; with 3×3 kernels this model has 1 554 948 (see `kernel_size`). Padding
frames are seen as zeros.

`emotion_input` and `valid_lengths` are shared by the emotion models of this package.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ela.models.blocks import check_input
from ela.models.registry import SkeletonModel, register_model
from ela.skeleton.layout import Layout


def emotion_input(model: SkeletonModel, x: torch.Tensor) -> torch.Tensor:
    """Check an (N, C, T, V, M) batch against `model` and return its first person (N, C, T, V).

    Emotion recognizers look at one person: the first person slot.
    """
    check_input(x, model.layout, model.in_channels, type(model).__name__)
    return x[..., 0]


def valid_lengths(x: torch.Tensor) -> torch.Tensor:
    """(N,) long: 1 + index of the last frame with any non-zero value of (N, C, T, V) `x`.

    Padding frames are all-zero, so this recovers the valid length of padded batches
    (at least 1, so an all-zero sample keeps one frame).
    """
    t = x.shape[2]
    nonzero = x.detach().abs().sum(dim=(1, 3)) > 0  # (N, T)
    idx = torch.arange(1, t + 1, device=x.device)
    return (nonzero * idx).amax(dim=1).clamp(min=1)


def conv_pool_unit(c_in: int, c_out: int, kernel_size: int = 3) -> nn.Sequential:
    """kxk conv (same padding) + BN + ReLU + 2×2 max-pool with ceil mode: (N, c_in, H, W) →
    (N, c_out, ⌈H/2⌉, ⌈W/2⌉)."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel_size, padding=kernel_size // 2),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2, ceil_mode=True),
    )


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
