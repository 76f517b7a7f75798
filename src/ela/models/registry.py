"""A registry of skeleton models and `create_model(name, layout=..., num_classes=..., **cfg)`.

Every registered model is a `SkeletonModel`: it takes (N, C, T, V, M) float input, returns
logits (N, num_classes) from `forward`, and its penultimate feature vector (N, D) from
`features` (`forward_features` returns both with one pass). `config` holds everything
needed to rebuild the model, so a checkpoint is weights + this JSON-able dict.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from ela.errors import ElaError
from ela.skeleton.layout import Layout
from ela.skeleton.layouts import get_layout

_REGISTRY: dict[str, tuple[type[SkeletonModel], str]] = {}


class SkeletonModel(nn.Module):
    """Base class: subclasses implement `forward_features(x) -> (logits, features)`."""

    kind: str = "action"  # "action", "emotion" or "multimodal"

    def __init__(self, layout: Layout, num_classes: int, in_channels: int = 3):
        super().__init__()
        self.layout = layout
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.config: dict[str, Any] = {}

    def forward_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_features(x)[0]

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, D) penultimate-layer features."""
        return self.forward_features(x)[1]

    def predict_class(self, logits: torch.Tensor) -> torch.Tensor:
        """Class index from logits (models with extra outputs, e.g. ProxEmo, override)."""
        return logits.argmax(dim=1)


def register_model(name: str, kind: str = "action") -> Callable[[type], type]:
    """Class decorator adding a `SkeletonModel` subclass to the registry under `name`."""

    def deco(cls: type) -> type:
        if name in _REGISTRY:
            raise ElaError(f"model {name!r} registered twice")
        _REGISTRY[name] = (cls, kind)
        return cls

    return deco


def list_models(kind: str | None = None) -> list[str]:
    """Registered model names, optionally only those of one kind."""
    _load_builtin()
    return sorted(n for n, (_, k) in _REGISTRY.items() if kind is None or k == kind)


def model_options(name: str) -> dict[str, Any]:
    """The options (`cfg` keys of `create_model`) of model `name` and their defaults; a
    model that passes its options on to another (`options_from`) lists that one's."""
    import inspect

    _load_builtin()
    if name not in _REGISTRY:
        raise ElaError(f"unknown model {name!r}; known: {', '.join(sorted(_REGISTRY))}")
    cls = _REGISTRY[name][0]
    if getattr(cls, "options_from", None):
        return model_options(cls.options_from)
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    return {p.name: p.default for p in params
            if p.name not in ("layout", "num_classes", "in_channels")
            and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def create_model(
    name: str, layout: str | Layout, num_classes: int, in_channels: int = 3, **cfg: Any
) -> SkeletonModel:
    """Build model `name` for `layout` with `num_classes` outputs; `cfg` sets its options."""
    _load_builtin()
    if name not in _REGISTRY:
        raise ElaError(f"unknown model {name!r}; known: {', '.join(sorted(_REGISTRY))}")
    cls, kind = _REGISTRY[name]
    lay = get_layout(layout)
    model = cls(layout=lay, num_classes=num_classes, in_channels=in_channels, **cfg)
    model.kind = kind
    model.config = {"name": name, "layout": lay.name, "num_classes": num_classes,
                    "in_channels": in_channels, **cfg}
    return model


def _load_builtin() -> None:
    import ela.models.zoo  # noqa: F401  (imports every built-in model module)
