"""S-STGCN and 2s-S-STGCN: self-attention enhanced ST-GCN for emotion (paper 004, §4.1).

Self-attention enhanced spatial graph convolution (S-SGC), on the batch-normalised input
f_in (B, C_in, T, V):

- graph part: f_g = Σ_k W_k f_in (A_k ⊙ M_k), A the (3, V, V) spatial-configuration
  partition of the layout, M_k a learnable mask initialised to ones (`blocks.UnitGCN`);
- attention part: per frame, multi-head scaled dot-product self-attention over the V joints
  (H = 4 heads, d_k = d_v = C_out / H), f_o = Concat(heads) W_O, plus a residual
  f_a = f_o + f_in W_R (W_R only when C_in ≠ C_out);
- gate: f = (f_g + r · f_a) / 2 with r a learnable scalar initialised to 1, then BN + ReLU.

A block is S-SGC → temporal conv (9 × 1, BN, dropout) + residual → ReLU. Ten blocks with
32, 32, 32, 32, 64, 64, 64, 128, 128, 128 channels, temporal stride 2 where the width
changes (as ST-GCN and the official code), global average pooling → features (N, 128) → FC.
As in the official code, the input first passes a BatchNorm over the coordinate channels,
the first block has no residual, and attention weights get dropout 0.1 in training.
Only the first person slot is used.

- `sstgcn`: joint stream.
- `sstgcn-bone`: bone stream, bones computed inside the model from joint input:
  bone[j] = joint[j] − joint[parent(j)], zero at the root(s).
- `2s-sstgcn`: both streams (separate weights). `fusion="sum"` (2s-a) returns
  logits = log(softmax(z_joint) + softmax(z_bone)), so exp(logits) is the summed score,
  argmax picks the class of the highest summed score and cross-entropy on these logits is
  the loss of the averaged probabilities. `fusion="fc"` (2s-c) returns a linear layer over
  the concatenated raw logits of both streams. Features: both streams' pooled features
  concatenated, (N, 2·channels[-1]).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ela.errors import ElaError
from ela.models.blocks import TemporalConv, UnitGCN, graph_tensor, residual_unit
from ela.models.cnn import emotion_input
from ela.models.registry import SkeletonModel, register_model
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
    """S-SGC layer: BN → (graph conv + r · self-attention) / 2 → BN → ReLU.

    (B, in_c, T, V) → (B, out_c, T, V).
    """

    def __init__(self, in_c: int, out_c: int, A: torch.Tensor, heads: int = 4,
                 att_dropout: float = 0.1):
        super().__init__()
        self.bn_in = nn.BatchNorm2d(in_c)
        self.gcn = UnitGCN(in_c, out_c, A, edge_importance=True)
        self.attention = JointSelfAttention(in_c, out_c, heads, att_dropout)
        self.gate = nn.Parameter(torch.tensor(1.0))
        self.bn_out = nn.BatchNorm2d(out_c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        inp = self.bn_in(x)
        f = (self.gcn(inp) + self.gate * self.attention(inp)) / 2
        return torch.relu(self.bn_out(f))


class SSTGCNBlock(nn.Module):
    """S-SGC → temporal conv, plus residual, → ReLU: (B, in_c, T, V) → (B, out_c, T/stride, V)."""

    def __init__(self, in_c: int, out_c: int, A: torch.Tensor, stride: int = 1,
                 residual: bool = True, temporal_kernel: int = 9, heads: int = 4,
                 dropout: float = 0.0, att_dropout: float = 0.1):
        super().__init__()
        self.ssgc = SelfAttentionGraphConv(in_c, out_c, A, heads, att_dropout)
        self.tcn = TemporalConv(out_c, out_c, temporal_kernel, stride, dropout)
        self.residual = residual_unit(in_c, out_c, stride) if residual else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.tcn(self.ssgc(x))
        if self.residual is not None:
            y = y + self.residual(x)
        return torch.relu(y)


class SSTGCNBackbone(nn.Module):
    """Input BN + S-STGCN blocks + global average pooling: (N, C, T, V) → (N, channels[-1])."""

    def __init__(self, layout: Layout, in_channels: int, channels: Sequence[int],
                 temporal_kernel: int, heads: int, dropout: float, att_dropout: float):
        super().__init__()
        if not channels:
            raise ElaError("S-STGCN: `channels` must list at least one block width")
        A = graph_tensor(layout)
        self.data_bn = nn.BatchNorm2d(in_channels)
        widths = [in_channels, *channels]
        self.blocks = nn.ModuleList(
            SSTGCNBlock(c_in, c_out, A, stride=2 if i > 0 and c_out != c_in else 1,
                        residual=i > 0, temporal_kernel=temporal_kernel, heads=heads,
                        dropout=dropout, att_dropout=att_dropout)
            for i, (c_in, c_out) in enumerate(zip(widths[:-1], widths[1:], strict=True)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.data_bn(x)
        for block in self.blocks:
            x = block(x)
        return x.mean(dim=(2, 3))


def _parent_index(layout: Layout) -> tuple[torch.Tensor, torch.Tensor]:
    """(V,) parent index (self for roots) and (V,) float mask, 0 at roots."""
    parents = torch.tensor(layout.parents)
    roots = parents < 0
    idx = torch.where(roots, torch.arange(layout.num_joints), parents)
    return idx, (~roots).float()


class _SSTGCNBase(SkeletonModel):
    """Shared options: channels, temporal_kernel, heads, dropout, att_dropout."""

    def __init__(self, layout: Layout, num_classes: int, in_channels: int,
                 channels: Sequence[int], temporal_kernel: int, heads: int, dropout: float,
                 att_dropout: float):
        super().__init__(layout, num_classes, in_channels)
        self.backbone_args = (in_channels, list(channels), temporal_kernel, heads, dropout,
                              att_dropout)
        idx, mask = _parent_index(layout)
        self.register_buffer("parent_idx", idx, persistent=False)
        self.register_buffer("root_mask", mask, persistent=False)

    def bones(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, T, V) joints → (N, C, T, V) bone vectors joint − parent, zero at roots."""
        return (x - x[..., self.parent_idx]) * self.root_mask

    def _stream(self) -> tuple[SSTGCNBackbone, nn.Linear]:
        backbone = SSTGCNBackbone(self.layout, *self.backbone_args)
        return backbone, nn.Linear(self.backbone_args[1][-1], self.num_classes)


