"""2s-AGCN (Shi et al., CVPR 2019): two-stream adaptive graph convolution network.

The backbone is ST-GCN's (data BN, 10 blocks 64×4, 128 (stride 2), 128×2, 256 (stride 2),
256×2, temporal kernel 9, first block without residual, global average pooling, mean over
persons, linear head) with the adaptive graph A_k + B_k + C_k(x) of `blocks.UnitGCN`
(`adaptive=True`; B_k initialised to 1e-6, embeddings to out/4 channels) and each graph
unit wrapped as relu(BN(gcn(x)) + down(x)), the BN weight initialised to 1e-6.

Every model takes JOINT coordinates (N, C, T, V, M), so an attack perturbs joints whichever
stream it targets:

- ``agcn``: the joint stream;
- ``agcn-bone``: the same network on bones computed inside the model, bone[j] = joint[j] −
  joint[parent(j)] from the layout (zero at the root), on all C channels as 2s-AGCN does;
- ``2s-agcn``: both streams, logits added (the paper's score fusion), features the
  concatenation of both streams' pooled vectors (N, 2·channels[-1]). Its sub-modules
  `joint_stream` / `bone_stream` are complete ``agcn`` / ``agcn-bone`` models, so streams
  trained separately are combined with `TwoStreamAGCN.from_streams`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

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
from ela.models.registry import SkeletonModel, create_model, register_model
from ela.models.stgcn import resolve_stages
from ela.skeleton.layout import Layout


class AGCNBlock(nn.Module):
    """TCN-GCN unit: relu(tcn(relu(BN(gcn(x)) + down(x))) + residual(x)).

    (B, in_c, T, V) → (B, out_c, ⌈T / stride⌉, V).
    """

    def __init__(
        self,
        in_c: int,
        out_c: int,
        A: torch.Tensor,
        stride: int = 1,
        residual: bool = True,
        kernel: int = 9,
        dropout: float = 0.0,
        coff_embedding: int = 4,
    ):
        super().__init__()
        self.gcn = UnitGCN(in_c, out_c, A, adaptive=True, coff_embedding=coff_embedding)
        self.gcn_bn = nn.BatchNorm2d(out_c)
        nn.init.constant_(self.gcn_bn.weight, 1e-6)
        self.down = residual_unit(in_c, out_c)
        self.tcn = TemporalConv(out_c, out_c, kernel, stride, dropout)
        self.residual = residual_unit(in_c, out_c, stride) if residual else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.gcn_bn(self.gcn(x)) + self.down(x))
        y = self.tcn(h)
        if self.residual is not None:
            y = y + self.residual(x)
        return torch.relu(y)


@register_model("agcn", kind="action")
class AGCN(SkeletonModel):
    """One 2s-AGCN stream (joints here, bones in `AGCNBone`); features (N, channels[-1]).

    Options: `channels`, `strides` (as ST-GCN's), `temporal_kernel` (odd, default 9),
    `dropout` (in every block, default 0), `coff_embedding` (C_k embedding = out / this).
    """

    stream = "joint"

    def __init__(
        self,
        layout: Layout,
        num_classes: int,
        in_channels: int = 3,
        channels: Sequence[int] | None = None,
        strides: Sequence[int] | None = None,
        temporal_kernel: int = 9,
        dropout: float = 0.0,
        coff_embedding: int = 4,
    ):
        super().__init__(layout, num_classes, in_channels)
        ch, st = resolve_stages(channels, strides, self._name)
        A = graph_tensor(layout)
        parents = [p if p >= 0 else j for j, p in enumerate(layout.parents)]
        self.register_buffer("parent_index", torch.tensor(parents), persistent=False)
        self.data_bn = JointBatchNorm(in_channels, layout.num_joints)
        ins = [in_channels, *ch[:-1]]
        self.blocks = nn.ModuleList(
            AGCNBlock(i, o, A, s, residual=k > 0, kernel=temporal_kernel, dropout=dropout,
                      coff_embedding=coff_embedding)
            for k, (i, o, s) in enumerate(zip(ins, ch, st, strict=True))
        )
        self.fc = nn.Linear(ch[-1], num_classes)
        nn.init.normal_(self.fc.weight, 0.0, math.sqrt(2.0 / num_classes))
        nn.init.zeros_(self.fc.bias)
        self.feature_dim = ch[-1]

    @property
    def _name(self) -> str:
        return "agcn" if self.stream == "joint" else "agcn-bone"

    def stream_input(self, x: torch.Tensor) -> torch.Tensor:
        """The stream's input from joints (N, C, T, V, M): the joints, or bones (same shape)."""
        if self.stream == "joint":
            return x
        return x - x[:, :, :, self.parent_index]

    def forward_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (N, C, T, V, M) joints → logits (N, num_classes), features (N, channels[-1])."""
        check_input(x, self.layout, self.in_channels, self._name)
        h = self.data_bn(fold_persons(self.stream_input(x)))
        for block in self.blocks:
            h = block(h)
        feat = unfold_persons(h.mean(dim=(2, 3)), x.shape[4]).mean(dim=1)
        return self.fc(feat), feat


@register_model("agcn-bone", kind="action")
class AGCNBone(AGCN):
    """The 2s-AGCN bone stream; takes joints and computes bones inside (see module doc)."""

    stream = "bone"


@register_model("2s-agcn", kind="action")
class TwoStreamAGCN(SkeletonModel):
    """Joint + bone streams with added logits; features (N, 2·channels[-1]), joint first.

    Options are those of `AGCN`, used by both streams.
    """

    options_from = "agcn"  # `model_options` lists AGCN's options for this model

    def __init__(
        self, layout: Layout, num_classes: int, in_channels: int = 3, **cfg: Any
    ):
        super().__init__(layout, num_classes, in_channels)
        base = {"layout": layout.name, "num_classes": num_classes, "in_channels": in_channels}
        self.joint_stream = AGCN(layout, num_classes, in_channels, **cfg)
        self.bone_stream = AGCNBone(layout, num_classes, in_channels, **cfg)
        self.joint_stream.config = {"name": "agcn", **base, **cfg}
        self.bone_stream.config = {"name": "agcn-bone", **base, **cfg}
        self.feature_dim = 2 * self.joint_stream.feature_dim

    @classmethod
    def from_streams(cls, joint: AGCN, bone: AGCNBone) -> TwoStreamAGCN:
        """A 2s-AGCN holding copies of the weights of two separately trained streams."""
        if type(joint) is not AGCN or type(bone) is not AGCNBone:
            raise ElaError("from_streams needs an 'agcn' (joint) and an 'agcn-bone' model")
        opts = {k: v for k, v in joint.config.items()
                if k not in ("name", "layout", "num_classes", "in_channels")}
        bone_opts = {k: v for k, v in bone.config.items()
                     if k not in ("name", "layout", "num_classes", "in_channels")}
        if (joint.layout, joint.num_classes, joint.in_channels, opts) != (
            bone.layout, bone.num_classes, bone.in_channels, bone_opts
        ):
            raise ElaError(
                f"from_streams: the streams differ (joint config {joint.config}, "
                f"bone config {bone.config})"
            )
        model = create_model("2s-agcn", joint.layout, joint.num_classes, joint.in_channels,
                             **opts)
        model.joint_stream.load_state_dict(joint.state_dict())
        model.bone_stream.load_state_dict(bone.state_dict())
        return model.to(next(joint.parameters()).device)

    def forward_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (N, C, T, V, M) joints → summed logits (N, classes), features (N, 2·C_last)."""
        lj, fj = self.joint_stream.forward_features(x)
        lb, fb = self.bone_stream.forward_features(x)
        return lj + lb, torch.cat([fj, fb], dim=1)
