"""HCN (Li et al., IJCAI 2018): hierarchical co-occurrence network.

Per person, two branches with the same structure, one on the positions x and one on the
motion x[t+1] − x[t] (T−1 frames, linearly resized back to T):
conv 1×1 C→64 + ReLU, conv (3×1) 64→32 over time, transpose so that the joints become the
channels and the 32 features a spatial axis (image T × 32), conv 3×3 V→32 + maxpool 2,
conv 3×3 32→64 + dropout + maxpool 2. The two branches are concatenated (128 channels),
then conv 3×3 128→128 and 128→256, each + ReLU + dropout + maxpool 2; element-wise max over
persons; FC → 512 + ReLU (the features), dropout, FC → classes.

The paper's window is 32 frames, which leaves a 2 × 2 map before the FC. Here max pools use
`ceil_mode` and an adaptive max pool brings the last map to the size it has at `window`
frames (identity there), so any T ≥ 2 is accepted with the FC sized from `window`.
`width` scales every channel count (1.0 = the paper).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ela.errors import ElaError
from ela.models.base import SkeletonModel
from ela.models.blocks import check_input, fold_persons, unfold_persons
from ela.models.registry import register_model
from ela.skeleton.layout import Layout


def _pool() -> nn.MaxPool2d:
    return nn.MaxPool2d(2, ceil_mode=True)


class HCNBranch(nn.Module):
    """Position or motion branch: (B, C, T, V) → (B, c64, ⌈T/4⌉, ⌈c32/4⌉)."""

    def __init__(self, in_c: int, num_joints: int, c64: int, c32: int, kernel: int,
                 dropout: float):
        super().__init__()
        self.point = nn.Sequential(nn.Conv2d(in_c, c64, 1), nn.ReLU())
        self.temporal = nn.Conv2d(c64, c32, (kernel, 1), padding=((kernel - 1) // 2, 0))
        self.joint = nn.Sequential(nn.Conv2d(num_joints, c32, 3, padding=1), _pool())
        self.cooc = nn.Sequential(
            nn.Conv2d(c32, c64, 3, padding=1), nn.Dropout2d(dropout), _pool()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.temporal(self.point(x))  # (B, c32, T, V)
        h = h.permute(0, 3, 2, 1)  # joints become channels: (B, V, T, c32)
        return self.cooc(self.joint(h))


@register_model("hcn", kind="action")
class HCN(SkeletonModel):
    """HCN action recognizer; features are the (N, 512·width) FC7 output after ReLU.

    Options: `width` (channel multiplier, 1.0 = paper), `window` (frames the FC is sized
    for, default 32), `dropout` (default 0.5), `temporal_kernel` (odd, default 3).
    """

    def __init__(
        self,
        layout: Layout,
        num_classes: int,
        in_channels: int = 3,
        width: float = 1.0,
        window: int = 32,
        dropout: float = 0.5,
        temporal_kernel: int = 3,
    ):
        super().__init__(layout, num_classes, in_channels)
        if width <= 0 or window < 1:
            raise ElaError(f"hcn: width must be > 0 and window ≥ 1, got {width}, {window}")
        if temporal_kernel < 1 or temporal_kernel % 2 == 0:
            raise ElaError(f"hcn: temporal_kernel must be odd, got {temporal_kernel}")

        def c(n: int) -> int:
            return max(1, round(n * width))

        v = layout.num_joints
        self.position = HCNBranch(in_channels, v, c(64), c(32), temporal_kernel, dropout)
        self.motion = HCNBranch(in_channels, v, c(64), c(32), temporal_kernel, dropout)
        self.conv5 = nn.Sequential(
            nn.Conv2d(2 * c(64), c(128), 3, padding=1), nn.ReLU(), nn.Dropout2d(dropout), _pool()
        )
        self.conv6 = nn.Sequential(
            nn.Conv2d(c(128), c(256), 3, padding=1), nn.ReLU(), nn.Dropout2d(dropout), _pool()
        )
        grid = (math.ceil(window / 16), math.ceil(c(32) / 16))
        self.grid_pool = nn.AdaptiveMaxPool2d(grid)
        self.fc7 = nn.Linear(c(256) * grid[0] * grid[1], c(512))
        self.drop7 = nn.Dropout(dropout)
        self.fc8 = nn.Linear(c(512), num_classes)
        self.feature_dim = c(512)
        for m in self.modules():
            if isinstance(m, nn.Conv2d | nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (N, C, T, V, M) → logits (N, num_classes), features (N, 512·width)."""
        check_input(x, self.layout, self.in_channels, "hcn")
        if x.shape[2] < 2:
            raise ElaError(f"hcn: needs at least 2 frames for the motion branch, got {x.shape[2]}")
        pos = fold_persons(x)  # (N·M, C, T, V)
        t, v = pos.shape[2], pos.shape[3]
        motion = F.interpolate(
            pos[:, :, 1:] - pos[:, :, :-1], size=(t, v), mode="bilinear", align_corners=False
        )
        h = torch.cat([self.position(pos), self.motion(motion)], dim=1)
        h = self.conv6(self.conv5(h))
        h = unfold_persons(h, x.shape[4]).amax(dim=1)  # element-wise max over persons
        feat = torch.relu(self.fc7(self.grid_pool(h).flatten(1)))
        return self.fc8(self.drop7(feat)), feat