@register_model("sstgcn", kind="emotion")
class SSTGCN(_SSTGCNBase):
    """S-STGCN, one stream: logits (N, num_classes), features (N, channels[-1]).

    Args:
        channels: output channels of the blocks (paper: 32×4, 64×3, 128×3).
        temporal_kernel: temporal conv kernel (9, odd).
        heads: attention heads (4).
        dropout: dropout in the temporal convs.
        att_dropout: dropout on the attention weights (0.1, as the official code).
    """

    stream = "joint"

    def __init__(self, layout: Layout, num_classes: int, in_channels: int = 3,
                 channels: Sequence[int] = PAPER_CHANNELS, temporal_kernel: int = 9,
                 heads: int = 4, dropout: float = 0.0, att_dropout: float = 0.1):
        super().__init__(layout, num_classes, in_channels, channels, temporal_kernel, heads,
                         dropout, att_dropout)
        self.backbone, self.fc = self._stream()

    def forward_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = emotion_input(self, x)
        if self.stream == "bone":
            x = self.bones(x)
        feats = self.backbone(x)
        return self.fc(feats), feats


@register_model("sstgcn-bone", kind="emotion")
class SSTGCNBone(SSTGCN):
    """S-STGCN on the bone stream (bones computed from the joint input inside the model)."""

    stream = "bone"


@register_model("2s-sstgcn", kind="emotion")
class TwoStreamSSTGCN(_SSTGCNBase):
    """2s-S-STGCN: joint + bone streams fused by `fusion` ("sum" = 2s-a, "fc" = 2s-c).

    Returns logits (N, num_classes) and features (N, 2·channels[-1]); other arguments as
    `SSTGCN`.
    """

    def __init__(self, layout: Layout, num_classes: int, in_channels: int = 3,
                 channels: Sequence[int] = PAPER_CHANNELS, temporal_kernel: int = 9,
                 heads: int = 4, dropout: float = 0.0, att_dropout: float = 0.1,
                 fusion: str = "sum"):
        super().__init__(layout, num_classes, in_channels, channels, temporal_kernel, heads,
                         dropout, att_dropout)
        if fusion not in ("sum", "fc"):
            raise ElaError(f"2s-sstgcn: fusion must be 'sum' or 'fc', got {fusion!r}")
        self.fusion = fusion
        self.joint_backbone, self.joint_fc = self._stream()
        self.bone_backbone, self.bone_fc = self._stream()
        self.fuse = nn.Linear(2 * num_classes, num_classes) if fusion == "fc" else None

    def stream_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Joint logits (N, E), bone logits (N, E) and the concatenated features (N, 2D)."""
        x = emotion_input(self, x)
        fj = self.joint_backbone(x)
        fb = self.bone_backbone(self.bones(x))
        return self.joint_fc(fj), self.bone_fc(fb), torch.cat([fj, fb], dim=1)

    def forward_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        zj, zb, feats = self.stream_logits(x)
        if self.fuse is not None:
            return self.fuse(torch.cat([zj, zb], dim=1)), feats
        scores = torch.stack([zj.log_softmax(dim=1), zb.log_softmax(dim=1)])
        return torch.logsumexp(scores, dim=0), feats
