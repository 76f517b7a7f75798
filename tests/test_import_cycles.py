"""No import circle in src/ela: the graph of every ``import`` and ``from ... import`` (at
module level, in functions, under ``if TYPE_CHECKING``; relative ones resolved) has no cycle.

An edge goes to the module named; ``from package import name`` goes to ``package.name`` when
that is a module of ela, else to the package itself (its ``__init__``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import ela

SRC = Path(ela.__file__).parent


def module_name(path: Path, root: Path) -> str:
    """The dotted name of a source file under `root` (a package is its ``__init__``)."""
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    """The dotted names an import statement of `module` brings in (before resolution)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        package = module.split(".") if is_package else module.split(".")[:-1]
        anchor = package[:len(package) - (node.level - 1)]
        base = ".".join([*anchor, *([base] if base else [])])
    return [f"{base}.{alias.name}" for alias in node.names] + [base]


def resolve(name: str, modules: set[str]) -> str | None:
    """The module of ela that `name` is, or the nearest package above it; None outside ela."""
    parts = name.split(".")
    while parts:
        if ".".join(parts) in modules:
            return ".".join(parts)
        parts.pop()
    return None


def import_graph(src: Path = SRC) -> dict[str, set[str]]:
    """{module: the ela modules it imports} for every .py file under `src`."""
    files = {module_name(p, src.parent): p for p in sorted(src.rglob("*.py"))}
    modules = set(files)
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            names = imported(node, module, path.name == "__init__.py")
            if isinstance(node, ast.ImportFrom):
                # `from pkg import name`: the module pkg.name if there is one, else pkg
                *members, base = names
                targets = {m if m in modules else base for m in members}
            else:
                targets = set(names)
            edges |= {t for t in (resolve(n, modules) for n in targets) if t}
        graph[module] = edges - {module}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (a → … → a) through every strongly connected group of more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.add(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(group)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return [shortest_cycle(graph, group) for group in groups]


def shortest_cycle(graph: dict[str, set[str]], group: set[str]) -> list[str]:
    """A shortest path from the group's first module back to itself, inside the group."""
    start = min(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(graph[v] & group):
                if w == start:
                    return [*paths[v], start]
                if w not in paths:
                    paths[w] = [*paths[v], w]
                    nxt.append(w)
        frontier = nxt
    raise AssertionError(f"{sorted(group)} is not strongly connected")


def test_the_import_graph_of_ela_has_no_cycle():
    found = cycles(import_graph())
    assert not found, "import cycles:\n" + "\n".join(" → ".join(c) for c in found)


def test_cycle_finder_sees_module_level_function_level_and_relative_imports(tmp_path):
    pkg = tmp_path / "ela"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from .a import f\n")
    (pkg / "sub" / "a.py").write_text("from typing import TYPE_CHECKING\n"
                                      "if TYPE_CHECKING:\n    from ela.sub.b import g\n")
    (pkg / "sub" / "b.py").write_text("def g():\n    from . import c\n")
    (pkg / "sub" / "c.py").write_text("from ..sub import a\nimport os\n")
    (pkg / "d.py").write_text("from ela import sub\n")
    graph = import_graph(pkg)
    assert graph == {"ela": set(), "ela.sub": {"ela.sub.a"}, "ela.sub.a": {"ela.sub.b"},
                     "ela.sub.b": {"ela.sub.c"}, "ela.sub.c": {"ela.sub.a"},
                     "ela.d": {"ela.sub"}}
    assert cycles(graph) == [["ela.sub.a", "ela.sub.b", "ela.sub.c", "ela.sub.a"]]
