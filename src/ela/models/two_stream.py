"""Joint + bone streams of one GCN variant (2s-AGCN, 2s-S-STGCN) and their registration.

`register_two_stream(name, kind, default_fusion)` registers, for the registered one-stream
model `name` (a `gcn.GCN`), `<name>-bone` (the same network on bones computed inside from
the joints) and `2s-<name>` (a `TwoStreamGCN` of both, with `name`'s options and a
`fusion`).
Every model takes JOINTS (N, C, T, V, M), so an attack perturbs joints whichever stream it
targets. Fusions of the streams' logits z_j, z_b (N, num_classes):

- "logits": z_j + z_b (2s-AGCN's score fusion);
- "sum": log(softmax(z_j) + softmax(z_b)), so exp(logits) is the summed score, argmax picks
  the class of the highest summed score and cross-entropy on these logits is the loss of
  the averaged probabilities (2s-S-STGCN's 2s-a);
- "fc": a linear layer over the concatenated raw logits (2s-S-STGCN's 2s-c).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ela.errors import ElaError
from ela.models.base import SkeletonModel, rename_keys
from ela.models.gcn import GCN
from ela.models.registry import create_model, list_models, register_model
from ela.skeleton.layout import Layout

FUSIONS = ("logits", "sum", "fc")

# Keys written before issue 13: 2s-S-STGCN held each stream's backbone and head directly.
_OLD_KEYS = ((r"^(joint|bone)_backbone\.", r"\1_stream.backbone."),
             (r"^(joint|bone)_fc\.", r"\1_stream.fc."))


class TwoStreamGCN(SkeletonModel):
    """Joint and bone streams, fused: (N, C, T, V, M) joints → logits (N, num_classes),
    features (N, 2·D), the joint stream's first.

    `joint_stream` and `bone_stream` are complete registered models (`<name>`,
    `<name>-bone`), so streams trained apart combine with `from_streams`.
    """

    def __init__(self, joint: GCN, bone: GCN, fusion: str = "logits"):
        super().__init__(joint.layout, joint.num_classes, joint.in_channels)
        if fusion not in FUSIONS:
            raise ElaError(f"two-stream fusion must be one of {FUSIONS}, got {fusion!r}")
        self.joint_stream, self.bone_stream, self.fusion = joint, bone, fusion
        n = joint.num_classes
        self.fuse = nn.Linear(2 * n, n) if fusion == "fc" else None
        self.feature_dim = joint.feature_dim + bone.feature_dim

    @classmethod
    def from_streams(cls, joint: GCN, bone: GCN) -> TwoStreamGCN:
        """A `2s-<name>` model holding copies of the weights of a separately trained `<name>`
        (joint) and `<name>-bone` model with the same options."""
        name = joint.config.get("name", "")
        if bone.config.get("name") != f"{name}-bone" or f"2s-{name}" not in list_models():
            raise ElaError(f"from_streams needs a one-stream model and its bone stream (e.g. "
                           f"'agcn' and 'agcn-bone'), got {name!r} and "
                           f"{bone.config.get('name')!r}")
        fixed = ("name", "layout", "num_classes", "in_channels")
        opts = {k: v for k, v in joint.config.items() if k not in fixed}
        bone_opts = {k: v for k, v in bone.config.items() if k not in fixed}
        if (joint.layout, joint.num_classes, joint.in_channels, opts) != (
            bone.layout, bone.num_classes, bone.in_channels, bone_opts
        ):
            raise ElaError(
                f"from_streams: the streams differ (joint config {joint.config}, "
                f"bone config {bone.config})"
            )
        model = create_model(f"2s-{name}", joint.layout, joint.num_classes, joint.in_channels,
                             **opts)
        model.joint_stream.load_state_dict(joint.state_dict())
        model.bone_stream.load_state_dict(bone.state_dict())
        return model.to(next(joint.parameters()).device)

    def stream_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Joint logits (N, E), bone logits (N, E) and the concatenated features (N, 2D)."""
        zj, fj = self.joint_stream.forward_features(x)
        zb, fb = self.bone_stream.forward_features(x)
        return zj, zb, torch.cat([fj, fb], dim=1)

    def forward_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (N, C, T, V, M) joints → fused logits (N, num_classes), features (N, 2D)."""
        zj, zb, feats = self.stream_logits(x)
        if self.fuse is not None:
            return self.fuse(torch.cat([zj, zb], dim=1)), feats
        if self.fusion == "logits":
            return zj + zb, feats
        scores = torch.stack([zj.log_softmax(dim=1), zb.log_softmax(dim=1)])
        return torch.logsumexp(scores, dim=0), feats

    def upgrade_state_dict(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Renames the keys written before issue 13, then lets each stream upgrade its own."""
        return super().upgrade_state_dict(rename_keys(state, _OLD_KEYS))


def register_two_stream(name: str, kind: str, default_fusion: str) -> None:
    """Register `<name>-bone` and `2s-<name>` (fusing by `default_fusion` unless told) for
    the registered one-stream model `name`."""

    def bone(layout: Layout, num_classes: int, in_channels: int = 3, **cfg: Any) -> GCN:
        """The network of `name` on the bone stream; options as `name`'s."""
        model = create_model(name, layout, num_classes, in_channels, **cfg)
        model.stream = "bone"
        return model

    def both(layout: Layout, num_classes: int, in_channels: int = 3,
             fusion: str = default_fusion, **cfg: Any) -> TwoStreamGCN:
        """Joint and bone streams of `name` (options as `name`'s) fused by `fusion`."""
        joint = create_model(name, layout, num_classes, in_channels, **cfg)
        return TwoStreamGCN(joint, create_model(f"{name}-bone", layout, num_classes,
                                                in_channels, **cfg), fusion)

    register_model(f"{name}-bone", kind, options_from=name)(bone)
    register_model(f"2s-{name}", kind, options_from=name)(both)
