"""ST-GCN (Yan et al., AAAI 2018): spatial-temporal graph convolution network.

Input (N, C, T, V, M) joint coordinates; persons are folded into the batch and share all
weights. Data BN per (coordinate, joint), then blocks of [graph conv (K = 3 spatial-configuration
subsets from the layout, learnable edge importance) → BN → ReLU → temporal conv (kernel 9)
→ BN → dropout] + residual → ReLU. Default: 10 blocks of 64, 64, 64, 64, 128 (stride 2), 128,
128, 256 (stride 2), 256, 256 channels, the first without residual. Global average pooling
over T and V, mean over persons → features (N, channels[-1]) → linear head (the 1×1 conv of
the paper, equivalent on a pooled vector). The block, backbone and head are the GCN
family's (`gcn.py`); this module gives the spatial unit.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from ela.models.blocks import UnitGCN, graph_tensor
from ela.models.gcn import GCN, STGCN_CHANNELS, GCNBackbone
from ela.models.registry import register_model
from ela.skeleton.layout import Layout


@register_model("stgcn", kind="action")
def stgcn(layout: Layout, num_classes: int, in_channels: int = 3,
          channels: Sequence[int] | None = None, strides: Sequence[int] | None = None,
          temporal_kernel: int = 9, dropout: float = 0.0, edge_importance: bool = True) -> GCN:
    """ST-GCN action recognizer; features are the pooled (N, channels[-1]) vector.

    Options: `channels` (per-block widths), `strides` (per-block temporal strides),
    `temporal_kernel` (odd, default 9), `dropout` (in every block), `edge_importance`.
    """
    unit = partial(UnitGCN, A=graph_tensor(layout), edge_importance=edge_importance)
    backbone = GCNBackbone(in_channels, layout.num_joints, unit, channels or STGCN_CHANNELS,
                           strides, temporal_kernel=temporal_kernel, dropout=dropout,
                           name="stgcn")
    return GCN(layout, num_classes, backbone)
