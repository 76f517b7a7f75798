"""The GCN family: one block, one backbone and one one-stream model for ST-GCN, 2s-AGCN and
S-STGCN (the two-stream wrapper is in `two_stream.py`).

Shapes: model input (N, C, T, V, M); inside, persons are folded into the batch, so the
backbone maps (B, C, T, V) → (B, C', T', V) with B = N·M.

- `GCNBlock`: h = relu(gcn_bn(gcn(x)) [+ down(x)]), y = relu(tcn(h) + residual(x)). The
  spatial unit `gcn` is what the variants change: `blocks.UnitGCN` with edge importance
  (ST-GCN), with the adaptive graph (2s-AGCN, which adds the `down` path and starts the
  BN weight at 1e-6), or graph convolution + joint self-attention (S-STGCN).
- `GCNBackbone`: data BN, then one block per stage of `blocks.resolve_stages` (temporal
  stride 2 where the width grows after the first block); the first block has no residual.
- `GCN`: the one-stream model the variant factories return: the joints (or the bones,
  `stream = "bone"`, from `ela.skeleton.features.bone_stream`) of every person (or only
  the first, `first_person`), the backbone, global average pooling over T, V and persons
  → features (N, C') → one linear layer (the shared head).

Each variant module (`stgcn`, `agcn`, `sstgcn`) registers a small factory that builds a
`GCNBackbone` from its spatial unit and wraps it in a `GCN`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from ela.errors import CheckpointError, ElaError
from ela.models.base import SkeletonModel, rename_keys
from ela.models.blocks import (
    JointBatchNorm,
    TemporalConv,
    check_input,
    fold_persons,
    residual_unit,
    resolve_stages,
    unfold_persons,
)
from ela.skeleton.features import bone_stream
from ela.skeleton.layout import Layout

STGCN_CHANNELS = (64, 64, 64, 64, 128, 128, 128, 256, 256, 256)
"""The 10 block widths of ST-GCN, also 2s-AGCN's."""

SpatialUnit = Callable[[int, int], nn.Module]
"""`unit(in_c, out_c)` → a module (B, in_c, T, V) → (B, out_c, T, V)."""

# Keys written before the family shared one block (issue 13): ST-GCN kept its BN and
# temporal conv in a Sequential `tcn`, S-STGCN its spatial unit in `ssgc` (with the BN,
# `bn_out`), and ST-GCN / 2s-AGCN their data BN and blocks outside a `backbone`.
_OLD_KEYS = (
    (r"^(data_bn|blocks)\.", r"backbone.\1."),
    (r"\.tcn\.0\.", ".gcn_bn."),
    (r"\.tcn\.2\.", ".tcn."),
    (r"\.ssgc\.bn_out\.", ".gcn_bn."),
    (r"\.ssgc\.", ".gcn."),
)


class GCNBlock(nn.Module):
    """Spatial unit → BN (+ down) → ReLU → temporal conv, + residual → ReLU.

    (B, in_c, T, V) → (B, out_c, ⌈T / stride⌉, V). `gcn` maps in_c → out_c channels.
    """

    def __init__(
        self,
        gcn: nn.Module,
        in_c: int,
        out_c: int,
        stride: int = 1,
        residual: bool = True,
        kernel: int = 9,
        dropout: float = 0.0,
        down: bool = False,
        bn_weight: float = 1.0,
    ):
        super().__init__()
        self.gcn = gcn
        self.gcn_bn = nn.BatchNorm2d(out_c)
        nn.init.constant_(self.gcn_bn.weight, bn_weight)
        self.down = residual_unit(in_c, out_c) if down else None
        self.tcn = TemporalConv(out_c, out_c, kernel, stride, dropout)
        self.residual = residual_unit(in_c, out_c, stride) if residual else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.gcn_bn(self.gcn(x))
        if self.down is not None:
            h = h + self.down(x)
        y = self.tcn(torch.relu(h))
        if self.residual is not None:
            y = y + self.residual(x)
        return torch.relu(y)


