"""Imports every built-in model module so that their `@register_model` decorators run."""

from importlib import import_module

_MODULES = ("hcn", "stgcn", "agcn", "sgn", "proxemo", "smacn", "sstgcn", "recurrent", "cnn")

for _name in _MODULES:
    try:
        import_module(f"ela.models.{_name}")
    except ModuleNotFoundError as err:  # a module not written yet is simply not registered
        if err.name != f"ela.models.{_name}":
            raise
