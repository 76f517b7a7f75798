"""ProxEmo (Narayanan et al. 2020): grouped CNN over an image embedding of the gait.

Image embedding (differentiable, so the Emotion Loss Attack back-propagates through it):
the first person's valid frames (height = time, width = joints, channels = x, y, z) are
resampled bilinearly to `image_size` × `image_size` (the paper: 244), exactly as
``F.interpolate(mode="bilinear", align_corners=False)`` on the unpadded sequence — done with
`grid_sample` so that each sample uses its own valid length (padding frames, all-zero,
never enter the image) — then min-max scaled to [0, 1] per sample and channel.

Network (valid 3×3 convs, max-pool 3 stride 2, G = `view_groups` groups, widths w0, w1, w2 =
`width`, paper 32, 64, 16):
conv 3→w0, ReLU, conv w0→w0·G, ReLU, pool, gconv, ReLU, pool, BN, dropout;
gconv w0·G→w1·G, ReLU, pool, gconv, ReLU, pool, BN, dropout;
gconv w1·G→w2·G, ReLU (→ `features`: global average, (N, w2·G)); conv w2·G→1, stride 2.
At the defaults this has 334 849 parameters (the paper's ~335 k) and the last map is 4 × 4:
the 16 cells are (emotion, view group) scores, cell e·G + g (row e, column g), the label
coding of the official code (emotion = argmax // G). The official final ReLU on these scores
is dropped: it zeroes gradients, which an attack needs.

Head: the final map is average-pooled adaptively to E × G cells (E = num_classes); at the
defaults this is the identity. If the map is smaller than E × G (more emotions, smaller
images), the last conv instead has E output channels whose maps are pooled to 1 × G
(`head="channels"`); `head="auto"` (default) picks "map" whenever it fits.

Logits for training and attacking: `forward` returns emotion logits (N, E), the log-sum-exp
over the view groups of each emotion, so cross-entropy with emotion-only labels trains the
model and argmax is the emotion of the best (emotion, view) cell in the common case.
`view_logits` returns the raw (N, E·G) cells for training with (emotion, view) labels.
Training-time view rotation is a data transform, not part of the model.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ela.errors import ElaError
from ela.models.base import SkeletonModel
from ela.models.blocks import emotion_input, valid_lengths
from ela.models.registry import register_model
from ela.skeleton.layout import Layout


def _conv_out(size: int, kernel: int = 3, stride: int = 1) -> int:
    return (size - kernel) // stride + 1


def final_map_size(image_size: int) -> int:
    """Side of the last ProxEmo map for a square input of `image_size` (≤ 0: too small)."""
    s = image_size
    for _ in range(2):  # conv1_0, conv1_1
        s = _conv_out(s)
    for _ in range(3):  # pool, conv × 3
        s = _conv_out(_conv_out(s, 3, 2))
    s = _conv_out(s, 3, 2)  # last pool
    return _conv_out(_conv_out(s), 3, 2)  # conv3_1, conv3_2 (stride 2)


def image_embedding(x: torch.Tensor, size: int, lengths: torch.Tensor | None = None,
                    eps: float = 1e-6) -> torch.Tensor:
    """(N, C, T, V) sequence → (N, C, size, size) image in [0, 1] (height = time).

    Frames from `lengths` (N,) on are left out (default: all frames); each sample's valid
    frames are resampled bilinearly (as ``F.interpolate(..., align_corners=False)``) and
    min-max scaled per channel. Differentiable in `x`.
    """
    n, _, t, v = x.shape
    if lengths is None:
        lengths = torch.full((n,), t, device=x.device)
    out = torch.arange(size, device=x.device, dtype=x.dtype) + 0.5
    # source pixel of output row i: (i + 0.5)·L/size − 0.5, in grid_sample's [-1, 1] units
    last = lengths.to(x.dtype)[:, None]
    src_t = out[None, :] * last / size - 0.5  # (N, size)
    src_t = torch.minimum(src_t.clamp(min=0), last - 1)  # stay inside the valid frames
    gy = (2 * src_t + 1) / t - 1
    gx = (2 * (out * v / size - 0.5) + 1) / v - 1  # (size,)
    grid = torch.stack(torch.broadcast_tensors(gx[None, None, :], gy[:, :, None]), dim=-1)
    img = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    lo = img.amin(dim=(2, 3), keepdim=True)
    hi = img.amax(dim=(2, 3), keepdim=True)
    return (img - lo) / (hi - lo + eps)


@register_model("proxemo", kind="emotion")
class ProxEmo(SkeletonModel):
    """ProxEmo: (N, C, T, V, M) → emotion logits (N, num_classes), features (N, w2·G).

    Args:
        image_size: side of the square image embedding (paper 244; at least 127).
        view_groups: G, number of view-angle groups = conv groups (4).
        width: per-group widths (w0, w1, w2) of the three stages (32, 64, 16).
        dropout: dropout after each stage (0.2, as the official config).
        head: "map", "channels" or "auto" (see the module docstring).
    """

    def __init__(self, layout: Layout, num_classes: int, in_channels: int = 3,
                 image_size: int = 244, view_groups: int = 4,
                 width: Sequence[int] = (32, 64, 16), dropout: float = 0.2,
                 head: str = "auto"):
        super().__init__(layout, num_classes, in_channels)
        side = final_map_size(image_size)
        if side < 1:
            raise ElaError(f"proxemo: image_size {image_size} is too small, use at least 127")
        if len(width) != 3:
            raise ElaError(f"proxemo: width must give 3 per-group widths, got {list(width)}")
        fits = side >= max(num_classes, view_groups)
        if head == "auto":
            head = "map" if fits else "channels"
        if head not in ("map", "channels"):
            raise ElaError(f"proxemo: head must be 'map', 'channels' or 'auto', got {head!r}")
        if head == "map" and not fits:
            raise ElaError(f"proxemo: image_size {image_size} gives a {side}×{side} map, too "
                           f"small for {num_classes}×{view_groups} cells; use head='channels'")
        if head == "channels" and side < view_groups:
            raise ElaError(f"proxemo: image_size {image_size} gives a {side}×{side} map, "
                           f"narrower than view_groups={view_groups}")
        g, (w0, w1, w2) = view_groups, width
        self.image_size, self.view_groups, self.head = image_size, view_groups, head
        pool = nn.MaxPool2d(3, 2)
        self.stage1 = nn.Sequential(
            nn.Conv2d(in_channels, w0, 3), nn.ReLU(),
            nn.Conv2d(w0, w0 * g, 3), nn.ReLU(), pool,
            nn.Conv2d(w0 * g, w0 * g, 3, groups=g), nn.ReLU(), pool,
            nn.BatchNorm2d(w0 * g), nn.Dropout(dropout))
        self.stage2 = nn.Sequential(
            nn.Conv2d(w0 * g, w1 * g, 3, groups=g), nn.ReLU(), pool,
            nn.Conv2d(w1 * g, w1 * g, 3, groups=g), nn.ReLU(), pool,
            nn.BatchNorm2d(w1 * g), nn.Dropout(dropout))
        self.stage3 = nn.Sequential(nn.Conv2d(w1 * g, w2 * g, 3, groups=g), nn.ReLU())
        self.final = nn.Conv2d(w2 * g, 1 if head == "map" else num_classes, 3, stride=2)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, T, V, M) → (N, C, image_size, image_size) image embedding of person 0."""
        x = emotion_input(self, x)
        return image_embedding(x, self.image_size, valid_lengths(x))

    def _cells(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.stage3(self.stage2(self.stage1(self.embed(x))))
        m = self.final(h)
        e, g = self.num_classes, self.view_groups
        if self.head == "map":
            cells = F.adaptive_avg_pool2d(m, (e, g))
        else:
            cells = F.adaptive_avg_pool2d(m, (1, g))
        return cells.reshape(x.shape[0], e, g), h.mean(dim=(2, 3))

    def view_logits(self, x: torch.Tensor) -> torch.Tensor:
        """(N, num_classes·view_groups) (emotion, view) scores, cell e·G + g."""
        return self._cells(x)[0].flatten(1)

    def forward_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        cells, feats = self._cells(x)
        return torch.logsumexp(cells, dim=2), feats
