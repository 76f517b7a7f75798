"""ST-GCN (Yan et al., AAAI 2018): spatial-temporal graph convolution network.

Input (N, C, T, V, M) joint coordinates; persons are folded into the batch and share all
weights. Data BN per (coordinate, joint), then blocks of [graph conv (K = 3 spatial-configuration
subsets from the layout, learnable edge importance) → BN → ReLU → temporal conv (kernel 9)
→ BN → dropout] + residual → ReLU. Default: 10 blocks of 64, 64, 64, 64, 128 (stride 2), 128,
128, 256 (stride 2), 256, 256 channels, the first without residual. Global average pooling
over T and V, mean over persons → features (N, channels[-1]) → linear head (the 1×1 conv of
the paper, equivalent on a pooled vector).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ela.errors import ElaError
from ela.models.blocks import (
    JointBatchNorm,
    TemporalConv,
    UnitGCN,
    check_input,
    fold_persons,
    graph_tensor,
    residual_unit,
    unfold_persons,
)
from ela.models.registry import SkeletonModel, register_model
from ela.skeleton.layout import Layout

DEFAULT_CHANNELS = (64, 64, 64, 64, 128, 128, 128, 256, 256, 256)


def resolve_stages(
    channels: Sequence[int] | None, strides: Sequence[int] | None, model: str
) -> tuple[list[int], list[int]]:
    """Per-block output channels and temporal strides.

    Defaults: the paper's 10 blocks; strides default to 2 wherever the width grows after
    the first block (64→128, 128→256), else 1.
    """
    ch = list(DEFAULT_CHANNELS if channels is None else channels)
    if not ch or any(int(c) < 1 for c in ch):
        raise ElaError(f"{model}: channels must be a non-empty list of positive ints, got {ch}")
    if strides is None:
        st = [2 if i > 0 and ch[i] > ch[i - 1] else 1 for i in range(len(ch))]
    else:
        st = list(strides)
        if len(st) != len(ch) or any(int(s) < 1 for s in st):
            raise ElaError(
                f"{model}: strides must be {len(ch)} positive ints (one per block), got {st}"
            )
    return [int(c) for c in ch], [int(s) for s in st]


class STGCNBlock(nn.Module):
    """One ST-GCN unit: (B, in_c, T, V) → (B, out_c, ⌈T / stride⌉, V)."""

    def __init__(
        self,
        in_c: int,
        out_c: int,
        A: torch.Tensor,
        stride: int = 1,
        residual: bool = True,
        kernel: int = 9,
        dropout: float = 0.0,
        edge_importance: bool = True,
    ):
        super().__init__()
        self.gcn = UnitGCN(in_c, out_c, A, edge_importance=edge_importance)
        self.tcn = nn.Sequential(
            nn.BatchNorm2d(out_c), nn.ReLU(), TemporalConv(out_c, out_c, kernel, stride, dropout)
        )
        self.residual = residual_unit(in_c, out_c, stride) if residual else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.tcn(self.gcn(x))
        if self.residual is not None:
            y = y + self.residual(x)
        return torch.relu(y)


@register_model("stgcn", kind="action")
class STGCN(SkeletonModel):
    """ST-GCN action recognizer; features are the pooled (N, channels[-1]) vector.

    Options: `channels` (per-block widths), `strides` (per-block temporal strides),
    `temporal_kernel` (odd, default 9), `dropout` (in every block), `edge_importance`.
    """

    def __init__(
        self,
        layout: Layout,
        num_classes: int,
        in_channels: int = 3,
        channels: Sequence[int] | None = None,
        strides: Sequence[int] | None = None,
        temporal_kernel: int = 9,
        dropout: float = 0.0,
        edge_importance: bool = True,
    ):
        super().__init__(layout, num_classes, in_channels)
        ch, st = resolve_stages(channels, strides, "stgcn")
        A = graph_tensor(layout)
        self.data_bn = JointBatchNorm(in_channels, layout.num_joints)
        ins = [in_channels, *ch[:-1]]
        self.blocks = nn.ModuleList(
            STGCNBlock(i, o, A, s, residual=k > 0, kernel=temporal_kernel, dropout=dropout,
                       edge_importance=edge_importance)
            for k, (i, o, s) in enumerate(zip(ins, ch, st, strict=True))
        )
        self.fc = nn.Linear(ch[-1], num_classes)
        self.feature_dim = ch[-1]

    def forward_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (N, C, T, V, M) → logits (N, num_classes), features (N, channels[-1])."""
        check_input(x, self.layout, self.in_channels, "stgcn")
        h = self.data_bn(fold_persons(x))
        for block in self.blocks:
            h = block(h)
        feat = unfold_persons(h.mean(dim=(2, 3)), x.shape[4]).mean(dim=1)
        return self.fc(feat), feat
