"""S-STGCN and 2s-S-STGCN: self-attention enhanced ST-GCN for emotion (paper 004, §4.1).

Self-attention enhanced spatial graph convolution (S-SGC), on the batch-normalised input
f_in (B, C_in, T, V):

- graph part: f_g = Σ_k W_k f_in (A_k ⊙ M_k), A the (3, V, V) spatial-configuration
  partition of the layout, M_k a learnable mask initialised to ones (`blocks.UnitGCN`);
- attention part: per frame, multi-head scaled dot-product self-attention over the V joints
  (H = 4 heads, d_k = d_v = C_out / H), f_o = Concat(heads) W_O, plus a residual
  f_a = f_o + f_in W_R (W_R only when C_in ≠ C_out);
- gate: f = (f_g + r · f_a) / 2 with r a learnable scalar initialised to 1, then BN + ReLU
  (the `gcn_bn` of the family's block).

A block is S-SGC → temporal conv (9 × 1, BN, dropout) + residual → ReLU. Ten blocks with
32, 32, 32, 32, 64, 64, 64, 128, 128, 128 channels, temporal stride 2 where the width
grows (as ST-GCN and the official code), global average pooling → features (N, 128) → FC.
As in the official code, the input first passes a BatchNorm over the coordinate channels,
the first block has no residual, and attention weights get dropout 0.1 in training.
Only the first person slot is used. The block, backbone and head are the GCN family's
(`gcn.py`), the streams `two_stream.py`'s:

- `sstgcn`: joint stream.
- `sstgcn-bone`: bone stream, bones computed inside the model from joint input:
  bone[j] = joint[j] − joint[parent(j)], zero at the root(s).
- `2s-sstgcn`: both streams (separate weights). `fusion="sum"` (2s-a) returns
  logits = log(softmax(z_joint) + softmax(z_bone)); `fusion="fc"` (2s-c) a linear layer
  over the concatenated raw logits of both streams. Features: both streams' pooled
  features concatenated, (N, 2·channels[-1]).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from ela.models.blocks import UnitGCN, graph_tensor
from ela.models.gcn import GCN, GCNBackbone
from ela.models.registry import register_model
from ela.models.two_stream import register_two_stream
from ela.skeleton.layout import Layout

PAPER_CHANNELS = (32, 32, 32, 32, 64, 64, 64, 128, 128, 128)


class JointSelfAttention(nn.Module):
    """Multi-head self-attention over the joints of each frame, with residual.

    (B, in_c, T, V) → (B, out_c, T, V); weights softmax over the key joints of the same frame.
    """

    def __init__(self, in_c: int, out_c: int, heads: int = 4, att_dropout: float = 0.1):
        super().__init__()
        self.heads, self.d_k = heads, max(1, out_c // heads)
        self.query = nn.Linear(in_c, heads * self.d_k, bias=False)
        self.key = nn.Linear(in_c, heads * self.d_k, bias=False)
        self.value = nn.Linear(in_c, heads * self.d_k, bias=False)
        self.out = nn.Linear(heads * self.d_k, out_c, bias=False)
        self.res = nn.Identity() if in_c == out_c else nn.Linear(in_c, out_c)
        self.att_dropout = att_dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = x.permute(0, 2, 3, 1)  # (B, T, V, C)
        b, t, v, _ = a.shape
        q, k, val = (f(a).view(b * t, v, self.heads, self.d_k).transpose(1, 2)
                     for f in (self.query, self.key, self.value))  # (B·T, H, V, d_k)
        s = F.scaled_dot_product_attention(
            q, k, val, dropout_p=self.att_dropout if self.training else 0.0)
        s = s.transpose(1, 2).reshape(b, t, v, -1)
        return (self.out(s) + self.res(a)).permute(0, 3, 1, 2)


class SelfAttentionGraphConv(nn.Module):
    """S-SGC spatial unit: BN → (graph conv + r · self-attention) / 2.

    (B, in_c, T, V) → (B, out_c, T, V); the block's BN + ReLU follow.
    """

    def __init__(self, in_c: int, out_c: int, A: torch.Tensor, heads: int = 4,
                 att_dropout: float = 0.1):
        super().__init__()
        self.bn_in = nn.BatchNorm2d(in_c)
        self.gcn = UnitGCN(in_c, out_c, A, edge_importance=True)
        self.attention = JointSelfAttention(in_c, out_c, heads, att_dropout)
        self.gate = nn.Parameter(torch.tensor(1.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        inp = self.bn_in(x)
        return (self.gcn(inp) + self.gate * self.attention(inp)) / 2


@register_model("sstgcn", kind="emotion")
def sstgcn(layout: Layout, num_classes: int, in_channels: int = 3,
           channels: Sequence[int] = PAPER_CHANNELS, strides: Sequence[int] | None = None,
           temporal_kernel: int = 9, heads: int = 4, dropout: float = 0.0,
           att_dropout: float = 0.1) -> GCN:
    """S-STGCN, one stream: logits (N, num_classes), features (N, channels[-1]).

    Args:
        channels: output channels of the blocks (paper: 32×4, 64×3, 128×3).
        strides: per-block temporal strides (default 2 where the width grows).
        temporal_kernel: temporal conv kernel (9, odd).
        heads: attention heads (4).
        dropout: dropout in the temporal convs.
        att_dropout: dropout on the attention weights (0.1, as the official code).
    """
    unit = partial(SelfAttentionGraphConv, A=graph_tensor(layout), heads=heads,
                   att_dropout=att_dropout)
    backbone = GCNBackbone(in_channels, layout.num_joints, unit, channels, strides,
                           temporal_kernel=temporal_kernel, dropout=dropout,
                           data_bn="channel", name="sstgcn")
    return GCN(layout, num_classes, backbone, first_person=True)


register_two_stream("sstgcn", "emotion", default_fusion="sum")
