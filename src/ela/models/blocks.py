"""Building blocks shared by the skeleton graph / convolution models.

Shapes: model inputs are (N, C, T, V, M); inside a network persons are folded into the batch,
so feature maps are (B, C, T, V) with B = N·M (`fold_persons` / `unfold_persons`).

- `check_input(x, layout, in_channels, model)`: validate a model input, raising project errors.
- `emotion_input(model, x)`: check x against `model`, return its first person (N, C, T, V);
  `valid_lengths(x)`: (N,) valid frames of a zero-padded (N, C, T, V) batch.
- `fold_persons(x)`: (N, C, T, V, M) → (N·M, C, T, V); `unfold_persons(y, m)` undoes it on dim 0.
- `JointBatchNorm(in_c, num_joints)`: the "data BN" of ST-GCN / 2s-AGCN / SGN — one
  BatchNorm1d channel per (coordinate, joint) pair, statistics over batch and time.
- `TemporalConv(in_c, out_c, kernel=9, stride=1, dropout=0)`: Conv2d (kernel, 1) over time
  ('same' padding, temporal stride) → BatchNorm2d → Dropout.
- `UnitGCN(in_c, out_c, A, adaptive=False, edge_importance=False, ...)`: spatial graph
  convolution over K subsets, y = Σ_k W_k · x · G_k, where G_k is A_k (⊙ M_k, learnable edge
  importance / mask), plus B_k (learned) and C_k (data-dependent) when `adaptive`. Raw output:
  no normalisation or activation, the caller adds those.
- `residual_unit(in_c, out_c, stride)`: identity when shapes agree, else 1×1 conv (stride) + BN.
- `graph_tensor(layout)`: the (3, V, V) spatial-configuration partition as a float tensor.
- `resolve_stages(channels, strides, model)`: per-block widths and temporal strides of a
  GCN backbone (one stride rule: 2 where the width grows).
- `conv_pool_unit(c_in, c_out, kernel_size)`: conv + BN + ReLU + 2×2 max-pool of the
  image-like emotion CNNs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from torch import nn

from ela.errors import ElaError, LayoutError
from ela.models.graph import spatial_partition
from ela.skeleton.layout import Layout

if TYPE_CHECKING:
    from ela.models.base import SkeletonModel


def check_input(x: torch.Tensor, layout: Layout, in_channels: int, model: str) -> None:
    """Raise if `x` is not a float (N, in_channels, T, V, M) tensor with V = layout joints."""
    if x.dim() != 5:
        raise ElaError(f"{model}: input must be (N, C, T, V, M), got shape {tuple(x.shape)}")
    if x.shape[1] != in_channels:
        raise ElaError(
            f"{model}: input has {x.shape[1]} channels, the model was built for {in_channels}"
        )
    if x.shape[3] != layout.num_joints:
        raise LayoutError(
            f"{model}: input has {x.shape[3]} joints, layout {layout.name} has "
            f"{layout.num_joints}"
        )
    if not x.is_floating_point():
        raise ElaError(f"{model}: input must be a float tensor, got {x.dtype}")


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


def fold_persons(x: torch.Tensor) -> torch.Tensor:
    """(N, C, T, V, M) → (N·M, C, T, V), person m of sample n at row n·M + m."""
    n, c, t, v, m = x.shape
    return x.permute(0, 4, 1, 2, 3).reshape(n * m, c, t, v)


def unfold_persons(y: torch.Tensor, m: int) -> torch.Tensor:
    """(N·M, ...) → (N, M, ...): the inverse of `fold_persons` on the leading dimension."""
    return y.reshape(y.shape[0] // m, m, *y.shape[1:])


class JointBatchNorm(nn.Module):
    """BatchNorm with one channel per (coordinate, joint): (B, C, T, V) → (B, C, T, V).

    Statistics are taken over the batch and the frames, as the input "data BN" of ST-GCN,
    2s-AGCN and SGN. Persons share it (they are folded into the batch).
    """

    def __init__(self, in_c: int, num_joints: int):
        super().__init__()
        self.bn = nn.BatchNorm1d(in_c * num_joints)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, t, v = x.shape
        y = self.bn(x.permute(0, 1, 3, 2).reshape(b, c * v, t))
        return y.reshape(b, c, v, t).permute(0, 1, 3, 2)


class TemporalConv(nn.Module):
    """Conv over time (kernel × 1, 'same' padding, temporal `stride`) → BN → Dropout.

    (B, in_c, T, V) → (B, out_c, ⌈T / stride⌉, V). `kernel` must be odd.
    """

    def __init__(
        self, in_c: int, out_c: int, kernel: int = 9, stride: int = 1, dropout: float = 0.0
    ):
        super().__init__()
        if kernel < 1 or kernel % 2 == 0:
            raise ElaError(f"TemporalConv: kernel must be a positive odd number, got {kernel}")
        self.conv = nn.Conv2d(
            in_c, out_c, (kernel, 1), stride=(stride, 1), padding=((kernel - 1) // 2, 0)
        )
        self.bn = nn.BatchNorm2d(out_c)
        self.drop = nn.Dropout(dropout)
        nn.init.kaiming_normal_(self.conv.weight, mode="fan_out")
        nn.init.zeros_(self.conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.bn(self.conv(x)))


class UnitGCN(nn.Module):
    """Spatial graph convolution with K subsets: (B, in_c, T, V) → (B, out_c, T, V).

    y[:, :, t, i] = b + Σ_k Σ_j (W_k x[:, :, t, j]) · G_k[j, i], with `A` (K, V, V) in the
    `graph.spatial_partition` convention (entry [k, j, i] = message from joint j into i) and

    - ST-GCN (`adaptive=False`): G_k = A_k, or A_k ⊙ M_k with `edge_importance=True`
      (M_k learnable, initialised to ones — ST-GCN's edge importance, S-STGCN's mask);
    - 2s-AGCN (`adaptive=True`): G_k = A_k (⊙ M_k) + B_k + C_k(x), B_k learned (initialised
      to the constant `b_init`), C_k = softmax over source joints j of θ_k(x)ᵀ φ_k(x) / (c_e·T),
      θ_k, φ_k 1×1 convs to c_e = out_c // `coff_embedding` channels, flattened with time.

    The bias b is added after aggregation (as in 2s-AGCN; ST-GCN adds it before, through A —
    a per-joint constant, immaterial behind the following BatchNorm). No norm or activation.
    """

    def __init__(
        self,
        in_c: int,
        out_c: int,
        A: torch.Tensor,
        adaptive: bool = False,
        edge_importance: bool = False,
        coff_embedding: int = 4,
        b_init: float = 1e-6,
    ):
        super().__init__()
        A = torch.as_tensor(A, dtype=torch.float32)
        if A.dim() != 3 or A.shape[1] != A.shape[2]:
            raise ElaError(f"UnitGCN: A must be (K, V, V), got shape {tuple(A.shape)}")
        k, v, _ = A.shape
        self.num_subsets, self.out_c, self.adaptive = k, out_c, adaptive
        self.register_buffer("A", A.clone())
        self.importance = nn.Parameter(torch.ones(k, v, v)) if edge_importance else None
        self.conv = nn.Conv2d(in_c, k * out_c, 1, bias=False)
        self.bias = nn.Parameter(torch.zeros(out_c))
        nn.init.kaiming_normal_(self.conv.weight, mode="fan_out")
        if adaptive:
            self.inter_c = max(1, out_c // coff_embedding)
            self.B = nn.Parameter(torch.full((k, v, v), float(b_init)))
            self.theta = nn.Conv2d(in_c, k * self.inter_c, 1)
            self.phi = nn.Conv2d(in_c, k * self.inter_c, 1)
            for conv in (self.theta, self.phi):
                nn.init.kaiming_normal_(conv.weight, mode="fan_out")
                nn.init.zeros_(conv.bias)

    def graph(self, x: torch.Tensor) -> torch.Tensor:
        """The effective graph: (K, V, V), or (B, K, V, V) when adaptive."""
        g = self.A if self.importance is None else self.A * self.importance
        if not self.adaptive:
            return g
        b, _, t, v = x.shape
        k, ce = self.num_subsets, self.inter_c
        th = self.theta(x).reshape(b, k, ce * t, v)
        ph = self.phi(x).reshape(b, k, ce * t, v)
        c = torch.softmax(torch.einsum("bkcv,bkcw->bkvw", th, ph) / (ce * t), dim=2)
        return g + self.B + c

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, t, v = x.shape
        h = self.conv(x).reshape(b, self.num_subsets, self.out_c, t, v)
        g = self.graph(x)
        eq = "bkctv,bkvw->bctw" if g.dim() == 4 else "bkctv,kvw->bctw"
        return torch.einsum(eq, h, g) + self.bias[None, :, None, None]


def residual_unit(in_c: int, out_c: int, stride: int = 1) -> nn.Module:
    """Residual path: identity if in_c == out_c and stride 1, else 1×1 conv (stride) + BN."""
    if in_c == out_c and stride == 1:
        return nn.Identity()
    return nn.Sequential(nn.Conv2d(in_c, out_c, 1, stride=(stride, 1)), nn.BatchNorm2d(out_c))


def graph_tensor(layout: Layout) -> torch.Tensor:
    """(3, V, V) float32 spatial-configuration partition of `layout` (see `graph.py`)."""
    return torch.from_numpy(spatial_partition(layout))


def resolve_stages(
    channels: Sequence[int], strides: Sequence[int] | None, model: str
) -> tuple[list[int], list[int]]:
    """Per-block output channels and temporal strides of a GCN backbone.

    Strides default to 2 wherever the width grows after the first block (64→128, 128→256
    in ST-GCN; 32→64, 64→128 in S-STGCN), else 1. Raises ElaError naming `model`.
    """
    ch = list(channels)
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


def conv_pool_unit(c_in: int, c_out: int, kernel_size: int = 3) -> nn.Sequential:
    """kxk conv (same padding) + BN + ReLU + 2×2 max-pool with ceil mode: (N, c_in, H, W) →
    (N, c_out, ⌈H/2⌉, ⌈W/2⌉)."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel_size, padding=kernel_size // 2),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2, ceil_mode=True),
    )
