"""Imports run downwards only (docs/architecture.md's "who calls whom"), and no module imports
another module's private names (issue 13)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import ela

SRC = Path(ela.__file__).parent
# package -> the ela packages and modules its modules may import
BASE = {"errors", "files"}
ALLOWED = {
    "skeleton": BASE | {"skeleton"},
    "io": BASE | {"skeleton", "io"},
    "video": BASE | {"skeleton", "io", "video"},
    "audio": BASE | {"audio"},
    "text": BASE | {"text"},
    "models": BASE | {"skeleton", "models"},
    "attacks": BASE | {"skeleton", "attacks"},
    "viz": BASE | {"skeleton", "viz"},
    "data": BASE | {"skeleton", "io", "video", "audio", "text", "data"},
    "training": BASE | {"skeleton", "io", "data", "text", "models", "attacks", "training"},
    "runs": BASE | {"skeleton", "io", "data", "models", "attacks", "training", "viz", "runs"},
}


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, imported names) of every ``import ela...`` / ``from ela... import``."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("ela."):
            out.append((node.module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            out += [(a.name, []) for a in node.names if a.name.startswith("ela.")]
    return out


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_lower_packages_import_nothing_above_them(package):
    for path in sorted((SRC / package).glob("*.py")):
        for module, names in _imports(path):
            top = module.split(".")[1]
            assert top in ALLOWED[package], f"{path.name} imports {module} (above {package})"
            if top != package:  # another package's private names stay private
                private = [n for n in names if n.startswith("_")]
                assert not private, f"{path.name} imports private {private} from {module}"


def test_no_module_imports_another_modules_private_names():
    for path in sorted(SRC.rglob("*.py")):
        own = ".".join(("ela", *path.relative_to(SRC).with_suffix("").parts))
        for module, names in _imports(path):
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            assert module == own or not private, \
                f"{path.relative_to(SRC)} imports private {private} from {module}"
