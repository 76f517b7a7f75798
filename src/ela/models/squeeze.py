"""Feature squeezing for skeleton sequences: a detector of adversarial sequences that needs
no training (Xu, Evans & Qi, "Feature Squeezing: Detecting Adversarial Examples in Deep
Neural Networks", NDSS 2018).

An action model answers a sequence and "squeezed" copies of it; a clean sequence gets
nearly the same answers, while an adversarial one, placed just across a decision boundary
by a change a squeezer partly removes, falls back. A squeezer's score is the L1 distance
between the two softmax vectors (0 … 2). Three squeezers are the motion analogues of the
paper's two families:

- ``median`` (the paper's median smoothing, along time instead of across pixels): each
  coordinate replaced by its median over a window of ``size`` frames (odd; edges
  replicated, padding left alone). The gradient flows to the frame the median picks, so an
  adaptive attack (`ela.attacks.guard.Guarded`) differentiates through it;
- ``smooth``: a Gaussian low-pass filter along time, standard deviation ``size`` frames,
  a convolution (a median keeps a step and removes a spike; a Gaussian spreads both);
- ``quantise`` (colour-depth reduction → coordinate depth): every coordinate rounded to a
  grid of ``size`` metres; rounding has no useful gradient, so the backward pass treats it
  as the identity (BPDA, Athalye et al. 2018), and an adaptive attack still gets one.

A fourth kind has no image analogue and squeezes what a body cannot do:

- ``rigid``: every bone's length moved the share ``size`` (0 … 1] of the way to its median
  over the sequence, the skeleton rebuilt from the root outwards with each bone's direction
  kept. A person's bones keep their length; sensor noise and an attack that adds an
  independent change per joint (PGD's ±ε, C&W's) do not, so that part of a change is
  undone, while a change that only turns limbs (ELA's with ``rigid=True``) is left
  alone. Differentiable.

With several squeezers the score is the largest of their scores, each divided by its
``scale`` (the paper's joint detection takes the largest raw score; its squeezers share a
scale, ours do not, so each is divided by its own threshold).

`FeatureSqueezing` is a registered model of kind "detector": x (N, C, T, V, M) metres →
(N, 2) logits (0, score), so that ``logits[:, 1] - logits[:, 0]`` is the score in the place
where a trained detector has its log-odds; its checkpoint holds the action model's config
and weights (``backbone``), so ``ela attack --guard`` loads it like any detector folder.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from ela.errors import ElaError
from ela.models.base import SkeletonModel
from ela.models.registry import create_model, register_model
from ela.skeleton.features import parent_distances, valid_mask, with_bone_lengths
from ela.skeleton.layout import Layout

MEDIAN, SMOOTH, QUANTISE, RIGID = "median", "smooth", "quantise", "rigid"
UNITS = {MEDIAN: "frames", SMOOTH: "frames", QUANTISE: "m",
         RIGID: "share of the length change removed"}
"""Squeezer kinds and the unit of their ``size``."""


def squeezer(kind: str, size: float, scale: float = 1.0) -> dict[str, Any]:
    """One squeezer's config: ``kind`` (`MEDIAN`, `SMOOTH`, `QUANTISE` or `RIGID`),
    ``size`` (the median's window or σ in frames, the grid step in metres, or the share of
    each bone's length change removed) and ``scale`` (its score is divided by it)."""
    if kind not in UNITS:
        raise ElaError(f"feature squeezing: unknown squeezer {kind!r}; known: "
                       f"{', '.join(UNITS)}")
    if not (size > 0 and scale > 0):
        raise ElaError(f"feature squeezing: {kind} needs size > 0 {UNITS[kind]} and scale > 0, "
                       f"got size {size}, scale {scale}")
    if kind == RIGID and size > 1:
        raise ElaError(f"feature squeezing: rigid removes a share (0, 1] of each bone's "
                       f"length change, got {size}")
    if kind == MEDIAN and (size != int(size) or size < 3 or size % 2 == 0):
        raise ElaError(f"feature squeezing: the median's window is an odd number of frames "
                       f">= 3, got {size}")
    return {"kind": kind, "size": float(size), "scale": float(scale)}


def squeezer_name(spec: dict[str, Any]) -> str:
    """E.g. ``median 3 frames``, ``smooth 1 frames``, ``quantise 2 cm``, ``rigid 100 %``."""
    if spec["kind"] == QUANTISE:
        return f"quantise {100 * spec['size']:g} cm"
    if spec["kind"] == RIGID:
        return f"rigid {100 * spec['size']:g} %"
    return f"{spec['kind']} {spec['size']:g} frames"


def gaussian_kernel(sigma: float) -> torch.Tensor:
    """(2r + 1,) normalised Gaussian weights, r = ⌈3σ⌉ frames."""
    if not sigma > 0:
        raise ElaError(f"feature squeezing: sigma must be > 0 frames, got {sigma}")
    radius = math.ceil(3 * sigma)
    t = torch.arange(-radius, radius + 1, dtype=torch.float64)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    return (k / k.sum()).float()


def temporal_filter(x: torch.Tensor, r: int,
                    apply: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """x (N, C, T, V, M) filtered along T within each sample's frames: `apply` maps the
    L = N·C·V·M coordinate series, extended by `r` frames each side, (L, T + 2r), to their
    filtered values (L, T). A sample's last frame with anyone present is repeated
    beyond it (and its first before the start), and trailing all-zero padding stays zero,
    so a padded sequence is filtered as its unpadded self."""
    n, c, t, v, m = x.shape
    present = x.detach().abs().amax(dim=(1, 3, 4)) > 0  # (N, T)
    last = t - 1 - present.flip(1).int().argmax(dim=1)  # all-zero sample: t - 1
    frames = torch.arange(-r, t + r, device=x.device)[None].clamp(min=0)
    frames = torch.minimum(frames, last[:, None])  # (N, T + 2r)
    padded = x.gather(2, frames[:, None, :, None, None].expand(n, c, t + 2 * r, v, m))
    flat = padded.permute(0, 1, 3, 4, 2).reshape(-1, t + 2 * r)
    out = apply(flat).reshape(n, c, v, m, t).permute(0, 1, 4, 2, 3)
    keep = torch.arange(t, device=x.device)[None] <= last[:, None]
    return out * keep[:, None, :, None, None].to(out.dtype)


def temporal_smoothing(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """x (N, C, T, V, M) filtered along T by `kernel` (odd length), edges and padding as
    `temporal_filter`."""
    return temporal_filter(x, len(kernel) // 2,
                           lambda s: F.conv1d(s[:, None], kernel.to(s)[None, None])[:, 0])


def temporal_median(x: torch.Tensor, window: int) -> torch.Tensor:
    """x (N, C, T, V, M): each coordinate the median of its `window` (odd) frames around,
    edges and padding as `temporal_filter`; the gradient goes to the frame picked."""
    return temporal_filter(x, window // 2,
                           lambda s: s.unfold(1, window, 1).median(dim=-1).values)


def quantisation(x: torch.Tensor, step: float) -> torch.Tensor:
    """x rounded to a grid of `step` (its unit, metres); the gradient passes as through the
    identity (a straight-through estimate). Padding (0) stays 0."""
    return x + (torch.round(x / step) * step - x).detach()


def rigid_bones(x: torch.Tensor, layout: Layout, share: float) -> torch.Tensor:
    """x (N, C, T, V, M) metres with each bone's length moved `share` of the way to its
    median over the frames where the person is present (`with_bone_lengths`: rebuilt from
    the root(s), directions kept)."""
    length = parent_distances(x, layout)
    present = valid_mask(x)[:, :, None, :]
    median = torch.nanmedian(torch.where(present, length, torch.nan), dim=1).values
    median = torch.where(median.isnan(), 0.0, median)  # no frame to take it from: unused,
    # but a NaN here would turn the gradient of the whole sample into NaN
    return with_bone_lengths(x, layout, length + share * (median[:, None] - length))


@register_model("feature-squeezing", kind="detector")
class FeatureSqueezing(SkeletonModel):
    """The action model `backbone` (its `create_model` config: name, layout, num_classes,
    in_channels and options) read on x and on each squeezed copy (`squeezers`: configs of
    `squeezer`; by default smoothing by σ = 1 frame); outputs (N, 2) logits
    (0, max over squeezers of ‖softmax(f(x)) − softmax(f(x̃))‖₁ / scale). `sigma` is the
    config of detectors saved before `squeezers` existed: smoothing by `sigma` frames alone."""

    kind = "detector"

    def __init__(self, layout: Layout, num_classes: int = 2, in_channels: int = 3,
                 backbone: dict[str, Any] | None = None,
                 squeezers: list[dict[str, Any]] | None = None, sigma: float | None = None):
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
        if squeezers is not None and sigma is not None:
            raise ElaError("feature squeezing: give squeezers or (older configs) sigma, not both")
        specs = squeezers if squeezers is not None else [squeezer(SMOOTH, sigma or 1.0)]
        if not specs:
            raise ElaError("feature squeezing needs at least one squeezer")
        self.squeezers = [squeezer(**spec) for spec in specs]
        self.kernels = [gaussian_kernel(spec["size"]) if spec["kind"] == SMOOTH else None
                        for spec in self.squeezers]  # built once, not on every forward
        self.backbone.requires_grad_(False)

    def squeeze(self, x: torch.Tensor, i: int) -> torch.Tensor:
        """x squeezed by squeezer `i`, same shape."""
        spec, kernel = self.squeezers[i], self.kernels[i]
        if spec["kind"] == QUANTISE:
            return quantisation(x, spec["size"])
        if spec["kind"] == RIGID:
            return rigid_bones(x, self.layout, spec["size"])
        if spec["kind"] == MEDIAN:
            return temporal_median(x, int(spec["size"]))
        return temporal_smoothing(x, kernel)

    def forward_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        copies = [x, *(self.squeeze(x, i) for i in range(len(self.squeezers)))]
        p, *qs = self.backbone(torch.cat(copies)).softmax(dim=1).chunk(len(copies))
        scores = torch.stack([(p - q).abs().sum(dim=1) / spec["scale"]
                              for q, spec in zip(qs, self.squeezers, strict=True)], dim=1)
        score = scores.amax(dim=1)
        return torch.stack([torch.zeros_like(score), score], dim=1), scores


def squeezer_of(action: SkeletonModel, squeezers: list[dict[str, Any]]) -> FeatureSqueezing:
    """A `FeatureSqueezing` detector with `squeezers` around the trained `action` model
    (its weights copied), on the same device."""
    config = dict(action.config)
    det = create_model("feature-squeezing", config["layout"], num_classes=2,
                       in_channels=config.get("in_channels", 3), backbone=config,
                       squeezers=squeezers)
    det.backbone.load_state_dict(action.state_dict())
    return det.to(next(action.parameters()).device).eval()
