"""A registered model that reads a sequence's fast part: the backbone on x minus its low-pass.

An attack's small change often lives in the fastest frequencies along time (on Bandai-2
hcn, 61 % of the energy of ELA's change and 69 % of C&W's lie in the upper half of the
band: docs/results/bandai2_hcn/spectrum.md). A detector reading the raw coordinates sees
that part a hundred times smaller than the motion itself and, trained on a few dozen
attacks, may never leave chance. ``highpass`` gives its backbone the residual
x − G_σ * x (`ela.models.squeeze.temporal_smoothing`: a Gaussian along time, edges
repeated, padding kept at zero), multiplied by ``gain`` so that centimetres read as units,
and with ``raw`` the joints themselves as further channels, so the residual can be read
against the pose. Differentiable, so an adaptive attack (`ela.attacks.guard.Guarded`)
differentiates through it like any detector.
"""

from __future__ import annotations

from typing import Any

import torch

from ela.errors import ElaError
from ela.models.base import SkeletonModel
from ela.models.registry import create_model, register_model
from ela.models.squeeze import gaussian_kernel, temporal_smoothing
from ela.skeleton.layout import Layout


@register_model("highpass", kind="detector")
class HighPass(SkeletonModel):
    """x (N, C, T, V, M) metres → the registered model `backbone` (options `backbone_cfg`)
    on ``gain`` · (x − G_σ * x), σ = `sigma` frames, concatenated after x along C when `raw`
    (backbone input channels 2C, else C). Logits and features are the backbone's."""

    def __init__(self, layout: Layout, num_classes: int, in_channels: int = 3,
                 backbone: str = "hcn", sigma: float = 1.0, gain: float = 100.0,
                 raw: bool = True, backbone_cfg: dict[str, Any] | None = None):
        super().__init__(layout, num_classes, in_channels)
        if not gain > 0:
            raise ElaError(f"highpass: gain must be > 0, got {gain}")
        self.register_buffer("kernel", gaussian_kernel(sigma), persistent=False)
        self.gain, self.raw = float(gain), bool(raw)
        self.backbone = create_model(backbone, layout, num_classes,
                                     in_channels * (2 if raw else 1), **(backbone_cfg or {}))
        self.feature_dim = getattr(self.backbone, "feature_dim", None)

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, T, V, M): gain · (x − its Gaussian low-pass along T)."""
        return self.gain * (x - temporal_smoothing(x, self.kernel))

    def forward_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        fast = self.residual(x)
        return self.backbone.forward_features(torch.cat([x, fast], dim=1) if self.raw else fast)
