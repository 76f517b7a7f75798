"""Action and emotion recognizers behind one registry.

Importing the package imports `ela.models.zoo`, whose modules register the built-in models,
so the registry is complete whichever of its modules is imported first.
"""

import ela.models.zoo  # noqa: F401  (registers every built-in model)
from ela.models.base import SkeletonModel
from ela.models.registry import create_model, list_models, register_model, unregister_model

__all__ = ["SkeletonModel", "create_model", "list_models", "register_model", "unregister_model"]
