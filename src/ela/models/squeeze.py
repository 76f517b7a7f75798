"""Feature squeezing for skeleton sequences: a detector of adversarial sequences that needs
no training (Xu, Evans & Qi, "Feature Squeezing: Detecting Adversarial Examples in Deep
Neural Networks", NDSS 2018).

An action model answers a sequence and a "squeezed" copy of it; a clean sequence gets
nearly the same answer, while an adversarial one, placed just across a decision boundary
by a change the squeezer partly removes, falls back. The score is the L1 distance between
the two softmax vectors (0 … 2). The squeezer here is the motion analogue of the paper's
median smoothing: a Gaussian low-pass filter along time, with standard deviation `sigma`
frames (edges replicated, padding left alone), written as a convolution so that an adaptive attack
(`ela.attacks.guard.Guarded`) differentiates through it.

`FeatureSqueezing` is a registered model of kind "detector": x (N, C, T, V, M) metres →
(N, 2) logits (0, score), so that ``logits[:, 1] - logits[:, 0]`` is the score in the place
where a trained detector has its log-odds; its checkpoint holds the action model's config
and weights (``backbone``), so ``ela attack --guard`` loads it like any detector folder.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from ela.errors import ElaError
from ela.models.base import SkeletonModel
from ela.models.registry import create_model, register_model
from ela.skeleton.layout import Layout


def gaussian_kernel(sigma: float) -> torch.Tensor:
    """(2r + 1,) normalised Gaussian weights, r = ⌈3σ⌉ frames."""
    if not sigma > 0:
        raise ElaError(f"feature squeezing: sigma must be > 0 frames, got {sigma}")
    radius = math.ceil(3 * sigma)
    t = torch.arange(-radius, radius + 1, dtype=torch.float64)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    return (k / k.sum()).float()


def temporal_smoothing(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """x (N, C, T, V, M) filtered along T by `kernel` (odd length) within each sample's
    frames: its last frame with anyone present is repeated beyond it (and its first before
    the start), and trailing all-zero padding stays zero, so a padded sequence is smoothed
    as its unpadded self."""
    n, c, t, v, m = x.shape
    r = len(kernel) // 2
    present = x.detach().abs().amax(dim=(1, 3, 4)) > 0  # (N, T)
    last = t - 1 - present.flip(1).int().argmax(dim=1)  # all-zero sample: t - 1
    frames = torch.arange(-r, t + r, device=x.device)[None].clamp(min=0)
    frames = torch.minimum(frames, last[:, None])  # (N, T + 2r)
    padded = x.gather(2, frames[:, None, :, None, None].expand(n, c, t + 2 * r, v, m))
    flat = padded.permute(0, 1, 3, 4, 2).reshape(-1, 1, t + 2 * r)
    out = F.conv1d(flat, kernel.to(x)[None, None]).reshape(n, c, v, m, t).permute(0, 1, 4, 2, 3)
    keep = torch.arange(t, device=x.device)[None] <= last[:, None]
    return out * keep[:, None, :, None, None].to(out.dtype)


@register_model("feature-squeezing", kind="detector")
class FeatureSqueezing(SkeletonModel):
    """The action model `backbone` (its `create_model` config: name, layout, num_classes,
    in_channels and options) read on x and on x smoothed along time by a Gaussian of
    `sigma` frames; outputs (N, 2) logits (0, ‖softmax(f(x)) − softmax(f(x̃))‖₁)."""

    kind = "detector"

    def __init__(self, layout: Layout, num_classes: int = 2, in_channels: int = 3,
                 backbone: dict[str, Any] | None = None, sigma: float = 1.0):
        super().__init__(layout, num_classes, in_channels)
        if num_classes != 2:
            raise ElaError(f"feature squeezing answers clean / attacked: num_classes must be "
                           f"2, got {num_classes}")
        if not isinstance(backbone, dict) or "name" not in backbone:
            raise ElaError("feature squeezing needs backbone: the action model's config "
                           "(its checkpoint's \"model\" entry)")
        self.backbone = create_model(**backbone)
        if self.backbone.layout.name != layout.name:
            raise ElaError(f"feature squeezing: backbone reads layout "
                           f"{self.backbone.layout.name}, the detector {layout.name}")
        self.sigma = float(sigma)
        self.register_buffer("kernel", gaussian_kernel(self.sigma), persistent=False)
        self.backbone.requires_grad_(False)

    def squeeze(self, x: torch.Tensor) -> torch.Tensor:
        """x smoothed along time, same shape."""
        return temporal_smoothing(x, self.kernel)

    def forward_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        both = self.backbone(torch.cat([x, self.squeeze(x)])).softmax(dim=1)
        p, q = both.chunk(2)
        score = (p - q).abs().sum(dim=1)
        return torch.stack([torch.zeros_like(score), score], dim=1), score[:, None]


def squeezer_of(action: SkeletonModel, sigma: float) -> FeatureSqueezing:
    """A `FeatureSqueezing` detector around the trained `action` model (its weights
    copied), on the same device."""
    config = dict(action.config)
    det = create_model("feature-squeezing", config["layout"], num_classes=2,
                       in_channels=config.get("in_channels", 3), backbone=config, sigma=sigma)
    det.backbone.load_state_dict(action.state_dict())
    return det.to(next(action.parameters()).device).eval()
