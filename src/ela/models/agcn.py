"""2s-AGCN (Shi et al., CVPR 2019): two-stream adaptive graph convolution network.

The backbone is ST-GCN's (data BN, 10 blocks 64×4, 128 (stride 2), 128×2, 256 (stride 2),
256×2, temporal kernel 9, first block without residual, global average pooling, mean over
persons, linear head) with the adaptive graph A_k + B_k + C_k(x) of `blocks.UnitGCN`
(`adaptive=True`; B_k initialised to 1e-6, embeddings to out/4 channels) and each graph
unit wrapped as relu(BN(gcn(x)) + down(x)), the BN weight initialised to 1e-6; the head's
weights start from N(0, 2 / num_classes). The block, backbone and head are the GCN family's
(`gcn.py`), the streams `two_stream.py`'s:

- ``agcn``: the joint stream;
- ``agcn-bone``: the same network on bones computed inside the model, bone[j] = joint[j] −
  joint[parent(j)] from the layout (zero at the root), on all C channels as 2s-AGCN does;
- ``2s-agcn``: both streams, logits added (the paper's score fusion, ``fusion="logits"``),
  features the concatenation of both streams' pooled vectors (N, 2·channels[-1]). Its
  sub-modules `joint_stream` / `bone_stream` are complete ``agcn`` / ``agcn-bone`` models,
  so streams trained separately are combined with `TwoStreamGCN.from_streams`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import partial

from torch import nn

from ela.models.blocks import UnitGCN, graph_tensor
from ela.models.gcn import GCN, STGCN_CHANNELS, GCNBackbone
from ela.models.registry import register_model
from ela.models.two_stream import register_two_stream
from ela.skeleton.layout import Layout


@register_model("agcn", kind="action")
def agcn(layout: Layout, num_classes: int, in_channels: int = 3,
         channels: Sequence[int] | None = None, strides: Sequence[int] | None = None,
         temporal_kernel: int = 9, dropout: float = 0.0, coff_embedding: int = 4) -> GCN:
    """One 2s-AGCN stream (joints; bones in ``agcn-bone``); features (N, channels[-1]).

    Options: `channels`, `strides` (as ST-GCN's), `temporal_kernel` (odd, default 9),
    `dropout` (in every block, default 0), `coff_embedding` (C_k embedding = out / this).
    """
    unit = partial(UnitGCN, A=graph_tensor(layout), adaptive=True,
                   coff_embedding=coff_embedding)
    backbone = GCNBackbone(in_channels, layout.num_joints, unit, channels or STGCN_CHANNELS,
                           strides, temporal_kernel=temporal_kernel, dropout=dropout,
                           down=True, bn_weight=1e-6, name="agcn")
    model = GCN(layout, num_classes, backbone)
    nn.init.normal_(model.fc.weight, 0.0, math.sqrt(2.0 / num_classes))
    nn.init.zeros_(model.fc.bias)
    return model


register_two_stream("agcn", "action", default_fusion="logits")
