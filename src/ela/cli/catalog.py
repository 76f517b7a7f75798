"""`ela models` and `ela attacks`: what can be trained and attacked, with each one's options."""

from __future__ import annotations

import argparse


def cmd_models(args: argparse.Namespace) -> int:
    from ela.models.registry import list_models, model_options

    for kind in ("action", "emotion", "multimodal", "detector"):
        print(f"{kind} models:")
        for name in list_models(kind):
            opts = ", ".join(f"{k}={v!r}" for k, v in model_options(name).items())
            print(f"  {name}: {opts or '(no options)'}")
    print("set options with `ela train --cfg key=value ...`; detectors are built by `ela detect`")
    return 0


def cmd_attacks(args: argparse.Namespace) -> int:
    from ela.attacks import ATTACKS

    for name, cls in sorted(ATTACKS.items()):
        doc = (cls.__doc__ or "").strip().splitlines()[0]
        print(f"{name}: {doc}")
        print("  options (--cfg key=value): " + ", ".join(
            f"{k}={v!r}" for k, v in cls.options().items()))
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    models = sub.add_parser("models", help="list the models and their options")
    models.set_defaults(func=cmd_models)

    lst = sub.add_parser("attacks", help="list the attacks and their options")
    lst.set_defaults(func=cmd_attacks)
