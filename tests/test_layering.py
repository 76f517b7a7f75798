"""Imports run downwards only: skeleton < io < data, video (issue 13)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import ela

SRC = Path(ela.__file__).parent
# package -> the ela packages and modules its modules may import
ALLOWED = {
    "skeleton": {"errors", "skeleton"},
    "io": {"errors", "files", "skeleton", "io"},
    "video": {"errors", "files", "skeleton", "io", "video"},
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
