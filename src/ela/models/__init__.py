"""Action and emotion recognizers behind one registry."""

from ela.models.registry import SkeletonModel, create_model, list_models, register_model

__all__ = ["SkeletonModel", "create_model", "list_models", "register_model"]
