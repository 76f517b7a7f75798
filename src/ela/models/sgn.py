"""SGN (Zhang et al., CVPR 2020): semantics-guided neural network.

Per person, on a segment of exactly `frames` frames (20 in the paper; the data pipeline
samples segments):
- dynamics: joint embedding (data BN over C·V, 1×1 conv C→64 + ReLU, 64→64 + ReLU) plus
  the same embedding of the velocity x[t] − x[t−1] (zero at t = 0);
- joint semantics: a one-hot joint type (V → 64 → 64) concatenated → 128 channels;
- joint-level module: per frame an adjacency G = softmax_j(θ(z_i)ᵀ φ(z_j)) (θ, φ: 1×1 convs
  128 → 256), then three residual graph layers relu(BN(W·(G z) + W₁·z)) 128→128→256→256
  (W initialised to zero, as in the public code);
- frame-level module: add a one-hot frame-index embedding (T → 64 → 256), max-pool over the
  joints, temporal conv (kernel 3) 256→256 + BN + ReLU + dropout, 1×1 conv → 512 + BN + ReLU,
  max-pool over time → features (N, 512); FC → classes.
One-hot inputs are built in `forward` on the input's device (the public code fixes batch
size and CUDA). `embed_dim` (64) scales every width (128 = 2·, 256 = 4·, 512 = 8·embed_dim).

Persons are folded into the batch; per-person logits and features are averaged over the
persons present in the sample (a person slot that is all zero is absent; a sample with no
person present averages over all slots).
"""

from __future__ import annotations

import torch
from torch import nn

from ela.errors import ElaError
from ela.models.base import SkeletonModel
from ela.models.blocks import JointBatchNorm, check_input, fold_persons, unfold_persons
from ela.models.registry import register_model
from ela.skeleton.layout import Layout


class SGNEmbed(nn.Sequential):
    """[data BN] → 1×1 conv in→hidden + ReLU → 1×1 conv hidden→out + ReLU, on (B, C, T, V)."""

    def __init__(self, in_c: int, hidden: int, out_c: int, norm_joints: int | None = None):
        norm = [JointBatchNorm(in_c, norm_joints)] if norm_joints else []
        super().__init__(
            *norm, nn.Conv2d(in_c, hidden, 1), nn.ReLU(), nn.Conv2d(hidden, out_c, 1), nn.ReLU()
        )


class SGNGraphLayer(nn.Module):
    """relu(BN(W·(G z) + W₁·z)): z (B, in_c, T, V), G (B, T, V, V) → (B, out_c, T, V)."""

    def __init__(self, in_c: int, out_c: int):
        super().__init__()
        self.w = nn.Conv2d(in_c, out_c, 1, bias=False)
        self.w1 = nn.Conv2d(in_c, out_c, 1)
        self.bn = nn.BatchNorm2d(out_c)
        nn.init.zeros_(self.w.weight)

    def forward(self, z: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        agg = torch.einsum("btij,bctj->bcti", g, z)
        return torch.relu(self.bn(self.w(agg) + self.w1(z)))


@register_model("sgn", kind="action")
class SGN(SkeletonModel):
    """SGN action recognizer; features are the (N, 8·embed_dim) pooled vector.

    Options: `frames` (segment length the input must have, default 20), `embed_dim`
    (default 64), `dropout` (default 0.2).
    """

    def __init__(
        self,
        layout: Layout,
        num_classes: int,
        in_channels: int = 3,
        frames: int = 20,
        embed_dim: int = 64,
        dropout: float = 0.2,
    ):
        super().__init__(layout, num_classes, in_channels)
        if frames < 1 or embed_dim < 1:
            raise ElaError(f"sgn: frames and embed_dim must be ≥ 1, got {frames}, {embed_dim}")
        d, v = embed_dim, layout.num_joints
        self.frames = frames
        self.joint_embed = SGNEmbed(in_channels, d, d, norm_joints=v)
        self.dif_embed = SGNEmbed(in_channels, d, d, norm_joints=v)
        self.spa_embed = SGNEmbed(v, d, d)
        self.tem_embed = SGNEmbed(frames, d, 4 * d)
        self.theta = nn.Conv2d(2 * d, 4 * d, 1)
        self.phi = nn.Conv2d(2 * d, 4 * d, 1)
        self.gcn1 = SGNGraphLayer(2 * d, 2 * d)
        self.gcn2 = SGNGraphLayer(2 * d, 4 * d)
        self.gcn3 = SGNGraphLayer(4 * d, 4 * d)
        self.local = nn.Sequential(
            nn.Conv2d(4 * d, 4 * d, (3, 1), padding=(1, 0)), nn.BatchNorm2d(4 * d), nn.ReLU(),
            nn.Dropout2d(dropout),
            nn.Conv2d(4 * d, 8 * d, 1), nn.BatchNorm2d(8 * d), nn.ReLU(),
        )
        self.fc = nn.Linear(8 * d, num_classes)
        self.feature_dim = 8 * d
        zero = {id(layer.w) for layer in (self.gcn1, self.gcn2, self.gcn3)}
        for m in self.modules():
            if isinstance(m, nn.Conv2d) and id(m) not in zero:
                nn.init.kaiming_normal_(m.weight, mode="fan_out")

    def _one_hot(self, n: int, ref: torch.Tensor) -> torch.Tensor:
        """(1, n, 1, n) identity, one channel per index along the last axis."""
        return torch.eye(n, dtype=ref.dtype, device=ref.device)[None, :, None, :]

    def _per_person(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, C, T, V) → logits (B, classes), features (B, 8·embed_dim)."""
        t, v = x.shape[2], x.shape[3]
        dif = torch.cat([torch.zeros_like(x[:, :, :1]), x[:, :, 1:] - x[:, :, :-1]], dim=2)
        dyn = self.joint_embed(x) + self.dif_embed(dif)  # (B, d, T, V)
        spa = self.spa_embed(self._one_hot(v, x))  # (1, d, 1, V)
        z = torch.cat([dyn, spa.expand(x.shape[0], -1, t, -1)], dim=1)
        scores = torch.einsum("bcti,bctj->btij", self.theta(z), self.phi(z))
        g = torch.softmax(scores, dim=-1)  # g[b, t, i, j]: message from joint j into joint i
        z = self.gcn3(self.gcn2(self.gcn1(z, g), g), g)
        tem = self.tem_embed(self._one_hot(t, x)).permute(0, 1, 3, 2)  # (1, 4d, T, 1)
        z = (z + tem).amax(dim=3, keepdim=True)  # max over joints: (B, 4d, T, 1)
        feat = self.local(z).amax(dim=(2, 3))  # max over time: (B, 8d)
        return self.fc(feat), feat

    def forward_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (N, C, frames, V, M) → logits (N, classes), features (N, 8·embed_dim)."""
        check_input(x, self.layout, self.in_channels, "sgn")
        if x.shape[2] != self.frames:
            raise ElaError(
                f"sgn: the model was built for segments of frames={self.frames}, the input has "
                f"T={x.shape[2]}; sample {self.frames}-frame segments or rebuild with "
                f"frames={x.shape[2]}"
            )
        m = x.shape[4]
        logits, feat = self._per_person(fold_persons(x))
        present = (x.detach().abs().sum(dim=(1, 2, 3)) > 0).to(x.dtype)  # (N, M)
        w = torch.where(present.sum(1, keepdim=True) > 0, present, torch.ones_like(present))
        w = (w / w.sum(1, keepdim=True))[:, :, None]
        return (w * unfold_persons(logits, m)).sum(1), (w * unfold_persons(feat, m)).sum(1)