class GCNBackbone(nn.Module):
    """Data BN + GCN blocks: (B, in_channels, T, V) → (B, channels[-1], T', V).

    Args:
        in_channels, num_joints: input coordinates C and joints V.
        unit: the spatial unit of every block, `unit(in_c, out_c)`.
        channels, strides: per-block widths and temporal strides (`blocks.resolve_stages`).
        temporal_kernel, dropout: of every block's temporal conv.
        data_bn: "joint" (one BN channel per coordinate and joint, ST-GCN and 2s-AGCN) or
            "channel" (per coordinate, S-STGCN).
        down, bn_weight: `GCNBlock` options (2s-AGCN: True, 1e-6).
        name: the model named in errors.
    """

    def __init__(
        self,
        in_channels: int,
        num_joints: int,
        unit: SpatialUnit,
        channels: Sequence[int],
        strides: Sequence[int] | None = None,
        *,
        temporal_kernel: int = 9,
        dropout: float = 0.0,
        data_bn: str = "joint",
        down: bool = False,
        bn_weight: float = 1.0,
        name: str = "GCN",
    ):
        super().__init__()
        ch, st = resolve_stages(channels, strides, name)
        if data_bn not in ("joint", "channel"):
            raise ElaError(f"{name}: data_bn must be 'joint' or 'channel', got {data_bn!r}")
        self.in_channels, self.channels, self.strides = in_channels, ch, st
        self.out_channels = ch[-1]
        self.data_bn = (JointBatchNorm(in_channels, num_joints) if data_bn == "joint"
                        else nn.BatchNorm2d(in_channels))
        ins = [in_channels, *ch[:-1]]
        self.blocks = nn.ModuleList(
            GCNBlock(unit(i, o), i, o, s, residual=k > 0, kernel=temporal_kernel,
                     dropout=dropout, down=down, bn_weight=bn_weight)
            for k, (i, o, s) in enumerate(zip(ins, ch, st, strict=True))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.data_bn(x)
        for block in self.blocks:
            h = block(h)
        return h


class GCN(SkeletonModel):
    """One stream of the GCN family: (N, C, T, V, M) joints → logits (N, num_classes) and
    features (N, backbone.out_channels).

    `stream` is "joint" or "bone" (bones computed from the joints inside, so an attack
    perturbs joints whichever stream it targets); no weight depends on it.
    `first_person` keeps only the first person slot (the emotion models), otherwise
    persons share all weights and their features are averaged.
    """

    def __init__(self, layout: Layout, num_classes: int, backbone: GCNBackbone,
                 first_person: bool = False):
        super().__init__(layout, num_classes, backbone.in_channels)
        self.backbone = backbone
        self.fc = nn.Linear(backbone.out_channels, num_classes)
        self.feature_dim = backbone.out_channels
        self.first_person = first_person
        self.stream = "joint"

    def forward_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (N, C, T, V, M) joints → logits (N, num_classes), features (N, C')."""
        check_input(x, self.layout, self.in_channels, self.config.get("name", "GCN"))
        if self.first_person:
            x = x[..., :1]
        if self.stream == "bone":
            x = bone_stream(x, self.layout)
        h = self.backbone(fold_persons(x)).mean(dim=(2, 3))
        feat = unfold_persons(h, x.shape[4]).mean(dim=1)
        return self.fc(feat), feat

    def upgrade_state_dict(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Renames the keys written before the family shared one block (issue 13).

        S-STGCN then used temporal stride 2 where the width shrinks as well as where it
        grows; such a checkpoint raises CheckpointError naming the strides to set.
        """
        if any(".ssgc." in k for k in state):
            ch = self.backbone.channels
            old = [1] + [2 if c != prev else 1 for prev, c in zip(ch, ch[1:], strict=False)]
            if old != self.backbone.strides:
                raise CheckpointError(
                    f"this S-STGCN checkpoint was written when S-STGCN used temporal stride 2 "
                    f"where the width shrinks; since the GCN models share one stride rule "
                    f"(2 where it grows) add \"strides\": {old} to the S-STGCN's options in "
                    f"its config.json")
        return super().upgrade_state_dict(rename_keys(state, _OLD_KEYS))
