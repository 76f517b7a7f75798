"""A registry of skeleton models and `create_model(name, layout=..., num_classes=..., **cfg)`.

Every registered model is a `SkeletonModel`: it takes (N, C, T, V, M) float input, returns
logits (N, num_classes) from `forward`, and its penultimate feature vector (N, D) from
`features` (`forward_features` returns both with one pass). `config` holds everything
needed to rebuild the model, so a checkpoint is weights + this JSON-able dict.

A registered name maps to a factory: a `SkeletonModel` subclass, or (as timm registers its
variants) a small function `f(layout, num_classes, in_channels, **options)` returning one.
The factory's keyword parameters are the model's options (`model_options`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, NamedTuple

from ela.errors import ElaError
from ela.models.base import SkeletonModel
from ela.skeleton.layout import Layout
from ela.skeleton.layouts import get_layout


class _Entry(NamedTuple):
    factory: Callable[..., SkeletonModel]
    kind: str
    options_from: str | None


_REGISTRY: dict[str, _Entry] = {}


def register_model(
    name: str, kind: str = "action", options_from: str | None = None
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator adding a model factory (a `SkeletonModel` subclass or a function returning
    one) to the registry under `name`.

    A factory that passes its `**cfg` on to the registered model `options_from` names it,
    so that `model_options` lists that model's options too.
    """

    def deco(factory: Callable[..., Any]) -> Callable[..., Any]:
        if name in _REGISTRY:
            raise ElaError(f"model {name!r} registered twice")
        _REGISTRY[name] = _Entry(factory, kind, options_from)
        return factory

    return deco


def unregister_model(name: str) -> None:
    """Remove `name` from the registry (a no-op when absent), e.g. a model registered for a
    notebook or a test; built-in models come back only with a new interpreter."""
    _REGISTRY.pop(name, None)


def list_models(kind: str | None = None) -> list[str]:
    """Registered model names, optionally only those of one kind."""
    return sorted(n for n, e in _REGISTRY.items() if kind is None or e.kind == kind)


def model_options(name: str) -> dict[str, Any]:
    """The options (`cfg` keys of `create_model`) of model `name` and their defaults; a
    model that passes its options on to another (`options_from`) lists that one's first."""
    entry = _entry(name)
    inherited = model_options(entry.options_from) if entry.options_from else {}
    params = inspect.signature(entry.factory).parameters.values()
    return {**inherited, **{p.name: p.default for p in params
                            if p.name not in ("layout", "num_classes", "in_channels")
                            and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}}


def create_model(
    name: str, layout: str | Layout, num_classes: int, in_channels: int = 3, **cfg: Any
) -> SkeletonModel:
    """Build model `name` for `layout` with `num_classes` outputs; `cfg` sets its options."""
    entry = _entry(name)
    lay = get_layout(layout)
    model = entry.factory(layout=lay, num_classes=num_classes, in_channels=in_channels, **cfg)
    model.kind = entry.kind
    model.config = {"name": name, "layout": lay.name, "num_classes": num_classes,
                    "in_channels": in_channels, **cfg}
    return model


def _entry(name: str) -> _Entry:
    if name not in _REGISTRY:
        raise ElaError(f"unknown model {name!r}; known: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]
