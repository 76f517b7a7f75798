"""Recurrent baselines for skeleton emotion recognition (paper 001, Table II).

Each frame of the first person is flattened to a V·C vector (joint-major: x0 y0 z0 x1 …)
and fed to an LSTM.

- `lstm`: stacked LSTM (paper best: 2 layers × 512). Features = the top layer's output at
  the last *valid* frame of each sample (valid length = 1 + last non-zero frame, see
  `valid_lengths`); for a one-directional LSTM this equals packing the padded batch, since
  the output at frame t depends on frames ≤ t only. With 10 joints × 3 and 4 classes the
  model has 3 217 412 parameters, the paper's 3217.4 K.
- `lstm-att`: LSTM (paper best: 1 layer × 512) + temporal attention pooling over the valid
  frames: s_t = u·tanh(W h_t + b), α = softmax(s) with padded frames masked out,
  features = Σ α_t h_t. The paper does not give the attention size (`att_dim`).
"""

from __future__ import annotations

import torch
from torch import nn

from ela.models.base import SkeletonModel
from ela.models.blocks import emotion_input, valid_lengths
from ela.models.registry import register_model
from ela.skeleton.layout import Layout


class _RecurrentBase(SkeletonModel):
    """Shared LSTM trunk: (N, C, T, V, M) → outputs (N, T, hidden), valid lengths (N,)."""

    def __init__(self, layout: Layout, num_classes: int, in_channels: int, hidden: int,
                 layers: int, dropout: float):
        super().__init__(layout, num_classes, in_channels)
        self.lstm = nn.LSTM(layout.num_joints * in_channels, hidden, num_layers=layers,
                            batch_first=True, dropout=dropout if layers > 1 else 0.0)
        self.fc = nn.Linear(hidden, num_classes)

    def _run(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = emotion_input(self, x)
        n, _, t, _ = x.shape
        seq = x.permute(0, 2, 3, 1).reshape(n, t, -1)  # (N, T, V·C)
        out, _ = self.lstm(seq)
        return out, valid_lengths(x)


@register_model("lstm", kind="emotion")
class EmotionLSTM(_RecurrentBase):
    """Stacked LSTM: logits (N, num_classes), features (N, hidden) at the last valid frame.

    Args:
        hidden: hidden size per layer (512).
        layers: number of stacked layers (2).
        dropout: dropout between layers.
    """

    def __init__(self, layout: Layout, num_classes: int, in_channels: int = 3,
                 hidden: int = 512, layers: int = 2, dropout: float = 0.0):
        super().__init__(layout, num_classes, in_channels, hidden, layers, dropout)

    def forward_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out, lengths = self._run(x)
        idx = (lengths - 1).view(-1, 1, 1).expand(-1, 1, out.shape[2])
        feats = out.gather(1, idx).squeeze(1)
        return self.fc(feats), feats


@register_model("lstm-att", kind="emotion")
class EmotionLSTMAttention(_RecurrentBase):
    """LSTM + temporal attention pooling: logits (N, num_classes), features (N, hidden).

    Args:
        hidden: hidden size per layer (512).
        layers: number of stacked layers (1).
        att_dim: size of the attention projection W.
        dropout: dropout between layers.
    """

    def __init__(self, layout: Layout, num_classes: int, in_channels: int = 3,
                 hidden: int = 512, layers: int = 1, att_dim: int = 64, dropout: float = 0.0):
        super().__init__(layout, num_classes, in_channels, hidden, layers, dropout)
        self.att_proj = nn.Linear(hidden, att_dim)
        self.att_score = nn.Linear(att_dim, 1, bias=False)

    def forward_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out, lengths = self._run(x)
        scores = self.att_score(torch.tanh(self.att_proj(out))).squeeze(-1)  # (N, T)
        valid = torch.arange(out.shape[1], device=out.device)[None, :] < lengths[:, None]
        alpha = scores.masked_fill(~valid, float("-inf")).softmax(dim=1)
        feats = torch.einsum("nt,nth->nh", alpha, out)
        return self.fc(feats), feats
